"""`gisplan serve`: OGC API – Features over a workspace, read by OWSLib's Features client (a client no one here
wrote) through a real uvicorn server on loopback, for a GeoPackage and for a PostGIS workspace."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.service import CONFORMANCE, create_app
from gisplan.store import open_workspace
from tests.conftest import peer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from gisplan.store import Workspace

TOWNSHIPS = "townships"
CENTRES = "facilities_community_service_centre"


@contextlib.contextmanager
def _serving(ws: Workspace) -> Iterator[str]:
    uvicorn = peer("uvicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(params=["gpkg", "postgis"])
def served(request: pytest.FixtureRequest, base_store: Path) -> Iterator[str]:
    """The base workspace (real townships, 267 centres) served from a GeoPackage and from PostGIS."""
    ws = open_workspace(base_store)
    if request.param == "postgis":
        uri = request.getfixturevalue("postgis_uri")
        result = CliRunner().invoke(cli, ["db", "copy", str(base_store), uri])
        assert result.exit_code == 0, result.output
        ws = open_workspace(uri)
    with _serving(ws) as url:
        yield url


def test_owslib_reads_every_collection(served: str) -> None:
    features_api = peer("owslib.ogcapi.features")
    client = features_api.Features(served)
    assert set(CONFORMANCE) <= set(client.conformance()["conformsTo"])
    assert client.api()["info"]["title"] == "gisplan"
    assert sorted(client.feature_collections()) == sorted(["district", TOWNSHIPS, CENTRES])
    towns = client.collection_items(TOWNSHIPS, limit=100)
    assert (towns["numberMatched"], towns["numberReturned"]) == (23, 23)
    assert [f["id"] for f in towns["features"]] == list(range(1, 24))
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in towns["features"])
    one = client.collection_item(TOWNSHIPS, "3")
    assert one["id"] == 3
    assert one["properties"] == towns["features"][2]["properties"]
    centres = client.collection_items(CENTRES, limit=1000)
    assert centres["numberMatched"] == 267
    assert client.collection(CENTRES)["extent"]["spatial"]["bbox"][0][0] > 105


def test_bbox_pages_never_overlap_or_skip(served: str) -> None:
    features_api = peer("owslib.ogcapi.features")
    client = features_api.Features(served)
    bbox = [105.80, 29.25, 106.00, 29.45]
    whole = client.collection_items(CENTRES, bbox=bbox, limit=1000)
    assert 20 < whole["numberMatched"] < 267
    ids: list[int] = []
    url: str | None = f"{served}/collections/{CENTRES}/items?bbox={','.join(map(str, bbox))}&limit=7"
    while url:
        status, page = _get(url)
        assert status == 200
        assert page["numberMatched"] == whole["numberMatched"]
        ids += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert ids == [f["id"] for f in whole["features"]]  # same order, no overlap, no gap
    assert len(set(ids)) == len(ids)


def test_property_filters_and_clear_json_errors(served: str) -> None:
    status, towns = _get(f"{served}/collections/{TOWNSHIPS}/items?limit=1&offset=4")
    assert status == 200
    code = towns["features"][0]["properties"]["code12"]
    status, found = _get(f"{served}/collections/{TOWNSHIPS}/items?code12={code}")
    assert (status, found["numberMatched"], found["features"][0]["id"]) == (200, 1, 5)
    for url, expected, text in [
        (f"/collections/{TOWNSHIPS}/items?limit=0", 400, "limit"),
        (f"/collections/{TOWNSHIPS}/items?limit=abc", 400, "limit"),
        (f"/collections/{TOWNSHIPS}/items?bbox=1,2,3", 400, "bbox"),
        (f"/collections/{TOWNSHIPS}/items?nosuch=1", 400, "nosuch"),
        (f"/collections/{TOWNSHIPS}/items/999", 404, "999"),
        (f"/collections/{TOWNSHIPS}/items/1%27%20OR%201=1", 404, "OR"),
        ("/collections/..%2F..%2Fetc%2Fpasswd/items", 404, "no "),
        ("/../../etc/passwd", 404, "no "),
        ("/collections/gisplan_layers/items", 404, "no collection"),
    ]:
        status, body = _get(served + url)
        assert status == expected, (url, body)
        assert text in body["description"], body
        assert "Traceback" not in json.dumps(body)


def test_boundary_layers_are_not_served_by_default(tmp_path: Path, base_store: Path) -> None:
    import shutil

    import geopandas as gpd
    import shapely

    from gisplan.store import LayerWrite

    path = tmp_path / "b.gpkg"
    shutil.copyfile(base_store, path)
    ws = open_workspace(path)
    lines = gpd.GeoDataFrame({"line_id": ["L1"]}, geometry=[shapely.LineString([(105.9, 29.3), (106.0, 29.4)])],
                             crs="EPSG:4326")
    ws.write([LayerWrite("boundary_lines", "result", lines)], action="import")
    with _serving(ws) as url:
        _, body = _get(f"{url}/collections")
        assert "boundary_lines" not in [c["id"] for c in body["collections"]]
        assert _get(f"{url}/collections/boundary_lines/items")[0] == 404
    app = create_app(ws, include_sensitive=True)
    assert app is not None
    with _serving(ws.with_hook(lambda tx: None)) as url:  # same data, default again: still hidden
        assert _get(f"{url}/collections/boundary_lines")[0] == 404


def test_qgis_reads_every_collection(served: str) -> None:
    """QGIS itself (Debian's python3-qgis, the OAPIF provider, headless) reads every collection whole."""
    from tests.test_export import qgis_open

    expected = {TOWNSHIPS: 23, CENTRES: 267, "district": 1}
    specs = [(f"url='{served}' typename='{name}'", "OAPIF") for name in expected]
    seen, _ = qgis_open(specs)
    for (uri, _provider), (name, count) in zip(specs, expected.items(), strict=True):
        layer = seen[uri]
        assert layer["valid"], (name, layer)
        assert layer["count"] == count, name
        rows = layer["rows"]
        assert len(rows) == count, name
        assert all(r["wkt"] for r in rows), name
    towns = {r["attrs"]["code12"] for r in seen[specs[0][0]]["rows"]}
    _, page = _get(f"{served}/collections/{TOWNSHIPS}/items?limit=100")
    assert towns == {f["properties"]["code12"] for f in page["features"]}
