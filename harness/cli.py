"""The `harness` command. Errors become messages here, and only here."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import click

from harness import modes
from harness.errors import MESSAGES, HarnessError, explain

DEFAULT_CONFIG = "configs/default.yaml"
DEBUG = "harness.debug"  # in click's context meta: --debug or HARNESS_DEBUG=1 was given


def _debug(ctx, _param, value):
    if value:
        ctx.meta[DEBUG] = True


debug_option = click.option("--debug", is_flag=True, expose_value=False, is_eager=True,
                            envvar="HARNESS_DEBUG", callback=_debug,
                            help="Show the traceback of an error [env HARNESS_DEBUG=1].")


def default_config() -> str:
    """configs/default.yaml of the folder harness runs in, else the one harness ships (the
    offline sentiment flow; its data and train.py are shipped with it)."""
    if Path(DEFAULT_CONFIG).exists():
        return DEFAULT_CONFIG
    from harness.project import ROOT

    return str(ROOT / DEFAULT_CONFIG)


def job_options(command):
    """--config, --mode, --set and --debug, shared by every step command."""

    @click.option("-c", "--config", "config_path", default=default_config,
                  show_default=f"{DEFAULT_CONFIG}, else harness's own", envvar="HARNESS_CONFIG",
                  help="Job config (YAML).")
    @click.option("--mode", default=None, metavar="MODE",
                  help=f"Where to run: {', '.join(modes.MODES)} [env {modes.MODE_ENV}; "
                       f"default {modes.DEFAULT_MODE}].")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                  help="Override a config key, e.g. --set hyperparameters.epochs=1.")
    @debug_option
    @functools.wraps(command)
    def wrapper(config_path, mode, overrides, **kwargs):
        from harness.job import open_job

        with errors_as_messages() as edge:
            job = open_job(config_path, list(overrides), mode)
            edge.run = job.run
            return command(job, **kwargs)

    return wrapper


def changes_the_run(command):
    """The command holds the run dir while it runs (see `RunDir.lock`); a dry run does not."""

    @functools.wraps(command)
    def wrapper(job, **kwargs):
        if kwargs.get("requests_only"):
            return command(job, **kwargs)
        with job.run.lock():
            return command(job, **kwargs)

    return wrapper


class errors_as_messages:
    """Every error ends here as a message and its fix, with no traceback unless --debug. The
    traceback goes to the run's `harness.log` whenever the run dir is known (`run`)."""

    def __init__(self):
        self.run = None  # the job's RunDir, once the config is read

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None or isinstance(error, (SystemExit, click.exceptions.Exit,
                                               click.exceptions.Abort)):
            return False
        if isinstance(error, KeyboardInterrupt):
            click.secho("interrupted: child processes and the endpoint were stopped",
                        fg="yellow", err=True)
            sys.exit(130)
        known = error if isinstance(error, HarnessError) else \
            explain(error, self.run.path if self.run else None)
        log = self._keep_traceback(error, known)
        ctx = click.get_current_context(silent=True)
        if ctx is not None and ctx.meta.get(DEBUG):
            traceback.print_exception(error, file=sys.stderr)
        click.secho(f"error: {known.message}", fg="red", err=True)
        if known.hint:
            click.echo(f"  fix: {known.hint}", err=True)
        if known is not error and log:
            click.echo(f"  traceback: {log}", err=True)
        sys.exit(1)

    def _keep_traceback(self, error: BaseException, known: HarnessError) -> Path | None:
        """Append the error and its traceback to the run's log; None where that cannot be
        written (no run dir yet, or the very disk problem being reported)."""
        if self.run is None:
            return None
        log = self.run.error_log
        entry = (f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: harness "
                 f"{' '.join(sys.argv[1:])}\nerror: {known.message}\n"
                 + "".join(traceback.format_exception(error)))
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a") as sink:
                sink.write(entry)
        except OSError:
            return None
        return log


def spends_money(command):
    """--yes, and a confirmation of the cost estimate before a step that may cost money. It
    asks before `changes_the_run` takes the run dir: no lock is held while the user reads."""

    @click.option("-y", "--yes", is_flag=True, help="Accept the cost estimate without asking.")
    @functools.wraps(command)
    def wrapper(job, yes, **kwargs):
        estimate = None if kwargs.get("requests_only") else job.mode.cost_estimate()
        if estimate:
            click.echo(f"Estimated cost ({job.mode.name}):\n{estimate}")
            if not yes:
                if not sys.stdin.isatty():
                    raise HarnessError("this step spends money on AWS",
                                       "pass --yes to accept the estimate above")
                click.confirm("Go ahead?", abort=True)
        return command(job, **kwargs)

    return wrapper


def announce(step: str) -> None:
    click.secho(f"==> {step}", fg="cyan", bold=True)


def show_summary(job) -> None:
    click.echo(job.summary())


class MessageHandler(logging.Handler):
    """harness's warnings and notes (`errors.warn`, `errors.note`), printed to stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            click.secho(f"warning: {record.getMessage()}", fg="yellow", err=True)
        else:
            click.echo(record.getMessage(), err=True)


def interruptible() -> None:
    """Ctrl-C and `kill -INT` stop harness and what it started, even when it was started with
    SIGINT ignored (`harness train &` in a script): a shell ignores it for background jobs."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and \
            threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


@click.group()
@click.version_option(package_name="harness")
@debug_option
def main():
    """Fine-tune Transformers models and deploy them the SageMaker way, locally first."""
    interruptible()
    messages = logging.getLogger(MESSAGES)
    if not any(isinstance(h, MessageHandler) for h in messages.handlers):
        messages.addHandler(MessageHandler())
        messages.setLevel(logging.INFO)
        messages.propagate = False


requirements_option = click.option(
    "--install-requirements", is_flag=True,
    help="local mode: pip-install source_dir/requirements.txt into this environment, as a "
         "training container's toolkit does (without it, unmet requirements are an error).")

reclaim_option = click.option(
    "--interrupt-after-checkpoint", "interrupt_after", type=click.IntRange(min=0), default=0,
    metavar="N", help="Rehearse a spot reclaim: kill training once N checkpoints are complete, "
                      "then restart it on the saved checkpoints (local and sagemaker-local).")


@main.command("run")
@click.option("--dry-run", "requests_only", is_flag=True,
              help="Print the SageMaker API requests the run would make, and stop.")
@reclaim_option
@requirements_option
@job_options
@spends_money
@changes_the_run
def run_command(job, requests_only, interrupt_after, install_requirements):
    """The whole flow: prepare (with a dataset), train, deploy, predict, delete."""
    if requests_only:
        from harness.commands.dry_run import dry_run

        show_requests(dry_run(job))
        return
    from harness.commands.run import run

    run(job, announce, interrupt_after=interrupt_after, install_requirements=install_requirements)
    show_summary(job)


@main.command("prepare")
@job_options
@changes_the_run
def prepare_command(job):
    """Tokenize the dataset and store the train/test channels."""
    from harness.commands.prepare import prepare

    prepared = prepare(job)
    click.echo(f"channels: {json.dumps(prepared.channels, indent=2)}")


@main.command("train")
@reclaim_option
@requirements_option
@job_options
@spends_money
@changes_the_run
def train_command(job, interrupt_after, install_requirements):
    """Run the entry point as a training job on the prepared channels and the inputs."""
    from harness.commands.train import train

    train(job, interrupt_after=interrupt_after, install_requirements=install_requirements)
    show_summary(job)


@main.command("deploy")
@click.option("--model-data", metavar="PATH|s3://URI", default=None,
              help="Deploy this model.tar.gz instead of the trained model (overrides "
                   "model_data: in the config).")
@click.option("--install-requirements", is_flag=True,
              help="local mode: pip-install the model's code/requirements.txt into this Python "
                   "environment instead of only checking it (containers always install it).")
@job_options
@spends_money
@changes_the_run
def deploy_command(job, model_data, install_requirements):
    """Start an endpoint for the trained model, or for an existing model.tar.gz."""
    from harness.commands.deploy import deploy

    endpoint = deploy(job, model_data, install_requirements)
    click.echo(f"endpoint {endpoint.name} is up at {endpoint.url}, serving {endpoint.model_data}")


@main.command("tune")
@click.option("--dry-run", "requests_only", is_flag=True,
              help="Print the SageMaker API requests of the tuning job, and stop.")
@requirements_option
@job_options
@spends_money
@changes_the_run
def tune_command(job, requests_only, install_requirements):
    """Run a hyperparameter tuning job (the config's tuning: section); deploy then serves
    the best training job."""
    from harness.commands import tune

    if requests_only:
        show_requests(tune.requests(job))
        return
    click.echo(tune.summary(tune.tune(job, announce, install_requirements)))


def show_requests(requests: list[dict]) -> None:
    """A dry run's requests: each upload on a line (there may be many), each create whole."""
    from harness.commands.dry_run import UPLOADS

    for request in requests:
        params = request["params"]
        if request["operation"] in UPLOADS:
            click.echo(f"{request['operation']} s3://{params['Bucket']}/{params['Key']}")
        else:
            click.secho(request["operation"], bold=True)
            click.echo(json.dumps(params, indent=2, default=str))


@main.command("transform")
@click.option("--model-data", metavar="PATH|s3://URI", default=None,
              help="Transform with this model.tar.gz instead of the trained model.")
@click.option("--dry-run", "requests_only", is_flag=True,
              help="Print the SageMaker API requests of the transform job, and stop.")
@job_options
@spends_money
@changes_the_run
def transform_command(job, model_data, requests_only):
    """Run a batch transform job (the config's transform: section): <file>.out per input."""
    from harness.commands import transform

    if requests_only:
        show_requests(transform.requests(job, model_data))
        return
    result = transform.transform(job, model_data)
    click.echo(f"transform job {result.job_name}: {result.records} records")
    for output in result.outputs:
        click.echo(f"  {output}")


@main.command("predict")
@job_options
@click.argument("inputs", nargs=-1)
@click.option("--json", "raw", default=None, help="Send this JSON body instead of INPUTS.")
@click.option("--stream", "streamed", is_flag=True,
              help="Stream the answer (InvokeEndpointWithResponseStream) and print its tokens "
                   "as they come; a text-generation model is needed.")
def predict_command(job, inputs, raw, streamed):
    """Send INPUTS (texts) or a JSON body to the endpoint."""
    from harness.commands.predict import predict, stream

    if raw is not None:
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as e:
            raise HarnessError(f"--json is not valid JSON: {e}") from None
    elif inputs:
        payload = {"inputs": inputs[0] if len(inputs) == 1 else list(inputs)}
    else:
        raise HarnessError("nothing to send", 'give texts, e.g. harness predict "great film"')
    if streamed:
        for text in stream(job, payload):
            click.echo(text, nl=False)
        click.echo()
        return
    click.echo(json.dumps(predict(job, payload), indent=2))


@main.command("delete")
@job_options
@changes_the_run
def delete_command(job):
    """Stop the endpoint."""
    from harness.commands.delete import delete

    delete(job)
    click.echo("endpoint deleted")


@main.command("promote")
@job_options
def promote_command(job):
    """Show what changes from sagemaker-local to sagemaker for this config."""
    from harness.commands.promote import promote

    result = promote(job)
    source, target = result["modes"]
    width = max(len(key) for key, _, _ in result["rows"])
    click.secho(f"{'':<{width}}  {source}  ->  {target}", bold=True)
    for key, left, right in result["rows"]:
        mark = "*" if key in result["differ"] else " "
        click.echo(f"{mark} {key:<{width}}  {_short(left)}")
        if left != right:
            click.echo(f"  {'':<{width}}  -> {_short(right)}")
    show_versions(result["versions"], source, target)
    if result["unexpected"]:
        raise HarnessError(f"promotion would also change {', '.join(result['unexpected'])}",
                           "make those the same in both modes' settings")
    click.echo("\n* differs. Only the session, the instance types and the image (with its "
               "Python) change, plus the instance count and settings that exist only in the "
               "cloud (max_run, spot, code_location).")
    if any(major for *_, major in result["versions"]):
        click.secho("! a major version changes: train.py (and an inference.py) may not run "
                    "unchanged; try them on those versions, or choose other DLCs in "
                    "modes.sagemaker.training_versions / inference_versions",
                    fg="yellow")


def show_versions(rows, source: str, target: str) -> None:
    """The framework versions of both modes' images, side by side."""
    click.secho(f"\n{'framework versions':<26}{source:<16}{target}", bold=True)
    for image, framework, left, right, major in rows:
        label = image if framework == rows[0][1] else ""
        mark = "  ! major version change" if major else ""
        click.echo(f"  {label:<10} {framework:<12} {left:<16}{right}{mark}")


def _short(value) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


@main.group("image")
def image_group():
    """The SageMaker-compatible training and serving image."""


@image_group.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if the image exists.")
@click.option("--gpu", is_flag=True,
              help="The CUDA image instance_type local_gpu runs (this machine's CUDA torch).")
def image_build(force, gpu):
    """Build the image (only when its inputs changed)."""
    from harness.containers import image

    with errors_as_messages():
        name, built = image.build(force, gpu)
    click.echo(f"{name} {'built' if built else 'is up to date'}")


@main.group("emulator")
def emulator_group():
    """LocalStack, the S3 of the sagemaker-local mode."""


@emulator_group.command("up")
def emulator_up():
    """Start LocalStack 4.14.0 (pulled, or built offline) and wait until it is healthy."""
    from harness.containers import emulator

    with errors_as_messages():
        url = emulator.up()
    click.echo(f"LocalStack is up: S3 at {url}")


@emulator_group.command("down")
@click.option("--volumes", is_flag=True, help="Also drop LocalStack's data volume.")
def emulator_down(volumes):
    """Stop LocalStack."""
    from harness.containers import emulator

    with errors_as_messages():
        emulator.down(volumes)
    click.echo("LocalStack is down")


@emulator_group.command("status")
def emulator_status():
    """Say whether LocalStack answers, and which services it runs."""
    from harness.containers import emulator

    with errors_as_messages():
        url = emulator.endpoint_url()
        state = emulator.health(url)
    if not state:
        click.echo(f"LocalStack is not reachable at {url}; start it with `harness emulator up`")
        sys.exit(1)
    services = ", ".join(f"{k} {v}" for k, v in sorted(state.get("services", {}).items())
                         if v in ("available", "running"))
    click.echo(f"LocalStack {state.get('version', '?')} at {url}: {services}")


@main.command("runs")
@click.argument("action", required=False, type=click.Choice(["compare"]))
@click.argument("run_ids", nargs=-1, metavar="[A B]")
@job_options
def runs_command(job, action, run_ids):
    """List the tracked MLflow runs of the config's experiment, newest first; `runs compare
    A B` shows two runs' params and metrics side by side (run ids or names), differences
    marked with *."""
    from harness.commands import runs

    if action is None:
        if run_ids:
            raise click.UsageError("to compare runs: harness runs compare A B")
        click.echo(runs.runs(job))
        return
    if len(run_ids) != 2:
        raise click.UsageError("compare takes two runs: harness runs compare A B")
    click.echo(runs.compare(job, *run_ids))


@main.group("tracker")
def tracker_group():
    """The local MLflow tracking server (artifacts in LocalStack S3)."""


@tracker_group.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="The port on this machine [env HARNESS_TRACKER_PORT; default 5000].")
@debug_option
def tracker_up(port):
    """Start the MLflow tracking server (its image built once, LocalStack started) and wait
    until it answers."""
    from harness.commands import tracker

    with errors_as_messages():
        click.echo(tracker.up(port, say=lambda line: click.echo(f"tracker: {line}", err=True)))


@tracker_group.command("down")
@debug_option
def tracker_down():
    """Stop the tracking server; its runs are kept for the next `up`."""
    from harness.commands import tracker

    with errors_as_messages():
        click.echo(tracker.down())


@tracker_group.command("status")
@debug_option
def tracker_status():
    """Say whether the tracking server answers, its URL, database and artifact store."""
    from harness.commands import tracker

    with errors_as_messages():
        lines, running = tracker.status()
    click.echo("\n".join(lines))
    sys.exit(0 if running else 1)


@tracker_group.command("ui")
@debug_option
def tracker_ui():
    """Print the tracking server's URL, to open in a browser."""
    from harness.commands import tracker

    with errors_as_messages():
        url = tracker.ui()
    if url is None:
        click.echo("the MLflow tracking server is not running; start it with "
                   "`harness tracker up`", err=True)
        sys.exit(1)
    click.echo(url)


@main.command("doctor")
@click.option("-c", "--config", "config_path", default=None, envvar="HARNESS_CONFIG",
              help="Job config (YAML) whose run_dir, image and AWS settings to check "
                   "[default: harness's defaults].")
@click.option("--mode", default=None, metavar="MODE",
              help=f"The mode whose needs decide the exit status: {', '.join(modes.MODES)} "
                   f"[env {modes.MODE_ENV}; default {modes.DEFAULT_MODE}].")
@debug_option
def doctor_command(config_path, mode):
    """Check what harness needs from this machine, one line each with its fix; exit 1 when
    a check the mode needs fails."""
    from harness.commands.doctor import doctor, line

    with errors_as_messages():
        results, ready = doctor(config_path, mode)
    for result in results:
        click.echo(line(result))
    sys.exit(0 if ready else 1)


@main.command("init")
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files the starter project also has.")
@debug_option
def init_command(folder, force):
    """Write a starter project into FOLDER (default: here): harness.yaml, a training script
    and an inference.py written the SageMaker way, sample data, and its tests."""
    from harness.commands.init import init

    with errors_as_messages():
        written = init(folder, force)
    for relative in written:
        click.echo(f"wrote {folder / relative}")
    here = "" if folder == Path(".") else f"cd {folder} && "
    click.echo(f"next: {here}harness train -c harness.yaml   (then: python -m pytest)")


@main.command("cleanup")
def cleanup_command():
    """Remove what crashed runs left: processes, containers and the SDK's network whose
    harness command is gone. Running jobs and recorded endpoints are kept."""
    from harness.commands.cleanup import cleanup
    from harness.containers import docker_engine

    with errors_as_messages():
        try:
            engine = docker_engine.client()
        except HarnessError as e:
            engine = None
            click.secho(f"skipping containers: {e.message}", fg="yellow", err=True)
        removed = cleanup(engine)
    for line in removed:
        click.echo(f"removed {line}")
    click.echo(f"{len(removed)} leftover(s) removed" if removed else "nothing to clean up")
