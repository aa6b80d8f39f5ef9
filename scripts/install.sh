#!/usr/bin/env bash
# Install everything harness needs on this machine: the package with its test extras.
# torch is pinned to 2.13.0 in pyproject.toml; where pip has that CPU wheel locally it takes it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --progress-bar off -e ".[test]"
