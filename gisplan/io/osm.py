"""OpenStreetMap roads: fetched for an area with osmnx, or read from a file (``.osm``, ``.osm.bz2``,
``.osm.pbf``) as a line layer.

OSM ways do not end at junctions, so each way is cut at every node it shares with another road
way; the pieces then become edges when :func:`gisplan.network.graph.build_network` joins end points.
Values of ``highway`` that are not roads one can travel (proposed, construction, platforms …) and
area ways are left out. ``oneway`` is mapped to the ``direction`` code used for the NavInfo-style
links: 1 two-way, 2 start→end, 3 end→start (``junction=roundabout`` is one-way).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gisplan.crs import STORAGE_CRS
from gisplan.errors import NetworkError, Problem, SchemaError
from gisplan.settings import gpkg_dataset_options

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["OSM_SUFFIXES", "fetch_osm_roads", "is_osm_file", "read_osm_roads"]

logger = logging.getLogger(__name__)

OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")
_NOT_ROADS = frozenset({
    "proposed", "construction", "abandoned", "platform", "raceway", "bus_stop", "elevator", "rest_area",
    "services", "planned", "razed", "disused", "no", "corridor", "emergency_bay",
})


def is_osm_file(path: Path) -> bool:
    """Whether `path` names an OpenStreetMap file by its suffix."""
    name = path.name.lower()
    return any(name.endswith(s) for s in OSM_SUFFIXES)


def _direction(oneway: str | None, junction: str | None) -> int:
    value = (oneway or "").strip().lower()
    if value in {"yes", "true", "1"}:
        return 2
    if value in {"-1", "reverse"}:
        return 3
    if value in {"no", "false", "0"}:
        return 1
    return 2 if (junction or "").strip().lower() in {"roundabout", "circular"} else 1


def _cut_at_junctions(
    refs: list[NDArray[np.int64]], lonlat: list[NDArray[np.float64]],
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Cut ways (node ids and coordinates) at every node used more than once: (lines, way of each line)."""
    counts = np.array([len(r) for r in refs])
    all_refs = np.concatenate(refs)
    xy = np.concatenate(lonlat)
    way_of = np.repeat(np.arange(len(refs)), counts)
    pos = np.arange(len(all_refs)) - np.repeat(np.cumsum(counts) - counts, counts)
    # a junction: a node used more than once (by two ways, or twice by one way)
    uniq, inverse, uses = np.unique(all_refs, return_inverse=True, return_counts=True)
    del uniq
    interior = (pos > 0) & (pos < counts[way_of] - 1)
    cut = interior & (uses[inverse] > 1)
    # duplicate each cut node: it ends one piece and starts the next
    rep = 1 + cut.astype(np.int64)
    idx = np.repeat(np.arange(len(all_refs)), rep)
    second = np.zeros(len(idx), dtype=bool)
    second[1:] = idx[1:] == idx[:-1]
    starts = (pos[idx] == 0) | second
    piece = np.cumsum(starts) - 1
    lines = np.asarray(shapely.linestrings(xy[idx], indices=piece), dtype=object)
    piece_way = way_of[idx][starts].astype(np.int64)
    return lines, piece_way


def read_osm_roads(path: str | Path) -> gpd.GeoDataFrame:
    """Road ways of an OSM file, cut at junctions, in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``osm_way_id``, ``highway``, ``name``, ``direction`` (1/2/3) and LineString geometry.

    Raises
    ------
    SchemaError
        If the file cannot be read or holds no road ways.
    """
    try:
        import osmium  # noqa: PLC0415 - only for OSM files
    except ImportError as exc:  # pragma: no cover - a dependency
        msg = "reading OSM files needs osmium: pip install osmium"
        raise ImportError(msg) from exc
    path = Path(path)
    ways: list[tuple[int, str, str, int]] = []
    refs: list[NDArray[np.int64]] = []
    lonlat: list[NDArray[np.float64]] = []
    skipped = 0
    try:
        processor = (osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
                     .with_locations().with_filter(osmium.filter.KeyFilter("highway")))
        for obj in processor:  # one iteration per OSM way: parsing, not graph work
            if not isinstance(obj, osmium.osm.Way):
                continue
            tags = obj.tags
            highway = tags.get("highway") or ""
            if highway in _NOT_ROADS or tags.get("area", "no") == "yes" or len(obj.nodes) < 2:
                continue
            try:
                nodes = [(n.ref, n.lon, n.lat) for n in obj.nodes]
            except osmium.InvalidLocationError:
                skipped += 1  # a way cut by the extract: some nodes have no location
                continue
            arr = np.asarray(nodes, dtype=float)
            ways.append((obj.id, highway, tags.get("name") or "", _direction(tags.get("oneway"), tags.get("junction"))))
            refs.append(arr[:, 0].astype(np.int64))
            lonlat.append(arr[:, 1:])
    except RuntimeError as exc:
        msg = f"cannot read the file as OpenStreetMap data: {exc}."
        fix = "give an .osm, .osm.bz2 or .osm.pbf file (e.g. an extract from a Geofabrik-style download)."
        raise SchemaError([Problem(path.name, None, None, msg, fix)]) from None
    if not ways:
        msg = "the file holds no road ways (no `highway=*` ways with node locations)."
        raise SchemaError([Problem(path.name, None, None, msg, "check the extract covers the district.")])
    if skipped:
        logger.warning("read_osm_roads: %d ways with nodes outside the extract were skipped", skipped)
    lines, piece_way = _cut_at_junctions(refs, lonlat)
    meta = pd.DataFrame(ways, columns=["osm_way_id", "highway", "name", "direction"]).iloc[piece_way]
    gdf = gpd.GeoDataFrame(meta.reset_index(drop=True), geometry=lines, crs="EPSG:4326")
    gdf["source"] = "© OpenStreetMap contributors (ODbL)"
    logger.info("read_osm_roads: %d road ways -> %d pieces cut at junctions", len(ways), len(gdf))
    return gdf


def fetch_osm_roads(
    area: gpd.GeoDataFrame, cache: Path, *, network_type: str = "walk", buffer_m: float = 2000.0,
) -> Path:
    """Download the OpenStreetMap road network covering `area` with osmnx, caching it as a GeoPackage.

    The cache is reused when present, so a workspace fetched once works offline afterwards.

    Parameters
    ----------
    area : geopandas.GeoDataFrame
        Polygons (any CRS) whose union bounds the download.
    cache : Path
        GeoPackage to write (layer ``roads``, EPSG:4326, © OpenStreetMap contributors, ODbL).
    network_type : str
        osmnx network type (``walk`` by default: the 15-minute circle is a walking measure).
    buffer_m : float
        The area is widened by this many metres, so that roads just across the boundary (which
        residents near it use) are in the network.

    Returns
    -------
    Path
        `cache`.

    Raises
    ------
    ImportError
        If osmnx is not installed (``pip install "gisplan[osm]"``).
    NetworkError
        If the download fails (offline, or Overpass refused); the message gives the alternatives.
    """
    if cache.exists():
        logger.info("fetch_osm_roads: using cached %s", cache)
        return cache
    try:
        import osmnx as ox  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        msg = 'fetching OpenStreetMap roads needs osmnx: pip install "gisplan[osm]"'
        raise ImportError(msg) from exc
    projected = area.to_crs(area.estimate_utm_crs())
    widened = gpd.GeoSeries([shapely.union_all(projected.geometry.buffer(buffer_m).to_numpy())], crs=projected.crs)
    polygon = widened.to_crs(STORAGE_CRS).iloc[0]
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon):
        msg = f"the area to fetch roads for must be polygons (got {polygon.geom_type})."
        raise NetworkError(msg)
    ox.settings.requests_timeout = 60
    try:
        graph = ox.graph_from_polygon(polygon, network_type=network_type, retain_all=True)
    except Exception as exc:  # osmnx raises requests/HTTP errors of several kinds
        msg = (f"could not fetch OpenStreetMap roads ({type(exc).__name__}: {exc}); when offline, give a "
               "road line layer or an OpenStreetMap extract (.osm.pbf) in the scenario's [roads] path instead.")
        raise NetworkError(msg) from None
    edges = ox.graph_to_gdfs(graph, nodes=False).reset_index()
    keep = [c for c in ("u", "v", "osmid", "highway", "name", "oneway", "length") if c in edges]
    out = edges[[*keep, "geometry"]].copy()
    for column in keep:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: ";".join(map(str, v)) if isinstance(v, list) else v)
    out["source"] = "© OpenStreetMap contributors (ODbL), via osmnx"
    cache.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(out.to_crs(STORAGE_CRS), cache, layer="roads", driver="GPKG",
                            dataset_options=gpkg_dataset_options())
    logger.info("fetch_osm_roads: %d edges cached in %s", len(out), cache)
    return cache
