"""The end-of-run summary: metrics, artifacts, endpoint and time per step."""

from __future__ import annotations

import json

from harness.run_dir import STEPS

METRICS = ("eval_accuracy", "eval_f1", "eval_precision", "eval_recall", "eval_loss")


def render(state: dict, run_path: str, storage: str) -> str:
    """`storage`: where the run's channels and artifacts are (its S3 prefix is the run's own)."""
    lines = [f"Summary ({state.get('mode')} mode, run dir {run_path})",
             f"  {'storage:':<10} {storage}"]
    metrics = state.get("metrics") or {}
    defined = state.get("metric_names") or []
    shown = [key for key in METRICS if key in metrics] + \
        [name for name in defined if name in metrics and name not in METRICS]
    if shown:
        lines.append("  metrics:   " + "  ".join(
            f"{key.removeprefix('eval_') if key in METRICS else key} {metrics[key]:.4f}"
            for key in shown))
    missing = [name for name in defined if name not in metrics]
    if missing:
        lines.append(f"  {'no match:':<10} {', '.join(missing)} (metric_definitions whose "
                     "regex matched no line of the training log)")
    if metrics.get("train_samples_per_second"):
        lines.append(f"  {'speed:':<10} {metrics['train_samples_per_second']:.1f} training "
                     "samples/s (steady state)")
    training = state.get("training") or {}
    for label, key in (("model", "model_artifact"), ("output", "output_artifact")):
        if key in training:
            lines.append(f"  {label + ':':<10} {training[key]}")
    served = (state.get("endpoint") or state.get("last_endpoint") or {}).get("model_data")
    if served and served != training.get("model_artifact"):
        lines.append(f"  {'served:':<10} {served}")
    if state.get("plot"):
        lines.append(f"  {'curves:':<10} {state['plot']}")
    endpoint = state.get("endpoint") or (state.get("last_endpoint") or {})
    if endpoint:
        lines.append(f"  {'endpoint:':<10} {endpoint['url']} ({endpoint['name']})")
    prediction = state.get("prediction")
    if prediction:
        lines.append(f"  {'predict:':<10} {json.dumps(prediction['request'])}")
        lines.append(f"  {'':<10} -> {json.dumps(prediction['response'])}")
    timings = state.get("timings") or {}
    if timings:
        lines.append("  time:      " + "  ".join(
            f"{step} {timings[step]:.1f}s" for step in STEPS if step in timings)
            + f"  (total {sum(timings.values()):.1f}s)")
    return "\n".join(lines)
