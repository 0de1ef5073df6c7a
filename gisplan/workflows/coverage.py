"""Scenario coverage workflow: from a workspace's layers to coverage results.

Callable without the CLI (no click, no sys.exit), so Dask workers can run it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from gisplan.analysis.coverage import CoverageResult, TypeTarget, assign_units, measure_coverage
from gisplan.analysis.demand import demand_from_points, demand_from_raster, demand_from_table
from gisplan.analysis.indicators import existing_only
from gisplan.analysis.precision import mark_approximate, network_facilities
from gisplan.errors import ConfigError, NetworkError
from gisplan.i18n import _
from gisplan.network.graph import build_network
from gisplan.progress import ProgressSink, Tick, silent
from gisplan.scenariocat import scenario_profiles
from gisplan.vocab import CoverageKind, CoverageMethod, Spread

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gisplan.catalogue import Catalogue, Profile
    from gisplan.config import Scenario
    from gisplan.network.graph import RoadNetwork
    from gisplan.store import Workspace

__all__ = ["coverage_for_scenario", "scenario_demand", "scenario_network"]

logger = logging.getLogger(__name__)


def scenario_network(workspace: Workspace, scenario: Scenario) -> RoadNetwork | None:
    """Build the road network of a workspace (its ``roads`` layer) in the scenario's CRS; None without roads."""
    if not workspace.has_layer("roads"):
        return None
    roads = workspace.read_layer("roads")
    cov = scenario.coverage
    return build_network(roads, crs=scenario.crs, snap_tolerance_m=cov.snap_tolerance_m,
                         min_piece_m=cov.min_piece_m)


def _layer(workspace: Workspace, name: str, read: Mapping[str, pd.DataFrame] | None) -> pd.DataFrame:
    """Layer `name` as the caller already read it (`read`, by layer name), else as stored."""
    if read is not None and name in read:
        return read[name]
    return workspace.read(name)


def scenario_demand(workspace: Workspace, scenario: Scenario, network: RoadNetwork | None, *,
                    read: Mapping[str, pd.DataFrame] | None = None) -> gpd.GeoDataFrame:
    """Demand points for a scenario: its raster, else the households layer (points, or a table spread
    over village polygons or road length), with township and village codes filled in; `read` holds the
    workspace's layers the caller has read already, by name (the others are read here).

    Raises
    ------
    ConfigError
        If there is no demand source.
    """
    cov = scenario.coverage
    layers = workspace.layer_names()
    townships = workspace.read_layer("townships") if "townships" in layers else None
    villages = workspace.read_layer("villages") if "villages" in layers else None
    if cov.raster is not None:
        area = workspace.read_layer("district") if "district" in layers else None
        demand = demand_from_raster(cov.raster, crs=scenario.crs, area=area)
    elif "households" in layers:
        households = _layer(workspace, "households", read)
        if isinstance(households, gpd.GeoDataFrame) and (households.geom_type == "Point").all():
            demand = demand_from_points(households, crs=scenario.crs, source="households")
        else:
            if townships is None:
                msg = (_("the households table has no coordinates, and the workspace has no township polygons to "
                       "spread it over; import `townships` (and `villages` if you have them)."))
                raise ConfigError(msg)
            spread = cov.spread if network is not None else Spread.AREA
            demand = demand_from_table(pd.DataFrame(households), villages=villages, townships=townships,
                                       crs=scenario.crs, spread=spread, spacing_m=cov.spread_spacing_m,
                                       network=network)
    else:
        msg = (_("no demand: import a `households` layer (table by village code, or points), or give a population "
               "raster as `raster = \"...tif\"` in the scenario's [coverage] table."))
        raise ConfigError(msg)
    return assign_units(demand, townships=townships, villages=villages)


def _targets(
    workspace: Workspace, catalogue: Catalogue, profiles: dict[str, Profile], types: Sequence[str] | None,
    read: Mapping[str, pd.DataFrame] | None,
) -> list[TypeTarget]:
    layers = workspace.layer_names()
    chosen = list(types) if types else [t.id for t in catalogue.types.values() if CoverageKind.NETWORK in t.coverage]
    out = []
    for type_id in chosen:
        ftype = catalogue.get_type(type_id)
        if ftype.layer_name not in layers:
            if types:
                msg = _("the workspace has no `{layer_name}` layer; import the {name_zh} ledger first.").format(
                        layer_name=ftype.layer_name, name_zh=ftype.name_zh)
                raise ConfigError(msg)
            continue
        every = gpd.GeoDataFrame(existing_only(_layer(workspace, ftype.layer_name, read)))
        facilities = network_facilities(every)  # one located only to its township walks to no one in particular
        if len(facilities) < len(every):
            logger.warning("%s: %d facilities located only to their township (location_precision) left out of "
                           "network coverage; they count for their township's administrative share only",
                           ftype.name_zh, len(every) - len(facilities))
        if ftype.profile not in profiles:
            msg = _("facility type {type_id} uses travel profile {profile!r}, which no catalogue defines.").format(
                    type_id=type_id, profile=ftype.profile)
            raise ConfigError(msg)
        out.append(TypeTarget(type_id, ftype.name_zh, facilities, profiles[ftype.profile], ftype.max_minutes))
    return out


def coverage_for_scenario(
    workspace: Workspace,
    scenario: Scenario,
    catalogue: Catalogue,
    *,
    types: Sequence[str] | None = None,
    polygons: bool = True,
    progress: ProgressSink = silent,
    network: RoadNetwork | None = None,
    read: Mapping[str, pd.DataFrame] | None = None,
) -> CoverageResult:
    """Measure coverage of every network-covered facility type in a workspace (`network`: already built;
    `read`: the workspace's layers already read, by layer name, which are not read again).

    Raises
    ------
    NetworkError
        If the network method is chosen and the workspace has no roads.
    """
    cov = scenario.coverage
    profiles = scenario_profiles(scenario, catalogue)
    if network is None and cov.method is CoverageMethod.NETWORK:
        progress(Tick("roads"))
        network = scenario_network(workspace, scenario)
    if cov.method is not CoverageMethod.NETWORK:
        network = None
    if cov.method is CoverageMethod.NETWORK and network is None:
        msg = (_("the workspace has no road layer, so network coverage cannot be measured. Give roads in the "
               "scenario's [roads] path (or osm_fallback = true when online), or choose the clearly labelled "
               "straight-line method with [coverage] method = \"straight_line\"."))
        raise NetworkError(msg)
    progress(Tick("demand"))
    demand = scenario_demand(workspace, scenario, network, read=read)
    targets = _targets(workspace, catalogue, profiles, types, read)
    gaz = _layer(workspace, "gazetteer", read) if workspace.has_layer("gazetteer") else None
    names = dict(zip(gaz["code12"].astype(str), gaz["name"].astype(str), strict=True)) if gaz is not None else {}
    result = measure_coverage(
        demand, targets, network=network, method=cov.method, bands_minutes=cov.bands_minutes,
        max_snap_m=cov.max_snap_m, radius_m=cov.radius_m, trim_m=cov.trim_m, polygons=polygons, names=names,
        district_code=scenario.district_code + "000000", progress=progress,
    )
    # the points reached through a facility located only at its village's point: counted, and said so
    marked = mark_approximate(result.demand, {t.type_id: t.facilities for t in targets})
    return result if marked is result.demand else replace(result, demand=marked)
