#!/usr/bin/env bash
# Set up and run the test suite (unit, validation, store atomicity, peers, demo reproduction).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check gisplan tests scripts bench
.venv/bin/mypy
# the package builds, and its wheel carries the catalogue and py.typed
rm -rf build/wheel && .venv/bin/python -m pip wheel -q --no-deps --disable-pip-version-check -w build/wheel . >/dev/null
.venv/bin/python - <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path("build/wheel").glob("gisplan-*.whl"))
names = set(zipfile.ZipFile(wheel).namelist())
missing = {"gisplan/data/facility_types.toml", "gisplan/py.typed", "gisplan/cli.py"} - names
sys.exit(f"{wheel.name} lacks {sorted(missing)}" if missing else 0)
PY
.venv/bin/python -m pytest "$@"
