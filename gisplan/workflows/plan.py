"""`gisplan run` as a workflow: the whole plan for a scenario — indicators with their status,
coverage gaps, divisions lacking a facility and the new sites that close each gap.

Callable without the CLI (no click, no sys.exit), so Dask workers can run it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from gisplan.analysis.gaps import GAP_COLUMNS, admin_gaps, coverage_gaps_by_type
from gisplan.analysis.indicators import existing_only, floor_area_table
from gisplan.analysis.metrics import evaluate_indicators
from gisplan.analysis.precision import approximate_reach, with_imprecise_gaps
from gisplan.errors import ConfigError, NetworkError, Problem, SchemaError
from gisplan.i18n import _
from gisplan.io.tables import read_table
from gisplan.laps import Laps
from gisplan.periods import period_status
from gisplan.progress import Tick, silent
from gisplan.vocab import CoverageMethod, Metric
from gisplan.workflows.coverage import coverage_for_scenario, scenario_network
from gisplan.workflows.proposing import RunContext, propose_rows

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

    from gisplan.analysis.coverage import CoverageResult
    from gisplan.catalogue import Catalogue
    from gisplan.config import IndicatorSpec, Scenario
    from gisplan.network.graph import RoadNetwork
    from gisplan.periods import PeriodStatus
    from gisplan.progress import ProgressSink
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
        The proposed sites (:func:`gisplan.siting.proposals.propose_sites`), empty when none: one row per site
        per facility type, with ``site_id``, ``facility_type``, ``indicator_id`` (the first row that asked for
        it), ``indicator_ids`` (every row it serves, joined with ``；``), ``rank`` (unique within
        ``indicator_id``), ``year`` (build year) and the model, solver status, bound and gap.
    seconds : dict of str to float
        Wall seconds of each stage of the run, in order (coverage as ``coverage: <its stage>``); they add up to
        the run's time.
    period : PeriodStatus or None
        The plan period on the run's date: whether it has ended (终期评估) and the years the proposals are
        phased over (``period.note`` says it in one line).
    network : RoadNetwork or None
        The road network the run measured coverage on (None without roads or for a straight-line run), so that a
        report written right after the run draws its service areas without building it again.
    """

    indicators: pd.DataFrame
    coverage: CoverageResult | None
    coverage_note: str
    gaps: gpd.GeoDataFrame
    admin_gaps: pd.DataFrame
    floor_area: pd.DataFrame
    proposals: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    period: PeriodStatus | None = None
    network: RoadNetwork | None = None


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
        msg = _("missing column(s) {missing}").format(missing=', '.join(missing))
        raise SchemaError([Problem(raw.source, None, None, msg, "give columns indicator_id, value, source.")])
    by_id = {spec.indicator_id: spec for spec in specs}
    problems, values = [], {}
    for line, row in zip(raw.rows, frame.itertuples(index=False), strict=True):
        key = str(row.indicator_id).strip()
        if key not in by_id:
            problems.append(Problem(raw.source, int(line), "indicator_id", _("unknown indicator id {key!r}").format(
                    key=key),
                                    _("use one of the scenario's ids ({by_id} …).").format(
                                        by_id=', '.join(list(by_id)[:5]))))
        elif by_id[key].metric != "reported":
            problems.append(Problem(raw.source, int(line), "indicator_id", _("{key} is computed, not reported").format(
                    key=key),
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
    propose: bool = True, today: date | None = None,
) -> RunResult:
    """Measure everything the workspace allows: coverage (when roads and demand exist), the indicator
    table, coverage gaps and administrative gaps, and propose the sites that close each row's gap.

    `today` (default :func:`gisplan.settings.today`) places the run against the scenario's plan period: the
    proposals are built from its year on, over the rest of the period or, once it has ended, the next one.
    `progress` receives the ticks of every step, the proposals' and the solver's state."""
    laps = Laps()
    period = period_status(scenario, today)
    specs = scenario.indicators
    if scenario.reported_values is not None:
        specs = apply_reported_values(specs, scenario.reported_values)
    layer_of = workspace.facility_layers()
    facilities = {type_id: workspace.read_layer(name) for type_id, name in layer_of.items()}
    existing = {type_id: existing_only(frame) for type_id, frame in facilities.items()}  # planned ones left out
    gazetteer = workspace.read_table("gazetteer")
    households = workspace.read("households") if workspace.has_layer("households") else None
    illustrative = workspace.illustrative()
    laps.lap("read layers")
    progress(Tick("roads"))
    network = scenario_network(workspace, scenario) if scenario.coverage.method is CoverageMethod.NETWORK else None
    estimate = scenario.coverage.method is CoverageMethod.NETWORK and network is None
    laps.lap("road network")
    read: dict[str, pd.DataFrame] = {name: facilities[type_id] for type_id, name in layer_of.items()}  # not again
    read["gazetteer"] = gazetteer
    if households is not None:
        read["households"] = households
    coverage, note = _coverage(workspace, scenario, catalogue, network, estimate=estimate, progress=progress,
                               read=read)
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
    if coverage is not None:
        table = _approximate_basis(table, specs, coverage.demand)
    gaps = _gaps(coverage if not estimate else None, scenario, names)  # uncovered areas are a network result
    gaps = with_imprecise_gaps(gaps, existing)  # facilities located by name in a gap's township or village
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
        run = RunContext(specs, existing, households, gazetteer, coverage, gaps, network, workspace, scenario,
                          catalogue, names, period, progress)
        table, proposals = propose_rows(table, run)
    laps.lap("proposals")
    lacking = admin_gaps(existing, gazetteer, catalogue)
    laps.lap("administrative gaps")
    return RunResult(table, coverage, note, gaps, lacking, floor, proposals, laps.stages, period, network)


def _coverage(
    workspace: Workspace, scenario: Scenario, catalogue: Catalogue, network: RoadNetwork | None, *,
    estimate: bool, progress: ProgressSink, read: dict[str, pd.DataFrame],
) -> tuple[CoverageResult | None, str]:
    """Coverage by the scenario's method, or (`estimate`: no roads) the labelled straight-line estimate, never
    mixed with network results; with a note saying why when it is an estimate or was not measured (`read`: the
    layers the run has read already, by name)."""
    try:
        if estimate:
            straight = replace(scenario, coverage=replace(scenario.coverage, method=CoverageMethod.STRAIGHT_LINE))
            logger.info("no road network: the 15-minute rows are straight-line estimates")
            return (coverage_for_scenario(workspace, straight, catalogue, progress=progress, read=read),
                    STRAIGHT_LINE_NOTE)
        return coverage_for_scenario(workspace, scenario, catalogue, progress=progress, network=network, read=read), ""
    except (NetworkError, ConfigError) as exc:
        logger.warning("coverage not measured: %s", exc)
        return None, str(exc)


def _approximate_basis(table: pd.DataFrame, specs: tuple[IndicatorSpec, ...], demand: pd.DataFrame) -> pd.DataFrame:
    """The 15-minute rows' basis with the share of their weight reached only through facilities located at a
    village's point (``approx_<type>``, :mod:`gisplan.analysis.precision`), where there is any."""
    out = table
    for i, spec in enumerate(specs):
        if spec.metric is not Metric.NETWORK_COVERAGE or spec.facility_type is None:
            continue
        part, share = approximate_reach(demand, str(spec.facility_type), spec.weight)
        if part > 0:
            out = out.copy() if out is table else out
            out.loc[out.index[i], "basis"] = (f"{out['basis'].iloc[i]}; of it {share:.1%} ({part:,.0f} {spec.weight}) "
                                              "through facilities at a village's point: uncertain")
    return out


def _gaps(coverage: CoverageResult | None, scenario: Scenario, names: dict[str, str]) -> gpd.GeoDataFrame:
    """The uncovered areas of every measured type, ranked within each type (none without network coverage)."""
    crs = coverage.demand.crs if coverage is not None else scenario.crs
    if coverage is None:
        return gpd.GeoDataFrame(pd.DataFrame(columns=list(GAP_COLUMNS)), geometry=[], crs=crs)
    link = max(250.0, 2.5 * scenario.coverage.spread_spacing_m)
    types = [column.removeprefix("covered_") for column in coverage.demand.columns if column.startswith("covered_")]
    return coverage_gaps_by_type(coverage.demand, type_ids=types, link_m=link, names=names)
