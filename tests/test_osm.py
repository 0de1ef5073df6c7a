"""OpenStreetMap road files: ways cut at junctions, one-way codes, agreement with osmnx."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import shapely

from gisplan.errors import SchemaError
from gisplan.io.osm import read_osm_roads
from gisplan.network.graph import build_network
from tests.conftest import peer, shared_data

if TYPE_CHECKING:
    from pathlib import Path

_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="29.350" lon="105.900"/>
  <node id="2" lat="29.350" lon="105.901"/>
  <node id="3" lat="29.350" lon="105.902"/>
  <node id="4" lat="29.349" lon="105.901"/>
  <node id="5" lat="29.351" lon="105.901"/>
  <node id="6" lat="29.352" lon="105.901"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="name" v="昌州大道"/></way>
  <way id="11"><nd ref="4"/><nd ref="2"/><nd ref="5"/><tag k="highway" v="primary"/><tag k="oneway" v="-1"/></way>
  <way id="12"><nd ref="5"/><nd ref="6"/><tag k="highway" v="proposed"/></way>
  <way id="13"><nd ref="5"/><nd ref="6"/><tag k="building" v="yes"/></way>
  <way id="14"><nd ref="3"/><nd ref="6"/><tag k="highway" v="service"/><tag k="junction" v="roundabout"/></way>
</osm>
"""


def test_ways_are_cut_at_shared_nodes(tmp_path: Path) -> None:
    path = tmp_path / "tiny.osm"
    path.write_text(_XML, encoding="utf-8")
    roads = read_osm_roads(path)
    assert roads["osm_way_id"].tolist() == [10, 10, 11, 11, 14]
    assert roads["direction"].tolist() == [1, 1, 3, 3, 2]
    assert roads["name"].iloc[0] == "昌州大道"
    assert shapely.get_num_coordinates(roads.geometry.to_numpy()).tolist() == [2, 2, 2, 2, 2]
    assert roads.crs.to_epsg() == 4326
    net = build_network(roads, min_piece_m=0)
    assert (net.n_nodes, net.n_edges) == (6, 5)
    assert net.report.one_way_edges == 3


def test_pbf_and_xml_twins_read_the_same() -> None:
    pbf = read_osm_roads(shared_data("fallback", "osmnx_test_osm", "aguascalientes.osm.pbf"))
    xml = read_osm_roads(shared_data("fallback", "osmnx_test_osm", "aguascalientes.osm.bz2"))
    assert len(pbf) == len(xml) == 1486  # regression pin (gisplan's own count of cut ways, not derived)
    assert pbf["osm_way_id"].tolist() == xml["osm_way_id"].tolist()
    assert shapely.equals_exact(pbf.geometry.to_numpy(), xml.geometry.to_numpy(), tolerance=1e-7).all()


def test_road_length_agrees_with_osmnx() -> None:
    ox = peer("osmnx")
    path = shared_data("fallback", "osmnx_test_osm", "aguascalientes.osm.bz2")
    roads = read_osm_roads(path)
    net = build_network(roads, min_piece_m=0)
    graph = ox.convert.to_undirected(ox.graph_from_xml(path, simplify=True, retain_all=True, bidirectional=False))
    # osmnx keeps every way of the file; compare the highway ways (osmnx lengths are great-circle metres)
    lengths = [d["length"] for *_, d in graph.edges(data=True) if d.get("highway") not in (None, "proposed")]
    assert net.length_m.sum() == pytest.approx(sum(lengths), rel=2e-3)
    assert np.isclose(net.length_m.sum(), 96_982, atol=5)  # regression pin; osmnx above is the reference


def test_unreadable_or_empty_osm_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"not a pbf")
    with pytest.raises(SchemaError, match=r"broken\.osm\.pbf: cannot read the file as OpenStreetMap data"):
        read_osm_roads(broken)
    empty = tmp_path / "empty.osm"
    empty.write_text("<?xml version='1.0'?><osm version='0.6'></osm>", encoding="utf-8")
    with pytest.raises(SchemaError, match="holds no road ways"):
        read_osm_roads(empty)
