"""HTML coverage maps: the map object and the page — layers, counts, bounds, escaping, offline assets,
display geometry, basemaps and GCJ-02, the choropleth classes — and `gisplan map` on the 永川 run."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path  # noqa: TC003 - tests build paths at run time
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, box

from gisplan.catalogue import MAP_PALETTE, load_catalogue
from gisplan.cli.main import cli
from gisplan.config import load_scenario
from gisplan.coords import wgs84_to_gcj02
from gisplan.errors import ConfigError, ConfigFileError
from gisplan.outputs.mapparts import label_points, map_rows, neighbour_labels, read_basemap
from gisplan.outputs.mapstyle import _NO_DATA, _SEQUENTIAL, MapRow, proposal_sites
from gisplan.outputs.webmap import (
    MapLayers,
    _short_village,
    build_map,
    choropleth_choices,
    layer_counts,
    render_map_html,
)
from tests.conftest import ROOT

if TYPE_CHECKING:
    from gisplan.outputs.planmap import PlanMap

XSS = "<img src=x onerror=alert(1)>"
JINJA = "{{ 1234*1000 }}"
CLOSE = "</script><script>alert(2)</script>"
TYPE_NAMES = {"community_service_centre": "城乡社区综合服务设施", "elderly_day_care": "社区养老服务站",
              "public_cemetery": "城乡公益性安葬（放）设施"}


def sample_layers(**changes: object) -> MapLayers:
    """Two townships, three villages, 3 centres (names that try to inject HTML, Jinja and script), 60 day-care
    stations (clustered), a service area, two gaps and two proposed sites; WGS84."""
    towns = gpd.GeoDataFrame({
        "code12": ["500118001000", "500118101000"], "name": ["甲街道", "乙镇"],
        "share_community_service_centre": [0.9, 0.1], "floor_area_m2_per_100hh": [35.0, np.nan],
        "lacks_public_cemetery": [False, True],
    }, geometry=[box(105.90, 29.30, 105.95, 29.35), box(105.95, 29.30, 106.00, 29.35)], crs=4326)
    villages = gpd.GeoDataFrame({
        "code12": ["500118001001", "500118101001", "500118101002"], "name": ["一社区", "二村", "三村"],
        "lacks_elderly_day_care": [False, True, False],
    }, geometry=[box(105.90, 29.30, 105.95, 29.35), box(105.95, 29.30, 106.00, 29.32),
                 box(105.95, 29.32, 106.00, 29.35)], crs=4326)
    centres = gpd.GeoDataFrame({
        "facility_id": ["c1", "c2", "c3"], "code12": ["500118001001", "500118101001", "500118101002"],
        "name": [XSS, JINJA, CLOSE], "floor_area_m2": [420.0, 300.0, np.nan],
        "status": ["existing", "existing", "planned"], "illustrative": [True, True, True],
    }, geometry=[Point(105.91, 29.31), Point(105.96, 29.31), Point(105.97, 29.34)], crs=4326)
    rng = np.random.default_rng(7)
    day_care = gpd.GeoDataFrame({
        "facility_id": [f"d{i}" for i in range(60)], "code12": "500118101001", "name": [f"站{i}" for i in range(60)],
        "beds": 10,
    }, geometry=gpd.points_from_xy(rng.uniform(105.9, 106.0, 60), rng.uniform(29.3, 29.35, 60)), crs=4326)
    areas = gpd.GeoDataFrame({"facility_type": ["community_service_centre"], "minutes": [15.0],
                              "profile": ["walk"]},
                             geometry=[Point(105.93, 29.32).buffer(0.01)], crs=4326)
    gaps = gpd.GeoDataFrame({
        "facility_type": "community_service_centre", "rank": [1, 2], "population": [1200.0, 300.0],
        "households": [500.0, 120.0], "pop_60plus": [250.0, 60.0], "township": ["乙镇", "乙镇"],
        "village": [XSS, "三村"], "area_km2": [0.8, 0.2],
    }, geometry=[box(105.96, 29.305, 105.97, 29.315), box(105.98, 29.33, 105.985, 29.335)], crs=4326)
    proposals = gpd.GeoDataFrame({
        "indicator_id": "YC-15MIN-CSC", "facility_type": "community_service_centre", "rank": [1, 2],
        "year": [2024, 2025], "population_added": [1100.0, 280.0], "households_added": [450.0, 110.0],
        "township": "乙镇", "village": ["二村", "三村"], "lon": [105.965, 105.982], "lat": [29.31, 29.332],
        "lon_gcj02": [105.968, 105.985], "lat_gcj02": [29.307, 29.329],
    }, geometry=[Point(105.965, 29.31), Point(105.982, 29.332)], crs=4326)
    args: dict[str, object] = {
        "title": "永川区 示意 <demo>", "method": "network", "townships": towns,
        "district": gpd.GeoDataFrame({"name": ["永川区"]}, geometry=[box(105.90, 29.30, 106.00, 29.35)], crs=4326),
        "villages": villages, "facilities": {"community_service_centre": centres, "elderly_day_care": day_care},
        "areas": areas, "gaps": gaps, "proposals": proposals, "type_names": TYPE_NAMES,
        "type_minutes": {"community_service_centre": 15.0}, "illustrative": ("城乡社区综合服务设施",),
        "made_on": date(2026, 11, 28),
    }
    args.update(changes)
    return MapLayers(**args)  # type: ignore[arg-type]


def _overlay(fmap: PlanMap, key: str) -> dict[str, object]:
    for child in fmap._children.values():
        if getattr(child, "class_name", "").endswith(f"gp-{key}"):
            return json.loads(child.data_json)  # type: ignore[no-any-return]
    raise AssertionError(key)


def test_layers_names_counts_and_bounds() -> None:
    fmap = build_map(sample_layers())
    assert layer_counts(fmap) == {
        "gp-townships": ("镇街：15 分钟覆盖率（人口）— 城乡社区综合服务设施", "polygon", 2),
        "gp-district": ("区界", "polygon", 1),
        "gp-area-0": ("服务范围（15 分钟）— 城乡社区综合服务设施", "polygon", 1),
        "gp-gap-0": ("覆盖缺口 — 城乡社区综合服务设施（2 处，1,500 人）", "polygon", 2),
        "gp-fac-0": ("● 城乡社区综合服务设施（3）", "marker", 3),
        "gp-fac-1": ("● 社区养老服务站（60）", "cluster", 60),  # more than 40 points: clustered
        "gp-site-0": ("候选站点 — YC-15MIN-CSC 城乡社区综合服务设施（2 处，2024–2025 年）", "marker", 2),
        "gp-label-town": ("镇街名称", "label", 2),
        "gp-label-village": ("村（社区）名称（放大后显示）", "label", 3),
    }
    page = render_map_html(fmap)
    assert np.allclose(setup_of(page)["bounds"], [[29.30, 105.90], [29.35, 106.00]], atol=1e-9)
    names = setup_of(page)["names"]
    assert names["district"] == "区界"  # type: ignore[index]
    assert names["gap-0"] == "覆盖缺口 — 城乡社区综合服务设施（2 处，1,500 人）"  # type: ignore[index]


def setup_of(page: str) -> dict[str, object]:
    """The configuration the page's script sets the map up with (bounds, layer names, groups, notice)."""
    found = re.search(r"gisplanSetup\(map_\w+, (\{.*\})\);", page)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_user_names_are_escaped_never_evaluated() -> None:
    fmap = build_map(sample_layers())
    page = render_map_html(fmap)
    for raw in (XSS, CLOSE, "onerror=alert(1)>", "<script>alert(2)"):
        assert raw not in page
    assert "1234000" not in page  # folium renders output again as Jinja: the braces must not be evaluated
    assert "<title>永川区 示意 &lt;demo&gt;</title>" in page
    centres = _overlay(fmap, "fac-0")["features"]
    assert [f["properties"]["_t"] for f in centres] == [html.escape(XSS), "&#123;&#123; 1234*1000 &#125;&#125;",
                                                        html.escape(CLOSE)]
    assert "所在镇街</th><td>甲街道" in centres[0]["properties"]["_p"]
    assert "建筑面积</th><td>420 m²" in centres[0]["properties"]["_p"]
    assert "状态</th><td>规划" in centres[2]["properties"]["_p"]
    assert 'class="gp-planned"' in centres[2]["properties"]["_i"]
    gap = _overlay(fmap, "gap-0")["features"][0]["properties"]["_p"]
    assert html.escape(XSS) in gap
    assert "人口</th><td>1,200 人" in gap
    assert "60岁以上</th><td>250 人" in gap


def test_page_embeds_every_library_and_fetches_nothing() -> None:
    page = render_map_html(build_map(sample_layers()))
    assert re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)=', page) == []
    assert not re.search(r"cdn\.jsdelivr|unpkg\.com|cdnjs|code\.jquery", page)
    assert 't.version="1.9.4"' in page  # Leaflet
    assert "markerClusterGroup" in page
    assert "L.Control.Measure" in page
    assert "function gisplanLayer" in page
    assert "data:image/png;base64," in page  # the images the stylesheets refer to
    assert "window.gisplanReady = true" in page


def test_display_geometry_rounded_to_a_metre_and_simplified() -> None:
    fine = shapely.Point(105.93, 29.32).buffer(0.01, quad_segs=2000)  # 8,000 vertices
    layers = sample_layers(areas=gpd.GeoDataFrame({"facility_type": ["community_service_centre"],
                                                   "minutes": [15.0], "profile": ["walk"]},
                                                  geometry=[fine], crs=4326))
    fmap = build_map(layers)
    drawn = shapely.from_geojson(json.dumps(_overlay(fmap, "area-0")["features"][0]["geometry"]))
    assert shapely.get_num_coordinates(drawn) < 200
    assert drawn.area == pytest.approx(fine.area, rel=0.01)
    coords = shapely.get_coordinates(drawn)
    assert np.array_equal(coords, np.round(coords, 5))
    point = _overlay(fmap, "fac-0")["features"][0]["geometry"]["coordinates"]
    assert point == [105.91, 29.31]


def test_amap_basemap_shifts_every_layer_to_gcj02() -> None:
    fmap = build_map(sample_layers(), basemap="amap")
    lon, lat = wgs84_to_gcj02(105.91, 29.31)
    assert _overlay(fmap, "fac-0")["features"][0]["geometry"]["coordinates"] == [round(float(lon), 5),
                                                                               round(float(lat), 5)]
    town = shapely.from_geojson(json.dumps(_overlay(fmap, "townships")["features"][0]["geometry"]))
    assert town.bounds[0] == pytest.approx(105.90 + (float(lon) - 105.91), abs=2e-5)
    page = render_map_html(fmap)
    assert "autonavi.com" in page
    assert "GCJ-02，以与高德底图对齐" in page
    wgs = render_map_html(build_map(sample_layers(), basemap="osm"))
    assert "tile.openstreetmap.org" in wgs
    assert "坐标系 WGS84" in wgs


def test_tianditu_needs_a_valid_key() -> None:
    with pytest.raises(ConfigError, match="天地图 basemap needs your key"):
        build_map(sample_layers(), basemap="tianditu")
    with pytest.raises(ConfigError, match="needs your key"):
        build_map(sample_layers(), basemap="tianditu", tianditu_key="abc'\"<0123456789abcdef")
    page = render_map_html(build_map(sample_layers(), basemap="tianditu", tianditu_key="0123456789abcdef" * 2))
    assert "tk=0123456789abcdef0123456789abcdef" in page
    assert "cva_w" in page
    with pytest.raises(ConfigError, match="unknown basemap 'google'"):
        build_map(sample_layers(), basemap="google")


def test_choropleth_choices_and_classes() -> None:
    layers = sample_layers()
    assert list(choropleth_choices(layers)) == ["coverage:community_service_centre", "floor_area",
                                                "admin:public_cemetery", "admin:elderly_day_care"]

    def fills(key: str) -> list[str]:
        features = _overlay(build_map(layers, choropleth=key), "townships")["features"]
        return [f["properties"]["_s"]["fillColor"] for f in features]

    assert fills("coverage:community_service_centre") == [_SEQUENTIAL[4], _SEQUENTIAL[0]]  # 90 %, 10 %
    assert fills("floor_area") == [_SEQUENTIAL[3], _NO_DATA]  # 35 m²/100hh: at the standard of 30, no data
    assert fills("admin:public_cemetery") == [_SEQUENTIAL[4], _SEQUENTIAL[0]]  # has one, lacks one
    assert fills("admin:elderly_day_care") == [_SEQUENTIAL[4], _SEQUENTIAL[2]]  # 1 of 1 villages, 1 of 2
    page = render_map_html(build_map(layers, choropleth="floor_area"))
    assert "每百户社区综合服务设施面积（m²）" in page
    assert "30–45（达标）" in page
    with pytest.raises(ConfigError, match=r"cannot be coloured by 'nope'.*floor_area \(每百户"):
        build_map(layers, choropleth="nope")


def test_title_block_says_method_date_and_illustrative() -> None:
    page = render_map_html(build_map(sample_layers()))
    assert "制图日期：2026-11-28" in page
    assert "方法：路网最短路径" in page
    assert "示意 ILLUSTRATIVE — 含生成的示意数据" in page
    assert "（候选站点随之为示意）：城乡社区综合服务设施</div>" in page  # the legend lists the 示意 layers
    real = render_map_html(build_map(sample_layers(illustrative=(), method="straight_line")))
    assert "ILLUSTRATIVE" not in real
    assert "直线服务半径（非路网" in real


def test_a_layer_without_crs_is_refused() -> None:
    towns = sample_layers().townships.set_crs(None, allow_override=True)
    with pytest.raises(ConfigError, match="no CRS"):
        build_map(sample_layers(townships=towns))


def test_map_command_redraws_from_a_run(yongchuan_run: tuple[Path, Path, Path, str], tmp_path: Path) -> None:
    scenario, store, out, _ = yongchuan_run
    base = ["map", str(scenario), "-w", str(store), "--out", str(out)]
    listed = CliRunner().invoke(cli, [*base, "--list"])
    assert listed.exit_code == 0, listed.output
    assert "coverage:community_service_centre" in listed.output
    assert "floor_area" in listed.output
    target = tmp_path / "floor.html"
    result = CliRunner().invoke(cli, [*base, "--choropleth", "floor_area", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert "每百户社区综合服务设施面积" in target.read_text(encoding="utf-8")
    bad = CliRunner().invoke(cli, [*base, "--choropleth", "coverage:nothing", "--output", str(tmp_path / "x.html")])
    assert bad.exit_code == 1
    assert "cannot be coloured by 'coverage:nothing'" in bad.output
    assert "Traceback" not in bad.output
    assert not (tmp_path / "x.html").exists()
    key = CliRunner().invoke(cli, [*base, "--basemap", "tianditu"], env={"GISPLAN_TIANDITU_KEY": ""})
    assert key.exit_code == 1
    assert "--tianditu-key" in key.output


def test_map_command_runs_the_scenario_when_there_are_no_results(tmp_path: Path) -> None:
    """珠山's real layers (district outline, gazetteer; no roads): `gisplan map` runs it first, then draws."""
    text = (ROOT / "scenarios" / "zhushan-2025.toml").read_text(encoding="utf-8")
    scenario = tmp_path / "zs.toml"
    scenario.write_text(text.replace("../layers/", str(ROOT / "layers") + "/"), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["map", str(scenario), "-w", str(tmp_path / "zs.gpkg"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "has no results yet: running the scenario first" in result.output
    assert (out / "results.gpkg").is_file()
    assert (out / "indicators.csv").is_file()
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "珠山区“十四五”民政事业发展规划" in page
    assert "覆盖未计算（缺少路网或需求数据）" in page  # no roads in this demo: the title says so


def test_run_writes_the_map(yongchuan_run: tuple[Path, Path, Path, str]) -> None:
    _, _, out, output = yongchuan_run
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "map.html" in output
    assert "永川区“十四五”民政事业发展规划" in page
    assert "示意 ILLUSTRATIVE" in page
    assert (out / "map.html").stat().st_size <= 15_000_000


def test_a_district_without_townships_still_gets_a_map() -> None:
    """珠山's demo has only the district outline: no choropleth, but the district, facilities and title."""
    fmap = build_map(sample_layers(townships=None, villages=None))
    assert choropleth_choices(sample_layers(townships=None, villages=None)) == {}
    assert set(layer_counts(fmap)) == {"gp-district", "gp-area-0", "gp-gap-0", "gp-fac-0", "gp-fac-1", "gp-site-0"}
    page = render_map_html(fmap)
    assert "覆盖率（人口）" not in page  # no choropleth section in the legend
    assert "镇街名称" not in page
    with pytest.raises(ConfigError, match="nothing to draw"):
        build_map(sample_layers(townships=None, villages=None, district=None, facilities={}))


def test_run_without_the_map_and_with_a_bad_basemap(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "zhushan-2025.toml").read_text(encoding="utf-8")
    scenario = tmp_path / "zs.toml"
    scenario.write_text(text.replace("../layers/", str(ROOT / "layers") + "/"), encoding="utf-8")
    base = ["run", str(scenario), "-w", str(tmp_path / "zs.gpkg")]
    result = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "a"), "--no-map"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "indicators.csv").is_file()
    assert not (tmp_path / "a" / "map.html").exists()
    # a 天地图 basemap without a key is refused before anything is imported or computed
    refused = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "b"), "--basemap", "tianditu"],
                                 env={"GISPLAN_TIANDITU_KEY": ""})
    assert refused.exit_code == 1
    assert "天地图 basemap needs your key" in refused.output
    assert not (tmp_path / "b").exists()


def test_facility_markers_take_the_catalogues_colour_and_glyph() -> None:
    """Colours and glyphs come with the layers (``gisplan run`` passes the catalogue's); a type without them takes
    the palette entry of its place among the facility layers and 设; a glyph is escaped like any user text."""
    fmap = build_map(sample_layers(type_colours={"community_service_centre": "#1565c0"},
                                   type_glyphs={"community_service_centre": "<社"}))
    centre = _overlay(fmap, "fac-0")["features"][0]["properties"]["_i"]
    assert centre == '<div style="background:#1565c0">&lt;社</div>'
    day_care = _overlay(fmap, "fac-1")["features"][0]["properties"]["_i"]
    assert day_care == f'<div style="background:{MAP_PALETTE[1]}">设</div>'  # 2nd facility layer, no style given
    control = {c.class_name.split()[-1]: c.layer_name for c in fmap._children.values() if hasattr(c, "class_name")}
    assert control["gp-fac-0"] == '<span style="color:#1565c0">●</span> 城乡社区综合服务设施（3）'  # layer control entry
    assert '\\u003cspan style=\\"color:#1565c0\\"\\u003e●' in render_map_html(fmap)  # in the panel's names
    with pytest.raises(ConfigError, match=r"`type_colours` must map type ids to colours written #rrggbb"):
        sample_layers(type_colours={"elderly_day_care": "red;background:url(http://x)"})


def _evil(k: int) -> str:
    return f"<img src=x onerror=alert({k})>"


def _json_form(text: str) -> str:
    """How a string reaches the page inside the JSON data (``<``, ``>``, ``&`` as unicode escapes)."""
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def test_every_name_from_the_data_is_escaped() -> None:
    """Township and district names, gap and proposal fields (village names among them) and type names each carry their own
    injection: each is drawn (found HTML-escaped in the page), and none reaches the page as live HTML, neither
    raw nor JSON-escaped only (the browser would decode that and insert the tag)."""
    base = sample_layers()
    towns = base.townships.assign(name=[_evil(1), _evil(2)])
    villages = base.villages.assign(name=[_evil(3), _evil(4), _evil(5)])
    district = base.district.assign(name=[_evil(6)])
    gaps = base.gaps.assign(township=[_evil(7), _evil(7)], village=[_evil(8), "三村"])
    proposals = base.proposals.assign(township=_evil(9), village=[_evil(10), "三村"])
    types = {**TYPE_NAMES, "community_service_centre": _evil(11), "elderly_day_care": _evil(12)}
    fmap = build_map(sample_layers(townships=towns, villages=villages, district=district, gaps=gaps,
                                   proposals=proposals, type_names=types,
                                   illustrative=(_evil(11),)))
    page = render_map_html(fmap)
    for k in range(1, 13):
        raw = _evil(k)
        escaped = html.escape(raw)
        assert raw not in page, k
        assert _json_form(raw) not in page, k
        assert escaped in page or _json_form(escaped) in page, f"field {k} is not drawn"  # villages: as labels


# ---------------------------------------------------------------------------------------------- issue 19


def illustrative_geotiff(path: Path, *, size_m: float = 5000.0, pixel_m: float = 2.0, lon: float = 105.925,
                         lat: float = 29.355, seed: int = 19) -> Path:
    """A 示意 GeoTIFF basemap (seeded smooth pattern, not imagery): `size_m` square in UTM 48N at `pixel_m`."""
    import rasterio
    from pyproj import Transformer
    from rasterio.transform import from_origin

    x0, y0 = Transformer.from_crs(4326, 32648, always_xy=True).transform(lon, lat)
    n = int(size_m / pixel_m)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n] / n
    base = 0.5 + 0.25 * np.sin(xx * 9) * np.cos(yy * 7) + 0.04 * rng.standard_normal((n, n))
    rgb = np.stack([base * 180 + 40, base * 200 + 30, base * 140 + 50]).clip(0, 255).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=3, dtype="uint8", crs="EPSG:32648",
                       transform=from_origin(x0 - size_m / 2, y0 + size_m / 2, pixel_m, pixel_m),
                       compress="deflate") as dst:
        dst.write(rgb)
        dst.update_tags(DESCRIPTION="示意 illustrative: generated by gisplan's tests, not imagery")
    return path


def _rows_layers(**changes: object) -> MapLayers:
    rows = (MapRow("YC-15MIN-CSC", "15分钟覆盖率", ("community_service_centre",), coverage=True, headline=True),
            MapRow("YC-11-COMMUNITY-STATIONS", "社区养老服务站", ("elderly_day_care",), headline=False),
            MapRow("YC-1-06", "达标率", ("community_service_centre",), headline=False))
    return sample_layers(rows=rows, **changes)


def test_layers_are_grouped_by_indicator_row_headline_rows_on() -> None:
    setup = setup_of(render_map_html(build_map(_rows_layers())))
    assert setup["base"] == ["townships", "district", "label-town", "label-village"]
    assert setup["groups"] == [
        {"title": "YC-15MIN-CSC 15分钟覆盖率", "headline": True,
         "layers": ["fac-0", "area-0", "gap-0", "site-0"]},  # its type, service area, gaps and its sites
        {"title": "YC-11-COMMUNITY-STATIONS 社区养老服务站", "headline": False, "layers": ["fac-1"]},
        {"title": "YC-1-06 达标率", "headline": False, "layers": ["fac-0"]},  # not a coverage row: no areas
    ]
    # without rows: one group per facility type, the first on
    plain = setup_of(render_map_html(build_map(sample_layers())))["groups"]
    assert [(g["title"], g["headline"]) for g in plain] == [("城乡社区综合服务设施", True), ("社区养老服务站", False),
                                                            ("其他图层", False)]  # the sites of a row not given


def test_choropleth_follows_the_first_headline_coverage_row() -> None:
    towns = sample_layers().townships.assign(share_elderly_day_care=[0.5, 0.5])
    rows = (MapRow("A", "a", ("community_service_centre",), coverage=True, headline=False),
            MapRow("B", "b", ("elderly_day_care",), coverage=True, headline=True))
    fmap = build_map(sample_layers(townships=towns, rows=rows))
    assert layer_counts(fmap)["gp-townships"][0].endswith("社区养老服务站")


def _old_format_sites() -> gpd.GeoDataFrame:
    """Proposals as main wrote them before the siting contract: one row per (row, site); two rows share 2 sites."""
    return gpd.GeoDataFrame({
        "indicator_id": ["YC-1-12", "YC-1-12", "YC-1-12", "YC-9-TOWN-CEMETERIES", "YC-9-TOWN-CEMETERIES",
                         "YC-9-URBAN-CEMETERY"],
        "facility_type": "public_cemetery", "rank": [1, 2, 3, 1, 2, 1],
        "candidate_id": ["N1", "N2", "N3", "N2", "N1", "N9"], "year": [2021, 2022, 2023, 2021, 2022, 2024],
        "township": "乙镇", "village": "二村",
    }, geometry=[Point(105.96, 29.31), Point(105.97, 29.32), Point(105.98, 29.33), Point(105.97, 29.32),
                 Point(105.96, 29.31), Point(105.99, 29.34)], crs=4326)


def test_proposal_sites_one_per_site_naming_every_row() -> None:
    sites = proposal_sites(_old_format_sites())
    assert sites["candidate_id"].tolist() == ["N1", "N2", "N3", "N9"]
    assert sites["indicator_id"].tolist() == ["YC-1-12", "YC-1-12", "YC-1-12", "YC-9-URBAN-CEMETERY"]
    assert sites["indicator_ids"].tolist() == ["YC-1-12；YC-9-TOWN-CEMETERIES", "YC-1-12；YC-9-TOWN-CEMETERIES",
                                               "YC-1-12", "YC-9-URBAN-CEMETERY"]
    assert sites["row_ranks"].tolist()[:2] == ["YC-1-12 第1位；YC-9-TOWN-CEMETERIES 第2位",
                                               "YC-1-12 第2位；YC-9-TOWN-CEMETERIES 第1位"]
    assert not sites.groupby("indicator_id")["rank"].apply(lambda r: r.duplicated().any()).any()
    # the contract's format (branch siting) passes through, the rows it serves named
    new = sites.drop(columns=["row_ranks"]).assign(site_id=["S1", "S2", "S3", "S9"])
    again = proposal_sites(new)
    assert again["indicator_ids"].tolist() == sites["indicator_ids"].tolist()
    assert again["row_ranks"].iloc[0] == "YC-1-12 第1位；亦服务 YC-9-TOWN-CEMETERIES"


def test_a_shared_site_is_drawn_once_in_both_rows_groups() -> None:
    rows = (MapRow("YC-1-12", "覆盖率", ("public_cemetery",), headline=True),
            MapRow("YC-9-TOWN-CEMETERIES", "镇公墓", ("public_cemetery",), headline=False),
            MapRow("YC-9-URBAN-CEMETERY", "城区公墓", ("public_cemetery",), headline=False))
    cemeteries = gpd.GeoDataFrame({"name": ["墓1"], "code12": ["500118101001"]}, geometry=[Point(105.95, 29.33)],
                                  crs=4326)
    fmap = build_map(sample_layers(proposals=_old_format_sites(), rows=rows,
                                   facilities={"public_cemetery": cemeteries}))
    counts = layer_counts(fmap)
    assert counts["gp-site-0"] == ("候选站点 — YC-1-12 城乡公益性安葬（放）设施（3 处，2021–2023 年）", "marker", 3)
    assert counts["gp-site-1"][2] == 1  # YC-9-URBAN-CEMETERY's own site
    markers = _overlay(fmap, "site-0")["features"]
    assert markers[0]["properties"]["_t"] == "候选 1（YC-1-12；YC-9-TOWN-CEMETERIES），2021 年建"
    assert '<b class="gp-year">2021</b>' in markers[0]["properties"]["_i"]
    groups = {g["title"].split()[0]: g["layers"] for g in setup_of(render_map_html(fmap))["groups"]}
    assert groups == {"YC-1-12": ["fac-0", "site-0"], "YC-9-TOWN-CEMETERIES": ["fac-0", "site-0"],
                      "YC-9-URBAN-CEMETERY": ["fac-0", "site-1"], "其他图层": ["gap-0", "area-0"]}


def test_legend_lists_every_symbol_and_the_notice() -> None:
    page = render_map_html(build_map(_rows_layers(notice="审图号：渝S(2024)001号")))
    legend = page[page.index('id="gp-legend"'):]
    legend = legend[: legend.index("</div></div></div>")]
    for text in ("&lt; 20%", "无数据", "区界", "镇街名称", "服务范围（15 分钟）— 城乡社区综合服务设施",
                 "覆盖缺口 — 城乡社区综合服务设施：2 处，未覆盖 1,500 人", "城乡社区综合服务设施（3 处，示意）",
                 "YC-15MIN-CSC 城乡社区综合服务设施：2 处，2024–2025 年", "<b>示意</b>"):
        assert text in legend, text
    assert '<div class="gp-notice" id="gp-notice"><b>审图号：渝S(2024)001号</b>　界线不作为权属争议依据</div>' in page
    plain = render_map_html(build_map(sample_layers(townships=None, villages=None, district=None)))
    assert "<b>内部用图</b></div>" in plain  # no boundary drawn: no boundary disclaimer


def test_label_points_lie_inside_their_polygons() -> None:
    ring = shapely.Point(105.9, 29.3).buffer(0.1).difference(shapely.Point(105.9, 29.3).buffer(0.08))
    crescent = ring.difference(box(105.93, 29.0, 106.1, 29.6))  # a C open to the east, like a town around a hill
    frame = gpd.GeoDataFrame({"name": ["弯"]}, geometry=[crescent], crs=4326)
    lon, lat, radius = label_points(frame)
    assert frame.geometry.iloc[0].contains(shapely.Point(lon[0], lat[0]))
    assert not frame.geometry.iloc[0].contains(frame.geometry.iloc[0].centroid)  # where a centroid label would fail
    assert 900 < radius[0] < 1200  # half the ring's 0.02° width (1.1 km east-west at 29°N)


def test_neighbours_are_named_outside_the_shared_stretch() -> None:
    district = gpd.GeoDataFrame({"name": ["区"]}, geometry=[box(105.9, 29.3, 106.0, 29.4)], crs=4326)
    neighbours = gpd.GeoDataFrame({"name": ["东区", "西区", "远区", "区"]}, geometry=[
        box(106.0, 29.3, 106.1, 29.4), box(105.8, 29.35, 105.9, 29.5), box(107, 29, 107.1, 29.1),
        box(105.9, 29.3, 106.0, 29.4)], crs=4326)
    found = neighbour_labels(neighbours, district)
    assert found["name"].tolist() == ["东区", "西区"]  # longest shared outline first; the far one and itself left out
    assert found["shared_km"].iloc[0] == pytest.approx(11.1 + 0.6, abs=0.2)  # 0.1° of latitude, ± 300 m tolerance
    assert found["lon"].iloc[0] > 106.0
    assert found["lon"].iloc[1] < 105.9
    assert 29.35 < found["lat"].iloc[1] < 29.4


def test_neighbour_labels_measure_only_the_polygons_near_the_district() -> None:
    """Polygons whose box stays away from the district's box are not measured: the same labels as from the near
    polygons alone, whatever lies far away (a province's districts)."""
    district = gpd.GeoDataFrame({"name": ["区"]}, geometry=[box(105.9, 29.3, 106.0, 29.4)], crs=4326)
    near = [box(106.0, 29.3, 106.1, 29.4), box(105.8, 29.35, 105.9, 29.5), box(105.9, 29.4001, 106.0, 29.5)]
    far = [box(107 + i, 29, 107.1 + i, 29.1) for i in range(5)] + [box(105.9, 29.41, 106.0, 29.5)]
    everything = gpd.GeoDataFrame({"name": ["东区", "西区", "北区", *[f"远{i}" for i in range(6)]]},
                                  geometry=near + far, crs=4326)
    found = neighbour_labels(everything, district)
    assert found["name"].tolist() == ["东区", "北区", "西区"]  # 北区 lies 11 m off the outline: within the tolerance
    pd.testing.assert_frame_equal(found, neighbour_labels(everything.iloc[:3], district))


def test_short_village_names() -> None:
    assert _short_village("金龙场社区居民委员会") == "金龙场社区"
    assert _short_village("大南村村民委员会") == "大南村"
    assert _short_village("三村") == "三村"


def test_read_basemap_resamples_caps_and_states_the_size(tmp_path: Path) -> None:
    tif = illustrative_geotiff(tmp_path / "ortho.tif")
    image = read_basemap(tif, max_px=1024)
    assert max(image.width_px, image.height_px) == 1024
    assert image.data_uri.startswith("data:image/jpeg;base64,")
    assert image.size_bytes <= 3_000_000
    assert image.metres_per_px == pytest.approx(5000 / 1024, rel=0.05)
    assert (image.west, image.south) == pytest.approx((105.899, 29.332), abs=2e-3)
    assert image.east - image.west == pytest.approx(5000 / (111_320 * np.cos(np.radians(29.355))), rel=0.02)
    assert image.caption.startswith("本地影像 ortho.tif（1019×1024 像素，0.1 MB，约 4.9 m/像素")
    tiny = read_basemap(tif, max_px=1024, max_bytes=50_000)  # a byte cap shrinks the image until it fits
    assert tiny.size_bytes <= 50_000
    assert tiny.width_px < 1024
    fmap = build_map(sample_layers(basemap_image=image))
    assert layer_counts(fmap)["gp-basemap"] == ("底图影像：ortho.tif", "image", 1)
    assert image.caption in render_map_html(fmap)
    with pytest.raises(ConfigError, match="cannot be combined with --basemap amap"):
        build_map(sample_layers(basemap_image=image), basemap="amap")
    with pytest.raises(ConfigError, match="does not exist"):
        read_basemap(tmp_path / "nowhere.tif")
    (tmp_path / "bad.tif").write_text("not a raster", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a raster rasterio can read"):
        read_basemap(tmp_path / "bad.tif")


def test_map_settings_and_headline_in_the_scenario(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "yongchuan-2025.toml").read_text(encoding="utf-8")
    sc = load_scenario(ROOT / "scenarios" / "yongchuan-2025.toml")
    assert sc.map.notice_text == "内部用图"
    assert [p.name for p in sc.map.neighbours] == ["chongqing_districts_wgs84.geojson",
                                                   "yongchuan_sichuan_neighbours_wgs84.geojson"]
    rows = {r.indicator_id: r for r in map_rows(sc, load_catalogue())}
    assert rows["YC-15MIN-CSC"].headline is False  # headline = false in the scenario
    assert rows["YC-15MIN-ELDERLY"].headline  # spatial metric: on by default
    assert rows["YC-15MIN-ELDERLY"].coverage
    assert rows["YC-1-16"].headline  # admin_share is spatial too
    assert not rows["YC-1-16"].coverage
    assert not rows["YC-11-COMMUNITY-STATIONS"].headline  # a count is not
    assert "YC-1-01" not in rows  # a reported row draws nothing
    bad = text.replace('notice = "内部用图"', 'notice = ""\nbasemap_max_px = 10\nbasemap = "ortho.tif"\nreview = 1')
    bad = bad.replace('headline = false', 'headline = "no"')
    (tmp_path / "bad.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigFileError) as err:
        load_scenario(tmp_path / "bad.toml")
    message = str(err.value)
    for part in ("`notice` must be a text of 1–80 characters", "`basemap_max_px` must be a whole number of pixels",
                 "unknown key", "review", "`headline` must be true or false"):
        assert part in message, part
    good = text.replace('notice = "内部用图"', 'review_number = "渝S(2024)001号"\nbasemap = "ortho.tif"')
    (tmp_path / "good.toml").write_text(good, encoding="utf-8")
    sc = load_scenario(tmp_path / "good.toml")
    assert sc.map.notice_text == "审图号：渝S(2024)001号"
    assert sc.map.basemap == tmp_path / "ortho.tif"


def test_facilities_located_by_name_show_their_precision() -> None:
    """Ledgers without coordinates (issue 13 item 8): a marker at a village/township representative point is dotted,
    its popup gives the precision and the former-name note, and the legend says how many are approximate."""
    layers = sample_layers()
    centres = layers.facilities["community_service_centre"].assign(
        location_precision=["point", "village", "township"],
        location_note=[None, "朱龙花村 为历史地名，今 朱龙村 (former name)", None])
    fmap = build_map(sample_layers(facilities={"community_service_centre": centres,
                                               "elderly_day_care": layers.facilities["elderly_day_care"]}))
    props = [f["properties"] for f in _overlay(fmap, "fac-0")["features"]]
    assert [("gp-approx" in p["_i"]) for p in props] == [False, True, True]
    assert "坐标点 (point)" in props[0]["_p"]
    assert "近似" not in props[0]["_p"]
    assert "村（社区）代表点 (village point, approximate)" in props[1]["_p"]
    assert "朱龙花村 为历史地名，今 朱龙村" in props[1]["_p"]
    assert "镇街代表点 (township point, approximate)" in props[2]["_p"]
    assert "服务覆盖为近似" in props[2]["_p"]
    assert 'class="gp-planned gp-approx"' in props[2]["_i"]  # c3 is planned too
    page = render_map_html(fmap)
    legend = page[page.index('id="gp-legend"'):]
    assert "城乡社区综合服务设施：其中 2 处按村（社区）/镇街代表点定位，位置与覆盖为近似" in legend
    plain = render_map_html(build_map(sample_layers()))
    assert "代表点定位" not in plain[plain.index('id="gp-legend"'):]


def test_same_layers_give_the_same_page_and_no_template_runs() -> None:
    """The page is put together without folium (issue 17): numbered ids, so two builds are byte for byte equal,
    and a name's braces reach the page as they were escaped, never evaluated."""
    first, second = render_map_html(build_map(sample_layers())), render_map_html(build_map(sample_layers()))
    assert first == second
    assert "\\u0026#123;\\u0026#123; 1234*1000 \\u0026#125;\\u0026#125;" in first  # escaped, in JSON
    assert len(re.findall(r"var gisplan_overlay_[0-9a-f]{32} = gisplanLayer\(", first)) == 9
