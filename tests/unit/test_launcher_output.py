"""The local mode's failure text: the script's own error, without what its launchers add
(accelerate's traceback, torchrun's log lines and failure summary)."""

from harness.modes.local.mode import without_launcher_traceback

SCRIPT_ERROR = ("sft.py: the train channel's rows have the columns question, answer, but need "
                "`messages` (a conversation: a list of {role, content}) or `text` (plain text, "
                "--text_column)")
# What two sft.py processes under accelerate's torchrun launcher logged after that line.
TORCHRUN = """\
W1203 13:46:48.451000 14582 site-packages/torch/distributed/elastic/multiprocessing/api.py:1028] \
Sending process 14653 closing signal SIGTERM
E1203 13:46:48.525000 14582 site-packages/torch/distributed/elastic/multiprocessing/api.py:1002] \
failed (exitcode: 1) local_rank: 1 (pid: 14654) of binary: /usr/bin/python3
============================================================
/work/wt-llm3/train/sft.py FAILED
------------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-03_13:46:48
  host      : localhost
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 14653)  (SIGTERM)
  error_file: <N/A>
  traceback : Signal 15 (SIGTERM) received by PID 14653
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-03_13:46:48
  host      : localhost
  rank      : 1 (local_rank: 1)
  exitcode  : 1 (pid: 14654)
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
============================================================"""


def test_torchrun_summary_and_log_lines_are_dropped():
    log = "Generating train split: 1 examples\n" + SCRIPT_ERROR + "\n" + TORCHRUN
    assert without_launcher_traceback(log) == "Generating train split: 1 examples\n" + SCRIPT_ERROR


def test_the_scripts_own_lines_and_rules_stay():
    log = "=" * 30 + "\nresults\n" + "=" * 30 + "\nW0000 a warning of the script's"
    assert without_launcher_traceback(log) == log
