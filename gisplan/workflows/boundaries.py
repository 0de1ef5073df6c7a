"""Boundary maintenance on a workspace: topology check and the reviewed repair, boundary lines from neighbour
polygons, markers (界桩) and their joint-inspection (联检) records.

Everything is written through the Workspace's transactions (one revision per step, with a change-log note),
so the workspace history records every step. Layers written here:

* ``boundary_problems`` — the last check's problems (points or pieces), kind ``result``;
* ``<layer>_repair`` — a repaired copy for review; ``apply_repair`` puts it in place of ``<layer>``;
* ``boundary_lines``, ``boundary_markers`` and the table ``marker_inspections``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from gisplan.boundaries import TopologyReport, boundary_lines, check_topology, repair_coverage, require_projected
from gisplan.coords import wgs84_to_gcj02
from gisplan.crs import STORAGE_CRS, parse_crs, to_planning_crs, to_storage_crs
from gisplan.errors import ConfigError, Problem, SchemaError, StoreError
from gisplan.i18n import _
from gisplan.io.spatial import read_spatial
from gisplan.store import LayerWrite, Workspace
from gisplan.vocab import MarkerState, parse_choice
from gisplan.workflows.divisions import rewrite_layer

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = [
    "INSPECTION_COLUMNS",
    "LINES_LAYER",
    "MARKERS_LAYER",
    "PROBLEMS_LAYER",
    "Inspection",
    "apply_repair",
    "check_workspace",
    "derive_lines",
    "inspection_sheet",
    "propose_repair",
    "record_inspection",
    "write_markers",
]

logger = logging.getLogger(__name__)

PROBLEMS_LAYER = "boundary_problems"
LINES_LAYER = "boundary_lines"
MARKERS_LAYER = "boundary_markers"
INSPECTIONS_LAYER = "marker_inspections"
INSPECTION_COLUMNS = ("marker_no", "date", "inspectors", "state", "remarks", "photos")


def _parent_layers(ws: Workspace, layer: str) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """The outline the layer must fill, and the parent polygons its codes must agree with."""
    district = ws.read_layer("district") if ws.has_layer("district") else None
    if layer == "villages":
        towns = ws.read_layer("townships") if ws.has_layer("townships") else None
        return district, towns
    return district, district


def check_workspace(
    ws: Workspace, *, layer: str = "townships", crs: str | None = None, write: bool = True,
    min_area_m2: float = 100.0, sliver_width_m: float = 20.0, outline_tolerance_m2: float = 10_000.0,
    marker_max_m: float = 50.0,
) -> TopologyReport:
    """Check a division layer of the workspace (see :func:`gisplan.boundaries.check_topology`) and, with `write`,
    store the problems as layer ``boundary_problems`` (EPSG:4326).

    Parameters
    ----------
    ws : Workspace
    layer : str
        ``townships`` (checked against the district outline) or ``villages`` (against the townships).
    crs : str, optional
        Projected planning CRS (the scenario's, e.g. ``EPSG:32648``); default the data's UTM zone.
    write : bool
        Store the problems layer.
    min_area_m2, sliver_width_m, outline_tolerance_m2, marker_max_m : float
        As for :func:`~gisplan.boundaries.check_topology`.

    Raises
    ------
    StoreError
        If the workspace has no such layer.
    """
    if layer not in {"townships", "villages"}:
        msg = _("`--layer` must be townships or villages (got {layer!r}).").format(layer=layer)
        raise ConfigError(msg)
    units = to_planning_crs(ws.read_layer(layer), crs)
    metric = require_projected(units, layer)
    outline, parents = _parent_layers(ws, layer)
    gaz = ws.read_table("gazetteer") if ws.has_layer("gazetteer") else None
    markers = lines = None
    if ws.has_layer(MARKERS_LAYER) and ws.has_layer(LINES_LAYER):
        markers = ws.read_layer(MARKERS_LAYER).to_crs(metric)
        lines = ws.read_layer(LINES_LAYER).to_crs(metric)
    report = check_topology(
        units, level=layer[:-1], outline=outline.to_crs(metric) if outline is not None else None,
        parents=parents.to_crs(metric) if parents is not None else None, gazetteer=gaz, markers=markers,
        lines=lines, min_area_m2=min_area_m2, sliver_width_m=sliver_width_m,
        outline_tolerance_m2=outline_tolerance_m2, marker_max_m=marker_max_m,
    )
    if write:
        stored = report.problems.to_crs(STORAGE_CRS).assign(layer=layer)
        where = stored.geometry.representative_point()  # a location to read in a table: lon/lat WGS84
        stored["lon"], stored["lat"] = where.x.round(6), where.y.round(6)
        note = (f"gisplan boundaries check --layer {layer}: {len(stored)} problems; "
                + ", ".join(f"{k} {v:.2f}" for k, v in report.totals.items()))
        ws.write([LayerWrite(PROBLEMS_LAYER, "result", stored, note=note)], action="boundaries-check",
                 detail={"layer": layer, "problems": len(stored), "note": note})
    return report


def propose_repair(
    ws: Workspace, *, layer: str = "townships", crs: str | None = None, gap_width_m: float = 200.0,
) -> tuple[str, gpd.GeoDataFrame]:
    """Write a repaired copy of `layer` as ``<layer>_repair`` for the user to review (the layer itself is not
    touched); return its name and the copy (with ``area_km2_before``/``area_km2_after``).

    Raises
    ------
    StoreError
        If the workspace has no such layer.
    """
    stored = ws.read_layer(layer)
    units = to_planning_crs(stored, crs)
    outline, _unused = _parent_layers(ws, layer)
    metric = require_projected(units, layer)
    fixed = repair_coverage(units, outline=outline.to_crs(metric) if outline is not None else None,
                            gap_width_m=gap_width_m)
    name = f"{layer}_repair"
    note = (f"修复草案 repair draft of `{layer}` (shapely coverage_clean, gap width {gap_width_m:g} m): "
            f"review it, then `gisplan boundaries check --layer {layer} --apply`")
    ws.write([LayerWrite(name, "result", fixed.to_crs(STORAGE_CRS), note=note)], action="boundaries-repair",
             detail={"layer": layer, "gap_width_m": gap_width_m, "note": note})
    return name, fixed


def apply_repair(ws: Workspace, *, layer: str = "townships", note: str = "") -> int:
    """Replace `layer` with its reviewed ``<layer>_repair`` copy (same rows) in one transaction; return the
    revision.

    Raises
    ------
    StoreError
        If there is no repair draft, or its rows no longer match the layer's codes.
    """
    draft_name = f"{layer}_repair"
    if not ws.has_layer(draft_name):
        msg = (_("{label} has no repair draft `{draft_name}`; run `gisplan boundaries check --layer {layer} "
                 "--repair` first.").format(label=ws.label, draft_name=draft_name, layer=layer))
        raise StoreError(msg)
    current = ws.read_layer(layer)
    draft = ws.read_layer(draft_name)
    if sorted(current["code12"].astype(str)) != sorted(draft["code12"].astype(str)):
        msg = (_("the draft `{draft_name}` no longer has the codes of `{layer}` (the layer changed since); make a "
                 "new draft with --repair.").format(draft_name=draft_name, layer=layer))
        raise StoreError(msg)
    fixed = current.copy()
    by_code = pd.Series(draft.geometry.to_numpy(), index=draft["code12"].astype(str).to_numpy())
    fixed = fixed.set_geometry(gpd.GeoSeries(by_code.reindex(current["code12"].astype(str).to_numpy()).to_numpy(),
                                             index=current.index, crs=current.crs))
    text = f"repaired with coverage_clean (reviewed draft `{draft_name}`)" + (f"; {note}" if note else "")
    with ws.transaction(action="boundaries-apply-repair", detail={"layer": layer, "note": text}) as tx:
        tx.write(rewrite_layer(ws, layer, fixed, text))
        tx.drop(draft_name)
    return tx.revision


def read_neighbours(paths: Sequence[Path], *, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read neighbour polygons (``code12``, ``name``) from files into EPSG:4326.

    A file named ``…_gcj02…`` is GCJ-02 unless `crs` says otherwise (web-map data says EPSG:4326 but is not).

    Raises
    ------
    SchemaError
        If a file lacks ``code12`` or ``name``.
    """
    frames = []
    for path in paths:
        raw = read_spatial(path)
        missing = [c for c in ("code12", "name") if c not in raw]
        if missing:
            msg = _("the neighbour polygons need columns code12 and name (missing: {missing}).").format(
                    missing=', '.join(missing))
            raise SchemaError([Problem(path.name, None, missing[0], msg,
                                       "add the 12-digit division code and the name of each polygon.")])
        text = crs or ("gcj02" if "gcj02" in path.name.lower() else None)
        if text == "gcj02" and crs is None:
            logger.warning("%s: the name says GCJ-02; reading it as gcj02 (give --crs to override)", path.name)
        gdf = to_storage_crs(raw, parse_crs(text) if text else None, source=path.name)
        frames.append(gdf[["code12", "name", *(["province"] if "province" in gdf else []), "geometry"]])
    out = pd.concat(frames, ignore_index=True)
    out["code12"] = out["code12"].astype(str)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=STORAGE_CRS)


def derive_lines(
    ws: Workspace, neighbour_files: Sequence[Path], *, crs: str | None = None, neighbours_crs: str | None = None,
    tolerance_m: float = 200.0, write: bool = True,
) -> gpd.GeoDataFrame:
    """The district's boundary lines from its outline and the neighbours' polygons; stored as ``boundary_lines``.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`gisplan.boundaries.LINE_COLUMNS`, in EPSG:4326.
    """
    outline = to_planning_crs(ws.read_layer("district"), crs)
    neighbours = read_neighbours(neighbour_files, crs=neighbours_crs).to_crs(require_projected(outline, "district"))
    lines = boundary_lines(outline, neighbours, tolerance_m=tolerance_m).to_crs(STORAGE_CRS)
    if write:
        note = (f"derived from the district outline and {', '.join(p.name for p in neighbour_files)} "
                f"(tolerance {tolerance_m:g} m)")
        ws.write([LayerWrite(LINES_LAYER, "result", lines, note=note)], action="boundaries-lines",
                 detail={"lines": len(lines), "note": note})
    return lines


def write_markers(ws: Workspace, markers: gpd.GeoDataFrame, *, note: str = "", illustrative: bool = False) -> int:
    """Store the markers (界桩) layer (replacing it); markers must name a line of ``boundary_lines``.

    Raises
    ------
    SchemaError
        If a marker number repeats or names an unknown line.
    """
    lines = ws.read_table(LINES_LAYER) if ws.has_layer(LINES_LAYER) else pd.DataFrame({"line_id": []})
    problems = [Problem(MARKERS_LAYER, i + 2, "marker_no", f"界桩编号 {n!r} 重复", "give every marker its own number.")
                for i, n in enumerate(markers["marker_no"]) if markers["marker_no"].duplicated().iloc[i]]
    known = set(lines["line_id"].astype(str))
    problems += [Problem(MARKERS_LAYER, i + 2, "line_id", f"界线 {x!r} 不存在", "run `gisplan boundaries lines` first.")
                 for i, x in enumerate(markers["line_id"].astype(str)) if x not in known]
    if problems:
        raise SchemaError(problems)
    stored = markers.to_crs(STORAGE_CRS)
    return ws.write([LayerWrite(MARKERS_LAYER, "result", stored, illustrative=illustrative, note=note or None)],
                    action="boundaries-markers", detail={"markers": len(stored), "note": note})


@dataclass(frozen=True, slots=True)
class Inspection:
    """One joint-inspection (联检) record of a marker."""

    marker_no: str
    date: str
    inspectors: str
    state: str
    remarks: str = ""
    photos: str = ""


def record_inspection(ws: Workspace, records: Sequence[Inspection]) -> int:
    """Append inspection records and set each marker's ``state`` to what was found, in one transaction.

    Raises
    ------
    SchemaError
        If a marker does not exist, a state is not one of :class:`~gisplan.vocab.MarkerState` or a date is not
        ISO (YYYY-MM-DD).
    StoreError
        If the workspace has no markers.
    """
    if not ws.has_layer(MARKERS_LAYER):
        msg = _("{label} has no markers; add them first (`gisplan boundaries markers`).").format(label=ws.label)
        raise StoreError(msg)
    markers = ws.read_layer(MARKERS_LAYER)
    frame = pd.DataFrame([{c: getattr(r, c) for c in INSPECTION_COLUMNS} for r in records],
                         columns=list(INSPECTION_COLUMNS))
    problems = [Problem("inspection", i + 1, "marker_no", f"界桩 {n!r} 不存在",
                        "check the number (`gisplan boundaries markers` lists them).")
                for i, n in enumerate(frame["marker_no"]) if n not in set(markers["marker_no"].astype(str))]
    for i, state in enumerate(frame["state"]):
        try:
            parse_choice(MarkerState, state, "`state`")
        except ValueError as exc:
            problems.append(Problem("inspection", i + 1, "state", str(exc), "use one of 完好, 损坏, 倾斜, 丢失, 移位."))
    bad_date = ~frame["date"].astype(str).str.fullmatch(r"\d{4}-\d{2}-\d{2}") | pd.to_datetime(
        frame["date"], format="%Y-%m-%d", errors="coerce").isna()
    problems += [Problem("inspection", i + 1, "date", _("日期 {d!r} 不是 YYYY-MM-DD").format(
            d=d), "write e.g. 2024-05-20.")
                 for i, d in enumerate(frame["date"]) if bad_date.iloc[i]]
    if problems:
        raise SchemaError(problems)
    old = ws.read_table(INSPECTIONS_LAYER) if ws.has_layer(INSPECTIONS_LAYER) else frame.iloc[:0]
    latest = frame.drop_duplicates("marker_no", keep="last").set_index("marker_no")["state"]
    updated = markers.copy()
    hit = updated["marker_no"].astype(str).isin(latest.index)
    updated.loc[hit, "state"] = updated.loc[hit, "marker_no"].astype(str).map(latest)
    meta = ws.metadata().set_index("layer").loc[MARKERS_LAYER]
    found = zip(frame["marker_no"], frame["state"], strict=True)
    note = f"联检记录 {len(frame)} 条: " + "；".join(f"{m} {s}" for m, s in found)
    with ws.transaction(action="boundaries-inspect", detail={"records": len(frame), "note": note}) as tx:
        tx.write(LayerWrite(INSPECTIONS_LAYER, "result", pd.concat([old, frame], ignore_index=True),
                            note="联检记录 joint-inspection records"),
                 LayerWrite(MARKERS_LAYER, "result", updated, illustrative=bool(meta["illustrative"]),
                            note=meta["note"] if isinstance(meta["note"], str) else None))
    return tx.revision


def inspection_sheet(ws: Workspace) -> pd.DataFrame:
    """The joint-inspection sheet (联检表): one row per marker with its line, sides, type, coordinates in CGCS2000
    (EPSG:4490, numerically WGS84 within centimetres) and GCJ-02, and its last inspection.

    Raises
    ------
    StoreError
        If the workspace has no markers.
    """
    markers = ws.read_layer(MARKERS_LAYER)
    lines = ws.read_table(LINES_LAYER)
    cgcs = markers.to_crs("EPSG:4490")
    lon, lat = cgcs.geometry.x.to_numpy(), cgcs.geometry.y.to_numpy()
    glon, glat = wgs84_to_gcj02(markers.geometry.x.to_numpy(), markers.geometry.y.to_numpy())
    sheet = pd.DataFrame({
        "界线 line": markers["line_id"].astype(str),
        "界线级别 level": markers["line_id"].astype(str).map(dict(zip(lines["line_id"], lines["level"], strict=True))),
        "甲方 side A": markers["side_a_name"], "乙方 side B": markers["side_b_name"],
        "界桩编号 marker": markers["marker_no"], "类型 type": markers["marker_type"],
        "经度 lon CGCS2000": np.round(lon, 6), "纬度 lat CGCS2000": np.round(lat, 6),
        "经度 lon GCJ-02": np.round(glon, 6), "纬度 lat GCJ-02": np.round(glat, 6),
        "现状 state": markers["state"],
    })
    if ws.has_layer(INSPECTIONS_LAYER):
        last = ws.read_table(INSPECTIONS_LAYER).sort_values("date").drop_duplicates("marker_no", keep="last")
        last = last.set_index("marker_no")
        for col, label in (("date", "上次检查 date"), ("inspectors", "检查人 inspectors"), ("remarks", "备注 remarks"),
                           ("photos", "照片 photos")):
            sheet[label] = markers["marker_no"].astype(str).map(last[col]).fillna("")
    else:
        for label in ("上次检查 date", "检查人 inspectors", "备注 remarks", "照片 photos"):
            sheet[label] = ""
    illustrative = (markers["illustrative"].astype(bool) if "illustrative" in markers
                    else pd.Series(False, index=markers.index))
    sheet["说明 note"] = np.where(illustrative, "示意 illustrative", "")
    return sheet.sort_values(["界线级别 level", "界线 line", "界桩编号 marker"], ascending=[False, True, True],
                             ignore_index=True)
