"""Read the roads of an OpenStreetMap file (``.osm``, ``.osm.bz2``, ``.osm.pbf``) as a line layer.

OSM ways do not end at junctions, so each way is cut at every node it shares with another road
way; the pieces then become edges when :func:`gisplan.network.build_network` joins end points.
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
import shapely

from gisplan.errors import Problem, SchemaError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["OSM_SUFFIXES", "is_osm_file", "read_osm_roads"]

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
