"""The training-curves PNG: loss per step, eval metrics per evaluation. It reads right for a
short run too: whole-number steps from 0 to the last, a lone point drawn as a point, and a
single evaluation's metrics as labelled bars rather than dots on an empty chart."""

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
    fig = figure(log_history)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target


def figure(log_history: list[dict]):
    from matplotlib.ticker import MaxNLocator

    plt = load_pyplot()
    train, label = [(e["step"], e["loss"]) for e in log_history if "loss" in e], "train loss"
    if not train:  # fewer steps than logging_steps: Trainer's mean loss of the run
        train = [(e["step"], e["train_loss"]) for e in log_history if "train_loss" in e]
        label = "train loss (mean of the run)"
    # One evaluation per step: train.py evaluates once more after the last epoch's.
    evals = list({e["step"]: e for e in log_history if "eval_loss" in e}.values())
    last_step = max([1, *(e.get("step", 0) for e in log_history)])
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        loss_ax.plot(*zip(*train), marker="o" if len(train) < 20 else None, label=label)
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
    fig.tight_layout()
    return fig


def _evaluations(ax, evals: list[dict], last_step: int) -> None:
    from matplotlib.ticker import MaxNLocator

    for key in EVAL_METRICS:
        points = [(e["step"], e[key]) for e in evals if key in e]
        if points:
            ax.plot(*zip(*points), "o-", label=key.removeprefix("eval_"))
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
