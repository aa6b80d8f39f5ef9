"""The training-curves PNG: loss per step and eval metrics per evaluation (from the Trainer's
`log_history.json`, where the script writes one), and each metric of `metric_definitions` per
log line it was read from."""

from __future__ import annotations

import math
from pathlib import Path

EVAL_METRICS = ("eval_accuracy", "eval_f1", "eval_precision", "eval_recall")
COLUMNS = 3


def load_pyplot():
    """matplotlib's pyplot on the file backend (half a second to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(log_history: list[dict], logged: dict[str, list[float]],
                    target: Path) -> Path | None:
    """Draw the curves into `target`; None when there is nothing to draw. A logged metric the
    history already draws is not drawn twice."""
    drawn = {key for entry in log_history for key in entry}
    extra = {name: values for name, values in logged.items() if values and name not in drawn}
    panels = (2 if log_history else 0) + len(extra)
    if not panels:
        return None
    plt = load_pyplot()
    rows = math.ceil(panels / COLUMNS)
    columns = min(panels, COLUMNS)
    fig, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 4 * rows), squeeze=False)
    axes = list(axes.flat)
    if log_history:
        _history(log_history, axes.pop(0), axes.pop(0))
    for name, values in extra.items():
        _logged(axes.pop(0), name, values)
    for ax in axes:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target


def _logged(ax, name: str, values: list[float]) -> None:
    """One metric of `metric_definitions`, by its occurrence in the log, the last one labelled."""
    from matplotlib.ticker import MaxNLocator

    ax.plot(range(1, len(values) + 1), values, "o-" if len(values) < 50 else "-")
    ax.annotate(f"{values[-1]:.4g}", (len(values), values[-1]), textcoords="offset points",
                xytext=(0, 8), ha="center")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set(title=name, xlabel="occurrence in the training log", xlim=(0.5, len(values) + 0.5))


def _history(log_history: list[dict], loss_ax, metric_ax) -> None:
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    evals = [e for e in log_history if "eval_loss" in e]
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
