"""Independent reference for the real 永川 road file: the links read straight from the GeoJSON with pyogrio,
projected with pyproj, their lengths measured with shapely on the raw projected geometries, end points joined
within 1 m with a k-d tree, and `Direction` 2/3 read here — nothing of gisplan's graph building is used.
The speeds are the catalogue's: walking 66.667 m/min (4.0 km/h) (one-way rules do not bind), driving 30 km/h on a road without
class (they bind)."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyogrio
import shapely
from pyproj import Transformer
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from tests.conftest import ROOT, peer, shared_data

if TYPE_CHECKING:
    from pathlib import Path

UTM = "EPSG:32648"
M_PER_MIN = {"walk": 66.667, "drive": 30_000 / 60}  # walk: 4.0 km/h as the catalogue writes it, 66.667 m/min
ONE_WAY_BINDS = {"walk": False, "drive": True}


@dataclass(frozen=True)
class Links:
    """One row per link of the file: start and end node (joined end points), length, one-way flags."""

    start: np.ndarray
    end: np.ndarray
    node_xy: np.ndarray
    length_m: np.ndarray
    start_to_end: np.ndarray
    end_to_start: np.ndarray


@functools.cache
def yongchuan_links() -> Links:
    """The 永川 road links, projected to UTM 48N, with their end points joined within 1 m."""
    raw = pyogrio.read_dataframe(shared_data("roads", "yongchuan_roadlinks_wgs84.geojson"))
    to_utm = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    lines = shapely.transform(raw.geometry.to_numpy(), lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])))
    first = shapely.get_coordinates(shapely.get_point(lines, 0))
    last = shapely.get_coordinates(shapely.get_point(lines, -1))
    ends = np.vstack([first, last])
    pairs = cKDTree(ends).query_pairs(1.0, output_type="ndarray")
    joined = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(ends), len(ends)))
    _, label = connected_components(joined, directed=False)
    node_xy = np.zeros((label.max() + 1, 2))
    node_xy[label] = ends
    direction = raw["Direction"].astype(int).to_numpy()
    n = len(raw)
    return Links(start=label[:n], end=label[n:], node_xy=node_xy, length_m=shapely.length(lines),
                 start_to_end=direction != 3, end_to_start=direction != 2)


def arcs(links: Links, profile_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(tail, head, minutes, link) of every arc the profile may travel; loops left out."""
    binds = ONE_WAY_BINDS[profile_id]
    minutes = links.length_m / M_PER_MIN[profile_id]
    fwd = (links.start_to_end | (not binds)) & (links.start != links.end)
    bwd = (links.end_to_start | (not binds)) & (links.start != links.end)
    idx = np.arange(len(minutes))
    return (np.concatenate([links.start[fwd], links.end[bwd]]), np.concatenate([links.end[fwd], links.start[bwd]]),
            np.concatenate([minutes[fwd], minutes[bwd]]), np.concatenate([idx[fwd], idx[bwd]]))


def node_ids(links: Links, node_xy: np.ndarray) -> np.ndarray:
    """The reference node at each given node position (gisplan's nodes), checked to lie within 1 m."""
    dist, ref = cKDTree(links.node_xy).query(node_xy)
    assert dist.max() <= 1.0, dist.max()
    assert len(np.unique(ref)) == len(ref), "two nodes at one reference node"
    return np.asarray(ref)


# --------------------------------------------------------------------------- OpenStreetMap extracts

NOT_ROADS = {"proposed", "construction", "abandoned", "platform", "raceway", "bus_stop", "elevator", "rest_area",
             "services", "planned", "razed", "disused", "no", "corridor", "emergency_bay"}


def osm_arcs(path: Path, crs: object, profile_id: str) -> tuple[list[object], list[object], list[float], dict]:
    """(tail, head, minutes) of every arc of an OSM XML file as osmnx reads it (its own parser and one-way
    rules, `simplify=False`: one arc per segment), with lengths measured in `crs` from the node coordinates and
    the speeds and exclusions of the catalogue's TOML read here; and each osmnx node's projected position."""
    ox = peer("osmnx")
    profile = tomllib.loads((ROOT / "gisplan" / "data" / "facility_types.toml").read_text(encoding="utf-8"))[
        "profiles"][profile_id]
    excluded = set(profile.get("excluded_classes", ()))
    class_m_per_min = {k: v * 1000 / 60 for k, v in profile.get("class_speed_km_per_h", {}).items()}
    graph = ox.graph_from_xml(path, simplify=False, retain_all=True, bidirectional=not profile.get("oneway", False))
    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    ids = list(graph.nodes)
    x, y = to_crs.transform([graph.nodes[n]["x"] for n in ids], [graph.nodes[n]["y"] for n in ids])
    xy = {n: np.array([a, b]) for n, a, b in zip(ids, x, y, strict=True)}
    tails, heads, minutes = [], [], []
    for u, v, data in graph.edges(data=True):
        highway = data.get("highway")
        if not isinstance(highway, str) or highway in NOT_ROADS or highway in excluded or data.get("area") == "yes":
            continue
        speed = class_m_per_min.get(highway, profile["speed_m_per_min"])
        tails.append(u)
        heads.append(v)
        minutes.append(float(np.hypot(*(xy[v] - xy[u]))) / speed)
    return tails, heads, minutes, xy
