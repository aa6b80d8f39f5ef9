#!/usr/bin/env bash
# harness on SageMaker Python SDK v3: a virtualenv with pyproject's dependencies, sagemaker
# swapped for 'sagemaker>=3.27,<4' (torch==2.13.0 stays, so pip takes the local CPU wheel), and
# this checkout installed in it (editable); then the tests that run under v3. The venv is made
# once and reused while the dependency list is the same.
#   scripts/sdk-v3-check.sh                      # venv: $SDK_V3_VENV or ~/.cache/harness/venv-sdk3
#   scripts/sdk-v3-check.sh -k promote           # extra pytest arguments
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${SDK_V3_VENV:-$HOME/.cache/harness/venv-sdk3}
TESTS=(tests/unit/test_sdk_port.py tests/sdk_v3
       "tests/cli/test_pytest_plugin.py::test_sdk_warnings_do_not_fail_a_strict_users_run")
FAST_TESTS=(tests/unit/test_config.py tests/cli/test_api.py tests/cli/test_pytest_plugin.py
            tests/cli/test_sagemaker_requests.py tests/cli/test_tune_transform_requests.py
            tests/cli/test_llm_promote.py tests/unit/test_llm_serving.py)
# Their v2 request expectations (DLCs, Debugger settings, v2's tuner): tests/sdk_v3 has v3's.
V2_REQUESTS="not test_requests_of_the_whole_run and not test_tuning_job_request and not \
test_ctrl_c_stops_the_tuning_job"
# harness's own sagemaker-local steps: the same tests as under v2 (their sagemaker-local ones):
# the contract suite (train, checkpoints, Ctrl-C, deploy, predict, delete), parity with local,
# a user's script and a tuning job (its trials are training jobs through the same port). CI's
# time keeps the rest (transform, more tuning) to the v2 run, whose code paths past the SDK
# port are the same.
SAGEMAKER_LOCAL=(tests/contract tests/e2e/test_sagemaker_local.py::test_parity_with_local_mode
                 tests/user_script/test_e2e.py::test_train_in_sagemaker_local
                 "tests/e2e/test_tune_transform.py::test_tune_picks_the_best_trial_and_deploy_serves_it")

requirements=$(python3 - "$REPO/pyproject.toml" <<'PY'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
    print("sagemaker>=3.27,<4" if re.match(r"sagemaker(\[|=|<|>|$)", requirement) else requirement)
PY
)
stamp=$(printf '%s\n%s\n%s\n' "$(python3 --version)" "$requirements" \
    "$(cat "$REPO/container/requirements.txt")" | sha256sum | cut -c1-16)

if [ "$(cat "$VENV/.harness-requirements" 2>/dev/null)" != "$stamp" ]; then
    echo "== making $VENV (SDK v3)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    printf '%s\n' "$requirements" > "$VENV/requirements.txt"
    # The image's pins as constraints: torch stays 2.13.0 (the local CPU wheel), not PyPI's
    # newest CUDA build.
    "$VENV/bin/pip" install -q -r "$VENV/requirements.txt" -c "$REPO/container/requirements.txt"
    echo "$stamp" > "$VENV/.harness-requirements"
fi
if [ "$("$VENV/bin/python" -c 'import harness; print(harness.__file__)' 2>/dev/null)" \
        != "$REPO/harness/__init__.py" ]; then
    "$VENV/bin/pip" install -q --no-deps -e "$REPO"
fi
"$VENV/bin/python" -c 'from importlib import metadata; v = metadata.version("sagemaker")
assert v.startswith("3."), f"sagemaker {v} in the v3 venv"; print("== sagemaker", v)'

cd "$REPO"
env -u PYTHONPATH "$VENV/bin/python" -m pytest -p no:cacheprovider -q "${TESTS[@]}" "$@"
env -u PYTHONPATH "$VENV/bin/python" -m pytest -p no:cacheprovider -q -m "not e2e" \
    -k "$V2_REQUESTS" "${FAST_TESTS[@]}" "$@"
env -u PYTHONPATH "$VENV/bin/python" -m pytest -p no:cacheprovider -q \
    -k "sagemaker_local or sagemaker-local or in_containers" "${SAGEMAKER_LOCAL[@]}" "$@"
