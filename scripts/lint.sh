#!/usr/bin/env bash
# The checks that need no test run: ruff on the tree, mypy on harness/, the generated config
# reference up to date, and the docs site built with --strict (a broken link fails it).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m ruff check .
python3 -m mypy
python3 scripts/config_reference.py --check
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
python3 -m mkdocs build --strict --quiet -d "$site"
echo "lint: ruff, mypy, config reference and docs are clean"
