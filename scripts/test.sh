#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, type checks, then pytest (which includes the browser
# test and the evaluation gate). Assumes scripts/setup.sh has run (`make test` does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
bash scripts/install-browser.sh
.venv/bin/ruff check rag tests app.py webapp evaluation benchmarks scripts
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
