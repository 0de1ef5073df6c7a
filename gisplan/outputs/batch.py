"""The files of `gisplan batch`: each district's usual outputs, and the municipal tables and map that combine them.

Municipal tables are built from the districts' own files on disk (``<out>/<code>/results/``), so districts skipped
on a rerun (inputs unchanged) and districts run now are combined the same way, whatever engine ran them:

* ``indicators_by_district.csv`` — every district's indicator rows (value, target, status, proposed sites after);
* ``coverage_by_district.csv`` — district-level coverage per facility type and threshold;
* ``proposed_sites.csv`` — every district's proposed sites;
* ``batch_status.csv`` — each district's status (done / skipped / failed with its error), seconds and worker;
* ``municipal_map.html`` — the districts coloured by any indicator (a menu), each linking to its own map.
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.crs import STORAGE_CRS, utm_crs
from gisplan.io.atomic import write_atomic_csv, write_atomic_text
from gisplan.outputs.mappage import WEB_DIR
from gisplan.outputs.results import map_layers, write_map, write_results
from gisplan.store import open_workspace

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario
    from gisplan.store import Workspace
    from gisplan.workflows.batch import BatchResult, DistrictOutcome
    from gisplan.workflows.plan import RunResult

__all__ = ["municipal_tables", "write_district", "write_district_tables", "write_municipal"]

_ILLUSTRATIVE_NOTE = ("示意 — 各区县的镇街/村社区边界、设施与人口为程序生成的示意数据"
                      "（gisplan.workflows.synthetic），指标值仅演示计算流程，不代表实际情况。"
                      "Generated illustrative data: values show how gisplan works.")


def _illustrative(workspace: Workspace) -> bool:
    meta = workspace.metadata()
    return bool(meta["illustrative"].astype(bool).any())


def write_district_tables(result: RunResult, *, out_dir: Path, workspace: Workspace, scenario: Scenario,
                          catalogue: Catalogue) -> list[Path]:
    """A district's `gisplan run` files without the map (``gisplan batch --no-map``)."""
    return write_results(result, out_dir=out_dir, workspace=workspace, illustrative=_illustrative(workspace))


def write_district(result: RunResult, *, out_dir: Path, workspace: Workspace, scenario: Scenario,
                   catalogue: Catalogue) -> list[Path]:
    """A district's `gisplan run` files and its ``map.html``."""
    files = write_district_tables(result, out_dir=out_dir, workspace=workspace, scenario=scenario,
                                  catalogue=catalogue)
    files.append(write_map(map_layers(out_dir / "results.gpkg", workspace, scenario, catalogue),
                           out_dir / "map.html"))
    return files


def _read(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return frame if len(frame) else None


def _ok(outcomes: Sequence[DistrictOutcome]) -> list[DistrictOutcome]:
    return [o for o in outcomes if o.status in {"done", "skipped"}]


def municipal_tables(outcomes: Sequence[DistrictOutcome]) -> dict[str, pd.DataFrame]:
    """The combined tables of a batch (as text, exactly as each district wrote them), keyed by file stem."""
    parts: dict[str, list[pd.DataFrame]] = {"indicators_by_district": [], "coverage_by_district": [],
                                            "proposed_sites": []}
    for o in sorted(_ok(outcomes), key=lambda o: o.code):
        results = o.folder / "results"
        for stem, name in (("indicators_by_district", "indicators.csv"), ("proposed_sites", "proposed_sites.csv"),
                           ("coverage_by_district", "units.csv")):
            frame = _read(results / name)
            if frame is None:
                continue
            if stem == "coverage_by_district":
                frame = frame[frame["level"] == "district"].drop(columns=["level", "code12", "name"])
            frame.insert(0, "district", o.name)
            frame.insert(0, "district_code", o.code)
            parts[stem].append(frame)
    tables = {stem: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["district_code"])
              for stem, frames in parts.items()}
    tables["batch_status"] = pd.DataFrame({
        "district_code": [o.code for o in outcomes], "district": [o.name for o in outcomes],
        "status": [o.status for o in outcomes], "error": [o.error for o in outcomes],
        "seconds": [round(sum(o.seconds.values()), 2) for o in outcomes],
        "worker": [o.worker for o in outcomes],
        "cpu_s": [round(o.cpu_s, 2) for o in outcomes],
        "peak_rss_mb": [round(o.peak_rss_mb, 1) for o in outcomes],
    }).sort_values("district_code", kind="stable").reset_index(drop=True)
    return tables


def _outlines(outcomes: Sequence[DistrictOutcome]) -> gpd.GeoDataFrame:
    """Each finished district's outline, from its workspace."""
    frames = []
    for o in sorted(_ok(outcomes), key=lambda o: o.code):
        ws = open_workspace(o.folder / "work" / f"{o.code}.gpkg")
        if ws.exists() and ws.has_layer("district"):
            shape = shapely.union_all(ws.read_layer("district").to_crs(STORAGE_CRS).geometry.to_numpy())
            frames.append(gpd.GeoDataFrame({"code": [o.code], "name": [o.name]}, geometry=[shape], crs=STORAGE_CRS))
    if not frames:
        return gpd.GeoDataFrame({"code": [], "name": []}, geometry=[], crs=STORAGE_CRS)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=STORAGE_CRS)


def _safe_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)  # keys in insertion order: the menu keeps the template order
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _numbers(values: pd.Series) -> list[float | None]:
    out = pd.to_numeric(values, errors="coerce").round(2)
    return [None if pd.isna(v) else float(v) for v in out]


def municipal_map_html(outcomes: Sequence[DistrictOutcome], indicators: pd.DataFrame, *, title: str,
                       indicator: str | None = None) -> str:
    """The municipal map as one self-contained page (Leaflet inlined, no tiles): the districts coloured by the
    indicator chosen in its menu (`indicator` first), each with a popup linking to ``<code>/results/map.html``."""
    shapes = _outlines(outcomes)
    if len(shapes):
        metric = shapes.to_crs(utm_crs(shapes))
        simple = gpd.GeoSeries(shapely.simplify(metric.geometry.to_numpy(), 100.0, preserve_topology=True),
                               crs=metric.crs).to_crs(STORAGE_CRS).to_numpy()
        simple = shapely.transform(simple, lambda xy: np.round(xy, 5))
    else:
        simple = np.array([], dtype=object)
    values = indicators[pd.to_numeric(indicators.get("value", pd.Series(dtype=str)), errors="coerce").notna()] \
        if len(indicators) else indicators
    menu: dict[str, str] = {}
    by_district: dict[str, dict[str, dict[str, object]]] = {}
    if len(values):
        for iid, name, unit in values[["indicator_id", "name", "unit"]].drop_duplicates("indicator_id").itertuples(
                index=False):
            menu[str(iid)] = f"{iid} {name}（{unit}）"
        nums = _numbers(values["value"])
        for code, iid, num, status in zip(values["district_code"], values["indicator_id"], nums, values["status"],
                                          strict=True):
            by_district.setdefault(str(code), {})[str(iid)] = {"v": num, "s": str(status)}
    first = indicator if indicator in menu else next(iter(menu), "")
    features = [{"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)),
                 "properties": {"code": str(c), "name": str(n), "link": f"{c}/results/map.html",
                                "values": by_district.get(str(c), {})}}
                for c, n, g in zip(shapes["code"], shapes["name"], simple, strict=True)]
    data = {"type": "FeatureCollection", "features": features}
    leaflet_js = (WEB_DIR / "leaflet.js").read_text(encoding="utf-8")
    leaflet_css = (WEB_DIR / "leaflet.css").read_text(encoding="utf-8")
    leaflet_css = re.sub(r"url\(images/[^)]*\)", "none", leaflet_css)  # no marker images on this map
    parts = {"TITLE": html.escape(title), "NOTE": html.escape(_ILLUSTRATIVE_NOTE), "CSS": leaflet_css,
             "DATA": _safe_json(data), "MENU": _safe_json(menu), "FIRST": _safe_json(first), "LEAFLET": leaflet_js}
    return re.sub(r"%(TITLE|NOTE|CSS|DATA|MENU|FIRST|LEAFLET)%", lambda m: parts[m.group(1)], _PAGE)  # one pass


def write_municipal(result: BatchResult, out: Path, *, title: str, indicator: str | None = None,
                    draw_map: bool = True) -> list[Path]:
    """Write the municipal tables and map of a batch into `out`; returns the files written."""
    tables = municipal_tables(result.outcomes)
    written = []
    for stem, frame in tables.items():
        write_atomic_csv(frame, out / f"{stem}.csv")
        written.append(out / f"{stem}.csv")
    if draw_map:
        page = municipal_map_html(result.outcomes, tables["indicators_by_district"], title=title, indicator=indicator)
        write_atomic_text(page, out / "municipal_map.html")
        written.append(out / "municipal_map.html")
    return written


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>%TITLE%</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>%CSS%</style>
<style>
html, body, #map { height: 100%; margin: 0; font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
#panel { position: absolute; top: 10px; right: 10px; z-index: 1000; background: #fff; padding: 8px 10px;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); max-width: 340px; font-size: 13px; }
#panel h1 { font-size: 15px; margin: 0 0 6px; } #panel select { max-width: 320px; }
.note { color: #a33; font-size: 12px; margin-top: 6px; } .legend span { display: inline-block; width: 14px;
  height: 10px; margin-right: 4px; }
</style></head><body>
<div id="map"></div>
<div id="panel"><h1>%TITLE%</h1>
<label>着色指标 colour by: <select id="pick"></select></label>
<div class="legend" id="legend"></div>
<div class="note">%NOTE%</div></div>
<script>%LEAFLET%</script>
<script>
var districts = %DATA%;
var menu = %MENU%;
var chosen = %FIRST%;
var colours = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];
var map = L.map("map", {zoomSnap: 0.25});
var pick = document.getElementById("pick");
Object.keys(menu).forEach(function (id) {
  var o = document.createElement("option"); o.value = id; o.textContent = menu[id];
  if (id === chosen) { o.selected = true; } pick.appendChild(o);
});
function range(id) {
  var vs = districts.features.map(function (f) { var x = f.properties.values[id]; return x ? x.v : null; })
    .filter(function (v) { return v !== null; });
  return vs.length ? [Math.min.apply(null, vs), Math.max.apply(null, vs)] : [0, 0];
}
function colour(v, r) {
  if (v === null || v === undefined) { return "#cccccc"; }
  var k = r[1] > r[0] ? Math.min(4, Math.floor((v - r[0]) / (r[1] - r[0]) * 5)) : 2;
  return colours[k];
}
function popup(f) {
  var p = f.properties, div = document.createElement("div"), b = document.createElement("b");
  b.textContent = p.name + " (" + p.code + ")"; div.appendChild(b);
  var x = p.values[chosen], line = document.createElement("div");
  line.textContent = (menu[chosen] || "") + "：" + (x && x.v !== null ? x.v : "—") + (x ? " " + x.s : "");
  div.appendChild(line);
  var a = document.createElement("a"); a.href = p.link; a.textContent = "打开区县地图 open the district map";
  div.appendChild(a); return div;
}
var layer = L.geoJSON(districts, {
  style: function () { return {color: "#333", weight: 1, fillOpacity: 0.75}; },
  onEachFeature: function (f, l) { l.bindPopup(function () { return popup(f); });
    l.bindTooltip(f.properties.name, {sticky: true}); }
}).addTo(map);
function restyle() {
  var r = range(chosen);
  layer.eachLayer(function (l) { var x = l.feature.properties.values[chosen];
    l.setStyle({fillColor: colour(x ? x.v : null, r)}); });
  var lg = document.getElementById("legend"); lg.textContent = "";
  for (var k = 0; k < 5; k++) { var s = document.createElement("span"); s.style.background = colours[k];
    lg.appendChild(s); }
  lg.appendChild(document.createTextNode(" " + r[0] + " – " + r[1]));
}
pick.addEventListener("change", function () { chosen = pick.value; restyle(); });
restyle();
if (districts.features.length) {  // keep the districts clear of the panel on the right
  map.fitBounds(layer.getBounds(), {paddingTopLeft: [20, 20], paddingBottomRight: [370, 20]});
} else { map.setView([30, 107], 7); }
</script></body></html>
"""
