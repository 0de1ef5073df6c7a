#!/usr/bin/env bash
# Set up and run the test suite (unit, validation, store atomicity, peers, demo reproduction).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check gisplan tests scripts bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
