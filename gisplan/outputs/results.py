"""The files of `gisplan run`: indicator and unit tables, gaps, proposals, ``results.gpkg`` and the map.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from gisplan.catalogue import facility_type_of
from gisplan.crs import STORAGE_CRS
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_csv, write_atomic_gpkg, write_atomic_text
from gisplan.io.spatial import list_file_layers, read_file_layer
from gisplan.outputs.coverage import demand_table
from gisplan.outputs.mapparts import map_rows, neighbour_labels, read_basemap, read_neighbours
from gisplan.outputs.people import for_people
from gisplan.outputs.webmap import MapLayers, build_map, render_map_html
from gisplan.vocab import CoverageMethod, Method

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from gisplan.analysis.coverage import CoverageResult
    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario
    from gisplan.store import Workspace
    from gisplan.workflows.plan import RunResult

__all__ = ["MapInputs", "map_layers", "read_map_inputs", "write_map", "write_results"]

logger = logging.getLogger(__name__)


def _unit_layer(
    workspace: Workspace, layer: str, coverage: CoverageResult | None, admin: pd.DataFrame, floor: pd.DataFrame,
) -> gpd.GeoDataFrame:
    """A boundary layer with, per unit, the coverage share of each type at its threshold and admin gaps."""
    polys = workspace.read_layer(layer)
    out = polys[[c for c in ("code12", "name") if c in polys] + ["geometry"]].copy()
    level = "township" if layer == "townships" else "village"
    if coverage is not None:
        units = coverage.units
        rows = units[units["level"] == level]
        for type_id, part in rows.groupby("facility_type", observed=True):
            sel = part[part["threshold"] == coverage.type_thresholds.get(str(type_id))]
            share = dict(zip(sel["code12"].astype(str), sel["population_share"], strict=True))
            out[f"share_{type_id}"] = out["code12"].astype(str).map(share)
    if len(floor):
        per = floor[floor["level"] == level].set_index("code12")["floor_area_m2_per_100hh"]
        out["floor_area_m2_per_100hh"] = out["code12"].astype(str).map(per)
    lacking = admin[admin["level"] == level]
    for type_id, part in lacking.groupby("facility_type"):
        out[f"lacks_{type_id}"] = out["code12"].astype(str).isin(set(part["code12"].dropna().astype(str)))
        if "status" in part and (part["status"] == "not_computed").any():  # no layer: unknown, not "no gap"
            out[f"lacks_{type_id}"] = pd.Series(pd.NA, index=out.index, dtype="boolean")
    return out


def write_results(result: RunResult, *, out_dir: Path, workspace: Workspace, illustrative: bool,
                  type_names: Mapping[str, str] | None = None) -> list[Path]:
    """Write `gisplan run` results: ``indicators.csv``, per-unit tables, ``gaps.csv``, ``admin_gaps.csv``
    and ``results.gpkg`` (layers demand, units, floor_area, townships/villages with their indicators, gaps,
    areas, proposed_sites), which :mod:`gisplan.outputs.report` reads back.

    The CSVs are written for people in the language spoken (:func:`gisplan.outputs.people.for_people`, with
    `type_names`: facility type id → name); ``results.gpkg`` keeps the machine-readable columns."""
    names = type_names or {}

    def csv(frame: pd.DataFrame, path: Path) -> None:
        write_atomic_csv(for_people(frame, type_names=names), path)

    table = result.indicators.rename(columns={"name_zh": "name", "basis": "source"})
    first = ["indicator_id", "name", "unit", "value", "target", "comparator", "status", "method", "source"]
    table = table[first + [c for c in table.columns if c not in first]]
    table["illustrative"] = illustrative
    written = []
    csv(table, out_dir / "indicators.csv")
    written.append(out_dir / "indicators.csv")
    gaps = result.gaps.to_crs(STORAGE_CRS)
    csv(pd.DataFrame(gaps.drop(columns="geometry")), out_dir / "gaps.csv")
    csv(result.admin_gaps, out_dir / "admin_gaps.csv")
    written += [out_dir / "gaps.csv", out_dir / "admin_gaps.csv"]
    if len(result.floor_area):
        csv(result.floor_area.assign(illustrative=illustrative), out_dir / "floor_area.csv")
        written.append(out_dir / "floor_area.csv")
    if len(result.proposals):
        frame = pd.DataFrame(result.proposals.drop(columns="geometry")).assign(illustrative=illustrative)
        # one row per site per type (the proposed-sites contract): its id and rows first
        first_cols = [c for c in ("site_id", "facility_type", "indicator_id", "indicator_ids", "rank", "year",
                                  "candidate_id", "township", "village") if c in frame]
        csv(frame[first_cols + [c for c in frame.columns if c not in first_cols]], out_dir / "proposed_sites.csv")
        written.append(out_dir / "proposed_sites.csv")
    layers: dict[str, pd.DataFrame] = {"indicators": table.astype({"meets_target": "boolean"}),
                                       "admin_gaps": result.admin_gaps}
    if result.coverage is not None:
        units = result.coverage.units.copy()
        units["illustrative"] = illustrative
        csv(units, out_dir / "units.csv")
        written.append(out_dir / "units.csv")
        layers["units"] = units  # the report reads the coverage per unit and threshold back from here
        layers["demand"] = demand_table(result.coverage)
        if len(result.coverage.areas):
            layers["areas"] = result.coverage.areas.to_crs(STORAGE_CRS)
    if len(result.floor_area):
        layers["floor_area"] = result.floor_area.copy()
    stored = workspace.layer_names()
    for layer in ("townships", "villages"):
        if layer in stored:
            layers[layer] = _unit_layer(workspace, layer, result.coverage, result.admin_gaps,
                                        result.floor_area).to_crs(STORAGE_CRS)
    if len(gaps):
        layers["gaps"] = gaps
    if len(result.proposals):
        layers["proposed_sites"] = gpd.GeoDataFrame(result.proposals)
    for frame in layers.values():
        frame["illustrative"] = illustrative
    # GDAL cannot write a table with no columns' values typed; an empty admin_gaps keeps its columns as text
    layers["admin_gaps"] = layers["admin_gaps"].astype(str) if len(layers["admin_gaps"]) == 0 else layers["admin_gaps"]
    write_atomic_gpkg(layers, out_dir / "results.gpkg")
    written.append(out_dir / "results.gpkg")
    return written


_STRAIGHT_LINE_MAP_NOTE = ("15分钟指标为直线估算（参考），非路网覆盖；获取路网覆盖：联网时运行 gisplan roads fetch，"
                           "或在情景 [roads] path 中给出 OpenStreetMap 数据（.osm.pbf）或自有道路图层。")

_LAYER_LABELS = {"households": "住户与人口", "villages": "村（社区）界", "townships": "镇街界", "district": "区界",
                 "gazetteer": "区划名录", "roads": "道路", "place_names": "地名"}


@dataclass(frozen=True, slots=True, eq=False)
class MapInputs:
    """What a scenario's map reads besides the run's results: the workspace's layer list, metadata, district
    and facility layers, and the scenario's neighbours with their labels placed (:func:`read_map_inputs`).
    Nothing here depends on the run, so `gisplan run` reads it while it writes the files."""

    metadata: pd.DataFrame
    layer_names: tuple[str, ...]
    district: gpd.GeoDataFrame | None
    facilities: dict[str, gpd.GeoDataFrame]
    neighbours: gpd.GeoDataFrame | None
    neighbour_names: pd.DataFrame | None


def read_map_inputs(workspace: Workspace, scenario: Scenario) -> MapInputs:
    """The map's inputs from `workspace` and the scenario's ``[map] neighbours`` (see :class:`MapInputs`).

    Raises
    ------
    ConfigError
        If a neighbours file is unreadable.
    """
    names = tuple(workspace.layer_names())
    district = workspace.read_layer("district") if "district" in names else None
    neighbours = read_neighbours(scenario.map.neighbours)
    return MapInputs(
        metadata=workspace.metadata(), layer_names=names, district=district,
        facilities={type_id: workspace.read_layer(name) for type_id, name in workspace.facility_layers().items()},
        neighbours=neighbours,
        neighbour_names=(neighbour_labels(neighbours, district)
                         if neighbours is not None and district is not None and len(district) else None))


def map_layers(results: Path, workspace: Workspace, scenario: Scenario, catalogue: Catalogue, *,
               basemap_file: Path | None = None, inputs: MapInputs | None = None) -> MapLayers:
    """The layers of a scenario's map: boundaries and facilities from the workspace, indicators, service
    areas, gaps and proposed sites from the ``results.gpkg`` that :func:`write_results` wrote; the indicator
    rows that group them, the map notice, the neighbours and the local basemap of the scenario's ``[map]``
    (`basemap_file` instead of its ``basemap``). `inputs`: what :func:`read_map_inputs` read already (else it
    is read now).

    Raises
    ------
    ConfigError
        If `results` does not exist (run the scenario first), or the basemap or a neighbours file is unreadable.
    """
    if not results.is_file():
        msg = _("{results} does not exist: run `gisplan run SCENARIO --out {parent}` first").format(
                results=results, parent=results.parent)
        raise ConfigError(msg)
    done = set(list_file_layers(results))
    read = inputs if inputs is not None else read_map_inputs(workspace, scenario)
    stored = read.metadata
    names = read.layer_names

    def result_layer(name: str) -> gpd.GeoDataFrame | None:
        return read_file_layer(results, layer=name) if name in done else None

    townships = result_layer("townships")
    if townships is None and "townships" in names:
        townships = workspace.read_layer("townships")
    facilities = read.facilities
    type_names = {t.id: t.name_zh for t in catalogue.types.values()}
    areas = result_layer("areas")
    minutes = {t.id: t.max_minutes for t in catalogue.types.values()}
    if areas is not None:
        minutes.update({str(k): float(v) for k, v in areas.groupby("facility_type")["minutes"].max().items()})

    def label(layer: str) -> str:
        type_id = facility_type_of(layer)
        return type_names.get(type_id, layer) if type_id else _LAYER_LABELS.get(layer, layer)

    illustrative = tuple(
        label(n) for n in stored.loc[stored["illustrative"].astype(bool) & (stored["kind"] != "result"), "layer"])
    method = str(scenario.coverage.method) if "demand" in done else "none"
    notes = [str(n) for n in stored.loc[stored["layer"] == "roads", "note"].dropna() if str(n)]
    indicators = result_layer("indicators")
    if indicators is not None and (indicators["method"] == Method.STRAIGHT_LINE).any():
        method = str(CoverageMethod.STRAIGHT_LINE)  # no roads: the 15-minute values are straight-line estimates
        notes.append(_STRAIGHT_LINE_MAP_NOTE)
    basemap = basemap_file or scenario.map.basemap
    return MapLayers(
        title=scenario.name, method=method, townships=townships, notes=tuple(notes),
        district=read.district,
        villages=result_layer("villages"), facilities=facilities, areas=areas, gaps=result_layer("gaps"),
        proposals=result_layer("proposed_sites"), type_names=type_names, type_minutes=minutes,
        type_colours={t.id: t.map_colour for t in catalogue.types.values()},
        type_glyphs={t.id: t.map_glyph for t in catalogue.types.values()},
        illustrative=illustrative, floor_area_standard_m2_per_100hh=scenario.standard.floor_area_m2_per_100hh,
        rows=map_rows(scenario, catalogue), notice=scenario.map.notice_text,
        neighbours=read.neighbours, neighbour_names=read.neighbour_names,
        basemap_image=None if basemap is None else read_basemap(basemap, max_px=scenario.map.basemap_max_px),
    )


def write_map(layers: MapLayers, path: Path, *, choropleth: str | None = None, basemap: str = "none",
              tianditu_key: str | None = None) -> Path:
    """Build the map (:func:`gisplan.outputs.webmap.build_map`) and write it as one self-contained HTML file,
    atomically."""
    fmap = build_map(layers, choropleth=choropleth, basemap=basemap, tianditu_key=tianditu_key)
    write_atomic_text(render_map_html(fmap), path)
    return path
