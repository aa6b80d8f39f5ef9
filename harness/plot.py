"""The training-curves PNG: loss per step, eval metrics per evaluation."""

from __future__ import annotations

from pathlib import Path

EVAL_METRICS = ("eval_accuracy", "eval_f1", "eval_precision", "eval_recall")


def load_pyplot():
    """matplotlib's pyplot on the file backend (half a second to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(log_history: list[dict], target: Path) -> Path:
    plt = load_pyplot()

    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    evals = [e for e in log_history if "eval_loss" in e]
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        loss_ax.plot(*zip(*train), label="train loss")
    if evals:
        loss_ax.plot([e["step"] for e in evals], [e["eval_loss"] for e in evals], "o-",
                     label="eval loss")
    loss_ax.set(title="Loss", xlabel="step")
    loss_ax.legend()
    for key in EVAL_METRICS:
        points = [(e["step"], e[key]) for e in evals if key in e]
        if points:
            metric_ax.plot(*zip(*points), "o-", label=key.removeprefix("eval_"))
    metric_ax.set(title="Eval metrics", xlabel="step", ylim=(0, 1.02))
    metric_ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
