#!/usr/bin/env bash
# Format and lint: the checks scripts/test.sh runs before the tests (configuration in pyproject.toml).
# Types (mypy) and the import-layer contract are to come with issue 18.
set -euo pipefail
cd "$(dirname "$0")/.."
PY_PATHS=(lims tests bench scripts migrations config.py wsgi.py)
echo "lint: ruff format --check"
.venv/bin/ruff format --check --quiet "${PY_PATHS[@]}"
echo "lint: ruff check"
.venv/bin/ruff check --quiet "${PY_PATHS[@]}"
