"""Workspace-first work: coverage, proposals and the map of a workspace whose layers were imported with
`gisplan layers import`, without a scenario file — the district, its CRS and every default come from the
workspace and the facility catalogue.

Callable without the CLI (no click, no sys.exit), so Dask workers can run it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from gisplan.analysis.gaps import coverage_gaps
from gisplan.analysis.indicators import existing_only
from gisplan.config import IndicatorSpec, Scenario, Standard
from gisplan.errors import ConfigError, NetworkError
from gisplan.i18n import _
from gisplan.progress import ProgressSink, silent
from gisplan.scenariocat import scenario_profiles
from gisplan.siting.proposals import Proposal, SiteQuestion, generate_candidates, propose_sites
from gisplan.vocab import Comparator, CoverageKind, Level, Metric, QuestionKind
from gisplan.workflows.coverage import coverage_for_scenario, scenario_network

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gisplan.analysis.coverage import CoverageResult
    from gisplan.catalogue import Catalogue
    from gisplan.store import Workspace

__all__ = ["WorkspaceProposal", "propose_for_type", "with_minutes", "workspace_scenario"]

logger = logging.getLogger(__name__)

_AREA_LAYERS = ("district", "townships", "villages", "households")


def workspace_scenario(workspace: Workspace, catalogue: Catalogue) -> Scenario:
    """A scenario for a workspace without a scenario file: its district (the gazetteer's district row, else the
    district layer's code), a UTM CRS estimated from its boundaries, no layers to import (they are in the
    workspace), the default standards, and as plan rows the network coverage of every facility type with
    network coverage that has a layer in the workspace, at the type's threshold in `catalogue` (ids
    ``WS-<type>``, no target).

    Raises
    ------
    ConfigError
        If the workspace does not exist, or has neither a gazetteer nor a district layer to say which district it
        is, or no layer to place it.
    """
    if not workspace.exists():
        msg = (_("the workspace {label} does not exist; import its layers first (gisplan layers import … -w "
                 "{label}) or give a SCENARIO.").format(label=workspace.label))
        raise ConfigError(msg)
    layers = workspace.layer_names()
    code, name = _district(workspace, layers)
    placed = next((layer for layer in _AREA_LAYERS if layer in layers), None)
    if placed is None:
        msg = (_("the workspace {label} has no district, township, village or households layer to measure in; "
                 "import the boundaries first (gisplan layers import 区界.geojson --kind district …).").format(
                label=workspace.label))
        raise ConfigError(msg)
    frame = workspace.read(placed)
    if not isinstance(frame, gpd.GeoDataFrame):
        frame = workspace.read_layer("district")
    crs = frame.to_crs("EPSG:4326").estimate_utm_crs()
    rows = tuple(
        IndicatorSpec(row=f"ws.{i}", name_zh=f"{t.name_zh}{t.max_minutes:g}分钟覆盖率（常住人口）", unit="%",
                      baseline_2020="——", target_2025="——", nature="gisplan 补充", metric=Metric.NETWORK_COVERAGE,
                      facility_type=t.id, indicator_id=f"WS-{t.id}", minutes=t.max_minutes,
                      comparator=Comparator.TEXT)
        for i, t in enumerate(t for t in catalogue.types.values()
                              if CoverageKind.NETWORK in t.coverage and t.layer_name in layers))
    return Scenario(name=f"{name} ({Path(workspace.label).name})", district_code=code, crs=crs.to_string(),
                    workspace=Path(workspace.label), layers=(), roads=None, standard=Standard(), indicators=rows)


def _district(workspace: Workspace, layers: frozenset[str] | Sequence[str]) -> tuple[str, str]:
    """The district's 6-digit code and name, from the gazetteer, else the district layer."""
    for layer in ("gazetteer", "district"):
        if layer not in layers:
            continue
        frame = workspace.read_table(layer) if layer == "gazetteer" else workspace.read_layer(layer)
        rows = frame[frame["level"].astype(str) == "district"] if "level" in frame else frame
        if len(rows) and "code12" in rows:
            return str(rows["code12"].iloc[0])[:6], str(rows["name"].iloc[0]) if "name" in rows else ""
    msg = (_("the workspace {label} has no gazetteer or district layer, so its district is unknown; import the "
             "gazetteer (gisplan layers import 区划代码.csv --kind gazetteer …) or give a SCENARIO.").format(
            label=workspace.label))
    raise ConfigError(msg)


def with_minutes(catalogue: Catalogue, types: Sequence[str], minutes: float | None) -> Catalogue:
    """`catalogue` with the time threshold of `types` set to `minutes` (unchanged when `minutes` is None).

    Raises
    ------
    ConfigError
        For a type the catalogue lacks (the message lists the known ones).
    """
    if minutes is None:
        return catalogue
    changed = {t: replace(catalogue.get_type(t), max_minutes=float(minutes)) for t in types}
    return replace(catalogue, types=MappingProxyType({**catalogue.types, **changed}))


@dataclass(frozen=True, slots=True, eq=False)
class WorkspaceProposal:
    """New sites for one facility type of a workspace, and the coverage they start from.

    Attributes
    ----------
    coverage : CoverageResult
        The type's coverage before the new sites.
    proposal : Proposal
        The sites in phased order, with what each adds.
    minutes : float
        The time threshold used.
    """

    coverage: CoverageResult
    proposal: Proposal
    minutes: float


def propose_for_type(
    workspace: Workspace, scenario: Scenario, catalogue: Catalogue, *, type_id: str, p: int,
    minutes: float | None = None, progress: ProgressSink = silent,
) -> WorkspaceProposal:
    """Measure the coverage of `type_id` in `workspace` and propose `p` new sites that cover the most residents
    within `minutes` (default: the type's threshold in the catalogue): maximal covering (MCLP) over road nodes
    in the type's uncovered areas, the existing facilities kept open.

    Raises
    ------
    NetworkError
        If the workspace has no roads (siting needs network minutes).
    ConfigError
        For an unknown type, a type without facilities layer, or no demand.
    InfeasibleError
        If no candidate site can be placed.
    """
    cat = with_minutes(catalogue, [type_id], minutes)
    ftype = cat.get_type(type_id)
    network = scenario_network(workspace, scenario)
    if network is None:
        msg = (_("the workspace {label} has no road layer: proposing sites needs network minutes. Import roads "
                 "(gisplan layers import roads.gpkg --kind roads …, or gisplan roads fetch).").format(
                label=workspace.label))
        raise NetworkError(msg)
    coverage = coverage_for_scenario(workspace, scenario, cat, types=[type_id], polygons=False, progress=progress,
                                     network=network)
    layers = workspace.layer_names()
    towns = workspace.read_layer("townships") if "townships" in layers else None
    villages = workspace.read_layer("villages") if "villages" in layers else None
    gaz = workspace.read_table("gazetteer") if "gazetteer" in layers else None
    names = dict(zip(gaz["code12"].astype(str), gaz["name"].astype(str), strict=True)) if gaz is not None else {}
    link = max(250.0, 2.5 * scenario.coverage.spread_spacing_m)
    gaps = coverage_gaps(coverage.demand, type_id=type_id, link_m=link, names=names)
    candidates = generate_candidates(network, within=gaps if len(gaps) else None,
                                     spacing_m=scenario.coverage.candidate_spacing_m)
    bounds = towns if towns is not None else (workspace.read_layer("district") if "district" in layers else None)
    if bounds is not None and len(candidates):  # the network reaches past the district: no site outside it
        outline = shapely.union_all(bounds.to_crs(network.crs).geometry.to_numpy())
        xy = shapely.get_coordinates(candidates.geometry.to_numpy())
        candidates = candidates[np.asarray(shapely.contains_xy(outline, xy[:, 0], xy[:, 1]), dtype=bool)]
    existing = gpd.GeoDataFrame(existing_only(workspace.read_layer(ftype.layer_name)))
    proposal = propose_sites(
        SiteQuestion(QuestionKind.COUNT, float(p)), network=network,
        profile=scenario_profiles(scenario, cat)[ftype.profile], demand=coverage.demand, existing=existing,
        candidates=candidates, threshold_minutes=ftype.max_minutes, weight="population", townships=towns,
        villages=villages, unit_level=Level.TOWNSHIP, names=names, max_snap_m=scenario.coverage.max_snap_m,
        time_limit_s=scenario.coverage.solver_time_limit_s, progress=progress,
    )
    logger.info("propose_for_type: %d new %s sites, %.0f → %.0f of %.0f residents within %g min",
                len(proposal.selection.selected), type_id, proposal.covered_before, proposal.covered_after,
                proposal.total, ftype.max_minutes)
    return WorkspaceProposal(coverage, proposal, ftype.max_minutes)
