"""What the report of a run is made of, read back from the run's ``results.gpkg`` and the workspace.

The report never parses the CSV files: it reads the result layers `gisplan run` wrote
(:func:`gisplan.outputs.results.write_results`) and the workspace's layers and metadata. Two things other branches
settle are read in one place each so that their merge stays small: the plan period (:func:`plan_period`) and the
shape of the proposed-site table (:func:`shared_sites`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from gisplan.catalogue import facility_type_of
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.spatial import list_file_layers, read_file_layer
from gisplan.periods import period_status
from gisplan.scenariocat import scenario_profiles

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

    from gisplan.catalogue import Catalogue, Profile
    from gisplan.config import Scenario
    from gisplan.network.graph import RoadNetwork
    from gisplan.store import Workspace

__all__ = ["PlanPeriod", "ReportData", "plan_period", "read_report_data", "shared_sites"]

logger = logging.getLogger(__name__)

_LAYER_LABELS = {"households": "住户与人口", "villages": "村（社区）界", "townships": "镇街界", "district": "区界",
                 "gazetteer": "区划名录", "roads": "道路", "place_names": "地名"}


@dataclass(frozen=True, slots=True)
class PlanPeriod:
    """The plan's period and whether it has ended (then the indicator table is the 终期评估 form).

    Attributes
    ----------
    start_year, end_year : int
        First and last year of the plan period (2021, 2025 for a 十四五 plan).
    baseline_year : int
        The year of the plan's baseline column (2020).
    ended : bool
        True when the report date is after the period's last year.
    """

    start_year: int
    end_year: int
    baseline_year: int
    ended: bool

    @property
    def label(self) -> str:
        """``2021—2025年`` as a plan writes it."""
        return f"{self.start_year}—{self.end_year}年"


def plan_period(scenario: Scenario, today: date) -> PlanPeriod:
    """The scenario's plan period as :func:`gisplan.periods.period_status` places it on `today` (the scenario's
    ``period`` and ``baseline_year``, else the Five-Year Plan period that holds the run's year and the year
    before it). This is the only place the report reads the period.
    """
    status = period_status(scenario, today)
    start, end = status.period
    return PlanPeriod(start, end, status.baseline_year, ended=status.ended)


def shared_sites(proposals: pd.DataFrame) -> pd.DataFrame:
    """Proposed sites as the contract of branch ``siting`` gives them: one row per physical site and facility type,
    with ``site_id`` and ``indicator_ids`` (all rows it serves, joined with "；").

    A table of the older form (one row per indicator row and site, the same site repeated for rows asking the
    same question) is folded into that form here: the first row keeps the site, the others are listed in
    ``indicator_ids``.
    """
    if len(proposals) == 0 or "indicator_ids" in proposals:
        return proposals
    out = proposals.copy()
    key = out["facility_type"].astype(str) + "|" + out["candidate_id"].astype(str)
    out["indicator_ids"] = key.map(out.groupby(key, sort=False)["indicator_id"].agg(
        lambda ids: "；".join(dict.fromkeys(ids.astype(str)))))
    out = out[~key.duplicated()].copy()
    if "site_id" not in out:
        out["site_id"] = out["facility_type"].astype(str) + "-" + out["candidate_id"].astype(str)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class ReportData:
    """Everything the report shows, read from a run's results and its workspace.

    Frames are in EPSG:4326 where they have geometry; `crs` is the scenario's planning CRS (metres) the maps
    are drawn in.
    """

    title: str
    district_code: str
    crs: str
    period: PlanPeriod
    generated: date
    illustrative: bool
    illustrative_layers: tuple[str, ...]
    indicators: pd.DataFrame
    units: pd.DataFrame
    demand: gpd.GeoDataFrame | None
    method: str
    district: gpd.GeoDataFrame | None
    townships: gpd.GeoDataFrame | None
    facilities: dict[str, gpd.GeoDataFrame]
    gaps: gpd.GeoDataFrame | None
    admin_gaps: pd.DataFrame
    floor_area: pd.DataFrame
    proposals: gpd.GeoDataFrame | None
    layers: pd.DataFrame
    gazetteer: pd.DataFrame
    scenario: Scenario
    catalogue: Catalogue
    profiles: dict[str, Profile]
    notes: tuple[str, ...] = ()
    network_summary: str | None = None
    type_thresholds: dict[str, float] = field(default_factory=dict)
    villages: gpd.GeoDataFrame | None = None
    network: RoadNetwork | None = None

    def type_name(self, type_id: str) -> str:
        """The type's Chinese name (the id when the catalogue lacks it)."""
        found = self.catalogue.types.get(type_id)
        return found.name_zh if found is not None else type_id


def _layer_label(layer: str, catalogue: Catalogue) -> str:
    type_id = facility_type_of(layer)
    if type_id is not None and type_id in catalogue.types:
        return catalogue.types[type_id].name_zh
    return _LAYER_LABELS.get(layer, layer)


def read_report_data(
    results: Path, workspace: Workspace, scenario: Scenario, catalogue: Catalogue, *, today: date,
    network_summary: str | None = None, network: RoadNetwork | None = None,
) -> ReportData:
    """Read what the report needs from a run's ``results.gpkg`` (`results`) and the workspace.

    The road network (`network`, the run's when it has just run) is built from the workspace's roads when
    the run measured network coverage and proposed sites: the site pages draw each featured site's service area.

    Raises
    ------
    ConfigError
        If `results` does not exist (run the scenario first).
    """
    if not results.is_file():
        msg = _("{results} does not exist: run `gisplan run SCENARIO --out {parent}` first").format(
                results=results, parent=results.parent)
        raise ConfigError(msg)
    done = set(list_file_layers(results))

    def result(name: str) -> pd.DataFrame | None:
        return read_file_layer(results, layer=name) if name in done else None

    names = workspace.layer_names()
    meta = workspace.metadata()
    flagged = meta.loc[meta["illustrative"].astype(bool) & (meta["kind"] != "result"), "layer"]
    indicators = result("indicators")
    if indicators is None:
        msg = _("{results} has no indicators layer: run `gisplan run SCENARIO --out {parent}` again").format(
                results=results, parent=results.parent)
        raise ConfigError(msg)
    demand = result("demand")
    proposals = result("proposed_sites")
    townships = result("townships")
    if townships is None and "townships" in names:
        townships = workspace.read_layer("townships")
    method = str(demand["method"].iloc[0]) if demand is not None and len(demand) else "none"
    notes = tuple(str(n) for n in meta.loc[meta["layer"] == "roads", "note"].dropna() if str(n))
    units = result("units")
    thresholds = {t.id: float(t.max_minutes) for t in catalogue.types.values()}
    if units is not None and len(units):
        units = pd.DataFrame(units).astype({"code12": str})
    villages = result("villages")
    if network is None and method == "network" and proposals is not None and len(proposals):
        from gisplan.workflows.coverage import scenario_network  # noqa: PLC0415 - only for the site pages

        network = scenario_network(workspace, scenario)
    return ReportData(
        title=scenario.name, district_code=scenario.district_code, crs=scenario.crs,
        period=plan_period(scenario, today), generated=today,
        illustrative=bool(len(flagged)), illustrative_layers=tuple(_layer_label(n, catalogue) for n in flagged),
        indicators=pd.DataFrame(indicators), units=units if units is not None else pd.DataFrame(),
        demand=gpd.GeoDataFrame(demand) if demand is not None else None, method=method,
        district=workspace.read_layer("district") if "district" in names else None,
        townships=gpd.GeoDataFrame(townships) if townships is not None else None,
        facilities={t: workspace.read_layer(n) for t, n in workspace.facility_layers().items()},
        gaps=gpd.GeoDataFrame(g) if (g := result("gaps")) is not None else None,
        admin_gaps=pd.DataFrame(a) if (a := result("admin_gaps")) is not None else pd.DataFrame(),
        floor_area=pd.DataFrame(f) if (f := result("floor_area")) is not None else pd.DataFrame(),
        proposals=gpd.GeoDataFrame(shared_sites(proposals)) if proposals is not None else None,
        layers=meta, gazetteer=workspace.read_table("gazetteer") if "gazetteer" in names else pd.DataFrame(),
        scenario=scenario, catalogue=catalogue, profiles=scenario_profiles(scenario, catalogue),
        notes=notes, network_summary=network_summary, type_thresholds=thresholds,
        villages=gpd.GeoDataFrame(villages) if villages is not None else None, network=network,
    )
