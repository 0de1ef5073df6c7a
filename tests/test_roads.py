"""`gisplan roads fetch` and the OpenStreetMap cache: the import half of the fetch path offline, from the real
OSM samples in ../shared/data/fallback (read by osmnx as the downloaded graphs would be), the cache's checks
(hash, row count, age, area), the CLI offline, and the live download (`network`-marked, deselected)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import osmnx as ox
import pytest
import shapely
from click.testing import CliRunner

from gisplan.catalogue import load_catalogue
from gisplan.cli.main import cli
from gisplan.errors import ConfigError, NetworkError
from gisplan.io.osm import fetch_osm_roads, roads_from_graphs
from gisplan.io.osmcache import OSM_ATTRIBUTION, area_key, check_osm_cache, manifest_path
from gisplan.network.graph import build_network
from gisplan.store import open_workspace
from gisplan.vocab import OsmCacheState
from gisplan.workflows.roads import district_outline, fetch_roads
from tests.conftest import LAYERS, ROOT, sha256, shared_data

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

SAMPLE = ("fallback", "osmnx_test_osm", "West-Oakland.osm.bz2")
_NOT_DRIVE = {"footway", "path", "pedestrian", "steps", "cycleway", "track", "bridleway", "corridor"}


def _sample_graphs(path: Path) -> dict[str, Any]:
    """The walk and drive graphs osmnx builds from a real OSM extract (what the Overpass download gives)."""
    walk = ox.graph_from_xml(path, bidirectional=True, retain_all=True)
    drive = ox.graph_from_xml(path, retain_all=True)
    drive.remove_edges_from([(u, v, k) for u, v, k, h in drive.edges(keys=True, data="highway")
                             if (h[0] if isinstance(h, list) else h) in _NOT_DRIVE])
    return {"walk": walk, "drive": drive}


class _Sample:
    """A downloader that reads the real sample instead of the Overpass API, counting its calls; `online`
    false makes it fail as an offline download does."""

    def __init__(self, path: Path, *, online: bool = True) -> None:
        self.path, self.online, self.calls = path, online, 0

    def __call__(self, polygon: shapely.Geometry, network_types: Sequence[str]) -> Mapping[str, Any]:
        self.calls += 1
        if not self.online:
            msg = "offline: the OpenStreetMap server cannot be reached"
            raise NetworkError(msg)
        return _sample_graphs(self.path)


@pytest.fixture(scope="module")
def sample() -> Path:
    return shared_data(*SAMPLE)


@pytest.fixture(scope="module")
def area(sample: Path) -> gpd.GeoDataFrame:
    """The sample's extent (West Oakland), as a district outline would be."""
    return gpd.GeoDataFrame(geometry=[shapely.box(-122.3143, 37.8040, -122.2908, 37.8176)], crs="EPSG:4326")


def test_walk_and_drive_graphs_become_one_road_layer(sample: Path) -> None:
    graphs = _sample_graphs(sample)
    roads = roads_from_graphs(graphs)
    assert roads.crs.to_epsg() == 4326
    assert set(roads.columns) >= {"osm_way_id", "highway", "name", "direction", "walk", "drive", "length_m", "source"}
    assert (roads["source"] == OSM_ATTRIBUTION).all()
    # every walk edge is one piece, kept once although osmnx has it in both directions (two ways between the
    # same nodes stay two pieces)
    walk_pieces = {(min(u, v), max(u, v), str(sorted(np.atleast_1d(d["osmid"]))), round(d["length"], 1))
                   for u, v, d in graphs["walk"].edges(data=True)}
    assert roads["walk"].sum() == len(walk_pieces)
    assert roads["drive"].any()
    assert not roads.loc[roads["highway"].isin(_NOT_DRIVE), "drive"].any()
    # a one-way drive edge keeps its direction: the geometry starts at the edge's first node
    one_way = [(u, v) for u, v, d in graphs["drive"].edges(data=True) if d.get("oneway")]
    assert one_way
    assert (roads["direction"] == 2).sum() == len(one_way)
    first = shapely.get_point(roads.loc[roads["direction"] == 2].geometry.to_numpy(), 0)
    starts = {(round(graphs["drive"].nodes[u]["x"], 7), round(graphs["drive"].nodes[u]["y"], 7)) for u, _ in one_way}
    assert {(round(p.x, 7), round(p.y, 7)) for p in first} <= starts
    assert roads["length_m"].sum() == pytest.approx(
        sum(d["length"] for *_, d in graphs["walk"].edges(data=True)) / 2, rel=0.05)
    net = build_network(roads, min_piece_m=0)
    assert net.report.one_way_edges > 0


def test_cache_is_written_checked_and_reused_offline(tmp_path: Path, sample: Path, area: gpd.GeoDataFrame) -> None:
    cache = tmp_path / "ws_osm_roads.gpkg"
    online = _Sample(sample)
    got = fetch_osm_roads(area, cache, download=online, source="sample")
    assert got.downloaded
    assert got.state is OsmCacheState.MISSING
    assert online.calls == 1
    manifest = json.loads(manifest_path(cache).read_text(encoding="utf-8"))
    assert manifest["rows"] == got.rows > 100
    assert manifest["sha256"] == sha256(cache)
    assert manifest["attribution"] == OSM_ATTRIBUTION
    assert manifest["licence"] == "ODbL-1.0"
    assert manifest["network_types"] == ["walk", "drive"]
    assert manifest["buffer_m"] == 2000
    assert OSM_ATTRIBUTION in got.note
    assert got.fetched_at in got.note
    # fresh: reused offline, nothing downloaded
    offline = _Sample(sample, online=False)
    again = fetch_osm_roads(area, cache, download=offline)
    assert (again.downloaded, again.state, again.rows, offline.calls) == (False, OsmCacheState.FRESH, got.rows, 0)
    before = sha256(cache)
    # another buffer is another area: stale; reused offline (said so), refetched online
    stale = fetch_osm_roads(area, cache, buffer_m=500, download=offline)
    assert (stale.downloaded, stale.state) == (False, OsmCacheState.STALE)
    assert sha256(cache) == before
    assert fetch_osm_roads(area, cache, buffer_m=500, download=online).downloaded
    assert check_osm_cache(cache, key=area_key(shapely.box(0, 0, 1, 1), buffer_m=500,
                                               network_types=("walk", "drive"))).state is OsmCacheState.STALE


def test_old_cache_is_stale(tmp_path: Path, sample: Path, area: gpd.GeoDataFrame) -> None:
    cache = tmp_path / "c.gpkg"
    fetch_osm_roads(area, cache, download=_Sample(sample))
    later = datetime.now(UTC) + timedelta(days=400)
    check = check_osm_cache(cache, now=later)
    assert check.state is OsmCacheState.STALE
    assert "days ago" in check.reason
    assert check_osm_cache(cache, now=later, max_age_days=1000).state is OsmCacheState.FRESH
    online = _Sample(sample)
    assert fetch_osm_roads(area, cache, max_age_days=0, download=online).downloaded


@pytest.mark.parametrize("damage", ["truncate", "no_manifest", "rows", "garbage_manifest"])
def test_partial_cache_is_never_used(tmp_path: Path, sample: Path, area: gpd.GeoDataFrame, damage: str) -> None:
    cache = tmp_path / "c.gpkg"
    fetch_osm_roads(area, cache, download=_Sample(sample))
    mpath = manifest_path(cache)
    if damage == "truncate":
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    elif damage == "no_manifest":
        mpath.unlink()
    elif damage == "rows":  # a manifest of another download (hash of this file, other row count)
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        mpath.write_text(json.dumps({**manifest, "rows": manifest["rows"] + 7}), encoding="utf-8")
    else:
        mpath.write_text("{not json", encoding="utf-8")
    check = check_osm_cache(cache)
    assert check.state is OsmCacheState.PARTIAL, check
    with pytest.raises(NetworkError, match="the cached download is not usable"):
        fetch_osm_roads(area, cache, download=_Sample(sample, online=False))
    online = _Sample(sample)
    assert fetch_osm_roads(area, cache, download=online).downloaded  # refetched when online
    assert check_osm_cache(cache).state is OsmCacheState.FRESH


def test_fetch_roads_imports_with_attribution(tmp_path: Path, sample: Path, area: gpd.GeoDataFrame) -> None:
    ws = open_workspace(tmp_path / "oak.gpkg")
    done = fetch_roads(ws, area, catalogue=load_catalogue(), download=_Sample(sample), source="sample extract")
    assert done.imported.layer == "roads"
    assert done.imported.rows == done.roads.rows
    assert (tmp_path / "oak_osm_roads.gpkg").exists()
    assert (tmp_path / "oak_osm_roads.gpkg.json").exists()
    meta = ws.metadata().set_index("layer").loc["roads"]
    assert OSM_ATTRIBUTION in meta["note"]
    assert "fetched " in meta["note"]
    assert "sample extract" in meta["note"]
    assert meta["source_sha256"] == sha256(tmp_path / "oak_osm_roads.gpkg")
    roads = ws.read_layer("roads")
    assert len(roads) == done.roads.rows
    assert build_network(roads, crs="EPSG:32610", min_piece_m=0).n_edges > 100
    listing = CliRunner().invoke(cli, ["layers", "list", "-w", str(tmp_path / "oak.gpkg")])
    assert listing.exit_code == 0, listing.output
    assert "note" in listing.output.splitlines()[0]
    assert OSM_ATTRIBUTION in listing.output  # the attribution is shown where layers are listed


def test_district_outline_by_code(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "none.gpkg")
    boundaries = tmp_path / "districts.geojson"
    gpd.read_file(LAYERS / "yongchuan_boundaries.gpkg", layer="district").to_file(boundaries)
    outline = district_outline("500118000000", boundaries=boundaries)
    assert len(outline) == 1
    with pytest.raises(ConfigError, match="not a district code"):
        district_outline("5001", workspace=ws)
    with pytest.raises(ConfigError, match="import the district outline first"):
        district_outline("500118", workspace=ws)
    with pytest.raises(ConfigError, match="has no district 360203"):
        district_outline("360203", boundaries=boundaries)


def test_cli_fetch_offline(tmp_path: Path, sample: Path, area: gpd.GeoDataFrame,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline with no cache: exit 1, the alternatives, no traceback, workspace untouched; with a fresh cache
    (written by an earlier download) the fetch works offline."""
    monkeypatch.setenv("GISPLAN_OFFLINE", "1")
    store = tmp_path / "yc.gpkg"
    gpd.read_file(LAYERS / "yongchuan_boundaries.gpkg", layer="district").to_file(tmp_path / "b.geojson")
    runner = CliRunner()
    result = runner.invoke(cli, ["roads", "fetch", "500118", "--boundaries", str(tmp_path / "b.geojson"),
                                 "-w", str(store)])
    assert result.exit_code == 1, result.output
    assert "GISPLAN_OFFLINE is set" in result.output
    assert ".osm.pbf" in result.output
    assert "Traceback" not in result.output
    assert not store.exists()
    assert runner.invoke(cli, ["roads", "fetch", "500118"]).exit_code == 2  # where to import: -w
    # the cache of an earlier download (the sample, for West Oakland's outline) serves the fetch offline
    ws = open_workspace(tmp_path / "oak.gpkg")
    fetch_osm_roads(area, ws.derived_path("_osm_roads.gpkg"), download=_Sample(sample))
    area.assign(code12="999999000000").to_file(tmp_path / "oak.geojson")
    result = runner.invoke(cli, ["roads", "fetch", "999999", "--boundaries", str(tmp_path / "oak.geojson"),
                                 "-w", str(tmp_path / "oak.gpkg")])
    assert result.exit_code == 0, result.output
    assert "(cached, fetched" in result.output
    assert "© OpenStreetMap contributors, ODbL 1.0" in result.output
    assert open_workspace(tmp_path / "oak.gpkg").has_layer("roads")


def test_fetch_help_has_examples() -> None:
    result = CliRunner().invoke(cli, ["roads", "fetch", "--help"])
    assert result.exit_code == 0
    assert "gisplan roads fetch scenarios/zhushan-2025.toml" in result.output
    assert "ODbL" in result.output


@pytest.mark.network
def test_live_download_of_a_small_area(tmp_path: Path) -> None:
    """Live: the walk and drive networks of central 永川 (1 km square) from the Overpass API."""
    square = gpd.GeoDataFrame(geometry=[shapely.box(105.92, 29.35, 105.93, 29.36)], crs="EPSG:4326")
    got = fetch_osm_roads(square, tmp_path / "live.gpkg", buffer_m=0)
    assert got.downloaded
    assert got.rows > 20
    roads = gpd.read_file(tmp_path / "live.gpkg", layer="roads")
    assert roads["walk"].any()
    assert roads["drive"].any()
    assert np.isin(roads["direction"], [1, 2]).all()
    assert check_osm_cache(tmp_path / "live.gpkg").state is OsmCacheState.FRESH


def test_map_carries_the_osm_attribution(tmp_path: Path, sample: Path, area: gpd.GeoDataFrame) -> None:
    """The roads' note (source, date, ODbL) from the layer metadata is drawn, escaped, in the map's title block."""
    from dataclasses import replace

    import pandas as pd

    from gisplan.config import load_scenario
    from gisplan.io.atomic import write_atomic_gpkg
    from gisplan.outputs.results import map_layers
    from gisplan.outputs.webmap import build_map, render_map_html

    ws = open_workspace(tmp_path / "oak.gpkg")
    fetch_roads(ws, area, catalogue=load_catalogue(), download=_Sample(sample), source="<sample> {{ x }}")
    results = tmp_path / "results.gpkg"
    write_atomic_gpkg({"indicators": pd.DataFrame({"method": ["computed-spatial"]})}, results)
    layers = map_layers(results, ws, load_scenario(ROOT / "scenarios" / "zhushan-2025.toml"), load_catalogue())
    assert len(layers.notes) == 1
    assert OSM_ATTRIBUTION in layers.notes[0]
    html = render_map_html(build_map(replace(layers, district=area)))
    assert "© OpenStreetMap contributors, ODbL 1.0" in html
    assert "&lt;sample&gt; &#123;&#123; x &#125;&#125;" in html
