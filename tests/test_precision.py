"""Facilities located by name only (``location_precision``) in coverage, gaps, indicators and siting (issue 13
item 8): township-located ones never count for 15-minute network coverage, village-located ones count with the
share they carry stated, gaps and proposed sites in their units say so."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import shapely
from click.testing import CliRunner

from gisplan.analysis.metrics import evaluate_indicators
from gisplan.analysis.precision import (
    approximate_reach,
    imprecise_by_unit,
    mark_approximate,
    network_facilities,
    precision_counts,
    with_imprecise_gaps,
    with_imprecise_sites,
)
from gisplan.catalogue import load_catalogue
from gisplan.cli.main import cli
from gisplan.config import IndicatorSpec, Standard
from gisplan.store import open_workspace
from gisplan.vocab import Metric
from gisplan.workflows.plan import _approximate_basis
from tests.conftest import LAYERS

if TYPE_CHECKING:
    from pathlib import Path

CHENSHI_VILLAGE = "500118006200"  # 朱龙花村, 陈食街道
LAISU_TOWN = "500118111000"  # 来苏镇


def _stations() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"facility_id": ["A", "B", "C", "D"],
                             "code12": ["500118001001", CHENSHI_VILLAGE, LAISU_TOWN, "500118111003"],
                             "location_precision": ["point", "village", "township", None]},
                            geometry=shapely.points([[0, 0], [1, 1], [2, 2], [3, 3]]), crs="EPSG:32648")


def test_the_rule_per_precision() -> None:
    stations = _stations()
    assert precision_counts(stations) == {"village": 1, "township": 1}
    assert network_facilities(stations)["facility_id"].tolist() == ["A", "B", "D"]  # no township point
    units = imprecise_by_unit(stations)
    assert units.to_dict("list") == {"level": ["township", "village"], "code12": [LAISU_TOWN, CHENSHI_VILLAGE],
                                     "n": [1, 1]}
    # the demand points covered through B (village point) are flagged; through A they are not
    demand = pd.DataFrame({"population": [100.0, 300.0, 600.0], "facility_township_elderly_centre": ["A", "B", "B"],
                           "covered_township_elderly_centre": [True, True, False]})
    marked = mark_approximate(demand, {"township_elderly_centre": network_facilities(stations)})
    assert marked["approx_township_elderly_centre"].tolist() == [False, True, False]
    assert "approx_township_elderly_centre" not in demand  # the input is not changed
    assert approximate_reach(marked, "township_elderly_centre", "population") == (300.0, 0.3)
    exact = stations.assign(location_precision="point")
    assert mark_approximate(demand, {"township_elderly_centre": exact}) is demand  # nothing to flag: no copy


def test_gaps_and_sites_in_units_of_imprecise_facilities() -> None:
    gaps = gpd.GeoDataFrame({"facility_type": ["township_elderly_centre", "township_elderly_centre", "public_cemetery"],
                             "township_code12": [LAISU_TOWN, "500118006000", LAISU_TOWN],
                             "village_code12": ["500118111003", CHENSHI_VILLAGE, None]},
                            geometry=shapely.points([[0, 0], [1, 1], [2, 2]]), crs="EPSG:32648")
    out = with_imprecise_gaps(gaps, {"township_elderly_centre": _stations()})
    assert out["imprecise_facilities"].tolist() == [1, 1, 0]  # 来苏镇's township point; 朱龙花村's village point
    assert with_imprecise_gaps(gaps, {"township_elderly_centre": _stations().assign(location_precision="point")}) is gaps
    sites = gpd.GeoDataFrame({"site_id": ["s1", "s2", "s3"],
                              "township_code12": [LAISU_TOWN, "500118006000", "500118001000"],
                              "village_code12": ["500118111009", CHENSHI_VILLAGE, "500118001001"]},
                             geometry=shapely.points([[0, 0], [1, 1], [2, 2]]), crs="EPSG:4326")
    marked = with_imprecise_sites(sites, _stations())
    assert marked["imprecise_in_unit"].tolist() == [1, 1, 0]
    assert "镇街" in marked["siting_note"].iloc[0]
    assert "township" in marked["siting_note"].iloc[0]
    assert "村（社区）" in marked["siting_note"].iloc[1]
    assert marked["siting_note"].iloc[2] == ""


def test_ledger_without_coordinates_through_indicators_and_siting(store: Path, tmp_path: Path) -> None:
    """Two small ledgers with only 镇街 and 村社区 names, located by name: a 日间照料 station at its village's point
    and a 镇街养老服务中心 at its township's. The township one is left out of network coverage, the village one is
    counted; the 15-minute basis says both, and a site proposed in their units carries the note."""
    runner = CliRunner()
    result = runner.invoke(cli, ["layers", "import", str(LAYERS / "yongchuan_villages_illustrative.gpkg"), "--kind",
                                 "villages", "--layer", "villages", "-w", str(store)])
    assert result.exit_code == 0, result.output
    ledgers = {"elderly_day_care": "facility_id,name,所属镇街,所属村社区\nD1,朱龙花村日间照料站,陈食街道,朱龙花村\n",
               "township_elderly_centre": "facility_id,name,所属镇街,所属村社区\nT1,来苏镇养老服务中心,来苏镇,\n"}
    stored = {}
    for type_id, text in ledgers.items():
        path = tmp_path / f"{type_id}.csv"
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(cli, ["layers", "import", str(path), "--kind", "facilities", "--type", type_id,
                                     "--locate-by-name", "-w", str(store)])
        assert result.exit_code == 0, result.output
        stored[type_id] = open_workspace(store).read_layer(f"facilities_{type_id}")
    assert stored["elderly_day_care"]["location_precision"].tolist() == ["village"]
    assert stored["township_elderly_centre"]["location_precision"].tolist() == ["township"]
    assert stored["township_elderly_centre"]["code12"].tolist() == [LAISU_TOWN]
    assert network_facilities(stored["elderly_day_care"])["facility_id"].tolist() == ["D1"]
    assert network_facilities(stored["township_elderly_centre"]).empty  # walks to no one in particular
    coverage = pd.DataFrame({"level": "district", "code12": "500118000000",
                             "facility_type": ["elderly_day_care", "township_elderly_centre"],
                             "threshold": [15.0, 15.0], "method": ["network"] * 2, "population": 1000.0,
                             "population_covered": [250.0, 0.0]})
    specs = [IndicatorSpec(row=t, name_zh="t", unit="%", baseline_2020="——", target_2025="≥20", nature="",
                           metric=Metric.NETWORK_COVERAGE, facility_type=t, indicator_id=t) for t in ledgers]
    gazetteer = open_workspace(store).read_table("gazetteer")
    table = evaluate_indicators(specs, facilities=stored, households=None, gazetteer=gazetteer,
                                standard=Standard(), catalogue=load_catalogue(), illustrative=False,
                                coverage=coverage)
    assert "1 facilities located only at their village's representative point counted" in table["basis"].iloc[0]
    assert "1 facilities located only to their township left out of network coverage" in table["basis"].iloc[1]
    site = gpd.GeoDataFrame({"site_id": ["s1", "s2"], "township_code12": [LAISU_TOWN, "500118006000"],
                             "village_code12": ["500118111001", CHENSHI_VILLAGE]},
                            geometry=shapely.points([[105.7, 29.4], [105.8, 29.3]]), crs="EPSG:4326")
    noted = with_imprecise_sites(site, stored["township_elderly_centre"])
    assert noted["imprecise_in_unit"].tolist() == [1, 0]
    assert "实际位置未知" in noted["siting_note"].iloc[0]
    noted = with_imprecise_sites(site, stored["elderly_day_care"])
    assert noted["imprecise_in_unit"].tolist() == [0, 1]


def test_the_plan_states_the_share_reached_through_village_points() -> None:
    """The plan's 15-minute rows say how much of their weight a village-located facility reaches; other rows, and
    a 15-minute row of a type with no such reach, keep their basis."""
    specs = tuple(IndicatorSpec(row=t, name_zh="t", unit="%", baseline_2020="——", target_2025="≥20", nature="",
                                metric=m, facility_type=t, indicator_id=t)
                  for t, m in (("elderly_day_care", Metric.NETWORK_COVERAGE),
                               ("township_elderly_centre", Metric.NETWORK_COVERAGE),
                               ("public_cemetery", Metric.ADMIN_SHARE)))
    table = pd.DataFrame({"basis": ["network 15 min", "network 15 min", "admin share"]})
    demand = pd.DataFrame({"population": [100.0, 300.0, 600.0], "approx_elderly_day_care": [False, True, False],
                           "approx_public_cemetery": [True, True, True]})
    out = _approximate_basis(table, specs, demand)
    assert out["basis"].tolist() == [
        "network 15 min; of it 30.0% (300 population) through facilities at a village's point: uncertain",
        "network 15 min", "admin share"]
    assert table["basis"].iloc[0] == "network 15 min"  # the input is not changed
    assert _approximate_basis(table, specs, demand.drop(columns="approx_elderly_day_care")) is table
