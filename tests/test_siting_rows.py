"""Siting per plan row and plan periods (issue 13 item 4, issue 17 item 3): per-unit rows place one site per
division that lacks one, rows asking for the same type share their sites, cemeteries and funeral stations
follow the area rule, build years lie in the proposal period and never before the run's year."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisplan import settings
from gisplan.catalogue import load_catalogue
from gisplan.config import (
    CoverageSettings,
    IndicatorSpec,
    Scenario,
    Standard,
    load_scenario,
)
from gisplan.errors import ConfigError, ConfigFileError
from gisplan.periods import current_period, period_status
from gisplan.siting.arearule import AREA_RULE_STATUS, propose_by_area
from gisplan.siting.models import mclp
from gisplan.siting.proposals import SiteQuestion
from gisplan.vocab import Level, PeriodPhase, QuestionKind
from gisplan.workflows.proposing import ROW_JOIN, _unit_rule
from tests.conftest import YONGCHUAN_RUN_DATE
from tests.test_reduce import clustered_table

if TYPE_CHECKING:
    from gisplan.progress import Tick

ROOT = Path(__file__).resolve().parents[1]


def _scenario(period: tuple[int, int] | None = (2021, 2025), years: tuple[int, ...] = ()) -> Scenario:
    return Scenario("x", "500118", "EPSG:32648", Path("w.gpkg"), (), None, Standard(), (), period=period,
                    baseline_year=None if period is None else period[0] - 1, coverage=CoverageSettings(years=years))


@pytest.mark.parametrize(("today", "phase", "proposal", "years"), [
    (date(2026, 3, 1), PeriodPhase.ENDED, (2026, 2030), (2026, 2027, 2028, 2029, 2030)),  # 十四五 终期评估
    (date(2023, 6, 1), PeriodPhase.CURRENT, (2021, 2025), (2023, 2024, 2025)),  # from the run's year on
    (date(2020, 6, 1), PeriodPhase.CURRENT, (2021, 2025), (2021, 2022, 2023, 2024, 2025)),  # before it starts
    (date(2025, 12, 31), PeriodPhase.CURRENT, (2021, 2025), (2025,)),
    (date(2032, 1, 1), PeriodPhase.ENDED, (2031, 2035), (2032, 2033, 2034, 2035)),  # two periods on
])
def test_period_status(today: date, phase: PeriodPhase, proposal: tuple[int, int], years: tuple[int, ...]) -> None:
    st = period_status(_scenario(), today)
    assert st.phase is phase
    assert st.proposal_period == proposal
    assert st.years == years
    assert st.baseline_year == 2020
    assert ("终期评估" in st.note) is (phase is PeriodPhase.ENDED)


def test_period_defaults_and_given_years() -> None:
    st = period_status(_scenario(period=None), date(2027, 5, 1))  # no period: the Five-Year Plan of the year
    assert st.period == (2026, 2030)
    assert st.baseline_year == 2025
    assert current_period(2021) == (2021, 2025)
    # a scenario's own build years: those before the run's year are dropped
    assert period_status(_scenario(years=(2024, 2026, 2028)), date(2026, 1, 1)).years == (2026, 2028)


def test_today_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.TODAY_ENV, "2026-03-01")
    assert settings.today() == date(2026, 3, 1)
    monkeypatch.setenv(settings.TODAY_ENV, "March 2026")
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        settings.today()


def test_scenario_period_keys(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "yongchuan-2025.toml").read_text(encoding="utf-8")
    sc = load_scenario(ROOT / "scenarios" / "yongchuan-2025.toml")
    assert sc.period == (2021, 2025)
    assert sc.baseline_year == 2020
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("baseline_year = 2020", "baseline_year = 2021").replace(
        "period = [2021, 2025]", "period = [2025, 2021]"), encoding="utf-8")
    with pytest.raises(ConfigFileError) as err:
        load_scenario(bad)
    assert "[first year, last year]" in str(err.value)
    both = tmp_path / "both.toml"
    both.write_text(text.replace('target_2025 = "≥90"\n', 'target_2025 = "≥90"\ntarget = "≥95"\n', 1),
                    encoding="utf-8")
    with pytest.raises(ConfigFileError, match="both `target` and `target_2025`"):
        load_scenario(both)


def test_the_15th_plan_template_loads() -> None:
    sc = load_scenario(ROOT / "scenarios" / "yongchuan-2030.toml")
    assert sc.period == (2026, 2030)
    assert sc.baseline_year == 2025
    st = period_status(sc, date(2026, 3, 1))
    assert st.phase is PeriodPhase.CURRENT
    assert st.years == (2026, 2027, 2028, 2029, 2030)
    rows = {s.indicator_id: s for s in sc.indicators}
    assert rows["YC-1-12"].target_2025 == "100"  # `target` fills the row's target


def _spec(**kw: object) -> IndicatorSpec:
    base: dict[str, object] = {"row": "1", "name_zh": "x", "unit": "个", "baseline_2020": "", "target_2025": "≥1",
                               "nature": "", "metric": "facility_count", "facility_type": "t"}
    return IndicatorSpec(**(base | kw))  # type: ignore[arg-type]


def test_which_count_rows_are_per_unit() -> None:
    cat = load_catalogue()
    day_care, centre = cat.get_type("elderly_day_care"), cat.get_type("township_elderly_centre")
    rooms, cemetery = cat.get_type("social_work_station"), cat.get_type("public_cemetery")
    assert _unit_rule(_spec(), day_care) is None  # a count of a walking-catchment type: MCLP
    assert _unit_rule(_spec(scope="towns"), centre) is Level.TOWNSHIP  # 镇级养老服务中心 ≥ 16: one per town
    assert _unit_rule(_spec(where=(("level", "village"),)), rooms) is Level.VILLAGE  # 村（社区）社会工作室
    assert _unit_rule(_spec(), cat.get_type("rural_mutual_aid_elderly")) is Level.VILLAGE  # counted by division
    assert _unit_rule(_spec(), cemetery) is Level.TOWNSHIP  # area siting
    assert _unit_rule(_spec(per_unit=False, scope="towns"), centre) is None
    assert _unit_rule(_spec(siting_unit=Level.VILLAGE), day_care) is Level.VILLAGE


def test_cemetery_siting_rule_in_the_catalogue() -> None:
    cat = load_catalogue()
    for type_id, metres in (("public_cemetery", 500.0), ("funeral_service_station", 200.0)):
        ftype = cat.get_type(type_id)
        assert str(ftype.siting) == "area"
        assert ftype.min_distance_m == metres
        assert "assumption" in ftype.min_distance_source
    assert str(cat.get_type("elderly_day_care").siting) == "coverage"


def test_area_rule_keeps_away_from_homes() -> None:
    """Two divisions side by side; homes in the west half of each. The site is the candidate nearest the homes'
    centre among those with at most 1 % of the residents within the distance; where none is, the fewest."""
    crs = "EPSG:32648"
    towns = gpd.GeoDataFrame({"code12": ["500118100000", "500118101000"]},
                             geometry=[shapely.box(0, 0, 3000, 3000), shapely.box(3000, 0, 6000, 3000)], crs=crs)
    hx = np.r_[np.linspace(200, 900, 8), np.linspace(3100, 5900, 8)]
    homes = gpd.GeoDataFrame({"population": np.r_[np.full(8, 100.0), np.full(8, 100.0)],
                              "township_code12": ["500118100000"] * 8 + ["500118101000"] * 8},
                             geometry=shapely.points(np.c_[hx, np.full(16, 1500.0)]), crs=crs)
    cands = gpd.GeoDataFrame({"candidate_id": ["A", "B", "C", "D"]},
                             geometry=shapely.points([(1000, 1500), (1700, 1500), (2900, 2900), (4500, 1600)]),
                             crs=crs)
    q = SiteQuestion(QuestionKind.UNITS, 2, ("500118100000", "500118101000"))
    got = propose_by_area(q, demand=homes, candidates=cands, min_distance_m=500, townships=towns)
    sites = got.sites.set_index("candidate_id")
    assert sorted(sites.index) == ["B", "D"]  # A is 100 m from homes; B 800 m, nearer the centre than C
    assert bool(sites.loc["B", "rule_met"])
    assert not bool(sites.loc["D", "rule_met"])  # homes all along the east division: no candidate keeps 500 m
    assert got.selection.status == AREA_RULE_STATUS
    assert got.selection.model == "area_rule"
    one = propose_by_area(SiteQuestion(QuestionKind.UNITS, 1, q.lacking), demand=homes, candidates=cands,
                          min_distance_m=500, townships=towns)
    assert len(one.sites) == 1  # fewer than lacking: the most populous division first (a tie: by code)


def test_solver_reports_progress() -> None:
    ticks: list[Tick] = []
    result = mclp(clustered_table(3), p=4, cutoff=600, progress=ticks.append)
    assert ticks
    last = ticks[-1]
    assert last.stage == "mclp"
    assert last.message == "Optimal"
    assert last.solver is not None
    assert last.solver.gap == pytest.approx(0.0, abs=1e-9)
    assert last.solver.incumbent is not None
    assert last.solver.elapsed_s >= 0.0
    assert result.status == "Optimal"


# -- acceptance on the 永川 demo (real roads; the run of the `yongchuan_run` fixture) ---------------------------

PER_UNIT_TYPES = {  # facility type -> the division each new site must be alone in
    "minor_protection_station": "township_code12", "public_cemetery": "township_code12",
    "township_elderly_centre": "township_code12", "funeral_service_station": "township_code12",
    "rural_mutual_aid_elderly": "village_code12",
}


def test_yongchuan_sites_per_row(yongchuan_run: tuple[Path, Path, Path, str]) -> None:
    scenario, _, out, printed = yongchuan_run
    sites = pd.read_csv(out / "proposed_sites.csv", dtype={"township_code12": str, "village_code12": str})
    # one row per physical site per type: no candidate proposed twice for one type
    assert not sites.duplicated(["facility_type", "candidate_id"]).any()
    assert sites["site_id"].is_unique
    assert not sites.duplicated(["indicator_id", "rank"]).any()  # ranks unique within their row
    # one site per division for the per-unit rows (the 14 town cemeteries once, not twice)
    for type_id, column in PER_UNIT_TYPES.items():
        mine = sites[sites["facility_type"] == type_id]
        assert len(mine), type_id
        assert mine[column].is_unique, type_id
    works = sites[sites["facility_type"] == "social_work_station"]
    stations = works[works["indicator_id"] == "YC-6-SOCIAL-WORK-STATIONS"]
    rooms = works[works["indicator_id"] == "YC-6-SOCIAL-WORK-ROOMS"]
    assert stations["township_code12"].is_unique
    assert rooms["village_code12"].is_unique
    assert len(rooms) == 263  # 村（社区）社会工作室全覆盖: ≥ 263, one per village or community
    cemeteries = sites[sites["facility_type"] == "public_cemetery"]
    shared = cemeteries[cemeteries["indicator_ids"] == f"YC-1-12{ROW_JOIN}YC-9-TOWN-CEMETERIES"]
    assert len(shared) == 14  # proposed once for YC-1-12, serving YC-9-TOWN-CEMETERIES too
    assert len(cemeteries) == 15  # and the one urban cemetery of YC-9-URBAN-CEMETERY
    assert (cemeteries["model"] == "area_rule").all()
    assert cemeteries["rule_met"].all()  # each keeps 500 m from homes (≤ 1 % of its town's residents within)
    assert not shared["township"].str.endswith("街道").any()  # rural cemeteries in the towns, not the city core
    centres = sites[sites["facility_type"] == "township_elderly_centre"]
    assert centres["township_code12"].is_unique  # YC-1-16, STREET- and TOWN-CENTRES: never two in one township
    indicators = pd.read_csv(out / "indicators.csv").set_index("indicator_id")
    assert indicators.loc["YC-11-TOWN-CENTRES", "status_after"] == "达标"
    assert indicators.loc["YC-1-11", "value"] == pytest.approx(26.1, abs=0.05)  # the 示意 layer: 6 of 23
    assert indicators.loc["YC-1-11", "new_sites"] == 17
    # build years: the 十四五 period ended before the run's date, so the next period, never before the run
    st = period_status(load_scenario(scenario), date.fromisoformat(YONGCHUAN_RUN_DATE))
    assert st.proposal_period == (2026, 2030)
    assert sites["year"].between(*st.proposal_period).all()
    assert (sites["year"] >= date.fromisoformat(YONGCHUAN_RUN_DATE).year).all()
    assert (sites["period_phase"] == "终期评估").all()
    assert "终期评估" in printed
    # every proposal solved to optimality (or placed by rule), with HiGHS's status, bound and gap
    solved = sites[sites["model"] != "area_rule"]
    assert (solved["solver_status"] == "Optimal").all()
    assert (solved["solver_gap"] <= 1e-9).all()
    assert solved["solver_bound"].notna().all()
