#!/usr/bin/env bash
# Build an offline install bundle for bureau intranets (no internet there): a wheelhouse of gisplan and every
# Python package it needs, built for THIS platform (same CPU architecture, Linux and Python minor version as
# the target machine), the list of Debian packages to install there, and the data (bundled layers, scenarios and
# any cached OpenStreetMap roads beside the workspaces in work/). Run it on a machine with internet; copy the
# folder (or tar it) to the intranet and run its install.sh there. See the README ("Offline install").
#
#   bash scripts/bundle.sh [OUT]                       # default OUT: dist/gisplan-bundle
#
# Environment (mainly for the tests): PYTHON (the interpreter running pip; default .venv/bin/python, else
# python3), GISPLAN_BUNDLE_REQUIREMENTS (what goes in the wheelhouse; default ".[osm]": gisplan with all its
# dependencies), GISPLAN_BUNDLE_NO_DEPS=1 (only the packages named, not their dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${1:-dist/gisplan-bundle}
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
REQS=${GISPLAN_BUNDLE_REQUIREMENTS:-.[osm]}
NO_DEPS=${GISPLAN_BUNDLE_NO_DEPS:-}
rm -rf "$OUT"
mkdir -p "$OUT/wheelhouse" "$OUT/data"
OUT=$(cd "$OUT" && pwd)

# 1. the wheelhouse: gisplan's own wheel and (unless NO_DEPS) a wheel of every dependency for this platform
# shellcheck disable=SC2086  # REQS is a list of requirement specifiers
"$PY" -m pip wheel -q --disable-pip-version-check ${NO_DEPS:+--no-deps} -w "$OUT/wheelhouse" $REQS

# 2. what the install command asks for: gisplan with the osm extra, or the names of the wheels built
if [ -n "$NO_DEPS" ]; then
  PACKAGES=$(cd "$OUT/wheelhouse" && ls ./*.whl | sed -E 's#^\./##; s#-[0-9].*##' | tr '\n' ' ')
  INSTALL_FLAGS="--no-deps"
else
  PACKAGES="gisplan[osm]"
  INSTALL_FLAGS=""
fi

# 3. Debian packages the target machine needs (install them from the intranet's Debian mirror or as .debs)
cat > "$OUT/debian-packages.txt" <<'LIST'
# Debian 12 packages for gisplan (apt-get install -y ...). Required:
python3
python3-venv
# the report's PDF (WeasyPrint) and its Chinese text, maps included:
libpango-1.0-0
libpangoft2-1.0-0
libharfbuzz-subset0
fonts-noto-cjk
# Only for the test suite (browser test of the maps; the report's pages rendered to PNG):
chromium
poppler-utils
LIST

# 4. the data: bundled layers and scenarios, and OpenStreetMap road caches fetched on this machine (ODbL)
cp -r "$ROOT/layers" "$ROOT/scenarios" "$OUT/data/"
if compgen -G "$ROOT/work/*_osm_roads.gpkg" >/dev/null; then
  mkdir -p "$OUT/data/work"
  cp "$ROOT"/work/*_osm_roads.gpkg "$ROOT"/work/*_osm_roads.gpkg.json "$OUT/data/work/" 2>/dev/null || true
fi

# 5. the installer run on the intranet: a venv and pip with no index at all, only the wheelhouse
cat > "$OUT/install.sh" <<INSTALL
#!/usr/bin/env bash
# Install gisplan from this bundle without internet:  bash install.sh [VENV]   (default VENV: .venv)
set -euo pipefail
HERE=\$(cd "\$(dirname "\$0")" && pwd)
VENV=\${1:-.venv}
\${PYTHON:-python3} -m venv "\$VENV"
"\$VENV/bin/python" -m pip --isolated install -q --no-index --find-links "\$HERE/wheelhouse" $INSTALL_FLAGS $PACKAGES
echo "gisplan \$("\$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("gisplan"))') installed into \$VENV; data in \$HERE/data"
INSTALL
chmod +x "$OUT/install.sh"
"$PY" - "$OUT" <<'PY'
import pathlib, platform, sys
out = pathlib.Path(sys.argv[1])
wheels = sorted(p.name for p in (out / "wheelhouse").glob("*.whl"))
(out / "MANIFEST.txt").write_text(
    f"gisplan offline bundle for {platform.system()} {platform.machine()}, Python {platform.python_version()}\n"
    f"{len(wheels)} wheels:\n" + "".join(f"  {w}\n" for w in wheels), encoding="utf-8")
print(f"bundle: {out} ({len(wheels)} wheels)")
PY
