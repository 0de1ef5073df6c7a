"""The sites a plan proposes: which indicator rows ask for new sites, the question each one asks once the sites
earlier rows proposed are counted, and the proposal that answers it (:func:`propose_rows`, called by
:func:`gisplan.workflows.plan.run_scenario`).
"""

from __future__ import annotations

import contextvars
import functools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import settings
from gisplan.analysis.indicators import administrative_coverage, populous_units, target_status
from gisplan.analysis.metrics import REGISTRY
from gisplan.analysis.precision import network_facilities, with_imprecise_sites
from gisplan.divisions import units_in_scope
from gisplan.errors import ConfigError, InfeasibleError
from gisplan.i18n import _
from gisplan.io.spatial import read_spatial
from gisplan.progress import Tick, silent
from gisplan.scenariocat import scenario_profiles
from gisplan.siting.arearule import propose_by_area
from gisplan.siting.proposals import (
    Proposal,
    SiteQuestion,
    division_codes,
    generate_candidates,
    inside_polygons,
    propose_sites,
)
from gisplan.vocab import Comparator, CoverageKind, Level, QuestionKind, Scope, SitingRule, Status

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.analysis.coverage import CoverageResult
    from gisplan.catalogue import Catalogue, FacilityType, Profile
    from gisplan.config import IndicatorSpec, Scenario
    from gisplan.network.graph import RoadNetwork
    from gisplan.periods import PeriodStatus
    from gisplan.progress import ProgressSink
    from gisplan.store import Workspace

__all__ = ["ROW_JOIN", "SITE_COLUMNS", "RunContext", "propose_rows"]


#: the columns of a proposed site that say which rows it serves and when it is built (issue 13 contract)
SITE_COLUMNS = ("site_id", "facility_type", "indicator_id", "indicator_ids", "rank", "year")
#: joins the rows a shared site serves in ``indicator_ids``
ROW_JOIN = "；"


@dataclass(frozen=True, slots=True, eq=False)
class _Ask:
    """What one row still asks for once the sites earlier rows proposed for its type are counted.

    Attributes
    ----------
    question : SiteQuestion or None
        None when the row needs no new site (the shared sites meet it).
    level : Level
        Division level of a ``units`` question.
    shared : ndarray of bool
        Which of the type's already proposed sites serve this row too.
    base, per_site : float
        The row's value with the shared sites, and what each new site adds (a count: 1; a share of divisions:
        100 / their number); a ``share`` question measures its value from the proposal instead.
    """

    question: SiteQuestion | None
    level: Level
    shared: NDArray[np.bool_]
    base: float
    per_site: float


def _unit_rule(spec: IndicatorSpec, ftype: FacilityType) -> Level | None:  # noqa: PLR0911 - one rule per case
    """The division level a count row is met in, one new site per division lacking one; None: MCLP.

    An explicit ``per_unit = false`` gives MCLP; ``siting_unit`` names the level; otherwise a row that names
    divisions (a township scope, a ``where.level``) is per unit, and so is a type counted only by division (no
    walking coverage in the catalogue) or placed by area.
    """
    if spec.per_unit is False:
        return None
    if spec.siting_unit is not None:
        return spec.siting_unit
    level = dict(spec.where).get("level")
    if level in {m.value for m in Level}:
        return Level(level)
    if spec.scope in {Scope.TOWNS, Scope.STREETS}:
        return Level.TOWNSHIP
    if spec.scope in {Scope.URBAN_COMMUNITIES, Scope.RURAL_VILLAGES}:
        return Level.VILLAGE
    if spec.per_unit or CoverageKind.NETWORK not in ftype.coverage or ftype.siting is SitingRule.AREA:
        return ftype.admin_level
    return None


def _matches(sites: pd.DataFrame, spec: IndicatorSpec, gazetteer: pd.DataFrame) -> NDArray[np.bool_]:
    """Which proposed sites count for a count row: those proposed with the same ``where`` values, in its scope."""
    ok = np.ones(len(sites), dtype=bool)
    for column, wanted in spec.where:
        ok &= sites["attrs"].astype(str).str.split("|").map(lambda a, c=column, v=wanted: f"{c}={v}" in a).to_numpy(
            dtype=bool)
    if spec.scope:
        towns = set(units_in_scope(gazetteer, level=Level.TOWNSHIP, scope=spec.scope)["code12"].astype(str))
        ok &= sites["township_code12"].astype(str).isin(towns).to_numpy(dtype=bool)
    return ok


def _as_facilities(sites: pd.DataFrame) -> pd.DataFrame:
    """Proposed sites as facility rows for :func:`administrative_coverage` (their village code, else township)."""
    codes = sites["village_code12"].where(sites["village_code12"].notna(), sites["township_code12"])
    return pd.DataFrame({"code12": codes.astype(object)})


def _ask(spec: IndicatorSpec, row: pd.Series, run: RunContext, ftype: FacilityType,
         planned: pd.DataFrame) -> _Ask:
    """What new sites a row that misses its target still asks for (its metric's question in the registry), once
    the sites earlier rows proposed for the same type are counted, and which of those serve it."""
    gazetteer, households = run.gazetteer, run.households
    value, target = float(row["value"]), float(row["target"])
    kind = REGISTRY[spec.metric].question
    none = np.zeros(len(planned), dtype=bool)
    layer = run.facilities.get(ftype.id, pd.DataFrame({"code12": []}))
    if kind is QuestionKind.SHARE:
        return _Ask(SiteQuestion(kind, min(1.0, target / 100.0)), Level.TOWNSHIP, ~none, value, float("nan"))
    if kind is QuestionKind.COUNT:
        shared = _matches(planned, spec, gazetteer) if len(planned) else none
        need = math.ceil(target - value - shared.sum() - 1e-9)
        base = value + float(shared.sum())
        level = _unit_rule(spec, ftype)
        if need <= 0:
            return _Ask(None, Level.TOWNSHIP, shared, base, 1.0)
        if level is None:
            return _Ask(SiteQuestion(kind, float(need)), Level.TOWNSHIP, shared, base, 1.0)
        scope = spec.scope or (ftype.admin_scope if level == ftype.admin_level else Scope.ALL)
        units = units_in_scope(gazetteer, level=level, scope=scope)
        for column, wanted in spec.where:
            layer = layer[layer[column].astype(str) == wanted] if column in layer else layer.iloc[:0]
        held = pd.concat([layer[["code12"]], _as_facilities(planned[shared])], ignore_index=True)
        has = administrative_coverage(held, units, level=level).to_numpy(dtype=bool)
        lacking = tuple(units["code12"].astype(str)[~has])
        if not lacking:  # every division holds one and the count is still short: where they reach most
            return _Ask(SiteQuestion(kind, float(need)), Level.TOWNSHIP, shared, base, 1.0)
        return _Ask(SiteQuestion(QuestionKind.UNITS, float(min(need, len(lacking))), lacking), level, shared, base, 1.0)
    units = units_in_scope(gazetteer, level=ftype.admin_level, scope=spec.scope or ftype.admin_scope)
    if spec.min_population is not None and households is not None:
        units = populous_units(units, households, spec.min_population, ftype.admin_level)
    before = administrative_coverage(layer, units, level=ftype.admin_level).to_numpy(dtype=bool)
    held = pd.concat([layer[["code12"]], _as_facilities(planned)], ignore_index=True)
    has = administrative_coverage(held, units, level=ftype.admin_level).to_numpy(dtype=bool)
    shared = none.copy()
    if len(planned) and (has & ~before).any():  # the proposed sites in divisions they newly cover serve this row
        newly = set(units["code12"].astype(str)[has & ~before])
        code = (planned["township_code12"] if ftype.admin_level == Level.TOWNSHIP else planned["village_code12"])
        shared = code.astype(str).isin(newly).to_numpy(dtype=bool)
    n = max(1, len(units))
    need = math.ceil(target / 100.0 * len(units) - has.sum() - 1e-9)
    lacking = tuple(units["code12"].astype(str)[~has])
    question = SiteQuestion(QuestionKind.UNITS, float(need), lacking) if need > 0 and lacking else None
    return _Ask(question, ftype.admin_level, shared, has.sum() / n * 100.0, 100.0 / n)


@dataclass(frozen=True, slots=True, eq=False)
class RunContext:
    """What :func:`propose_rows` needs of a scenario run, passed once.

    Attributes
    ----------
    specs : tuple of IndicatorSpec
        The plan rows, in the order of the indicator table.
    facilities : dict
        Facility type id → its existing facilities (planned ones left out).
    households, gazetteer : pandas.DataFrame
        As read from the workspace (`households` None without a households layer).
    coverage : CoverageResult
    gaps : geopandas.GeoDataFrame
        Uncovered areas of every measured type (planning CRS).
    network : RoadNetwork
    workspace : Workspace
        Read for the boundary polygons.
    scenario, catalogue
    names : dict
        Division code12 → name.
    period : PeriodStatus
        The plan period and the build years of the proposals.
    progress : ProgressSink
    """

    specs: tuple[IndicatorSpec, ...]
    facilities: dict[str, pd.DataFrame]
    households: pd.DataFrame | None
    gazetteer: pd.DataFrame
    coverage: CoverageResult
    gaps: gpd.GeoDataFrame
    network: RoadNetwork
    workspace: Workspace
    scenario: Scenario
    catalogue: Catalogue
    names: dict[str, str]
    period: PeriodStatus
    progress: ProgressSink = silent


def _proposable(spec: IndicatorSpec, row: pd.Series) -> bool:
    return (row["status"] == Status.NOT_MET and REGISTRY[spec.metric].question is not None
            and row["comparator"] in {Comparator.GE, Comparator.GT})


def propose_rows(table: pd.DataFrame, run: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New sites for every row that misses a numeric target it can be met by building; indicators after.

    Rows are taken in the plan's order. The sites proposed for a facility type are shared by the later rows of
    that type: they count towards those rows' targets (where they fall in the row's scope and match its
    ``where``), are kept open like existing facilities, and are never proposed again; a site serving several
    rows is one row of the result, its ``indicator_ids`` listing them all.

    The rows of one facility type form a chain (each row sees the sites the rows before it proposed); the
    chains of different types are independent and can run side by side on
    :func:`gisplan.settings.proposal_threads` threads (``GISPLAN_PROPOSAL_THREADS``, else every core).
    Their answers are put together in the rows' order, so the result is the same on any number of threads.
    """
    specs, scenario, catalogue, network = run.specs, run.scenario, run.catalogue, run.network
    layers = run.workspace.layer_names()
    # in the network's CRS once: every site lookup below then skips reprojecting the polygons
    towns = run.workspace.read_layer("townships").to_crs(network.crs) if "townships" in layers else None
    villages = run.workspace.read_layer("villages").to_crs(network.crs) if "villages" in layers else None
    profiles = scenario_profiles(scenario, catalogue)
    bounds = towns if towns is not None else (run.workspace.read_layer("district") if "district" in layers else None)
    # the district's polygons (not their union: inside_polygons tests points against them directly)
    outline = bounds.to_crs(network.crs).geometry.to_numpy() if bounds is not None else None
    out = table.copy()
    out["new_sites"] = np.nan
    out["value_after"] = np.nan
    out["status_after"] = ""
    asking = [i for i, spec in enumerate(specs) if _proposable(spec, out.iloc[i])]
    chains: dict[str, list[int]] = {}  # facility type → its rows, in the plan's order
    for i in asking:
        chains.setdefault(catalogue.get_type(str(specs[i].facility_type)).id, []).append(i)
    ticks = _Ticks(run.progress, len(asking))
    layers_of = _Layers(towns, villages, outline, profiles)
    shared = replace(run, progress=ticks.sink)

    def chain(rows: list[int]) -> _Chain:
        return _propose_chain(rows, out, shared, layers_of, ticks)

    workers = max(1, min(settings.proposal_threads(), len(chains)))
    if workers == 1:
        answers = [chain(rows) for rows in chains.values()]
    else:  # each task in a copy of this context: a Dask worker's settings.threads(1) holds in the threads too
        # the chains that solve a joint model (MCLP, LSCP: the longest) start first, the others fill in beside them
        order = sorted(chains, key=lambda t: not _joint(specs[chains[t][0]], catalogue.get_type(t)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gisplan-propose") as pool:
            futures = {t: pool.submit(contextvars.copy_context().run, chain, chains[t]) for t in order}
            try:
                answers = [futures[t].result() for t in chains]
            except BaseException:  # an error or Ctrl-C: the chains not yet started do not start
                for future in futures.values():
                    future.cancel()
                raise
    for answer in answers:
        for i, values in answer.rows:
            for column, value in values.items():
                out.loc[out.index[i], column] = value
    run.progress(Tick("proposals", len(asking), len(asking)))
    # the types in the order their first sites were proposed, as when the rows ran one after the other
    frames = [a.sites for a in sorted(answers, key=lambda a: a.first) if a.sites is not None and len(a.sites)]
    if not frames:
        return out, pd.DataFrame()
    proposals = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    proposals = proposals.drop(columns="attrs").astype({"year": "int64", "rank": "int64", "rule_met": bool})
    first = [c for c in SITE_COLUMNS if c in proposals]
    return out, proposals[first + [c for c in proposals.columns if c not in first]]


def _joint(spec: IndicatorSpec, ftype: FacilityType) -> bool:
    """Whether a row asks for a joint model over the whole district (MCLP for a count not met per division,
    LSCP for a share) rather than one site per division or the area rule."""
    kind = REGISTRY[spec.metric].question
    return kind is QuestionKind.SHARE or (kind is QuestionKind.COUNT and _unit_rule(spec, ftype) is None)


class _Ticks:
    """The proposals' progress, told by any thread: one tick at a time, each row's start counted once."""

    def __init__(self, progress: ProgressSink, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0
        self.lock = threading.Lock()

    def sink(self, tick: Tick, /) -> None:
        with self.lock:
            self.progress(tick)

    def start(self, indicator_id: str) -> None:
        with self.lock:
            self.progress(Tick("proposals", self.done, self.total, indicator_id))
            self.done += 1


@dataclass(frozen=True, slots=True, eq=False)
class _Layers:
    """What every row's solve reads: townships and villages and the district's polygons in the network's CRS,
    and the scenario's travel profiles."""

    towns: gpd.GeoDataFrame | None
    villages: gpd.GeoDataFrame | None
    outline: NDArray[np.object_] | None
    profiles: dict[str, Profile]


@dataclass(frozen=True, slots=True, eq=False)
class _Chain:
    """The answers of one facility type's rows: each row's ``new_sites``, ``value_after`` and ``status_after``
    (by position in the indicator table), the type's proposed sites (None: none) and the position of the first
    row that proposed one (for the order of the types in the result)."""

    rows: list[tuple[int, dict[str, float | str]]]
    sites: gpd.GeoDataFrame | None
    first: float


def _propose_chain(rows: list[int], table: pd.DataFrame, run: RunContext, layers: _Layers, ticks: _Ticks) -> _Chain:
    """The rows of one facility type, one after the other (each counts the sites the rows before it proposed);
    `table` is only read."""
    specs, catalogue = run.specs, run.catalogue
    planned: gpd.GeoDataFrame | None = None  # the type's sites proposed so far, in EPSG:4326
    first = math.inf
    answers: list[tuple[int, dict[str, float | str]]] = []
    for i in rows:
        spec, row = specs[i], table.iloc[i]
        ticks.start(spec.indicator_id)
        ftype = catalogue.get_type(str(spec.facility_type))
        before = planned if planned is not None else _no_sites()
        ask = _ask(spec, row, run, ftype, before)
        new = _no_sites()
        proposal = None
        if ask.question is not None:
            try:
                proposal = _solve(spec, ftype, ask, run, before, towns=layers.towns, villages=layers.villages,
                                  outline=layers.outline, profiles=layers.profiles)
            except InfeasibleError as exc:
                answers.append((i, {"status_after": f"not proposed: {exc}"}))
                continue
            new = _annotate(proposal, spec, ftype.id, run.period)
            new = with_imprecise_sites(new, run.facilities.get(ftype.id, pd.DataFrame()))
        if len(before) and ask.shared.any():
            before.loc[ask.shared, "indicator_ids"] += ROW_JOIN + spec.indicator_id
        k = len(new)
        if ask.question is not None and ask.question.kind is QuestionKind.SHARE and proposal is not None:
            after = proposal.covered_after / proposal.total * 100.0 if proposal.total else np.nan
        else:
            after = ask.base + ask.per_site * k
        status = target_status(after, spec.target_2025, spec.comparator)
        status_after = status if not len(new) or new["rule_met"].all() else (
            f"{status}; {int((~new['rule_met'].astype(bool)).sum())} site(s) with more than 1% of their "
            f"division's residents within {_min_distance(spec, ftype):g} m: no candidate keeps the distance there")
        if "imprecise_in_unit" in new and (new["imprecise_in_unit"] > 0).any():
            status_after += (
                f"; {int((new['imprecise_in_unit'] > 0).sum())} site(s) in a unit holding a facility of the type "
                "located by name only (siting_note): check its real place before building")
        answers.append((i, {"new_sites": k, "value_after": after, "status_after": status_after}))
        if len(new):
            first = min(first, i)
            planned = gpd.GeoDataFrame(pd.concat([before, new], ignore_index=True), geometry="geometry",
                                       crs="EPSG:4326")
    return _Chain(answers, planned, first)


def _no_sites() -> gpd.GeoDataFrame:
    return _empty_sites().copy()  # a copy of one frame: building a GeoDataFrame takes 6 ms, 24 times a run


@functools.cache
def _empty_sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"site_id": pd.Series(dtype=object), "candidate_id": pd.Series(dtype=object),
                             "indicator_ids": pd.Series(dtype=object), "township_code12": pd.Series(dtype=object),
                             "village_code12": pd.Series(dtype=object), "attrs": pd.Series(dtype=object)},
                            geometry=[], crs="EPSG:4326")


def _min_distance(spec: IndicatorSpec, ftype: FacilityType) -> float:
    return spec.min_distance_m if spec.min_distance_m is not None else ftype.min_distance_m


def _solve(  # noqa: PLR0913 - the row, its question and the layers, keyword-only
        spec: IndicatorSpec, ftype: FacilityType, ask: _Ask, run: RunContext, before: gpd.GeoDataFrame, *,
           towns: gpd.GeoDataFrame | None, villages: gpd.GeoDataFrame | None, outline: NDArray[np.object_] | None,
           profiles: dict[str, Profile]) -> Proposal:
    """The new sites of one row: candidates in its area (inside the district, none already proposed), then the
    area rule or the exact model its question calls for; the type's proposed sites are kept open."""
    assert ask.question is not None
    question, level, network, scenario = ask.question, ask.level, run.network, run.scenario
    within = _candidate_area(question, level, spec, ftype.id, towns, villages, run.gaps, run.gazetteer)
    candidates = _candidates(network, within, scenario)
    if outline is not None:  # the network reaches past the district: no site outside it
        cxy = shapely.get_coordinates(candidates.geometry.to_numpy())
        candidates = candidates[inside_polygons(outline, cxy[:, 0], cxy[:, 1])]
    candidates = candidates[~candidates["candidate_id"].astype(str).isin(set(before["candidate_id"].astype(str)))]
    if question.kind is QuestionKind.UNITS and within is not None and scenario.coverage.candidates is None:
        candidates = _with_unit_points(candidates, within, question.lacking, level, towns, villages)
    if ftype.siting is SitingRule.AREA and question.kind is QuestionKind.UNITS:
        return propose_by_area(question, demand=run.coverage.demand, candidates=candidates,
                               min_distance_m=_min_distance(spec, ftype), unit_level=level, weight=spec.weight,
                               townships=towns, villages=villages, names=run.names)
    # kept open as the models' fixed sites: not those located only to their township (they walk to no one)
    existing = network_facilities(gpd.GeoDataFrame(run.facilities.get(ftype.id,
                                                                      gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"))))
    if len(before):  # the sites earlier rows proposed are built too
        kept = gpd.GeoDataFrame({"facility_id": "planned:" + before["site_id"].astype(str)},
                                geometry=before.geometry.to_numpy(), crs=before.crs)
        kept = kept.to_crs(existing.crs) if existing.crs is not None else kept
        existing = gpd.GeoDataFrame(pd.concat([existing[["facility_id", "geometry"]] if "facility_id" in existing
                                               else existing[["geometry"]], kept], ignore_index=True),
                                    geometry="geometry", crs=kept.crs)
    minutes = spec.minutes if spec.minutes is not None else ftype.max_minutes
    profile, max_snap_m = profiles[ftype.profile], scenario.coverage.max_snap_m
    return propose_sites(
        question, network=network, profile=profile, demand=run.coverage.demand,
        existing=existing, candidates=candidates, threshold_minutes=minutes, weight=spec.weight,
        townships=towns, villages=villages, unit_level=level, names=run.names,
        max_snap_m=max_snap_m, time_limit_s=scenario.coverage.solver_time_limit_s,
        progress=run.progress, own_unit=CoverageKind.NETWORK not in ftype.coverage,
        demand_snap=run.coverage.demand_snap(profile, max_snap_m),  # the coverage's: not snapped again
    )


def _with_unit_points(candidates: gpd.GeoDataFrame, within: gpd.GeoDataFrame, lacking: tuple[str, ...], level: Level,
                      towns: gpd.GeoDataFrame | None, villages: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """The candidates plus, for each lacking division holding none (no road node inside it), a point inside its
    polygon (``P<code12>``; snapped to the nearest road like any site)."""
    polys = towns if level is Level.TOWNSHIP else villages
    held = set(division_codes(candidates.geometry, polys)) if len(candidates) else set()
    empty = within[within["code12"].astype(str).isin(set(lacking) - held)]
    if empty.empty or candidates.crs is None:
        return candidates
    points = gpd.GeoDataFrame({"candidate_id": "P" + empty["code12"].astype(str).to_numpy()},
                              geometry=shapely.point_on_surface(empty.to_crs(candidates.crs).geometry.to_numpy()),
                              crs=candidates.crs)
    return gpd.GeoDataFrame(pd.concat([candidates, points], ignore_index=True), geometry="geometry",
                            crs=candidates.crs)


def _annotate(proposal: Proposal, spec: IndicatorSpec, type_id: str, period: PeriodStatus) -> gpd.GeoDataFrame:
    """The proposal's sites with their stable ``site_id``, the row, the solver's status, bound and gap, a build
    year (phased order spread over the period's build years) and the covered share of the row's weight after
    each site."""
    sel = proposal.selection
    sites = proposal.sites.assign(site_id=type_id + ":" + proposal.sites["candidate_id"].astype(str),
                                  indicator_id=spec.indicator_id, indicator_ids=spec.indicator_id,
                                  facility_type=type_id, model=sel.model, solver_status=sel.status,
                                  solver_bound=sel.bound, solver_gap=sel.gap)
    if "rule_met" not in sites:
        sites["rule_met"] = True
    build = np.asarray(period.years)
    sites["year"] = build[np.minimum(len(build) - 1, (np.arange(len(sites)) * len(build)) // max(1, len(sites)))]
    sites["period_phase"] = str(period.phase)
    sites["proposal_period"] = f"{period.proposal_period[0]}–{period.proposal_period[1]}"
    if proposal.total and not math.isnan(proposal.covered_before):
        # the row's own weight, cumulated in build order
        added = sites[f"{spec.weight}_added"].to_numpy(dtype=float)
        sites["covered_share_after"] = (proposal.covered_before + np.cumsum(np.nan_to_num(added))) / proposal.total
    sites["attrs"] = "|".join(f"{k}={v}" for k, v in spec.where)
    return sites


def _candidates(network: RoadNetwork, within: gpd.GeoDataFrame | None, scenario: Scenario) -> gpd.GeoDataFrame:
    """The user's candidate layer (inside `within`), or road nodes generated there."""
    cov = scenario.coverage
    if cov.candidates is not None:
        layer = read_spatial(cov.candidates)
        if layer.crs is None:
            msg = _("{name}: the candidate layer has no CRS; save it with one (EPSG:4326 …).").format(
                    name=cov.candidates.name)
            raise ConfigError(msg)
        if "candidate_id" not in layer:
            msg = _("{name}: the candidate layer needs a `candidate_id` column.").format(name=cov.candidates.name)
            raise ConfigError(msg)
        layer = layer.to_crs(network.crs)
        if within is not None:
            xy = shapely.get_coordinates(shapely.point_on_surface(layer.geometry.to_numpy()))
            layer = layer[inside_polygons(within.to_crs(network.crs).geometry.to_numpy(), xy[:, 0], xy[:, 1])]
        return gpd.GeoDataFrame(layer[["candidate_id", "geometry"]].astype({"candidate_id": str}),
                                geometry="geometry", crs=network.crs)
    exclusions = read_spatial(cov.exclusions) if cov.exclusions is not None else None
    return generate_candidates(network, within=within, spacing_m=cov.candidate_spacing_m, exclusions=exclusions,
                               mask=cov.candidate_mask)


def _candidate_area(question: SiteQuestion, level: Level, spec: IndicatorSpec, type_id: str,
                    towns: gpd.GeoDataFrame | None, villages: gpd.GeoDataFrame | None, gaps: gpd.GeoDataFrame,
                    gazetteer: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """Where candidates are generated: the lacking divisions, the townships in the row's scope, or the
    type's uncovered areas."""
    if question.kind is QuestionKind.UNITS:
        polys = towns if level is Level.TOWNSHIP else villages
        if polys is None:
            return None
        return polys[polys["code12"].astype(str).isin(set(question.lacking))]
    if spec.scope and towns is not None:
        scope = set(units_in_scope(gazetteer, level=Level.TOWNSHIP, scope=spec.scope)["code12"])
        return towns[towns["code12"].astype(str).isin(scope)]
    mine = gaps[gaps["facility_type"] == type_id] if len(gaps) else gaps
    return mine if len(mine) else None
