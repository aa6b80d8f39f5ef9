#!/usr/bin/env bash
# harness on SageMaker Python SDK v2 (the guide's `HuggingFace` estimator; the default
# environment runs v3): a virtualenv over this Python's packages with
# 'sagemaker[local]==2.257.7' in it, and this checkout installed in it (editable); then the
# SDK-facing tests whose code paths differ by major. The venv is made once and reused while
# its inputs are the same.
#   scripts/sdk-v2-check.sh                      # venv: $SDK_V2_VENV or ~/.cache/harness/venv-sdk2
#   scripts/sdk-v2-check.sh -k promote           # extra pytest arguments
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${SDK_V2_VENV:-$HOME/.cache/harness/venv-sdk2}
# Fast: every request test (v2's adapter builds them with its estimators, model and tuner; the
# Debugger defaults, the tuner's estimator hyperparameters and the DLCs are v2's), the SDK
# port, v2's image tables (TGI), the plugin's tests, v2's local-mode startup patch, and the
# tracking-to-an-ARN requests.
FAST_TESTS=(tests/unit/test_sdk_port.py tests/cli/test_sagemaker_requests.py
            tests/cli/test_tune_transform_requests.py tests/user_script/test_sagemaker_requests.py
            tests/cli/test_llm_promote.py tests/unit/test_llm_serving.py tests/cli/test_api.py
            tests/cli/test_pytest_plugin.py tests/cli/test_tracking_sagemaker.py
            tests/reliability/test_startup.py::test_sdk_local_mode_waits_as_long_as_configured)
# Containers, through v2's local mode and patches_v2.py: the contract suite's sagemaker-local
# tests (storage, train, checkpoints, Ctrl-C, deploy, predict, delete), parity with local, the
# plugin's teardown and session, the example project, the guide's estimator code (v2 only),
# and the flow with egress dropped (v2's telemetry stays off).
# Tuning and transform reach v2 through the same adapter calls as training and deploy: their
# e2e tests run in the default (v3) environment only, for CI's time.
SAGEMAKER_LOCAL=(tests/contract tests/e2e/test_sagemaker_local.py::test_parity_with_local_mode
                 tests/cli/test_pytest_plugin.py examples/linear-regression/tests
                 tests/user_script/test_e2e.py::test_guide_estimator_code_on_the_harness_session
                 tests/reliability/test_no_egress.py::test_sagemaker_local_flow_without_egress)
# The emulated `sagemaker` flow: v2's session, waiters and log tailing against moto.
EMULATED=(tests/e2e/test_sagemaker_emulated.py)

# The venv sees this Python's packages (harness's dependencies, installed by install.sh) and
# holds only v2's SDK, which shadows the system's v3: seconds to make, not minutes.
SDK="sagemaker[local]==2.257.7"
stamp=$(printf '%s\n%s\n%s\n' "$(python3 --version)" "$SDK" \
    "$(cat "$REPO/container/requirements.txt")" | sha256sum | cut -c1-16)

if [ "$(cat "$VENV/.harness-requirements" 2>/dev/null)" != "$stamp" ]; then
    echo "== making $VENV (SDK v2)"
    rm -rf "$VENV"
    python3 -m venv --system-site-packages "$VENV"
    # The image's pins as constraints: what v2 brings keeps the versions the image has.
    "$VENV/bin/pip" install -q "$SDK" -c "$REPO/container/requirements.txt"
    echo "$stamp" > "$VENV/.harness-requirements"
fi
if [ "$("$VENV/bin/python" -c 'import harness; print(harness.__file__)' 2>/dev/null)" \
        != "$REPO/harness/__init__.py" ]; then
    "$VENV/bin/pip" install -q --no-deps -e "$REPO"
fi
"$VENV/bin/python" -c 'from importlib import metadata; v = metadata.version("sagemaker")
assert v.startswith("2."), f"sagemaker {v} in the v2 venv"; print("== sagemaker", v)'

cd "$REPO"
env -u PYTHONPATH "$VENV/bin/python" -m pytest -p no:cacheprovider -q -m "not e2e" -n 2 \
    "${FAST_TESTS[@]}" "$@"
env -u PYTHONPATH "$VENV/bin/python" -m pytest -p no:cacheprovider -q -m e2e \
    -k "sagemaker_local or sagemaker-local or guide_estimator" \
    "${SAGEMAKER_LOCAL[@]}" "$@"
env -u PYTHONPATH "$VENV/bin/python" -m pytest -p no:cacheprovider -q "${EMULATED[@]}" "$@"
