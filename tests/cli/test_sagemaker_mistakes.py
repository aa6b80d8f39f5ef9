"""A new cloud user's first mistakes in `--mode sagemaker`, each a one-screen error with its fix,
found before any upload or AWS call. Where requests matter, they run against the emulated AWS
(tests/aws_emulator.py), which records every request it gets."""

import re

import botocore.session
import pytest
import yaml

from harness import names, sdk
from harness.config import load_config
from harness.errors import ConfigError
from harness.modes.sagemaker import aws as aws_checks
from tests.aws_emulator import ROLE
from tests.support.cli import harness
from tests.support.runs import REPO, write_config

NO_AWS = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None,
          "AWS_PROFILE": None, "AWS_REGION": None, "AWS_DEFAULT_REGION": None,
          "AWS_ENDPOINT_URL": None, "AWS_CONFIG_FILE": "/nonexistent",
          "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}
SAGEMAKER = ("--mode", "sagemaker")


def one_screen(result) -> str:
    """The error output, checked to be a message: exit 1, no traceback, one screen."""
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.splitlines()) <= 12
    return result.stderr


def dry_run(config, *overrides: str, env=None, check=False):
    sets = [arg for override in overrides for arg in ("--set", override)]
    return harness("run", "-c", str(config), *SAGEMAKER, "--dry-run", *sets, check=check,
                   env={**NO_AWS, **(env or {})})


# -- the role -------------------------------------------------------------------------------------

def test_a_role_that_is_not_an_arn(tmp_path):
    config = write_config(tmp_path)
    for command in (("run", "--dry-run"), ("train", "--yes")):
        error = one_screen(harness(*command, "-c", str(config), *SAGEMAKER, "--set",
                                   "modes.sagemaker.role=myrole", check=False, env=NO_AWS))
        assert "modes.sagemaker.role" in error
        assert "arn:aws:iam::<account-id>:role/<role-name>" in error
        assert "aws iam get-role --role-name <role-name>" in error


def test_the_role_pattern_is_sagemakers():
    pattern = botocore.session.get_session().get_service_model("sagemaker") \
        .shape_for("RoleArn").metadata["pattern"]
    for role in (ROLE, "arn:aws-cn:iam::123456789012:role/service-role/Sage_Maker+1"):
        assert names.ROLE_ARN.match(role) and re.fullmatch(pattern, role)
    for role in ("myrole", "arn:aws:iam::12345:role/x", "arn:aws:iam::123456789012:user/x"):
        assert not names.ROLE_ARN.match(role) and not re.fullmatch(pattern, role)


# -- credentials ----------------------------------------------------------------------------------

@pytest.mark.parametrize("step", ["prepare", "train", "deploy", "predict", "delete"])
def test_missing_credentials_are_found_before_any_request(aws, tiny_job, step):
    config = aws.config(tiny_job, prefix="no-credentials")
    args = ("good film",) if step == "predict" else ()
    error = one_screen(aws.harness(step, "-c", str(config), *args, check=False,
                                   env={"AWS_ACCESS_KEY_ID": None,
                                        "AWS_SECRET_ACCESS_KEY": None}))
    assert "error: no AWS credentials found" in error
    for way in ("aws configure", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"):
        assert way in error
    assert aws.requests == [] and aws.egress == []
    assert not (tiny_job.parent / "run" / "state.json").exists()


def test_a_profile_that_does_not_exist(aws, tiny_job):
    config = aws.config(tiny_job, prefix="profile")
    error = one_screen(aws.harness("prepare", "-c", str(config), check=False,
                                   env={"AWS_PROFILE": "nope"}))
    assert "AWS profile 'nope' (from AWS_PROFILE) does not exist" in error
    assert "aws configure --profile nope" in error
    assert aws.requests == []


# -- the region -----------------------------------------------------------------------------------

def test_the_region_from_aws_region(aws, tiny_job):
    """botocore reads only AWS_DEFAULT_REGION; harness reads AWS_REGION too, as AWS's tools do."""
    config = aws.config(tiny_job, prefix="region")
    aws.harness("prepare", "-c", str(config), env={"AWS_REGION": "eu-west-1",
                                                    "AWS_DEFAULT_REGION": None})
    location = aws.client("s3").get_bucket_location(Bucket="harness-emulated")
    assert location["LocationConstraint"] == "eu-west-1"


@pytest.mark.parametrize("configured, env, profile, expected", [
    (None, {"AWS_REGION": "eu-west-1"}, None, ("eu-west-1", "AWS_REGION")),
    (None, {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"}, None,
     ("eu-west-1", "AWS_REGION")),
    (None, {"AWS_DEFAULT_REGION": "us-east-2"}, "ap-south-1", ("us-east-2", "AWS_DEFAULT_REGION")),
    (None, {}, "ap-south-1", ("ap-south-1", "AWS profile 'work'")),
    ("eu-central-1", {"AWS_REGION": "eu-west-1"}, None, ("eu-central-1", "modes.sagemaker.region")),
    (None, {}, None, (None, "AWS profile 'work'")),
])
def test_where_the_region_comes_from(monkeypatch, tmp_path, configured, env, profile, expected):
    files = tmp_path / "config"
    files.write_text(f"[profile work]\nregion = {profile}\n" if profile else "[profile work]\n")
    for key, value in {**NO_AWS, "AWS_CONFIG_FILE": str(files), "AWS_PROFILE": "work",
                       **env}.items():
        monkeypatch.delenv(key, raising=False) if value is None else monkeypatch.setenv(key, value)
    found = aws_checks.region(configured)
    assert (found.name, found.source) == expected


def test_no_region_says_where_to_set_one(aws, tiny_job):
    config = aws.config(tiny_job, prefix="no-region")
    error = one_screen(aws.harness("prepare", "-c", str(config), check=False,
                                   env={"AWS_DEFAULT_REGION": None}))
    assert "error: no AWS region for SageMaker" in error
    for way in ("modes.sagemaker.region", "AWS_REGION", "AWS_DEFAULT_REGION"):
        assert way in error
    assert aws.requests == []


@pytest.mark.parametrize("overrides, env, source", [
    ((), {"AWS_REGION": "us-east-7"}, "AWS_REGION"),
    (("modes.sagemaker.region=eu-west-9",), {}, "modes.sagemaker.region"),
])
def test_a_bad_region_gets_its_own_error(aws, tiny_job, overrides, env, source):
    config = aws.config(tiny_job, prefix="bad-region")
    sets = [arg for override in overrides for arg in ("--set", override)]
    bad = env.get("AWS_REGION") or overrides[0].split("=")[1]
    for command in (("prepare",), ("run", "--dry-run")):
        error = one_screen(aws.harness(*command, "-c", str(config), *sets, check=False, env=env))
        assert f"error: unknown AWS region {bad!r} (from {source})" in error
        assert "eu-west-1" in error and "us-east-1" in error  # the regions there are
        assert "training_versions" not in error
    assert aws.requests == []


# -- instance types -------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, guess", [
    ("instance_type", "ml.p3.2xl", "ml.p3.2xlarge"),
    ("instance_type", "p3.2xlarge", "ml.p3.2xlarge"),
    ("inference_instance_type", "ml.g4dn.large", "ml.g4dn.xlarge"),
])
def test_an_unknown_instance_type_names_the_key_and_the_close_ones(tmp_path, key, value, guess):
    error = one_screen(dry_run(write_config(tmp_path), f"modes.sagemaker.{key}={value}",
                               "modes.sagemaker.region=us-east-1"))
    assert f"{value!r} (modes.sagemaker.{key}); did you mean {guess}" in error
    assert "ml.g5" in error and "ml.p3" in error  # the families there are
    assert "training_versions" not in error


def test_a_cpu_instance_for_the_gpu_only_training_dlc(tmp_path):
    error = one_screen(dry_run(write_config(tmp_path), "modes.sagemaker.instance_type=ml.m5.xlarge",
                               "modes.sagemaker.region=us-east-1"))
    assert "no Hugging Face training DLC runs on ml.m5.xlarge" in error
    assert "modes.sagemaker.instance_type to a GPU type" in error
    assert "training_versions" not in error


# -- names ----------------------------------------------------------------------------------------

def sagemaker_rule(shape: str):
    """(pattern, max length) of a name in SageMaker's own service model."""
    found = botocore.session.get_session().get_service_model("sagemaker").shape_for(shape)
    return found.metadata["pattern"], found.metadata["max"]


def printed_names(stdout: str) -> dict[str, str]:
    return dict(re.findall(r'"(TrainingJobName|ModelName|EndpointConfigName|EndpointName)": '
                           r'"([^"]+)"', stdout))


def test_long_names_are_shortened_to_valid_sagemaker_names(tmp_path):
    name = "a-descriptive-name-for-a-sentiment-model-of-reviews"[:50]
    result = dry_run(write_config(tmp_path, name=name), "modes.sagemaker.region=us-east-1",
                     f"modes.sagemaker.role={ROLE}", check=True)
    printed = printed_names(result.stdout)
    assert set(printed) == {"TrainingJobName", "ModelName", "EndpointConfigName", "EndpointName"}
    for shape, value in printed.items():
        pattern, limit = sagemaker_rule(shape)
        assert re.fullmatch(pattern, value) and len(value) <= limit, (shape, value)
    assert len(printed["TrainingJobName"]) == 63
    assert f"warning: name {name!r} has 50 characters" in result.stderr
    assert "shortened in the names of training jobs" in result.stderr


def test_names_are_shortened_deterministically_and_apart():
    first, second = "x" * 45 + "-one", "x" * 45 + "-two"
    assert names.endpoint_name(first) == names.endpoint_name(first)
    assert names.job_name(first)[:39] != names.job_name(second)[:39]
    assert names.model_name(first) != names.model_name(second)
    assert names.job_name("x" * 39).startswith("x" * 39 + "-")  # fits: kept whole
    assert names.shortened("x" * 39) is None


def test_a_name_sagemaker_refuses(tmp_path):
    error = one_screen(dry_run(write_config(tmp_path, name="my_model.v2")))
    assert "name: not a valid job name: letters, digits and hyphens only" in error
    assert "fix: set name: my-model-v2" in error


# -- buckets --------------------------------------------------------------------------------------

@pytest.mark.parametrize("bucket, rule", [
    ("my..bucket", "two adjacent periods"), ("192.168.5.4", "IP address"),
    ("xn--bucket", "must not start with 'xn--'"), ("sthree-bucket", "'sthree-'"),
    ("amzn-s3-demo-bucket", "'amzn-s3-demo-'"), ("logs-s3alias", "must not end with '-s3alias'"),
    ("logs--ol-s3", "'--ol-s3'"), ("logs.mrap", "'.mrap'"), ("logs--x-s3", "'--x-s3'"),
    ("logs--table-s3", "'--table-s3'"), ("My-Bucket", "only lowercase letters"),
    ("my_bucket", "only lowercase letters"), ("-bucket", "begin and end"),
    ("bucket.", "begin and end"), ("ab", "3 to 63"), ("b" * 64, "3 to 63"),
])
def test_bucket_names_follow_s3s_rules(tmp_path, bucket, rule):
    with pytest.raises(ConfigError, match=re.escape(rule)):
        load_config(write_config(tmp_path, s3={"bucket": bucket}))


def test_valid_bucket_names_pass(tmp_path):
    for bucket in ("harness-artifacts", "my.bucket.2", "abc", "a" * 63, "sagemaker-us-east-1-1"):
        assert load_config(write_config(tmp_path, s3={"bucket": bucket})).s3.bucket == bucket


def test_a_bad_bucket_on_the_command_line(tmp_path):
    error = one_screen(dry_run(write_config(tmp_path), "s3.bucket=my..bucket"))
    assert "s3.bucket: Value error, bucket name 'my..bucket' must not hold two adjacent periods" \
           in error


# -- the dry run ----------------------------------------------------------------------------------



def test_a_dry_run_with_role_and_region_does_not_warn(tmp_path):
    result = dry_run(write_config(tmp_path), f"modes.sagemaker.role={ROLE}", check=True,
                     env={"AWS_REGION": "eu-west-1"})
    assert "warning" not in result.stderr
    assert "dkr.ecr.eu-west-1.amazonaws.com" in result.stdout


def test_a_dry_run_without_role_or_region_warns_and_lists_every_upload(tmp_path):
    result = dry_run(write_config(tmp_path, s3={"prefix": "listed"}), check=True)
    assert "warning: no AWS region set" in result.stderr and "us-east-1" in result.stderr
    assert "warning: no IAM role set: showing a placeholder ARN" in result.stderr
    assert "dkr.ecr.us-east-1.amazonaws.com" in result.stdout
    lines = result.stdout.splitlines()
    uploads = [line.split()[1] for line in lines if line.startswith("PutObject ")]
    root = "s3://harness-artifacts/listed"
    for split in ("train", "test"):
        assert f"{root}/data/{split}/data-00000-of-00001.arrow" in uploads
        assert f"{root}/data/{split}/dataset_info.json" in uploads
    assert f"{root}/channels/model/config.json" in uploads  # the shipped model is a folder
    assert uploads[-1].startswith(f"{root}/code/") and uploads[-1].endswith("sourcedir.tar.gz")
    assert lines.index("CreateTrainingJob") > max(i for i, line in enumerate(lines)
                                                  if line.startswith("PutObject "))


# -- telemetry and the SDK's own settings ---------------------------------------------------------

@pytest.mark.parametrize("user_setting, expected", [(None, True), (False, False)])
def test_telemetry_is_off_and_the_users_sdk_config_is_kept(aws, tiny_job, tmp_path, monkeypatch,
                                                           user_setting, expected):
    from harness.job import open_job

    sdk = {"SchemaVersion": "1.0", "SageMaker": {"TrainingJob": {"Tags": [
        {"Key": "team", "Value": "nlp"}]}}}
    if user_setting is not None:
        sdk["SageMaker"]["PythonSDK"] = {"Modules": {"TelemetryOptOut": user_setting}}
    (tmp_path / "sdk.yaml").write_text(yaml.safe_dump(sdk))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(tmp_path / "sdk.yaml"))
    for key, value in aws.env.items():
        monkeypatch.delenv(key, raising=False) if value is None else monkeypatch.setenv(key, value)
    session = open_job(aws.config(tiny_job, prefix="sdk"), [], "sagemaker").mode.session
    config = session.sagemaker_config["SageMaker"]
    assert config["PythonSDK"]["Modules"]["TelemetryOptOut"] is expected
    assert config["TrainingJob"]["Tags"] == [{"Key": "team", "Value": "nlp"}]


# -- promote --------------------------------------------------------------------------------------

def requirement(name: str) -> str:
    lines = (REPO / "container" / "requirements.txt").read_text().splitlines()
    return next(line.split("==")[1] for line in lines if line.startswith(f"{name}=="))


def version_lines(stdout: str) -> dict[tuple[str, str], list[str]]:
    """(image, framework) -> [sagemaker-local's, sagemaker's, mark...] from promote's table."""
    lines = stdout[stdout.index("framework versions"):].splitlines()[1:7]
    rows, image = {}, None
    for line in lines:
        words = line.split()
        if words[0] in ("training", "inference"):
            image, words = words[0], words[1:]
        rows[(image, words[0])] = words[1:]
    return rows


def test_promote_shows_framework_versions_and_marks_a_major_change(tmp_path):
    result = harness("promote", "-c", str(write_config(tmp_path)), env=NO_AWS)
    rows = version_lines(result.stdout)
    changed = []
    # The DLC versions, as the image URIs promote shows spell them.
    training_image = re.search(r"huggingface-pytorch-training:(\S+)", result.stdout).group(1)
    inference_image = re.search(r"huggingface-pytorch-inference:(\S+)", result.stdout).group(1)
    for image, tag in (("training", training_image), ("inference", inference_image)):
        torch, transformers, minor = re.match(r"([\d.]+)-transformers([\d.]+)-gpu-py3(\d+)",
                                              tag).groups()
        local_transformers, dlc_transformers, *mark = rows[(image, "transformers")]
        assert local_transformers == requirement("transformers")
        assert dlc_transformers == transformers
        assert rows[(image, "torch")][:2] == [requirement("torch"), torch]
        assert rows[(image, "python")][1] == f"3.{minor}"
        major = local_transformers.split(".")[0] != transformers.split(".")[0]
        assert (mark == ["!", "major", "version", "change"]) == major
        changed.append(major)
    # SDK v2's DLCs have transformers 4.x, harness's image 5.x; v3's have 5.x.
    assert ("! a major version changes" in result.stdout) == any(changed) == (sdk.major() == 2)


def test_promote_with_an_image_of_ones_own(tmp_path):
    config = write_config(tmp_path, modes={"sagemaker": {"image_uri": "1.dkr.ecr/mine:1"}})
    rows = version_lines(harness("promote", "-c", str(config), env=NO_AWS).stdout)
    assert rows[("training", "transformers")][1:] == ["unknown"]  # no mark either
    assert rows[("inference", "transformers")][1] != "unknown"


def test_harness_image_runs_the_versions_promote_shows(sagemaker_local_stack):
    """The versions promote reads from container/ are the built image's own."""
    from harness.containers import docker_engine, image

    script = ("import sys, torch, transformers; print(transformers.__version__, "
              "torch.__version__.split('+')[0], f'{sys.version_info[0]}.{sys.version_info[1]}')")
    printed = docker_engine.client().containers.run(
        image.default_image(), entrypoint=["python", "-c", script], remove=True,
        network_disabled=True).decode().split()
    assert dict(zip(("transformers", "torch", "python"), printed, strict=False)) == image.framework_versions()
