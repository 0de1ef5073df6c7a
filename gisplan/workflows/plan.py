"""`gisplan run` as a workflow: the whole plan for a scenario — indicators with their status,
coverage gaps, divisions lacking a facility and the new sites that close each gap.

Callable without the CLI (no click, no sys.exit), so Dask workers can run it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.analysis.gaps import GAP_COLUMNS, admin_gaps, coverage_gaps
from gisplan.analysis.indicators import (
    administrative_coverage,
    existing_only,
    floor_area_table,
    populous_units,
    target_status,
)
from gisplan.analysis.metrics import REGISTRY, evaluate_indicators
from gisplan.config import scenario_profiles
from gisplan.divisions import units_in_scope
from gisplan.errors import ConfigError, InfeasibleError, NetworkError, Problem, SchemaError
from gisplan.io.spatial import read_spatial
from gisplan.io.tables import read_table
from gisplan.laps import Laps
from gisplan.progress import ProgressSink, Tick, silent
from gisplan.siting.proposals import Proposal, SiteQuestion, generate_candidates, propose_sites
from gisplan.vocab import Comparator, CoverageMethod, Level, Metric, QuestionKind, Status
from gisplan.workflows.coverage import coverage_for_scenario, scenario_network

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from gisplan.analysis.coverage import CoverageResult
    from gisplan.catalogue import Catalogue
    from gisplan.config import IndicatorSpec, Scenario
    from gisplan.network.graph import RoadNetwork
    from gisplan.store import Workspace

__all__ = ["STRAIGHT_LINE_NOTE", "RunResult", "apply_reported_values", "run_scenario"]

logger = logging.getLogger(__name__)

#: what a run without roads says once, beside its straight-line 15-minute estimates
STRAIGHT_LINE_NOTE = (
    "15分钟指标为直线估算（参考），不是路网覆盖 — 15-minute rows are straight-line estimates (status 参考), not "
    "network coverage, because the workspace has no roads. For network coverage: `gisplan roads fetch SCENARIO` "
    "when online, or an OpenStreetMap extract (.osm.pbf) downloaded elsewhere, or your own road layer, as the "
    "scenario's [roads] path.")


@dataclass(frozen=True, slots=True, eq=False)
class RunResult:
    """Everything `gisplan run` computes for a scenario.

    Attributes
    ----------
    indicators : pandas.DataFrame
        The plan's indicator table (:func:`gisplan.analysis.indicators.evaluate_indicators`).
    coverage : CoverageResult or None
        None when coverage could not be measured; ``coverage_note`` says why. Without roads it is the
        straight-line estimate (``coverage.method`` ``straight_line``; no gaps or proposals come from it).
    coverage_note : str
        Why coverage is missing, or :data:`STRAIGHT_LINE_NOTE` beside a straight-line estimate.
    gaps : geopandas.GeoDataFrame
        Uncovered areas of every measured type, ranked within each type (planning CRS).
    admin_gaps : pandas.DataFrame
        Divisions lacking a facility they should have.
    floor_area : pandas.DataFrame
        Community-centre floor area per 100 households per community, township and district (empty
        without centres or households).
    proposals : pandas.DataFrame
        New sites proposed per indicator row (:func:`gisplan.siting.proposals.propose_sites`), empty when none.
    seconds : dict of str to float
        Wall seconds of each stage of the run, in order (coverage as ``coverage: <its stage>``); they add up to
        the run's time.
    """

    indicators: pd.DataFrame
    coverage: CoverageResult | None
    coverage_note: str
    gaps: gpd.GeoDataFrame
    admin_gaps: pd.DataFrame
    floor_area: pd.DataFrame
    proposals: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)


def apply_reported_values(specs: tuple[IndicatorSpec, ...], path: Path) -> tuple[IndicatorSpec, ...]:
    """Fill the ``reported`` rows from a CSV/XLSX of ``indicator_id, value, source`` (the bureau's own figures,
    e.g. 低保 standards, talent counts).

    Raises
    ------
    SchemaError
        Naming the file, line and field: a missing column, an unknown id, or a row that is not ``reported``.
    """
    raw = read_table(path, known_headers={"indicator_id", "value", "source", "编号", "数值", "来源"})
    frame = raw.frame.rename(columns={"编号": "indicator_id", "数值": "value", "来源": "source"})
    missing = [c for c in ("indicator_id", "value") if c not in frame]
    if missing:
        msg = f"missing column(s) {', '.join(missing)}"
        raise SchemaError([Problem(raw.source, None, None, msg, "give columns indicator_id, value, source.")])
    by_id = {spec.indicator_id: spec for spec in specs}
    problems, values = [], {}
    for line, row in zip(raw.rows, frame.itertuples(index=False), strict=True):
        key = str(row.indicator_id).strip()
        if key not in by_id:
            problems.append(Problem(raw.source, int(line), "indicator_id", f"unknown indicator id {key!r}",
                                    f"use one of the scenario's ids ({', '.join(list(by_id)[:5])} …)."))
        elif by_id[key].metric != "reported":
            problems.append(Problem(raw.source, int(line), "indicator_id", f"{key} is computed, not reported",
                                    "remove the row; gisplan computes this indicator from the layers."))
        else:
            source = getattr(row, "source", None)
            values[key] = (str(row.value).strip(), str(source) if source is not None and pd.notna(source) else None)
    if problems:
        raise SchemaError(problems)
    return tuple(replace(s, value=values[s.indicator_id][0],
                         source=values[s.indicator_id][1] or f"{path.name}") if s.indicator_id in values else s
                 for s in specs)


def run_scenario(
    workspace: Workspace, scenario: Scenario, catalogue: Catalogue, *, progress: ProgressSink = silent,
    propose: bool = True,
) -> RunResult:
    """Measure everything the workspace allows: coverage (when roads and demand exist), the indicator
    table, coverage gaps and administrative gaps."""
    laps = Laps()
    specs = scenario.indicators
    if scenario.reported_values is not None:
        specs = apply_reported_values(specs, scenario.reported_values)
    facilities = {type_id: workspace.read_layer(name) for type_id, name in workspace.facility_layers().items()}
    existing = {type_id: existing_only(frame) for type_id, frame in facilities.items()}  # planned ones left out
    gazetteer = workspace.read_table("gazetteer")
    households = workspace.read("households") if workspace.has_layer("households") else None
    illustrative = workspace.illustrative()
    laps.lap("read layers")
    progress(Tick("roads"))
    network = scenario_network(workspace, scenario) if scenario.coverage.method is CoverageMethod.NETWORK else None
    estimate = scenario.coverage.method is CoverageMethod.NETWORK and network is None
    laps.lap("road network")
    coverage, note = _coverage(workspace, scenario, catalogue, network, estimate=estimate, progress=progress)
    laps.lap("coverage", coverage.seconds if coverage is not None else None)
    names = dict(zip(gazetteer["code12"].astype(str), gazetteer["name"].astype(str), strict=True))
    table = evaluate_indicators(
        specs, facilities=facilities, households=households, gazetteer=gazetteer,
        standard=scenario.standard, catalogue=catalogue, illustrative=illustrative,
        coverage=coverage.units if coverage is not None else None,
    )
    if coverage is None and note:
        spatial = table["basis"].str.startswith("not computed: no road network")
        table.loc[spatial, "basis"] = "not computed: " + note
    laps.lap("indicators")
    gaps = _gaps(coverage if not estimate else None, scenario, names)  # uncovered areas are a network result
    laps.lap("gaps")
    floor = pd.DataFrame()
    centres = catalogue.metric_type(Metric.FLOOR_AREA_PER_100HH)  # the type whose floor area the plans count
    if centres is not None and centres.id in facilities and households is not None:
        floor = floor_area_table(existing[centres.id], households, gazetteer,
                                 standard_m2_per_100hh=scenario.standard.floor_area_m2_per_100hh,
                                 district_code=scenario.district_code + "000000")
    laps.lap("floor area")
    proposals = pd.DataFrame()
    if propose and coverage is not None and network is not None:
        run = _RunContext(specs, existing, households, gazetteer, coverage, gaps, network, workspace, scenario,
                          catalogue, names, progress)
        table, proposals = _propose(table, run)
        progress(Tick("proposals", len(specs), len(specs)))
    laps.lap("proposals")
    lacking = admin_gaps(existing, gazetteer, catalogue)
    laps.lap("administrative gaps")
    return RunResult(table, coverage, note, gaps, lacking, floor, proposals, laps.stages)



def _coverage(
    workspace: Workspace, scenario: Scenario, catalogue: Catalogue, network: RoadNetwork | None, *,
    estimate: bool, progress: ProgressSink,
) -> tuple[CoverageResult | None, str]:
    """Coverage by the scenario's method, or (`estimate`: no roads) the labelled straight-line estimate, never
    mixed with network results; with a note saying why when it is an estimate or was not measured."""
    try:
        if estimate:
            straight = replace(scenario, coverage=replace(scenario.coverage, method=CoverageMethod.STRAIGHT_LINE))
            logger.info("no road network: the 15-minute rows are straight-line estimates")
            return coverage_for_scenario(workspace, straight, catalogue, progress=progress), STRAIGHT_LINE_NOTE
        return coverage_for_scenario(workspace, scenario, catalogue, progress=progress, network=network), ""
    except (NetworkError, ConfigError) as exc:
        logger.warning("coverage not measured: %s", exc)
        return None, str(exc)


def _gaps(coverage: CoverageResult | None, scenario: Scenario, names: dict[str, str]) -> gpd.GeoDataFrame:
    """The uncovered areas of every measured type, ranked within each type (none without network coverage)."""
    crs = coverage.demand.crs if coverage is not None else scenario.crs
    if coverage is None:
        return gpd.GeoDataFrame(pd.DataFrame(columns=list(GAP_COLUMNS)), geometry=[], crs=crs)
    link = max(250.0, 2.5 * scenario.coverage.spread_spacing_m)
    frames = [coverage_gaps(coverage.demand, type_id=column.removeprefix("covered_"), link_m=link, names=names)
              for column in coverage.demand.columns if column.startswith("covered_")]
    if not frames:
        return gpd.GeoDataFrame(pd.DataFrame(columns=list(GAP_COLUMNS)), geometry=[], crs=crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)


def _question(spec: IndicatorSpec, row: pd.Series, facilities: dict[str, pd.DataFrame],
              households: pd.DataFrame | None, gazetteer: pd.DataFrame, catalogue: Catalogue,
              ) -> tuple[SiteQuestion, Level] | None:
    """What new sites a row that misses its target asks for (its metric's question in the registry), and the
    division level of the question."""
    ftype = catalogue.get_type(str(spec.facility_type))
    value, target = float(row["value"]), float(row["target"])
    kind = REGISTRY[spec.metric].question
    if kind is QuestionKind.COUNT:
        return SiteQuestion(kind, target - value), Level.TOWNSHIP
    if kind is QuestionKind.SHARE:
        return SiteQuestion(kind, min(1.0, target / 100.0)), Level.TOWNSHIP
    units = units_in_scope(gazetteer, level=ftype.admin_level, scope=spec.scope or ftype.admin_scope)
    if spec.min_population is not None and households is not None:
        units = populous_units(units, households, spec.min_population, ftype.admin_level)
    layer = facilities.get(ftype.id, pd.DataFrame({"code12": []}))
    has = administrative_coverage(layer, units, level=ftype.admin_level).to_numpy(dtype=bool)
    need = math.ceil(target / 100.0 * len(units) - has.sum() - 1e-9)
    lacking = tuple(units["code12"].astype(str)[~has])
    return (SiteQuestion(QuestionKind.UNITS, float(need), lacking), ftype.admin_level) if need > 0 and lacking else None


@dataclass(frozen=True, slots=True, eq=False)
class _RunContext:
    """What :func:`_propose` needs of a scenario run, passed once.

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
    progress : ProgressSink
        Told of every row proposed for (stage ``proposals``) and, through the solver, of its progress.
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
    progress: ProgressSink = silent


def _ticking(specs: tuple[IndicatorSpec, ...], progress: ProgressSink) -> Iterator[tuple[int, IndicatorSpec]]:
    """``enumerate(specs)``, telling `progress` of each row (stage ``proposals``)."""
    for i, spec in enumerate(specs):
        progress(Tick("proposals", i, len(specs), spec.indicator_id))
        yield i, spec


def _propose(table: pd.DataFrame, run: _RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New sites for every row that misses a numeric target it can be met by building; indicators after."""
    specs, facilities, households, gazetteer = run.specs, run.facilities, run.households, run.gazetteer
    coverage, gaps, network, scenario, catalogue = run.coverage, run.gaps, run.network, run.scenario, run.catalogue
    layers = run.workspace.layer_names()
    towns = run.workspace.read_layer("townships") if "townships" in layers else None
    villages = run.workspace.read_layer("villages") if "villages" in layers else None
    profiles = scenario_profiles(scenario, catalogue)
    bounds = towns if towns is not None else (run.workspace.read_layer("district") if "district" in layers else None)
    outline = shapely.union_all(bounds.to_crs(network.crs).geometry.to_numpy()) if bounds is not None else None
    out = table.copy()
    out["new_sites"] = np.nan
    out["value_after"] = np.nan
    out["status_after"] = ""
    frames = []
    done: dict[tuple[object, ...], Proposal] = {}  # rows asking the same question share the answer
    for i, spec in _ticking(specs, run.progress):
        row = out.iloc[i]
        if (row["status"] != Status.NOT_MET or REGISTRY[spec.metric].question is None
                or row["comparator"] not in {Comparator.GE, Comparator.GT}):
            continue
        asked = _question(spec, row, facilities, households, gazetteer, catalogue)
        if asked is None:
            continue
        question, level = asked
        ftype = catalogue.get_type(str(spec.facility_type))
        existing = gpd.GeoDataFrame(facilities.get(ftype.id, gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")))
        minutes = spec.minutes if spec.minutes is not None else ftype.max_minutes
        key = (ftype.id, question, level, spec.scope, minutes, spec.weight)
        try:
            if key not in done:
                within = _candidate_area(question, level, spec, ftype.id, towns, villages, gaps, gazetteer)
                candidates = _candidates(network, within, scenario)
                if outline is not None:  # the network reaches past the district: no site outside it
                    cxy = shapely.get_coordinates(candidates.geometry.to_numpy())
                    candidates = candidates[np.asarray(shapely.contains_xy(outline, cxy[:, 0], cxy[:, 1]), bool)]
                done[key] = propose_sites(
                    question, network=network, profile=profiles[ftype.profile], demand=coverage.demand,
                    existing=existing, candidates=candidates, threshold_minutes=minutes, weight=spec.weight,
                    townships=towns, villages=villages, unit_level=level, names=run.names,
                    max_snap_m=scenario.coverage.max_snap_m, time_limit_s=scenario.coverage.solver_time_limit_s,
                    progress=run.progress,
                )
            proposal = done[key]
        except InfeasibleError as exc:
            out.loc[out.index[i], "status_after"] = f"not proposed: {exc}"
            continue
        k = len(proposal.selection.selected)
        if question.kind is QuestionKind.COUNT:
            after = float(row["value"]) + k
        elif question.kind is QuestionKind.UNITS:
            after = (float(row["numerator"]) + k) / float(row["denominator"]) * 100.0
        else:
            after = proposal.covered_after / proposal.total * 100.0 if proposal.total else np.nan
        out.loc[out.index[i], ["new_sites", "value_after"]] = [k, after]
        out.loc[out.index[i], "status_after"] = target_status(after, spec.target_2025, spec.comparator)
        sites = _annotate(proposal, spec, ftype.id, scenario.coverage.years)
        frames.append(sites)
    proposals = (gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
                 if frames else pd.DataFrame())
    return out, proposals


def _annotate(proposal: Proposal, spec: IndicatorSpec, type_id: str, years: tuple[int, ...]) -> gpd.GeoDataFrame:
    """The proposal's sites with the row, the solver's status and gap, a build year (phased order spread over
    `years`) and the covered share of the row's weight after each site."""
    sites = proposal.sites.assign(indicator_id=spec.indicator_id, facility_type=type_id,
                                  model=proposal.selection.model, solver_status=proposal.selection.status,
                                  solver_gap=proposal.selection.gap)
    build = np.asarray(years)
    sites["year"] = build[np.minimum(len(build) - 1, (np.arange(len(sites)) * len(build)) // max(1, len(sites)))]
    if proposal.total:
        # the row's own weight, cumulated in build order
        added = sites[f"{spec.weight}_added"].to_numpy(dtype=float)
        sites["covered_share_after"] = (proposal.covered_before + np.cumsum(np.nan_to_num(added))) / proposal.total
    return sites


def _candidates(network: RoadNetwork, within: gpd.GeoDataFrame | None, scenario: Scenario) -> gpd.GeoDataFrame:
    """The user's candidate layer (inside `within`), or road nodes generated there."""
    cov = scenario.coverage
    if cov.candidates is not None:
        layer = read_spatial(cov.candidates)
        if layer.crs is None:
            msg = f"{cov.candidates.name}: the candidate layer has no CRS; save it with one (EPSG:4326 …)."
            raise ConfigError(msg)
        if "candidate_id" not in layer:
            msg = f"{cov.candidates.name}: the candidate layer needs a `candidate_id` column."
            raise ConfigError(msg)
        layer = layer.to_crs(network.crs)
        if within is not None:
            area = shapely.union_all(within.to_crs(network.crs).geometry.to_numpy())
            xy = shapely.get_coordinates(shapely.point_on_surface(layer.geometry.to_numpy()))
            layer = layer[np.asarray(shapely.contains_xy(area, xy[:, 0], xy[:, 1]), dtype=bool)]
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
