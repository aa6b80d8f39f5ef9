#!/usr/bin/env bash
# harness on the oldest versions pyproject.toml allows: a virtualenv (this Python's packages
# underneath, so torch is the system's and must be the lowest allowed) with the lowest
# transformers, datasets, accelerate and s3fs, then the fast tests of config, data, the
# training recipe, local mode and init, on this checkout's code.
#   scripts/oldest-check.sh
#   SAGEMAKER_LOCAL=1 scripts/oldest-check.sh   # also one sagemaker-local training (builds
#                                               # an image with these versions: minutes)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/harness-oldest-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

# "name==lowest" for each bounded dependency, read from pyproject.toml.
mapfile -t oldest < <(python3 - "$REPO/pyproject.toml" <<'EOF'
import re, sys, tomllib

deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
for dep in deps:
    found = re.fullmatch(r"(torch|transformers|datasets|accelerate|s3fs)>=([\d.]+).*", dep)
    if found:
        print(f"{found[1]}=={found[2]}")
EOF
)
echo "oldest: ${oldest[*]}"

python3 -m venv --system-site-packages "$WORK/venv"
packages=()
for pin in "${oldest[@]}"; do
    if [ "${pin%%==*}" = torch ]; then
        have=$(python3 -c 'import torch; print(torch.__version__.split("+")[0])')
        case "$have" in "${pin#torch==}"|"${pin#torch==}".*) ;;
            *) echo "the system's torch is $have, not ${pin#torch==}: install that" >&2; exit 1;; esac
    else
        packages+=("$pin")
    fi
done
"$WORK/venv/bin/pip" install -q "${packages[@]}"
"$WORK/venv/bin/python" -c 'import torch, transformers, datasets, accelerate
print("testing on torch", torch.__version__, "transformers", transformers.__version__,
      "datasets", datasets.__version__, "accelerate", accelerate.__version__)'

cd "$REPO"
export PYTHONPATH=$REPO
"$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider -m "not e2e" -n 2 \
    tests/unit/test_config.py tests/unit/test_data.py tests/unit/test_data_processing.py \
    tests/unit/test_train_recipe.py tests/cli/test_local_mode.py tests/cli/test_init.py
if [ "${SAGEMAKER_LOCAL:-}" = 1 ]; then
    "$WORK/venv/bin/python" -m harness image build
    "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider tests/e2e/test_sagemaker_local.py -k parity
fi
echo "oldest check passed in $(( $(date +%s) - start )) s"
