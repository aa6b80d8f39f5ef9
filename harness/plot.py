"""The training-curves PNG: loss per step and eval metrics per evaluation (from the Trainer's
`log_history.json`, where the script writes one), and each metric of `metric_definitions` per
log line it was read from. It reads right for a short run too: whole-number steps from 0 to the
last, a lone point drawn as a point, and a single evaluation's metrics as labelled bars rather
than dots on an empty chart."""

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
    """Draw the curves into `target`; None when there is nothing to draw."""
    fig = figure(log_history, logged)
    if fig is None:
        return None
    fig.savefig(target, dpi=100)
    load_pyplot().close(fig)
    return target


def figure(log_history: list[dict], logged: dict[str, list[float]] | None = None):
    """The figure, or None when there is nothing to draw. A logged metric the history already
    draws is not drawn twice."""
    drawn = {key for entry in log_history for key in entry}
    extra = {name: values for name, values in (logged or {}).items()
             if values and name not in drawn}
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
        ax.remove()
    fig.tight_layout()
    return fig


def _logged(ax, name: str, values: list[float]) -> None:
    """One metric of `metric_definitions`, by its occurrence in the log, the last one labelled."""
    from matplotlib.ticker import MaxNLocator

    ax.plot(range(1, len(values) + 1), values, "o-" if len(values) < 50 else "-")
    ax.annotate(f"{values[-1]:.4g}", (len(values), values[-1]), textcoords="offset points",
                xytext=(0, 8), ha="center")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set(title=name, xlabel="occurrence in the training log", xlim=(0.5, len(values) + 0.5))


def _history(log_history: list[dict], loss_ax, metric_ax) -> None:
    from matplotlib.ticker import MaxNLocator

    train, label = [(e["step"], e["loss"]) for e in log_history if "loss" in e], "train loss"
    if not train:  # fewer steps than logging_steps: Trainer's mean loss of the run
        train = [(e["step"], e["train_loss"]) for e in log_history if "train_loss" in e]
        label = "train loss (mean of the run)"
    # One evaluation per step: train.py evaluates once more after the last epoch's.
    evals = list({e["step"]: e for e in log_history if "eval_loss" in e}.values())
    last_step = max([1, *(e.get("step", 0) for e in log_history)])
    if train:
        loss_ax.plot(*zip(*train, strict=False), marker="o" if len(train) < 20 else None, label=label)
    if evals:
        loss_ax.plot([e["step"] for e in evals], [e["eval_loss"] for e in evals], "o-",
                     label="eval loss")
    loss_ax.set(title="Loss", xlabel="step", xlim=(0, last_step * 1.05))
    loss_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if train or evals:
        loss_ax.legend()
    if len(evals) == 1:
        _one_evaluation(metric_ax, evals[0])
    else:
        _evaluations(metric_ax, evals, last_step)


def _evaluations(ax, evals: list[dict], last_step: int) -> None:
    from matplotlib.ticker import MaxNLocator

    for key in EVAL_METRICS:
        points = [(e["step"], e[key]) for e in evals if key in e]
        if points:
            ax.plot(*zip(*points, strict=False), "o-", label=key.removeprefix("eval_"))
    ax.set(title="Eval metrics", xlabel="step", ylim=(0, 1.02), xlim=(0, last_step * 1.05))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if evals:
        ax.legend(loc="lower right")


def _one_evaluation(ax, evaluation: dict) -> None:
    """One evaluation: a bar per metric, its value written on it."""
    keys = [key for key in EVAL_METRICS if key in evaluation]
    values = [evaluation[key] for key in keys]
    bars = ax.barh([key.removeprefix("eval_") for key in keys], values, color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.4f}" for v in values], padding=3)
    ax.set(title=f"Eval metrics (one evaluation, step {evaluation['step']})", xlim=(0, 1.15))
    ax.invert_yaxis()


def tuning_objectives(trials: list[tuple[int, str, list[float]]], metric: str,
                      best: int | None, target: Path) -> Path:
    """A tuning job's leaderboard: each trial's final objective (the best one starred, a
    trial without a value left out), and each trial's objective per value it emitted.
    `trials`: (number, status, objective values)."""
    plt = load_pyplot()
    fig, (finals, series) = plt.subplots(1, 2, figsize=(11, 4))
    colours = {"Completed": "tab:blue", "Stopped": "tab:orange", "Failed": "tab:red"}
    for number, status, values in trials:
        if values:
            finals.scatter(number, values[-1], color=colours.get(status, "tab:gray"),
                           marker="*" if number == best else "o", s=220 if number == best else 40,
                           zorder=3)
            series.plot(range(1, len(values) + 1), values, marker="o",
                        linewidth=2.5 if number == best else 1,
                        label=f"trial {number}{' (best)' if number == best else ''} {status}")
    finals.set_title(f"final {metric} per trial (star: best)")
    finals.set_xlabel("trial")
    finals.set_xticks([number for number, *_ in trials])
    finals.set_ylabel(metric)
    series.set_title(f"{metric} per value emitted")
    series.set_xlabel("value (evaluation)")
    series.xaxis.get_major_locator().set_params(integer=True)
    if any(values for *_, values in trials):
        series.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
