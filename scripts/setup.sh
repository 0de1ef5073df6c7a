#!/usr/bin/env bash
# Create .venv and install gisplan into it (with the test tools when called with --test).
# Works on a fresh Debian with only python3: installs python3-venv with apt when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "setup: $PY not found; installing python3 with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    echo "setup: python venv module missing; installing python3-venv with apt-get" >&2
    rm -rf .venv
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip>=25.1"
# the report (gisplan report / gisplan run): WeasyPrint needs Pango and HarfBuzz's subsetter, the maps and the PDF a
# CJK font. Without libharfbuzz-subset0 `import weasyprint` only warns (an error in the test suite), so all are installed.
REPORT_DEBS="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk"
if command -v dpkg-query >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  if ! dpkg-query -W -f='${Status}\n' $REPORT_DEBS 2>/dev/null | grep -c "install ok installed" | grep -qx 4; then
    echo "setup: installing $REPORT_DEBS with apt-get (PDF report with Chinese text)" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    # shellcheck disable=SC2086
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $REPORT_DEBS >/dev/null
  fi
fi
if [ "${1:-}" = "--test" ]; then
  # the map test opens map.html in a real headless Chromium; the screenshot needs CJK fonts. The report tests
  # render the PDF's pages with poppler-utils (pdftoppm, pdftotext)
  if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1 \
      || [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then
    echo "setup: installing chromium, poppler-utils and fonts-noto-cjk with apt-get (browser test of the maps, report pages)" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium poppler-utils \
      fonts-noto-cjk >/dev/null
  fi
  # the export tests open every exported file in QGIS (Debian's python3-qgis, run by /usr/bin/python3, headless)
  if ! /usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1; then
    echo "setup: installing python3-qgis and qgis-providers with apt-get (QGIS reads the exports back in the tests)" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      python3-qgis qgis-providers >/dev/null
  fi
  # the PostGIS workspace tests start a throwaway PostgreSQL 15 cluster with PostGIS (tests/pg.py)
  if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
    echo "setup: installing postgresql-15-postgis-3 with apt-get (the PostGIS workspace tests run a throwaway cluster)" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
  fi
  # bench/bench_serve.py runs pygeoapi's OGR provider with Debian's GDAL bindings
  if ! /usr/bin/python3 -c "from osgeo import ogr" >/dev/null 2>&1; then
    echo "setup: installing python3-gdal with apt-get (the peer server of bench/bench_serve.py)" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-gdal >/dev/null
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[all,bench]" --group test --group lint
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
# the editable install leaves gisplan's own modules uncompiled; where PYTHONDONTWRITEBYTECODE is set (containers,
# CI images) every command would compile ~100 of them again at start-up (0.2-0.3 s): compile them once here
.venv/bin/python -m compileall -q -j 0 gisplan  # -q: only what fails to compile is printed
