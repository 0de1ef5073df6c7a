"""Demand points: where residents are, with their population, households and persons aged 60+.

Three sources, one result (a GeoDataFrame of weighted points in the planning CRS):

* a population raster (GeoTIFF such as WorldPop): every populated cell becomes a point at its centre;
* household points (a ledger with coordinates);
* a table by 12-digit village/community code, each row spread over its village's area (a grid of
  points) or along its roads (points every ``spacing_m`` of road), where the village polygon is known,
  else over its township's polygon (flagged in ``spread_over``).

Columns of the result: ``demand_id``, ``population``, ``households``, ``pop_60plus`` (NaN where the
source does not say), ``code12`` (village/community, may be missing), ``township_code12``,
``spread_over`` and ``source``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS as _CRS

from gisplan import settings
from gisplan.crs import plain_coordinates_in
from gisplan.divisions import points_within
from gisplan.errors import CRSError, SchemaError
from gisplan.errors import Problem as _Problem
from gisplan.i18n import _
from gisplan.vocab import Weight

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pyproj import CRS

    from gisplan.network.graph import RoadNetwork

__all__ = ["DEMAND_COLUMNS", "WEIGHTS", "demand_from_points", "demand_from_raster", "demand_from_table"]

logger = logging.getLogger(__name__)

WEIGHTS = tuple(w.value for w in Weight)  # the demand weights, in column order
DEMAND_COLUMNS = ("demand_id", *WEIGHTS, "code12", "township_code12", "spread_over", "source")


def _frame(
    ids: NDArray[np.object_] | pd.Index,
    xy: NDArray[np.float64],
    crs: CRS | str,
    weights: dict[str, NDArray[np.float64]],
    **columns: object,
) -> gpd.GeoDataFrame:
    data: dict[str, object] = {"demand_id": np.asarray(ids, dtype=object)}
    for name in WEIGHTS:
        data[name] = np.asarray(weights.get(name, np.full(len(xy), np.nan)), dtype=float)
    for name in ("code12", "township_code12", "spread_over", "source"):
        data[name] = columns.get(name)
    frame = pd.DataFrame(data)
    for name in ("code12", "township_code12", "spread_over", "source"):
        frame[name] = frame[name].astype(object)
    return gpd.GeoDataFrame(frame, geometry=shapely.points(xy), crs=crs)


def demand_from_raster(
    path: str | Path,
    *,
    crs: str | CRS,
    area: gpd.GeoDataFrame | None = None,
    band: int = 1,
) -> gpd.GeoDataFrame:
    """Population cells of a raster as weighted points.

    Parameters
    ----------
    path : str or Path
        A GeoTIFF (or any GDAL raster) of persons per cell, such as WorldPop ``ppp``.
    crs : str or pyproj.CRS
        Projected planning CRS of the result.
    area : geopandas.GeoDataFrame, optional
        Only cells whose centre falls inside these polygons are kept (the district outline); the
        raster is read only in their window, so a national raster is fine.
    band : int
        Band holding the counts.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per populated cell (value > 0, not nodata), ``population`` = the cell value;
        households and 60+ unknown (NaN). ``demand_id`` is ``r<row>c<col>`` in the raster's grid.

    Raises
    ------
    CRSError
        If the raster has no CRS.
    SchemaError
        If the file cannot be read as a raster.
    """
    try:
        import rasterio  # noqa: PLC0415 - heavy import, only for rasters
        from rasterio.windows import Window, from_bounds  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - rasterio is a dependency
        msg = _("reading population rasters needs rasterio: pip install rasterio")
        raise ImportError(msg) from exc
    path = Path(path)
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        msg = _("cannot read the file as a raster: {exc}.").format(exc=exc)
        raise SchemaError([_Problem(path.name, None, None, msg, "give a GeoTIFF of persons per cell.")]) from None
    with src:
        if src.crs is None:
            msg = _("raster {name} has no CRS; set it (gdal_edit.py -a_srs EPSG:4326 {name}).").format(name=path.name)
            raise CRSError(msg)
        window = Window(0, 0, src.width, src.height)
        if area is not None:
            left, bottom, right, top = area.to_crs(src.crs).total_bounds
            window = from_bounds(left, bottom, right, top, transform=src.transform)
            window = window.round_offsets(op="floor").round_lengths(op="ceil")
            window = window.intersection(Window(0, 0, src.width, src.height))
        data = src.read(band, window=window, masked=True).astype(float)
        transform = src.window_transform(window)
        row0, col0 = int(window.row_off), int(window.col_off)
        raster_crs = src.crs
    values = np.ma.filled(data, 0.0)
    values[~np.isfinite(values)] = 0.0
    rows, cols = np.nonzero(values > 0)
    xs = transform.c + (cols + 0.5) * transform.a + (rows + 0.5) * transform.b
    ys = transform.f + (cols + 0.5) * transform.d + (rows + 0.5) * transform.e
    ids = np.char.add(np.char.add("r", (rows + row0).astype(str)), np.char.add("c", (cols + col0).astype(str)))
    gdf = _frame(ids.astype(object), np.column_stack([xs, ys]), raster_crs,
                 {"population": values[rows, cols]}, spread_over="raster cell", source=path.name)
    gdf = gdf.to_crs(crs)
    if area is not None:
        outline = shapely.union_all(area.to_crs(crs).geometry.to_numpy())
        inside = np.asarray(shapely.contains_xy(outline, *shapely.get_coordinates(gdf.geometry.to_numpy()).T),
                            dtype=bool)
        gdf = gpd.GeoDataFrame(gdf.loc[inside])
    logger.info("demand_from_raster: %d populated cells, %.0f persons", len(gdf), gdf["population"].sum())
    return gdf.reset_index(drop=True)


def demand_from_points(points: gpd.GeoDataFrame, *, crs: str | CRS, source: str = "points") -> gpd.GeoDataFrame:
    """Household points (one row per dwelling, building or ledger entry) as demand.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Points with any of ``population``, ``households``, ``pop_60plus``; an id in ``demand_id``,
        ``household_id`` or ``id`` (else the row number), and ``code12`` when known.
    crs : str or pyproj.CRS
        Projected planning CRS of the result.
    """
    if points.crs is None:
        msg = _("`points` has no CRS; set it or import the layer through `gisplan layers import`.")
        raise CRSError(msg)
    # type ids, not geom_type: that builds a million Arrow strings
    if len(points) and not (shapely.get_type_id(points.geometry.to_numpy()) == shapely.GeometryType.POINT).all():
        msg = _("`points` must hold Point geometries (use demand_from_table for polygons).")
        raise ValueError(msg)
    gdf = points
    xy = _projected_xy(points, crs)
    column = next((c for c in ("demand_id", "household_id", "id") if c in gdf), None)
    # the row numbers only when there is no id column (as text: ~1 s for a million rows)
    ids = (_as_text(gdf[column]) if column is not None else np.arange(1, len(gdf) + 1).astype(str).astype(object))
    weights = {w: pd.to_numeric(gdf[w], errors="coerce").to_numpy(dtype=float) for w in WEIGHTS if w in gdf}
    if not weights:
        weights = {"households": np.ones(len(gdf))}
    code = gdf["code12"].astype(object).to_numpy() if "code12" in gdf else None
    town = _township(code) if code is not None else None
    return _frame(ids, xy, crs, weights, code12=code, township_code12=town, spread_over="point", source=source)


def _as_text(values: pd.Series) -> NDArray[np.object_]:
    """A column as Python strings; one already all text is taken as it is (``astype(str)`` would make a million
    Arrow strings and convert them back)."""
    plain = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(plain, skipna=False) == "string":
        return plain
    return values.astype(str).to_numpy(dtype=object)


def _projected_xy(points: gpd.GeoDataFrame, crs: str | CRS) -> NDArray[np.float64]:
    """The points' coordinates in `crs`: the numbers ``points.to_crs(crs)`` gives, without building a second
    set of a million point geometries and copying every column."""
    target = _CRS.from_user_input(crs)
    found = plain_coordinates_in(points.geometry.to_numpy(), points.crs, target)
    if found is None:
        return shapely.get_coordinates(points.to_crs(target).geometry.to_numpy())
    return found[0]


def _township(codes: NDArray[np.object_]) -> NDArray[np.object_]:
    text = pd.Series(codes, dtype=object).astype("string")
    return (text.str.slice(0, 9) + "000").astype(object).where(text.str.len() == 12, None).to_numpy()


def _grid_in(polygon: shapely.Geometry, spacing_m: float) -> NDArray[np.float64]:
    """Grid points inside a polygon; its representative point if the grid misses it."""
    x0, y0, x1, y1 = shapely.bounds(polygon)
    xs = np.arange(x0 + spacing_m / 2, x1, spacing_m)
    ys = np.arange(y0 + spacing_m / 2, y1, spacing_m)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    inside = shapely.contains_xy(polygon, gx, gy)
    if not inside.any():
        return shapely.get_coordinates(shapely.point_on_surface(polygon))
    return np.column_stack([gx[inside], gy[inside]])


def _road_points(
    polygons: NDArray[np.object_], network: RoadNetwork, spacing_m: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Points every `spacing_m` along the roads, with the polygon(s) each falls in: (polygon index, xy)."""
    length = network.length_m
    n = np.maximum(1, np.round(length / spacing_m).astype(np.int64))
    edge_of = np.repeat(np.arange(network.n_edges), n)
    k = np.arange(len(edge_of)) - np.repeat(np.cumsum(n) - n, n)
    pts = shapely.line_interpolate_point(network.geometry[edge_of], (k + 0.5) / n[edge_of], normalized=True)
    pt_i, poly_i = points_within(pts, polygons)
    return poly_i, shapely.get_coordinates(pts[pt_i])


def demand_from_table(
    table: pd.DataFrame,
    *,
    villages: gpd.GeoDataFrame | None,
    townships: gpd.GeoDataFrame,
    crs: str | CRS,
    spread: str = "roads",
    spacing_m: float = settings.SPREAD_SPACING_M,
    network: RoadNetwork | None = None,
) -> gpd.GeoDataFrame:
    """Spread a table of households by village/community code over where those people live.

    Parameters
    ----------
    table : pandas.DataFrame
        ``code12`` (12-digit village/community code) and any of ``population``, ``households``,
        ``pop_60plus``.
    villages : geopandas.GeoDataFrame or None
        Village/community polygons with ``code12``. Rows without a polygon here are spread over their
        township instead (``spread_over = "township"``), and a warning says how many.
    townships : geopandas.GeoDataFrame
        Township polygons with ``code12``.
    crs : str or pyproj.CRS
        Projected planning CRS of the result.
    spread : {"roads", "area"}
        ``roads``: points every `spacing_m` along the roads inside the polygon, equal weights (people
        live along roads); polygons with no road fall back to ``area``. ``area``: a grid of
        `spacing_m` over the polygon, equal weights.
    spacing_m : float
        Point spacing in metres.
    network : RoadNetwork, optional
        Required for ``spread="roads"``.

    Returns
    -------
    geopandas.GeoDataFrame
        The totals per code are kept exactly: each row's weights are divided evenly over its points.

    Raises
    ------
    SchemaError
        If a row's code has neither a village nor a township polygon.
    """
    if spread not in {"roads", "area"}:
        msg = _("`spread` must be 'roads' or 'area' (got {spread!r}).").format(spread=spread)
        raise ValueError(msg)
    if spread == "roads" and network is None:
        msg = _("`spread='roads'` needs the road `network`.")
        raise ValueError(msg)
    if spacing_m <= 0:
        msg = _("`spacing_m` must be positive metres (got {spacing_m}).").format(spacing_m=spacing_m)
        raise ValueError(msg)
    codes = table["code12"].astype(str).to_numpy(dtype=object)
    town_codes = _township(codes)
    vpoly = {} if villages is None else dict(zip(villages["code12"].astype(str), villages.to_crs(crs).geometry,
                                                 strict=True))
    tpoly = dict(zip(townships["code12"].astype(str), townships.to_crs(crs).geometry, strict=True))
    polys, level = [], []
    missing = []
    for i, (code, town) in enumerate(zip(codes, town_codes, strict=True)):  # one per village, not per point
        if code in vpoly:
            polys.append(vpoly[code])
            level.append("village")
        elif town in tpoly:
            polys.append(tpoly[town])
            level.append("township")
        else:
            missing.append(_Problem("households", i + 1, "code12", f"no village or township polygon for {code}",
                                    "import the villages/townships layer that holds this code."))
    if missing:
        raise SchemaError(missing)
    polygons = np.asarray(polys, dtype=object)
    how = np.where(np.asarray(level) == "village", "village", "township").astype(object)
    owner_parts, xy_parts = [], []
    todo = np.ones(len(polygons), dtype=bool)
    if spread == "roads" and network is not None:
        owner, xy = _road_points(polygons, network, spacing_m)
        owner_parts.append(owner)
        xy_parts.append(xy)
        todo[np.unique(owner)] = False
    for j in np.flatnonzero(todo):
        grid = _grid_in(polygons[j], spacing_m)
        owner_parts.append(np.full(len(grid), j, dtype=np.int64))
        xy_parts.append(grid)
    how = np.char.add(how.astype(str), np.where(todo, " area", " roads")).astype(object)
    owner = np.concatenate(owner_parts)
    xy = np.concatenate(xy_parts)
    order = np.argsort(owner, kind="stable")
    owner, xy = owner[order], xy[order]
    count = np.bincount(owner, minlength=len(polygons))
    weights = {w: pd.to_numeric(table[w], errors="coerce").to_numpy(dtype=float)[owner] / count[owner]
               for w in WEIGHTS if w in table}
    seq = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    ids = np.char.add(np.char.add(codes[owner].astype(str), "-"), seq.astype(str)).astype(object)
    n_town = int((np.asarray(level) == "township").sum())
    if n_town:
        logger.warning("demand_from_table: %d of %d codes have no village polygon and are spread over their "
                       "township; their village-level coverage is the township's", n_town, len(codes))
    return _frame(ids, xy, crs, weights, code12=codes[owner], township_code12=town_codes[owner],
                  spread_over=how[owner], source="table")
