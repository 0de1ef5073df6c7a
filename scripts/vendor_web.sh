#!/usr/bin/env bash
# Refresh the browser libraries that gisplan embeds in its HTML maps (gisplan/data/web/).
# Maps must open on an offline government intranet, so Leaflet and its plugins ship inside the package;
# this script is only for maintainers updating them (it needs npm and the npm registry). npm checks each
# package's registry integrity hash; the sha256 of every copied file is written to the README.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=gisplan/data/web
PACKAGES=("leaflet@1.9.4" "leaflet.markercluster@1.5.3" "leaflet-measure@3.1.0")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "${PACKAGES[@]}" >/dev/null)
for tgz in "$TMP"/*.tgz; do mkdir -p "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"; done
rm -rf "$DEST" && mkdir -p "$DEST/images" "$DEST/assets" "$DEST/licences"
L="$TMP/leaflet-1.9.4/package"; C="$TMP/leaflet.markercluster-1.5.3/package"; M="$TMP/leaflet-measure-3.1.0/package"
cp "$L/dist/leaflet.js" "$L/dist/leaflet.css" "$DEST/"
cp "$L"/dist/images/{layers,layers-2x,marker-icon,marker-icon-2x,marker-shadow}.png "$DEST/images/"
cp "$L/LICENSE" "$DEST/licences/leaflet-LICENSE"
cp "$C/dist/leaflet.markercluster.js" "$C/dist/MarkerCluster.css" "$C/dist/MarkerCluster.Default.css" "$DEST/"
cp "$C/MIT-LICENCE.txt" "$DEST/licences/leaflet.markercluster-LICENSE"
cp "$M/dist/leaflet-measure.cn.js" "$M/dist/leaflet-measure.css" "$DEST/"
cp "$M"/dist/assets/{cancel,check,focus,start,trash,rulers}{,_@2X}.png "$DEST/assets/"
cp "$M/LICENSE" "$DEST/licences/leaflet-measure-LICENSE"
{
  echo "# Embedded web libraries"
  echo
  echo "Copied by \`scripts/vendor_web.sh\` from the npm registry: ${PACKAGES[*]}."
  echo "Leaflet is BSD-2-Clause; Leaflet.markercluster and leaflet-measure are MIT (texts in \`licences/\`)."
  echo "\`gisplan.webmap\` inlines these files (and the images their CSS refers to) into every map.html, so a"
  echo "map needs no CDN and no internet. Files and sha256:"
  echo
  (cd "$DEST" && find . -type f ! -name README.md | sort | xargs sha256sum | sed 's/^/    /')
} > "$DEST/README.md"
echo "vendored into $DEST:"; du -sh "$DEST"
