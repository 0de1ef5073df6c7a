"""OpenStreetMap roads: fetched for an area with osmnx, or read from a file (``.osm``, ``.osm.bz2``,
``.osm.pbf``) as a line layer.

Fetching (:func:`fetch_osm_roads`) downloads the walk and drive networks of the area plus a buffer from the
Overpass API, merges them into one road layer (:func:`roads_from_graphs`: one row per road piece, with
``walk``/``drive`` flags and the one-way direction of the drive network) and caches it with a manifest
(:mod:`gisplan.io.osmcache`), so a workspace fetched once works offline. ``GISPLAN_OFFLINE=1`` never tries.

OSM ways do not end at junctions, so each way is cut at every node it shares with another road
way; the pieces then become edges when :func:`gisplan.network.graph.build_network` joins end points.
Values of ``highway`` that are not roads one can travel (proposed, construction, platforms …) and
area ways are left out. ``oneway`` is mapped to the ``direction`` code used for the NavInfo-style
links: 1 two-way, 2 start→end, 3 end→start (``junction=roundabout`` is one-way).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import settings
from gisplan.crs import STORAGE_CRS
from gisplan.errors import NetworkError, Problem, SchemaError
from gisplan.i18n import _
from gisplan.io.osmcache import OSM_ATTRIBUTION, area_key, check_osm_cache, write_osm_cache
from gisplan.vocab import OsmCacheState

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "OSM_SUFFIXES",
    "OsmRoads",
    "download_osm_graphs",
    "fetch_osm_roads",
    "fetch_polygon",
    "is_osm_file",
    "read_osm_roads",
    "roads_from_graphs",
]

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
        msg = _("reading OSM files needs osmium: pip install osmium")
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
        msg = _("cannot read the file as OpenStreetMap data: {exc}.").format(exc=exc)
        fix = _("give an .osm, .osm.bz2 or .osm.pbf file (e.g. an extract from a Geofabrik-style download).")
        raise SchemaError([Problem(path.name, None, None, msg, fix)]) from None
    if not ways:
        msg = _("the file holds no road ways (no `highway=*` ways with node locations).")
        raise SchemaError([Problem(path.name, None, None, msg, "check the extract covers the district.")])
    if skipped:
        logger.warning("read_osm_roads: %d ways with nodes outside the extract were skipped", skipped)
    lines, piece_way = _cut_at_junctions(refs, lonlat)
    meta = pd.DataFrame(ways, columns=["osm_way_id", "highway", "name", "direction"]).iloc[piece_way]
    gdf = gpd.GeoDataFrame(meta.reset_index(drop=True), geometry=lines, crs="EPSG:4326")
    gdf["source"] = "© OpenStreetMap contributors (ODbL)"
    logger.info("read_osm_roads: %d road ways -> %d pieces cut at junctions", len(ways), len(gdf))
    return gdf


@dataclass(frozen=True, slots=True)
class OsmRoads:
    """A usable OpenStreetMap road cache.

    Attributes
    ----------
    path : Path
        The GeoPackage (layer ``roads``, EPSG:4326).
    rows : int
        Road pieces in it.
    fetched_at : str
        When they were downloaded (ISO 8601, UTC).
    downloaded : bool
        Whether this call downloaded them (False: the cache was reused).
    state : OsmCacheState
        The cache's state before this call (a ``stale`` one reused offline stays ``stale``).
    note : str
        Source, date and the ODbL attribution, for the layer metadata, the map and the report.
    """

    path: Path
    rows: int
    fetched_at: str
    downloaded: bool
    state: OsmCacheState
    note: str


#: downloads the road graphs of a polygon (EPSG:4326) for the given osmnx network types
Downloader = Callable[[shapely.Polygon | shapely.MultiPolygon, Sequence[str]], Mapping[str, Any]]


def fetch_polygon(area: gpd.GeoDataFrame, *, buffer_m: float) -> shapely.Polygon | shapely.MultiPolygon:
    """The union of `area` (polygons, any CRS) widened by `buffer_m` metres, in EPSG:4326.

    Raises
    ------
    NetworkError
        If `area` has no CRS or is not polygons.
    """
    if area.crs is None:
        msg = _("the area to fetch roads for has no CRS; save the district outline with one (EPSG:4326 …).")
        raise NetworkError(msg)
    projected = area.to_crs(area.estimate_utm_crs())
    widened = gpd.GeoSeries([shapely.union_all(projected.geometry.buffer(buffer_m).to_numpy())], crs=projected.crs)
    polygon = widened.to_crs(STORAGE_CRS).iloc[0]
    if not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon):
        msg = _("the area to fetch roads for must be polygons (got {geom_type}).").format(geom_type=polygon.geom_type)
        raise NetworkError(msg)
    return polygon


def _reachable(url: str, timeout_s: float = 5.0) -> bool:
    """Whether a TCP connection to `url`'s host opens within `timeout_s` (name lookup included)."""
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=connect, daemon=True)  # a name lookup ignores socket timeouts
    thread.start()
    thread.join(timeout_s)
    return bool(result and result[0])


_OFFLINE_FIX = ("give an OpenStreetMap extract (.osm.pbf) downloaded elsewhere, or your own road line layer, as "
                "the scenario's [roads] path (or `gisplan layers import FILE --kind roads`).")


def download_osm_graphs(
    polygon: shapely.Polygon | shapely.MultiPolygon, network_types: Sequence[str] = settings.OSM_NETWORK_TYPES,
) -> dict[str, Any]:
    """Download the osmnx graphs (one per network type) of `polygon` (EPSG:4326) from the Overpass API.

    Raises
    ------
    ImportError
        If osmnx is not installed.
    NetworkError
        Offline (``GISPLAN_OFFLINE=1``, or the Overpass server cannot be reached), or the download failed; the
        message gives the offline alternatives.
    """
    try:
        import osmnx as ox  # noqa: PLC0415 - only to download
    except ImportError as exc:
        msg = _('fetching OpenStreetMap roads needs osmnx: pip install "gisplan[osm]"')
        raise ImportError(msg) from exc
    if os.environ.get(settings.OFFLINE_ENV, "") not in {"", "0"}:
        msg = _("{offline_env} is set, so OpenStreetMap roads are not downloaded; {offline_fix}").format(
                offline_env=settings.OFFLINE_ENV, offline_fix=_OFFLINE_FIX)
        raise NetworkError(msg)
    url = str(ox.settings.overpass_url)
    if not _reachable(url):  # else osmnx waits a minute for the server's status before failing
        msg = _("offline: the OpenStreetMap server ({hostname}) cannot be reached; {offline_fix}").format(
                hostname=urlparse(url).hostname, offline_fix=_OFFLINE_FIX)
        raise NetworkError(msg)
    ox.settings.requests_timeout = settings.OSM_TIMEOUT_S
    graphs = {}
    for network_type in network_types:
        try:
            graphs[network_type] = ox.graph_from_polygon(polygon, network_type=network_type, retain_all=True,
                                                         truncate_by_edge=True)
        except Exception as exc:
            msg = _("could not fetch OpenStreetMap roads ({error_type}: {exc}); {offline_fix}").format(
                    error_type=type(exc).__name__, exc=exc, offline_fix=_OFFLINE_FIX)
            raise NetworkError(msg) from None
    return graphs


def _text(value: object) -> str:
    """An osmnx edge attribute as text (lists, from merged ways, sorted and joined with ``;``: the two directions
    of a piece list them in either order)."""
    if isinstance(value, list):
        return ";".join(sorted(map(str, set(value))))
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def roads_from_graphs(graphs: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """One road layer from osmnx graphs of several network types (``walk``, ``drive`` …).

    A two-way piece appears in an osmnx graph once in each direction, and in every network that has it; it is
    kept once. A piece one-way in the drive network keeps that network's direction (osmnx geometries run from
    ``u`` to ``v``, so ``direction`` 2); walking ignores it (walk profiles do not bind one-way rules).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326; columns ``osm_way_id``, ``highway``, ``name``, ``direction`` (1 two-way, 2 start→end),
        one boolean per network type (``walk``, ``drive``), ``length_m``, ``source`` and LineString geometry.
    """
    import osmnx as ox  # noqa: PLC0415 - only with osmnx graphs

    frames = []
    for network_type, graph in graphs.items():
        edges = ox.convert.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index()
        edges = edges.to_crs(STORAGE_CRS)
        column = {c: edges[c] if c in edges else pd.Series("", index=edges.index) for c in ("highway", "name")}
        oneway = edges["oneway"].astype(bool) if "oneway" in edges else pd.Series(False, index=edges.index)
        frames.append(pd.DataFrame({
            "u": edges["u"].to_numpy(), "v": edges["v"].to_numpy(), "osm_way_id": edges["osmid"].map(_text),
            "highway": column["highway"].map(_text), "name": column["name"].map(_text),
            "one_way": oneway.to_numpy() & (network_type == "drive"), "length_m": edges["length"].astype(float),
            "network": network_type, "geometry": edges.geometry.to_numpy(),
        }))
    rows = pd.concat(frames, ignore_index=True)
    low, high = np.minimum(rows["u"], rows["v"]), np.maximum(rows["u"], rows["v"])
    rows["piece"] = (low.astype(str) + "-" + high.astype(str) + "-" + rows["osm_way_id"] + "-"
                     + rows["length_m"].round(1).astype(str))
    flags = pd.crosstab(rows["piece"], rows["network"]).gt(0)
    first = rows.sort_values(["piece", "one_way"], ascending=[True, False]).drop_duplicates("piece")
    out = first.assign(direction=np.where(first["one_way"], 2, 1)).set_index("piece")
    for network_type in graphs:
        out[network_type] = flags[network_type].reindex(out.index).to_numpy()
    out = out.drop(columns=["u", "v", "one_way", "network"]).reset_index(drop=True)
    out["source"] = OSM_ATTRIBUTION
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs=STORAGE_CRS)
    logger.info("roads_from_graphs: %d edges of %s -> %d road pieces", len(rows), "+".join(graphs), len(gdf))
    return gdf


def _source() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return f"OpenStreetMap via the Overpass API (osmnx {version('osmnx')})"
    except Exception:
        return "OpenStreetMap via the Overpass API (osmnx)"


def _note(manifest: Mapping[str, Any]) -> str:
    types = "+".join(manifest.get("network_types", settings.OSM_NETWORK_TYPES))
    buffer_m = float(manifest.get("buffer_m", settings.OSM_BUFFER_M))
    return (f"道路 roads: {OSM_ATTRIBUTION}; {types} networks from {manifest.get('source', 'OpenStreetMap')}, "
            f"fetched {manifest['fetched_at']} for the district + {buffer_m:g} m")


def fetch_osm_roads(
    area: gpd.GeoDataFrame,
    cache: Path,
    *,
    buffer_m: float = settings.OSM_BUFFER_M,
    network_types: Sequence[str] = settings.OSM_NETWORK_TYPES,
    max_age_days: float = settings.OSM_CACHE_MAX_AGE_DAYS,
    refresh: bool = False,
    download: Downloader | None = None,
    source: str | None = None,
) -> OsmRoads:
    """OpenStreetMap roads for `area` plus `buffer_m`, from the cache when it is fresh, else downloaded.

    A ``fresh`` cache (complete, for this area and buffer, younger than `max_age_days`) is used without the
    internet. Otherwise the roads are downloaded and the cache rewritten; when that fails (offline), a
    ``stale`` but complete cache is used (the log says so) and a ``partial`` one never is.

    Parameters
    ----------
    area : geopandas.GeoDataFrame
        Polygons (any CRS): the district outline.
    cache : Path
        GeoPackage beside the workspace (``<workspace>_osm_roads.gpkg``), with its manifest ``<cache>.json``.
    buffer_m : float
        Metres the outline is widened by, so that roads just across the boundary are in the network.
    network_types : sequence of str
        osmnx network types, merged into one layer by :func:`roads_from_graphs`.
    max_age_days : float
        Age at which a cache is stale.
    refresh : bool
        Download even when the cache is fresh.
    download : callable, optional
        ``download(polygon, network_types)`` → graphs by network type; default :func:`download_osm_graphs`
        (the Overpass API).
    source : str, optional
        Where `download` gets the roads, for the manifest and the note; default the Overpass API and the
        osmnx version.

    Returns
    -------
    OsmRoads

    Raises
    ------
    ImportError
        If osmnx is not installed (``pip install "gisplan[osm]"``).
    NetworkError
        If there is no usable cache and the download fails; the message gives the offline alternatives.
    """
    polygon = fetch_polygon(area, buffer_m=buffer_m)
    key = area_key(polygon, buffer_m=buffer_m, network_types=network_types)
    check = check_osm_cache(cache, key=key, max_age_days=max_age_days)
    if check.state is OsmCacheState.FRESH and not refresh:
        logger.info("fetch_osm_roads: using the cache, %s", check.reason)
        manifest = check.manifest
        return OsmRoads(cache, int(manifest["rows"]), str(manifest["fetched_at"]), False, check.state, _note(manifest))
    if check.state is not OsmCacheState.MISSING:
        logger.warning("fetch_osm_roads: cache %s: %s; downloading", check.state, check.reason)
    try:
        graphs = (download or download_osm_graphs)(polygon, tuple(network_types))
    except NetworkError as exc:
        if check.state is OsmCacheState.STALE or (check.state is OsmCacheState.FRESH and refresh):
            logger.warning("fetch_osm_roads: %s Using the cached roads (%s).", exc, check.reason)
            manifest = check.manifest
            return OsmRoads(cache, int(manifest["rows"]), str(manifest["fetched_at"]), False, check.state,
                            _note(manifest))
        if check.state is OsmCacheState.PARTIAL:
            msg = _("{exc} (the cached download is not usable: {reason})").format(exc=exc, reason=check.reason)
            raise NetworkError(msg) from None
        raise
    roads = roads_from_graphs(graphs)
    if roads.empty:
        msg = _("OpenStreetMap has no roads in the area; {offline_fix}").format(offline_fix=_OFFLINE_FIX)
        raise NetworkError(msg)
    manifest = write_osm_cache(roads, cache, key=key, source=source or _source(), fetched_at=datetime.now(UTC),
                               extra={"network_types": list(network_types), "buffer_m": buffer_m,
                                      "bounds_wgs84": [round(float(b), 6) for b in polygon.bounds]})
    logger.info("fetch_osm_roads: %d road pieces cached in %s", len(roads), cache)
    return OsmRoads(cache, len(roads), str(manifest["fetched_at"]), True, check.state, _note(manifest))
