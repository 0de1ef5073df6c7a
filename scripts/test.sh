#!/usr/bin/env bash
# Set up and run the test suite (unit, validation, store atomicity, peers, demo reproduction).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check gisplan tests scripts bench
.venv/bin/mypy
# the package builds, and its wheel carries the catalogue, py.typed, the web libraries the maps embed, the
# compiled interface catalogue (Chinese) and the licence
rm -rf build/wheel && .venv/bin/python -m pip wheel -q --no-deps --disable-pip-version-check -w build/wheel . >/dev/null
.venv/bin/python - <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path("build/wheel").glob("gisplan-*.whl"))
names = set(zipfile.ZipFile(wheel).namelist())
missing = {"gisplan/data/facility_types.toml", "gisplan/py.typed", "gisplan/cli/__init__.py", "gisplan/data/web/leaflet.js",
           "gisplan/data/web/assets/rulers.png", "gisplan/data/map/gisplan-map.js",
           "gisplan/locale/zh_CN/LC_MESSAGES/gisplan.mo", "gisplan/i18n.py",
           "gisplan/data/regions/chongqing_districts_wgs84.geojson", "gisplan/data/regions/district_template.toml",
           "gisplan/data/report/report.html.j2", "gisplan/data/report/report.css"} - names
missing |= set() if any(n.endswith(".dist-info/licenses/LICENSE") for n in names) else {"LICENSE"}
sys.exit(f"{wheel.name} lacks {sorted(missing)}" if missing else 0)
PY
.venv/bin/python -m pytest "$@"
