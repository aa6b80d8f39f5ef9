#!/usr/bin/env bash
# harness as a user's project gets it: the wheel built, installed into a fresh virtualenv
# outside the checkout (reusing this Python's packages: torch, transformers, ...), then used
# from temporary folders: examples/linear-regression's tests, the tests of a project that
# `harness init` wrote, and the bundled sentiment flow.
#   scripts/wheel-check.sh            # modes: local and sagemaker-local
#   MODES=local scripts/wheel-check.sh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
MODES=${MODES:-local sagemaker-local}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/harness-wheel-XXXXXX")
trap 'rm -rf "$WORK" "$REPO/build"' EXIT

python3 -m pip wheel --no-deps --no-build-isolation -q -w "$WORK/dist" "$REPO"
python3 -m venv --system-site-packages "$WORK/venv"
"$WORK/venv/bin/pip" install -q --no-deps "$WORK"/dist/harness-*.whl
export PATH="$WORK/venv/bin:$PATH"
unset PYTHONPATH

cd "$WORK"
installed=$(python -c 'import harness, sys; print(harness.__file__)')
case "$installed" in "$WORK"/venv/*) ;; *) echo "harness imported from $installed" >&2; exit 1;; esac
harness --help >/dev/null
harness doctor --mode local

project_tests() {  # the tests of the project in the current folder, in $MODES
    case " $MODES " in
        *" sagemaker-local "*) python -m pytest -q -p no:cacheprovider ;;
        *) python -m pytest -q -p no:cacheprovider -k "not sagemaker" ;;
    esac
}

cp -r "$REPO/examples/linear-regression" "$WORK/project"
cd "$WORK/project"
echo "== examples/linear-regression tests ($MODES)"
project_tests

echo "== harness init, then the new project's tests ($MODES)"
harness init "$WORK/starter"
cd "$WORK/starter"
harness train -c harness.yaml
project_tests

mkdir "$WORK/empty" && cd "$WORK/empty"
for mode in $MODES; do
    echo "== the bundled sentiment flow, $mode"
    harness run --mode "$mode" --set hyperparameters.epochs=1 --set s3.prefix="wheel-$$"
    test -f runs/sentiment-minilm/state.json
    rm -rf runs
done
echo "wheel check passed: $(basename "$WORK"/dist/*.whl), modes: $MODES"
