"""Open layers with QGIS (headless) and print what it sees as JSON; run under Debian's /usr/bin/python3 with
QT_QPA_PLATFORM=offscreen (tests/test_export.py starts it). Argument: a JSON list of [uri, provider] pairs.

Layers are kept inside a function so that they are freed before exitQgis() (held globally, QGIS 3.22 segfaults).
QGIS is imported inside the functions: pytest's doctest collection imports this file in the project's venv.
"""

from __future__ import annotations

import json
import sys
from typing import Any

messages: list[str] = []


def _log(message: str, tag: str, level: object) -> None:
    messages.append(f"{tag}: {message}")


def probe(specs: list[list[str]]) -> list[dict[str, Any]]:
    """What QGIS sees of each layer: validity, feature count, CRS, fields and every feature (text, WKT)."""
    from qgis.core import QgsVectorLayer

    out = []
    for uri, provider in specs:
        layer = QgsVectorLayer(uri, "probe", provider)
        item: dict[str, Any] = {"uri": uri, "valid": layer.isValid()}
        if layer.isValid():
            item["count"] = layer.featureCount()
            item["crs"] = layer.crs().authid()
            item["fields"] = [f.name() for f in layer.fields()]
            rows = []
            for feature in layer.getFeatures():
                geom = feature.geometry()
                attrs = dict(zip(item["fields"], (None if v is None else str(v) for v in feature.attributes()),
                                 strict=True))
                rows.append({"attrs": attrs, "wkt": geom.asWkt(9) if geom is not None else None})
            item["rows"] = rows
        out.append(item)
        del layer
    return out


def main() -> None:
    """Start QGIS without a display, probe the layers named in argv[1], print JSON and exit QGIS."""
    from qgis.core import QgsApplication

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    QgsApplication.messageLog().messageReceived.connect(_log)
    result = probe(json.loads(sys.argv[1]))
    app.processEvents()
    print(json.dumps({"layers": result, "messages": messages}, ensure_ascii=False))
    app.exitQgis()


if __name__ == "__main__":
    main()
