"""A training log to read: no terminal codes in files, one bar per phase, metrics as aligned
lines a metric regex finds; and curves that read right for a run of one epoch."""

from __future__ import annotations

import re

from harness.host.log_text import CleanLines, Tee
from harness.plot import figure
from tests.support.cli import harness

# As a terminal receives them: a coloured docker-compose prefix, a bar redrawn with carriage
# returns, a line another process wrote while the bar was drawn, a line written above the bar
# (tqdm clears the bar first), a bar cleared at its end.
STREAM = ("\x1b[36malgo-1-x1 |\x1b[0m starting\n"
          "\rtraining:   0%|   | 0/4 [00:00<?, ?step/s]"
          "\rtraining:  50%|#  | 2/4 [00:01<00:01,  1.9step/s]rank 1: a warning\n"
          "\rtraining:  50%|#  | 2/4 [00:01<00:01,  1.9step/s]"
          "\r                                         \rtrain step 2/4  loss    0.6931\n"
          "\rtraining: 100%|###| 4/4 [00:02<00:00,  1.9step/s]\n"
          "\revaluating:  50%|# | 1/2 [00:00<00:00, 9.1batch/s]\r                  \r"
          "eval  step 4/4  eval_accuracy    0.9500\r\n")


def test_a_terminal_stream_becomes_clean_lines():
    for size in (1, 7, len(STREAM)):  # however the stream is cut
        lines = CleanLines()
        out = "".join(lines.feed(STREAM[i:i + size]) for i in range(0, len(STREAM), size))
        assert (out + lines.flush()).splitlines() == [
            "algo-1-x1 | starting",
            "training:  50%|#  | 2/4 [00:01<00:01,  1.9step/s]rank 1: a warning",
            "train step 2/4  loss    0.6931",
            "training: 100%|###| 4/4 [00:02<00:00,  1.9step/s]",
            "eval  step 4/4  eval_accuracy    0.9500"]


class Terminal:
    def __init__(self, tty: bool):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, text):
        self.text += text

    def flush(self):
        pass


class FullDisk(Terminal):
    def write(self, text):
        raise OSError(28, "No space left on device")


def test_the_terminal_keeps_its_bars_the_file_and_a_pipe_get_lines(tmp_path):
    for tty in (True, False):
        terminal, log = Terminal(tty), tmp_path / f"{tty}.log"
        with open(log, "w") as sink:
            tee = Tee(sink, terminal)
            assert tee.isatty() is tty  # writers that colour a terminal (the SDK's logs) ask
            tee.write(STREAM)
            tee.close()
        assert terminal.text == (STREAM if tty else log.read_text())
        assert "\x1b" not in log.read_text() and "\r" not in log.read_text()
    tee = Tee(FullDisk(False), Terminal(False))  # a log that cannot be written: the tail goes on
    tee.write(STREAM)
    tee.close()
    assert tee.tail.splitlines()[-1] == "eval  step 4/4  eval_accuracy    0.9500"


def test_log_lines_align_and_a_metric_regex_finds_them(train_py):
    class State:
        global_step, max_steps, epoch = 7, 120, 0.5

    lines = [train_py.log_line(State, {"loss": 0.69314, "grad_norm": 12.5, "learning_rate": 4e-5,
                                       "epoch": 0.5}),
             train_py.log_line(State, {"loss": 0.1, "grad_norm": 1.25, "learning_rate": 3.5e-5,
                                       "epoch": 0.5})]
    assert lines[0] == ("train step   7/120  epoch  0.50  loss    0.6931  grad_norm   12.5000  "
                        "learning_rate 4.000e-05")
    assert [line.index("grad_norm") for line in lines] == [lines[0].index("grad_norm")] * 2
    evaluation = train_py.log_line(State, {"eval_accuracy": 0.95, "eval_loss": 0.2})
    assert evaluation.startswith("eval  step   7/120")
    assert re.search(r"eval_accuracy\W+([-+0-9.eE]+)", evaluation).group(1) == "0.9500"


def test_a_one_epoch_run_reads_right(tiny_job):
    """The real thing: train.py on the tiny job (one epoch), its log and its curves."""
    harness("prepare", "-c", str(tiny_job))
    harness("train", "-c", str(tiny_job))
    log = (tiny_job.parent / "run" / "train.log").read_text()
    assert "\x1b" not in log and "\r" not in log
    assert "{'loss'" not in log
    assert len([line for line in log.splitlines() if line.startswith("training: ")]) == 1
    steps = [line for line in log.splitlines() if line.startswith("train step")]
    assert len(steps) == 4  # 32 rows, batch 8, logging every step
    assert len({line.index(" loss ") for line in steps}) == 1  # aligned
    assert re.search(r"eval_accuracy\W+([-+0-9.eE]+)", log)

    import json

    history = json.loads((tiny_job.parent / "run" / "output" / "data" /
                          "log_history.json").read_text())
    fig = figure(history)
    loss_ax, metric_ax = fig.axes
    assert loss_ax.get_xlim()[0] == 0 and loss_ax.get_xlim()[1] >= 4
    assert all(tick == int(tick) for tick in loss_ax.get_xticks())
    # One evaluation (the epoch's, repeated after training): a labelled bar per metric.
    assert [t.get_text() for t in metric_ax.get_yticklabels()] == \
        ["accuracy", "f1", "precision", "recall"]
    assert len(metric_ax.patches) == 4 and len(metric_ax.texts) == 4
