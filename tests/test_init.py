"""`gisplan init`: a working scenario for any of Chongqing's 38 districts from the shipped outlines and gazetteer,
with optional seeded 示意 layers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal

from gisplan.cli.main import cli
from gisplan.config import load_scenario
from gisplan.errors import ConfigError
from gisplan.workflows.districts import (
    REGION_GAZETTEER,
    district_data,
    read_region_data,
    write_district_scenario,
)

if TYPE_CHECKING:
    import geopandas as gpd

ROOT = Path(__file__).resolve().parents[1]


def test_region_data_has_38_districts_and_the_whole_gazetteer() -> None:
    outlines, gazetteer = read_region_data()
    assert len(outlines) == 38
    assert len(gazetteer) == 12_339
    assert (gazetteer["level"] == "3").sum() == 38
    assert (gazetteer["level"] == "4").sum() == 1_031
    assert (gazetteer["level"] == "5").sum() == 11_270
    assert outlines.crs.to_epsg() == 4326


def test_yongchuan_rows_equal_the_shipped_demo_gazetteer() -> None:
    outlines, gazetteer = read_region_data()
    data = district_data("500118", outlines, gazetteer)
    demo = pd.read_csv(ROOT / "layers" / "yongchuan_gazetteer.csv", dtype=str)
    assert data.name == "永川区"
    assert data.gazetteer.astype(str).to_numpy().tolist() == demo.astype(str).to_numpy().tolist()
    assert list(data.gazetteer.columns) == list(demo.columns)
    shipped = pyogrio.read_dataframe(ROOT / "layers" / "yongchuan_boundaries.gpkg", layer="district")
    # the same Amap outline converted twice (shared data vs the demo build): within a metre
    a = data.outline.to_crs(32648).geometry.iloc[0]
    b = shipped.to_crs(32648).geometry.iloc[0]
    assert shapely.hausdorff_distance(a, b) < 1.0


def test_init_writes_a_scenario_that_loads(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "500118", "--out", str(tmp_path / "yc")])
    assert result.exit_code == 0, result.output
    sc = load_scenario(tmp_path / "yc" / "scenario.toml")
    assert sc.district_code == "500118"
    assert sc.crs == "EPSG:32648"
    assert [s.kind for s in sc.layers] == ["gazetteer", "district"]
    assert sc.roads is not None
    assert sc.roads.osm_fallback
    assert {s.indicator_id for s in sc.indicators} >= {"CSC-URBAN", "TEC-SHARE", "15MIN-ELDERLY"}
    gaz = pd.read_csv(tmp_path / "yc" / "layers" / "gazetteer.csv", dtype=str, encoding="utf-8-sig")
    assert len(gaz) == 291


def test_init_runs_offline_without_facilities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GISPLAN_OFFLINE", "1")
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "500229", "--out", str(tmp_path / "ck")]).exit_code == 0
    result = runner.invoke(cli, ["run", str(tmp_path / "ck" / "scenario.toml"), "--no-map",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "indicators.csv", encoding="utf-8-sig")
    assert list(table["indicator_id"])[:2] == ["CSC-URBAN", "CSC-RURAL"]
    assert table["value"].isna().all()  # no ledgers imported yet: nothing to measure, and it says so


def test_illustrative_layers_tile_the_district(tmp_path: Path) -> None:
    outlines, gazetteer = read_region_data()
    data = district_data("500153", outlines, gazetteer)  # 荣昌区: 21 townships, 156 villages/communities
    write_district_scenario(data, tmp_path / "rc", illustrative=True, seed=7)
    gpkg = tmp_path / "rc" / "layers" / "illustrative.gpkg"
    towns = pyogrio.read_dataframe(gpkg, layer="townships").to_crs(32648)
    villages = pyogrio.read_dataframe(gpkg, layer="villages").to_crs(32648)
    district = data.outline.to_crs(32648).geometry.iloc[0]
    assert len(towns) == 21
    assert len(villages) == 156
    # Voronoi cells clipped to the outline: they cover it without overlaps
    assert shapely.union_all(towns.geometry.to_numpy()).symmetric_difference(district).area < 1e-6 * district.area
    assert abs(towns.area.sum() - district.area) < 1e-6 * district.area
    # each village inside its own township
    own = towns.set_index("code12").geometry.reindex(villages["township_code12"]).to_numpy()
    assert (shapely.area(shapely.difference(villages.geometry.to_numpy(), own)) < 1.0).all()
    households = pd.read_csv(tmp_path / "rc" / "layers" / "households_illustrative.csv", encoding="utf-8-sig")
    assert len(households) == 156
    assert households["illustrative"].all()
    assert households["note"].str.startswith("示意").all()
    for layer in ("community_service_centre", "elderly_day_care", "township_elderly_centre", "public_cemetery"):
        frame = pyogrio.read_dataframe(gpkg, layer=layer)
        assert len(frame) > 0
        assert frame["name"].str.endswith("（示意）").all()
        assert frame["illustrative"].all()
    centres = pyogrio.read_dataframe(gpkg, layer="community_service_centre").to_crs(32648)
    assert len(centres) == 156  # one per village/community
    inside = villages.set_index("code12").geometry.reindex(centres["code12"]).to_numpy()
    assert shapely.contains(inside, centres.geometry.to_numpy()).all()


def test_the_same_seed_gives_the_same_layers(tmp_path: Path) -> None:
    outlines, gazetteer = read_region_data()
    data = district_data("500229", outlines, gazetteer)
    for name in ("a", "b", "c"):
        write_district_scenario(data, tmp_path / name, illustrative=True, seed=1 if name != "c" else 2)

    def layer(name: str, layer: str) -> gpd.GeoDataFrame:
        return pyogrio.read_dataframe(tmp_path / name / "layers" / "illustrative.gpkg", layer=layer)

    for kind in ("townships", "villages", "community_service_centre"):
        assert_geodataframe_equal(layer("a", kind), layer("b", kind))
    assert not np.array_equal(shapely.get_coordinates(layer("a", "townships").geometry),
                              shapely.get_coordinates(layer("c", "townships").geometry))
    assert (tmp_path / "a" / "layers" / "households_illustrative.csv").read_bytes() == \
        (tmp_path / "b" / "layers" / "households_illustrative.csv").read_bytes()


def test_unknown_district_is_refused_with_the_list(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "500199", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "500199 is not in the region data" in result.output
    assert "500118 永川区" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()
    bad = CliRunner().invoke(cli, ["init", "永川", "--out", str(tmp_path / "y")])
    assert bad.exit_code == 1
    assert "is not a district code" in bad.output


def test_a_template_may_not_carry_its_own_scenario(tmp_path: Path) -> None:
    template = tmp_path / "t.toml"
    template.write_text('[scenario]\nname = "x"\n', encoding="utf-8")
    outlines, gazetteer = read_region_data()
    with pytest.raises(ConfigError, match=r"must hold only \[standard\]"):
        write_district_scenario(district_data("500118", outlines, gazetteer), tmp_path / "s", template=template)


def test_region_gazetteer_is_shipped_as_package_data() -> None:
    assert REGION_GAZETTEER.is_file()
    assert REGION_GAZETTEER.parent.name == "regions"
