"""Every mistake a user can make with data, config and the run directory, one row each.

Each row is made on top of a run dir that holds a finished run, as a user's would, and asserts:
a non-zero exit, no traceback, a message that names the key or file and says the fix, nothing
left running, and nothing of the user's lost (state.json and every stored artifact and channel
as they were)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.config import load_config
from harness.host import endpoint_process, ownership
from harness.host.endpoint_process import free_port
from tests.support.cli import harness, harness_process, harness_subprocess
from tests.support.runs import write_config

# The user's own training script: quick, and it keeps the pretrained model as "the model".
QUICK = """
import json, os, shutil
out = os.environ["SM_OUTPUT_DATA_DIR"]
json.dump({"eval_accuracy": 1.0}, open(os.path.join(out, "metrics.json"), "w"))
json.dump([], open(os.path.join(out, "log_history.json"), "w"))
shutil.copytree(os.environ["SM_CHANNEL_MODEL"], os.environ["SM_MODEL_DIR"], dirs_exist_ok=True)
"""
SLEEPS = "import time\ntime.sleep(300)\n"
WRITES_16_MB = """
import os
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.bin"), "wb") as f:
    f.write(os.urandom(16 << 20))
"""


def good_run(folder: Path, tiny_bert: Path, sentiment_files: dict) -> Path:
    """A config whose run dir holds a finished run: prepared, and trained by the user's script."""
    code = folder / "code"
    code.mkdir()
    for name, source in (("quick.py", QUICK), ("sleeps.py", SLEEPS),
                         ("writes_16_mb.py", WRITES_16_MB)):
        (code / name).write_text(source)
    config = write_config(
        folder, model=str(tiny_bert), source_dir=str(code), entry_point="quick.py",
        dataset={"train_file": str(sentiment_files["train"]),
                 "test_file": str(sentiment_files["test"]), "max_length": 64},
        endpoint={"port": free_port()})
    harness("prepare", "-c", str(config))
    harness("train", "-c", str(config))
    return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_bert, sentiment_files) -> Path:
    return good_run(tmp_path_factory.mktemp("mistakes"), tiny_bert, sentiment_files)


def run_dir(config: Path) -> Path:
    return config.parent / "run"


def users_files(config: Path) -> dict[str, str]:
    """What a run dir holds of the user's: its state and everything stored (artifacts,
    channels), by content. A failed command may add (a failed job's output) but not change
    or remove any of it."""
    run = run_dir(config)
    files = [run / "state.json", *sorted(p for p in (run / "s3").rglob("*") if p.is_file())]
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def running(config: Path, port: int) -> list[str]:
    """Processes harness started for this run that still run, and the endpoint's port if
    something listens on it."""
    found = [" ".join(p.cmdline()) for p in ownership.run_processes(run_dir(config))]
    if endpoint_process.listening(port):
        found.append(f"port {port}")
    return found


# -- the rows ---------------------------------------------------------------------------------

@dataclass
class Attempt:
    """What a row runs: CLI arguments, against which run (its config)."""

    args: list[str]
    config: Path
    env: dict[str, str | None] = field(default_factory=dict)
    subprocess: bool = False  # for what must not be decided by this process's state


Arrange = Callable[[Path, Path], contextlib.AbstractContextManager[Attempt]]


@dataclass
class Mistake:
    id: str
    arrange: Arrange  # (the finished run's config, a scratch folder) -> the attempt
    expect: tuple[str, ...]  # the problem, the key or file, and the fix, as the user reads them
    job_log: bool = False  # a job ran: its own log, streamed to stdout, may hold its traceback


def jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def latin1(path: Path, rows: list) -> Path:
    """JSON Lines saved as Latin-1, as an old spreadsheet export would."""
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_bytes(lines.encode("latin-1"))
    return path


ROWS = [{"text": "a fine film", "label": "POSITIVE"}, {"text": "a dull film", "label": "NEGATIVE"}]
IDS = [{"text": "a fine film", "label": 1}, {"text": "a dull film", "label": 0}]


def with_file(split: str, make: Callable[[Path], Path], *more: str) -> Arrange:
    """prepare again, with the train or test file (or both) replaced by a bad one."""
    @contextlib.contextmanager
    def arrange(config, scratch):
        splits = ("train", "test") if split == "both" else (split,)
        sets = [arg for name in splits for arg in
                ("--set", f"dataset.{name}_file={make(scratch / f'{name}.jsonl')}")]
        yield Attempt(["prepare", "-c", str(config), *sets, *more], config)
    return arrange


def with_set(*overrides: str, command: str = "prepare", **env) -> Arrange:
    @contextlib.contextmanager
    def arrange(config, scratch):
        sets = [arg for o in overrides for arg in ("--set", o.format(scratch=scratch))]
        yield Attempt([command, "-c", str(config), *sets], config, env)
    return arrange


@contextlib.contextmanager
def empty_model_folder(config, scratch):
    (scratch / "model").mkdir()
    yield Attempt(["prepare", "-c", str(config), "--set", f"model={scratch / 'model'}"], config)


@contextlib.contextmanager
def model_without_tokenizer(config, scratch):
    """A model folder with its config (and weights) but no tokenizer files."""
    (scratch / "model").mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy2(Path(load_config(config).model) / name, scratch / "model" / name)
    yield Attempt(["prepare", "-c", str(config), "--set", f"model={scratch / 'model'}"], config)


@contextlib.contextmanager
def hub_unreachable(config, scratch):
    """A fresh process, as a user starts one: without harness's probe, the hub library would
    retry the refused connection for most of a minute."""
    yield Attempt(["prepare", "-c", str(config), "--set", "model=no-such-org/no-such-model"],
                  config, {"HF_HUB_OFFLINE": None, "HF_DATASETS_OFFLINE": None,
                           "TRANSFORMERS_OFFLINE": None,
                           "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}, subprocess=True)


@contextlib.contextmanager
def corrupt_state(config, scratch):
    state = run_dir(config) / "state.json"
    good = state.read_bytes()
    state.write_text('{"prepared": {"channels": ')  # cut off, as by a crashed editor
    try:
        yield Attempt(["train", "-c", str(config)], config)
    finally:
        state.write_bytes(good)


@contextlib.contextmanager
def model_artifact(config, scratch, damage: Callable[[Path], None]):
    state = json.loads((run_dir(config) / "state.json").read_text())
    artifact = Path(state["training"]["model_artifact"])
    kept = scratch / "kept.tar.gz"
    shutil.copy2(artifact, kept)
    damage(artifact)
    try:
        yield Attempt(["deploy", "-c", str(config)], config)
    finally:
        shutil.copy2(kept, artifact)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@contextlib.contextmanager
def read_only_run_dir(config, scratch):
    run = run_dir(config)
    with read_only(run):
        yield Attempt(["train", "-c", str(config)], config)


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` read-only: a read-only bind mount as root (root ignores permissions), else
    without write permission."""
    if os.getuid() == 0:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(folder)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if not p.is_symlink()}
        for path, mode in modes.items():
            path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


@contextlib.contextmanager
def busy_run_dir(config, scratch):
    """A `harness train` of the same run is still running (its script sleeps)."""
    holder = harness_process("train", "-c", str(config), "--set", "entry_point=sleeps.py",
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = run_dir(config) / ".lock"
    try:
        deadline = time.monotonic() + 60
        while f'"pid": {holder.pid}' not in (lock.read_text() if lock.exists() else ""):
            assert holder.poll() is None and time.monotonic() < deadline, "train never started"
            time.sleep(0.1)
        yield Attempt(["prepare", "-c", str(config)], config)
    finally:
        holder.send_signal(signal.SIGINT)  # as Ctrl-C: it stops what it started
        holder.wait(timeout=60)


@contextlib.contextmanager
def full_disk(config, scratch):
    """A run dir on a small disk that a finished run has nearly filled; the next job's script
    writes 16 MB into its model folder (more than the last job left there) (under the run dir)."""
    if os.getuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true, but a small disk needs root (mount -t tmpfs)")
        pytest.skip("a small disk needs root (mount -t tmpfs)")
    import yaml

    disk = scratch / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)], check=True)
    try:
        sections = yaml.safe_load(config.read_text())
        folder = disk / "job"
        folder.mkdir()
        small = write_config(folder, **{**sections, "run_dir": str(folder / "run")})
        harness("prepare", "-c", str(small))
        harness("train", "-c", str(small))
        filler = disk / "filler"
        with open(filler, "wb") as f:
            f.truncate(0)
            f.write(b"\0" * (shutil.disk_usage(disk).free - (256 << 10)))
        yield Attempt(["train", "-c", str(small), "--set", "entry_point=writes_16_mb.py"],
                      small)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


MISTAKES = [
    # data
    Mistake("empty-train-file", with_file("train", lambda p: jsonl(p, [])),
            ("dataset.train_file", "has no rows", "fix: add rows")),
    Mistake("train-file-not-utf8", with_file("train", lambda p: latin1(p, [*ROWS, {
        "text": "café crème", "label": "POSITIVE"}])),
            ("dataset.train_file", "is not UTF-8 text: line 3", "iconv -f latin1 -t utf-8")),
    Mistake("broken-json-line", with_file("train", lambda p: jsonl(
        p, [*ROWS, '{"text": "no closing brace", "label": 1'])),
            ("dataset.train_file", "line 3 is not valid JSON", "fix or remove that line")),
    Mistake("null-text", with_file("train", lambda p: jsonl(
        p, [*ROWS, {"text": None, "label": "POSITIVE"}])),
            ("train.jsonl", "no text (null 'text')", "row 3", "fill in or remove")),
    Mistake("null-label", with_file("test", lambda p: jsonl(
        p, [*ROWS, {"text": "x", "label": None}])),
            ("test split", "no label (null 'label')", "fill in or remove")),
    Mistake("mixed-label-types", with_file("train", lambda p: jsonl(
        p, [*ROWS, {"text": "great", "label": 1}])),
            ("dataset.label_column 'label' mixes class names and ids", "use one kind of label")),
    Mistake("column-mismatch", with_file("test", lambda p: jsonl(
        p, [{"review": r["text"], "label": r["label"]} for r in ROWS])),
            ("the test split (test.jsonl) has no column 'text'; it has: review, label",
             "set dataset.text_column")),
    Mistake("max-length-past-the-model", with_set("dataset.max_length=100000"),
            ("dataset.max_length is 100000", "at most 128 tokens",
             "set dataset.max_length to 128 or less")),
    Mistake("label-minus-one", with_file("both", lambda p: jsonl(
        p, [*IDS, {"text": "?", "label": -1}])),
            ("label -1", "class ids start at 0", "drop those rows")),
    Mistake("label-beyond-label-names", with_file("both", lambda p: jsonl(
        p, [*IDS, {"text": "meh", "label": 2}]), "--set", "dataset.label_names=[NEG, POS]"),
            ("label id 2", "['NEG', 'POS']", "add the missing names to dataset.label_names")),
    Mistake("one-class-only", with_file("train", lambda p: jsonl(p, [ROWS[0]] * 4)),
            ("one class only", "needs at least two", "add rows of the other classes")),
    # config and model
    Mistake("set-value-not-yaml", with_set("name=[unclosed"),
            ("--set name=[unclosed", "not valid YAML", "quote it")),
    Mistake("job-name-with-spaces", with_set("name=my sentiment job"),
            ("name: not a valid job name", "fix: set name: my-sentiment-job")),
    Mistake("empty-model-folder", empty_model_folder,
            ("model:", "holds no config.json", "save_pretrained")),
    Mistake("model-without-tokenizer", model_without_tokenizer,
            ("the tokenizer of model", "knows 5 tokens only", "tokenizer.save_pretrained")),
    Mistake("hub-model-offline", with_set("model=no-such-org/no-such-model", HF_HUB_OFFLINE="1"),
            ("'no-such-org/no-such-model' is not in the local Hugging Face cache",
             "HF_HUB_OFFLINE=1", "unset HF_HUB_OFFLINE")),
    Mistake("hub-unreachable", hub_unreachable,
            ("'no-such-org/no-such-model' is not in the local Hugging Face cache",
             "cannot be reached from this machine", "Connection refused", "proxy")),
    # run dir and state
    Mistake("corrupt-state-json", corrupt_state,
            ("state.json is not valid JSON", "leaves it as it is", "move it aside")),
    Mistake("model-artifact-missing", lambda c, s: model_artifact(c, s, Path.unlink),
            ("the model of training job", "is missing", "output/model.tar.gz",
             "run `harness train` again")),
    Mistake("model-artifact-damaged", lambda c, s: model_artifact(c, s, truncate),
            ("model.tar.gz is damaged", "run `harness train` again")),
    Mistake("read-only-run-dir", read_only_run_dir,
            ("cannot write to", "/run", "writable", "set run_dir")),
    Mistake("run-dir-busy", busy_run_dir,
            ("is busy", "harness train", "wait for it to finish")),
    Mistake("disk-full", full_disk,
            ("writes_16_mb.py ran out of disk space", "No space left on device",
             "the disk that holds", "free now), or set run_dir"), job_log=True),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_mistake_gets_one_screen_and_loses_nothing(mistake, finished, tmp_path):
    before = users_files(finished)
    with mistake.arrange(finished, tmp_path) as attempt:
        kept = users_files(attempt.config)
        started = time.monotonic()
        result = run_cli(attempt)
        took = time.monotonic() - started
        after = users_files(attempt.config)
        assert {name: after.get(name) for name in kept} == kept, "the user's files changed"
        port = load_config(attempt.config).endpoint.port
    left = running(attempt.config, port)  # once the row's own holder (if any) is stopped
    print(result.stderr)  # what the user reads: `pytest -rP` shows every row's message
    output = result.stdout + result.stderr
    assert result.returncode not in (0, None), output
    assert "Traceback" not in (result.stderr if mistake.job_log else output)
    for fragment in mistake.expect:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert "\n  fix: " in result.stderr
    assert len(result.stderr.splitlines()) <= 12, "more than one screen"
    assert not left, left
    assert took < 30  # no minute of retries or waiting
    assert users_files(finished) == before


def run_cli(attempt: Attempt) -> subprocess.CompletedProcess:
    if not attempt.subprocess:
        return harness(*attempt.args, check=False, env=attempt.env)
    return harness_subprocess(*attempt.args, env=attempt.env)


# -- what every error does at the CLI's edge -----------------------------------------------------

def test_traceback_only_when_asked_and_always_in_the_run_log(tmp_path):
    config = write_config(tmp_path)  # never prepared: train says what to run first
    log = tmp_path / "run" / "harness.log"
    quiet = harness("train", "-c", str(config), check=False)
    assert quiet.returncode == 1 and "Traceback" not in quiet.stderr
    assert "run `harness prepare` first" in quiet.stderr
    for asked in (["--debug", "train", "-c", str(config)], ["train", "--debug", "-c", str(config)]):
        shown = harness(*asked, check=False)
        assert shown.returncode == 1 and "Traceback (most recent call last)" in shown.stderr
        assert "run `harness prepare` first" in shown.stderr
    by_env = harness("train", "-c", str(config), check=False, env={"HARNESS_DEBUG": "1"})
    assert "Traceback (most recent call last)" in by_env.stderr
    assert log.read_text().count("Traceback (most recent call last)") == 4
    assert "error: no prepared in" in log.read_text()


def test_an_unexpected_error_is_one_screen_too(tmp_path, monkeypatch):
    import errno

    from harness.commands import prepare as step

    config = write_config(tmp_path)

    def fails(error):
        def prepare(job):
            raise error
        return prepare

    monkeypatch.setattr(step, "prepare", fails(RuntimeError("boom")))
    result = harness("prepare", "-c", str(config), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: unexpected RuntimeError: boom" in result.stderr
    assert "--debug" in result.stderr
    assert f"traceback: {tmp_path / 'run' / 'harness.log'}" in result.stderr
    assert "RuntimeError: boom" in (tmp_path / "run" / "harness.log").read_text()

    where = tmp_path / "run" / "s3" / "part"
    monkeypatch.setattr(step, "prepare", fails(
        OSError(errno.ENOSPC, "No space left on device", str(where))))
    result = harness("prepare", "-c", str(config), check=False)
    assert f"error: no space left on the disk that holds {where}" in result.stderr
    assert "free now), or set run_dir to a folder on a disk with room" in result.stderr
