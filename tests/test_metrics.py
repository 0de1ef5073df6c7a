"""The metric registry: one entry per metric, and facility types taken from the catalogue, not from code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest

from gisplan.analysis.metrics import REGISTRY, evaluate_indicators, types_used
from gisplan.catalogue import load_catalogue
from gisplan.config import IndicatorSpec, Standard
from gisplan.vocab import Method, Metric, MetricInput, QuestionKind

if TYPE_CHECKING:
    from pathlib import Path

GAZ = pd.DataFrame({"code12": ["500118000000", "500118001000", "500118001001", "500118001002"],
                    "name": ["永川区", "甲街道", "甲社区居民委员会", "乙社区居民委员会"]})
HOUSEHOLDS = pd.DataFrame({"code12": ["500118001001", "500118001002"], "households": [100, 300]})


def spec(metric: str, **kw: object) -> IndicatorSpec:
    return IndicatorSpec(row=metric, name_zh="x", unit="%", baseline_2020="——", target_2025=str(kw.pop("target", "100")),
                         nature="", metric=metric, indicator_id=metric, **kw)  # type: ignore[arg-type]


def test_every_metric_has_one_entry() -> None:
    assert set(REGISTRY) == set(Metric)
    assert all(key is entry.metric for key, entry in REGISTRY.items())
    methods = {m.value: REGISTRY[m].method.value for m in Metric}
    assert methods == {  # the labels written in indicators.csv before the registry
        "admin_share": "computed-spatial", "network_coverage": "computed-spatial", "host_share": "computed-attribute",
        "floor_area_compliance": "computed-attribute", "floor_area_per_100hh": "computed-attribute",
        "nursing_bed_share": "computed-attribute", "government_bed_share": "computed-attribute",
        "quality_share": "computed-attribute", "facility_count": "count", "reported": "reported",
    }
    questions = {m.value: REGISTRY[m].question for m in Metric if REGISTRY[m].question is not None}
    assert questions == {"admin_share": QuestionKind.UNITS, "facility_count": QuestionKind.COUNT,
                         "network_coverage": QuestionKind.SHARE}
    assert REGISTRY[Metric.REPORTED].method is Method.REPORTED
    assert [m for m in Metric if m.input is MetricInput.NONE] == [Metric.REPORTED]


def test_types_used_come_from_the_row_or_the_catalogue() -> None:
    cat = load_catalogue()
    assert types_used(spec("admin_share", facility_type="public_cemetery"), cat) == ("public_cemetery",)
    assert types_used(spec("floor_area_compliance"), cat) == ("community_service_centre",)
    assert types_used(spec("quality_share"), cat) == ("elderly_institution",)
    assert types_used(spec("host_share"), cat) == ("community_service_centre", "volunteer_service_point")
    assert types_used(spec("reported"), cat) == ()


USER = """
[[type]]
id = "community_service_centre"
name_zh = "社区服务中心"
name_en = "Community service centre"
coverage = ["administrative"]
admin_level = "village"
required = ["facility_id", "name", "code12", "floor_area_m2"]

[[type]]
id = "neighbourhood_hall"
name_zh = "邻里中心"
name_en = "Neighbourhood hall"
coverage = ["administrative"]
admin_level = "village"
required = ["facility_id", "name", "code12", "floor_area_m2"]
metrics = ["floor_area_per_100hh", "floor_area_compliance"]

[[type]]
id = "meal_point"
name_zh = "老年助餐点"
name_en = "Meal point"
coverage = ["administrative"]
admin_level = "village"
required = ["facility_id", "name", "code12", "host_facility_id"]
host = "neighbourhood_hall"
"""


def test_a_user_catalogue_moves_metric_inputs_without_code(tmp_path: Path) -> None:
    """The floor-area metrics and a host relation moved to new types in a user file: the rows read those
    layers (by hand: 60 m² for 400 households = 15 per 100; one of two halls hosts a meal point)."""
    path = tmp_path / "mine.toml"
    path.write_text(USER, encoding="utf-8")
    cat = load_catalogue(path)
    halls = pd.DataFrame({"facility_id": ["H1", "H2"], "code12": ["500118001001", "500118001002"],
                          "floor_area_m2": [40.0, 20.0]})
    meals = pd.DataFrame({"facility_id": ["M1"], "code12": ["500118001001"], "host_facility_id": ["H1"]})
    centres = pd.DataFrame({"facility_id": ["C1"], "code12": ["500118001001"], "floor_area_m2": [999.0]})
    rows = [spec("floor_area_per_100hh", target=">30"), spec("floor_area_compliance"),
            spec("host_share", facility_type="meal_point")]
    table = evaluate_indicators(rows, facilities={"neighbourhood_hall": halls, "meal_point": meals,
                                                  "community_service_centre": centres},
                                households=HOUSEHOLDS, gazetteer=GAZ, standard=Standard(), catalogue=cat,
                                illustrative=False).set_index("row")
    assert table.loc["floor_area_per_100hh", ["value", "numerator", "denominator"]].tolist() == [15.0, 60.0, 400.0]
    # 甲: 40 m² per 100 households (meets 30); 乙: 20 / 300 × 100 = 6.7 (does not)
    assert table.loc["floor_area_compliance", ["numerator", "denominator"]].tolist() == [1.0, 2.0]
    assert table.loc["host_share", ["value", "numerator", "denominator"]].tolist() == [50.0, 1.0, 2.0]
    assert types_used(rows[2], cat) == ("neighbourhood_hall", "meal_point")
    # the built-in volunteer points keep their host; without a type feeding the metric a row is not computed
    no_layer = evaluate_indicators([spec("quality_share")], facilities={}, households=None, gazetteer=GAZ,
                                    standard=Standard(), catalogue=cat, illustrative=False)
    assert no_layer["basis"].iloc[0] == "not computed: the workspace has no `facilities_elderly_institution` layer"


def test_a_metric_no_type_feeds_is_not_computed(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(USER.replace('metrics = ["floor_area_per_100hh", "floor_area_compliance"]\n', ""),
                    encoding="utf-8")
    table = evaluate_indicators([spec("floor_area_per_100hh"), spec("host_share", facility_type="public_cemetery")],
                                facilities={}, households=HOUSEHOLDS, gazetteer=GAZ, standard=Standard(),
                                catalogue=load_catalogue(path), illustrative=False)
    assert table["basis"].tolist() == [
        "not computed: no facility type of the catalogue lists `floor_area_per_100hh` in its `metrics`",
        "not computed: facility type `public_cemetery` has no `host` in the catalogue"]
    assert table["status"].tolist() == ["无数据", "无数据"]


@pytest.mark.parametrize("method", ["network", "straight_line", "both"])
def test_only_network_coverage_answers_a_minutes_row(method: str) -> None:
    """A minutes row takes network coverage; with straight-line tables only (no roads) it shows their estimate,
    labelled straight-line and 参考, never 达标/未达标; the two are never mixed."""
    methods = ["network", "straight_line"] if method == "both" else [method]
    coverage = pd.DataFrame({"level": "district", "code12": "500118000000", "facility_type": "elderly_day_care",
                             "threshold": [15.0 if m == "network" else 1000.0 for m in methods], "method": methods,
                             "population": 1000.0,
                             "population_covered": [250.0 if m == "network" else 900.0 for m in methods]})
    table = evaluate_indicators([spec("network_coverage", facility_type="elderly_day_care", target="≥20")],
                                facilities={}, households=None, gazetteer=GAZ, standard=Standard(),
                                catalogue=load_catalogue(), illustrative=False, coverage=coverage)
    row = table.iloc[0]
    if method == "straight_line":
        assert row["value"] == 90.0
        assert (row["status"], row["method"]) == ("参考", "straight-line")
        assert row["basis"].startswith("直线估算 straight-line estimate: share within 1000 m")
        assert row["meets_target"] is None
    else:
        assert row["value"] == 25.0
        assert (row["status"], row["method"]) == ("达标", "computed-spatial")


def test_coverage_from_approximate_locations_says_so() -> None:
    """Facilities placed at their village/township's point (a ledger without coordinates) are counted, and the
    15-minute row says its coverage is approximate (issue 13 item 8)."""
    coverage = pd.DataFrame({"level": "district", "code12": "500118000000", "facility_type": "elderly_day_care",
                             "threshold": [15.0], "method": ["network"], "population": 1000.0,
                             "population_covered": [250.0]})
    stations = pd.DataFrame({"facility_id": ["S1", "S2", "S3"], "code12": ["500118001001"] * 3,
                             "location_precision": ["point", "village", "township"]})
    table = evaluate_indicators([spec("network_coverage", facility_type="elderly_day_care", target="≥20")],
                                facilities={"elderly_day_care": stations}, households=None, gazetteer=GAZ,
                                standard=Standard(), catalogue=load_catalogue(), illustrative=False,
                                coverage=coverage)
    assert table["value"].tolist() == [25.0]
    basis = table["basis"].iloc[0]
    assert "1 facilities located only at their village's representative point counted" in basis
    assert "1 facilities located only to their township left out of network coverage" in basis


def test_admin_coverage_counts_facilities_located_by_name_by_their_unit() -> None:
    """A station placed at its community's point covers that community; one known only by its township (its code is
    the township's) covers no community, and the basis says how they were counted (issue 13 item 8)."""
    stations = pd.DataFrame({"facility_id": ["S1", "S2"], "code12": ["500118001001", "500118001000"],
                             "location_precision": ["village", "township"]})
    table = evaluate_indicators([spec("admin_share", facility_type="elderly_day_care", target="≥50")],
                                facilities={"elderly_day_care": stations}, households=None, gazetteer=GAZ,
                                standard=Standard(), catalogue=load_catalogue(), illustrative=False)
    row = table.iloc[0]
    assert (row["numerator"], row["denominator"], row["value"]) == (1.0, 2.0, 50.0)
    assert "2 facilities located by name counted by their division code" in row["basis"]
