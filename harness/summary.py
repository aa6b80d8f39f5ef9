"""The end-of-run summary: metrics, artifacts, endpoint and time per step."""

from __future__ import annotations

import json

from harness.run_dir import STEPS

METRICS = ("eval_accuracy", "eval_f1", "eval_precision", "eval_recall", "eval_loss")


def render(state: dict, run_path: str) -> str:
    lines = [f"Summary ({state.get('mode')} mode, run dir {run_path})"]
    metrics = state.get("metrics") or {}
    if metrics:
        lines.append("  metrics:   " + "  ".join(
            f"{key.removeprefix('eval_')} {metrics[key]:.4f}" for key in METRICS if key in metrics))
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
