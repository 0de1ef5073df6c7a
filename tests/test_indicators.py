"""Indicator definitions of DOMAIN.md, on hand-countable inputs."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from gisplan.analysis.indicators import (
    administrative_coverage,
    bed_shares,
    floor_area_per_100_households,
)
from gisplan.analysis.metrics import evaluate_indicators
from gisplan.catalogue import load_catalogue
from gisplan.config import IndicatorSpec, Standard
from gisplan.divisions import units_in_scope
from gisplan.toponym import match_units, name_suggestions
from gisplan.vocab import Level, Scope

GAZ = pd.DataFrame({
    "code12": ["500118000000", "500118001000", "500118100000", "500118101000",
               "500118001001", "500118100001", "500118100002"],
    "name": ["永川区", "中山路街道", "青峰镇", "金龙镇", "中山路社区居民委员会", "青峰村民委员会", "石梯村民委员会"],
})


def test_units_in_scope() -> None:
    assert units_in_scope(GAZ, level="township")["name"].tolist() == ["中山路街道", "青峰镇", "金龙镇"]
    assert units_in_scope(GAZ, level="township", scope="towns")["name"].tolist() == ["青峰镇", "金龙镇"]
    assert units_in_scope(GAZ, level="village", scope="urban_communities")["code12"].tolist() == ["500118001001"]
    assert len(units_in_scope(GAZ, level="village", scope="rural_villages")) == 2
    assert units_in_scope(GAZ, level=Level.TOWNSHIP, scope=Scope.STREETS)["name"].tolist() == ["中山路街道"]
    with pytest.raises(ValueError, match=r"`scope` must be one of all, towns, streets, urban_communities, "
                                         r"rural_villages \(got 'cities'\)"):
        units_in_scope(GAZ, level="township", scope="cities")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`level` must be one of township, village \(got 'county'\)"):
        units_in_scope(GAZ, level="county")  # type: ignore[arg-type]


def test_administrative_coverage_counts_village_codes_for_their_township() -> None:
    towns = units_in_scope(GAZ, level="township")
    fac = pd.DataFrame({"code12": ["500118100002", "500118100000", None]})
    has = administrative_coverage(fac, towns, level="township")
    assert has.tolist() == [False, True, False]
    assert has.index.equals(towns.index)
    assert has.name == "has_facility"


def test_floor_area_per_100_households() -> None:
    hh = pd.DataFrame({"code12": ["a", "b", "c", "d"], "households": [1000, 500, 0, 300]}, index=[10, 11, 12, 13])
    centres = pd.DataFrame({"code12": ["a", "a", "c", "d"], "floor_area_m2": [200.0, 100.0, 50.0, 89.9]})
    per100 = floor_area_per_100_households(centres, hh)
    assert per100.index.equals(hh.index)
    assert per100.loc[10] == 30.0
    assert per100.loc[11] == 0.0
    assert math.isnan(per100.loc[12])
    assert per100.loc[13] < 30.0


def test_bed_shares() -> None:
    inst = pd.DataFrame({"beds": [100, 300, 100], "nursing_beds": [60, 120, 0],
                         "operator": ["government", "private", "government"], "quality_ok": [True, None, True]})
    s = bed_shares(inst)
    assert (s.beds, s.nursing_beds, s.government_beds, s.quality_ok) == (500, 180, 200, 2)
    assert s.nursing_share == 0.36
    assert s.government_share == 0.4
    assert math.isnan(bed_shares(inst.iloc[:0]).nursing_share)


def test_name_suggestions() -> None:
    towns = GAZ["name"].iloc[1:4]
    assert name_suggestions("中山路街道办事处", towns)[0] == "中山路街道"
    assert name_suggestions("青峰镇人民政府", towns)[0] == "青峰镇"
    assert name_suggestions("金笼镇", towns)[0] == "金龙镇"


def test_match_names_scoped_and_ambiguous() -> None:
    gaz = pd.DataFrame({"code12": ["500118100001", "500118101001", "500118101002"],
                        "name": ["新华村民委员会", "新华村民委员会", "红旗社区居民委员会"]})
    names = pd.Series(["新华村", "新华村", "红旗社区", "红旗社区居民委员会", None, "火星村"])
    within = pd.Series([None, "500118101", None, "500118101", None, None])
    codes, ambiguous = match_units(names, gaz, within=within)
    assert [c if isinstance(c, str) else None for c in codes] == [
        None, "500118101001", "500118101002", "500118101002", None, None]
    assert ambiguous.tolist() == [True, False, False, False, False, False]


def _spec(row: str, metric: str, **kw: str) -> IndicatorSpec:
    return IndicatorSpec(row=row, name_zh=row, unit="%", baseline_2020="——", target_2025=kw.pop("target", "100"),
                         nature="", metric=metric, **kw)


def _evaluate(specs: list[IndicatorSpec], facilities: dict[str, pd.DataFrame],
              households: pd.DataFrame | None) -> pd.DataFrame:
    return evaluate_indicators(specs, facilities=facilities, households=households, gazetteer=GAZ,
                               standard=Standard(), catalogue=load_catalogue(), illustrative=False).set_index("row")


def test_floor_area_needs_households_for_every_community() -> None:
    centres = pd.DataFrame({"facility_id": ["c1", "c2"], "code12": ["500118100001", "500118100002"],
                            "floor_area_m2": [300.0, 100.0]})
    partial = pd.DataFrame({"code12": ["500118100001"], "households": [1000]})
    full = pd.DataFrame({"code12": ["500118100001", "500118100002"], "households": [1000, 500]})
    spec = [_spec("7", "floor_area_compliance", scope="rural_villages")]
    t = _evaluate(spec, {"community_service_centre": centres}, partial)
    assert t.loc["7", "basis"] == "not computed: 1 of 2 villages/communities have no row in the `households` layer"
    assert math.isnan(t.loc["7", "value"])
    t = _evaluate(spec, {"community_service_centre": centres}, full)
    assert (t.loc["7", "numerator"], t.loc["7", "denominator"], t.loc["7", "value"]) == (1, 2, 50.0)
    assert t.loc["7", "meets_target"] == False  # noqa: E712


def test_planned_facilities_are_not_baseline() -> None:
    cem = pd.DataFrame({"code12": ["500118100000", "500118101000"], "status": ["existing", "planned"]})
    tec = pd.DataFrame({"code12": ["500118100000"], "status": [None]})
    t = _evaluate([_spec("12", "admin_share", facility_type="public_cemetery", scope="towns"),
                   _spec("16", "admin_share", facility_type="township_elderly_centre")],
                  {"public_cemetery": cem, "township_elderly_centre": tec}, None)
    assert (t.loc["12", "numerator"], t.loc["12", "denominator"]) == (1, 2)
    assert t.loc["12", "basis"] == "computed; 1 planned facilities left out"
    assert t.loc["16", "basis"] == "computed"


def test_quality_share_needs_every_value_and_host_share_needs_both_layers() -> None:
    inst = pd.DataFrame({"beds": [100, 100], "nursing_beds": [60, 60], "operator": ["government", "private"],
                         "quality_ok": [True, None]})
    centres = pd.DataFrame({"facility_id": ["c1"], "code12": ["500118100001"], "floor_area_m2": [1.0]})
    t = _evaluate([_spec("14", "quality_share"), _spec("13", "nursing_bed_share", target="≥60"),
                   _spec("10", "host_share", facility_type="volunteer_service_point")],
                  {"elderly_institution": inst, "community_service_centre": centres}, None)
    assert t.loc["14", "basis"] == "not computed: 1 of 2 institutions have no `quality_ok` value"
    assert t.loc["13", "value"] == 60.0
    assert t.loc["13", "meets_target"] == True  # noqa: E712
    assert t.loc["10", "basis"] == "not computed: the workspace has no `facilities_volunteer_service_point` layer"
