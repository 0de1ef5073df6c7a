"""12-digit statistical division codes (统计用区划代码), division names, and the division a point lies in.

A code is district (6 digits) + township (3) + village (3): ``500118 001 000`` is 中山路街道 of 永川区 and
``500118 001 001`` one of its communities.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from gisplan.errors import CRSError

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import NDArray

from gisplan.i18n import _
from gisplan.vocab import Level, Scope, parse_choice

__all__ = [
    "CODE12_RE",
    "division_code_at",
    "division_level",
    "is_code12",
    "points_within",
    "township_code",
    "units_in_scope",
]

CODE12_RE = re.compile(r"^\d{12}$")


def is_code12(code: object) -> bool:
    """Tell whether `code` is a 12-digit division code.

    Examples
    --------
    >>> is_code12("500118001000"), is_code12("500118001")
    (True, False)
    """
    return isinstance(code, str) and CODE12_RE.match(code) is not None


def township_code(codes: pd.Series) -> pd.Series:
    """Return the township code12 (first 9 digits + ``000``) of each code.

    Examples
    --------
    >>> township_code(pd.Series(["500118001003"])).tolist()
    ['500118001000']
    """
    return codes.str.slice(0, 9) + "000"


def division_level(codes: pd.Series) -> pd.Series:
    """Return ``"district"``, ``"township"`` or ``"village"`` for each 12-digit code.

    Examples
    --------
    >>> division_level(pd.Series(["500118000000", "500118001000", "500118001003"])).tolist()
    ['district', 'township', 'village']
    """
    level = np.where(
        codes.str.slice(6) == "000000",
        "district",
        np.where(codes.str.slice(9) == "000", "township", "village"),
    )
    return pd.Series(level, index=codes.index, name="level")


def points_within(
    points: NDArray[np.object_], polygons: NDArray[np.object_],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every (point, polygon) pair where the point lies within the polygon, ordered by point.

    Parameters
    ----------
    points, polygons : ndarray of shapely geometries
        In one CRS (not checked: plain geometries carry none).

    Returns
    -------
    point, polygon : ndarray of int64
        Positions into `points` and `polygons`; a point in two overlapping polygons comes twice, a point
        on no polygon (or on its boundary only) not at all.

    Examples
    --------
    >>> squares = np.array([shapely.box(0, 0, 2, 2), shapely.box(1, 0, 3, 2)])
    >>> p, g = points_within(shapely.points([(0.5, 1), (1.5, 1), (9, 9)]), squares)
    >>> p.tolist(), g.tolist()
    ([0, 1, 1], [0, 0, 1])
    """
    if len(points) == 0 or len(polygons) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    point, polygon = shapely.STRtree(polygons).query(points, predicate="within")
    return point.astype(np.int64), polygon.astype(np.int64)


def division_code_at(points: gpd.GeoSeries, divisions: gpd.GeoDataFrame | None) -> NDArray[np.object_]:
    """The ``code12`` of the division polygon each point lies within.

    Parameters
    ----------
    points : geopandas.GeoSeries
        Points in any CRS.
    divisions : geopandas.GeoDataFrame or None
        Division polygons with ``code12`` (townships or villages), in any CRS; reprojected to the points'.

    Returns
    -------
    ndarray of object
        One code (str) per point; None outside every polygon, or for every point when `divisions` is
        None or empty. Where polygons overlap, the point takes the first of them (in the STRtree's order).

    Raises
    ------
    gisplan.errors.CRSError
        If `points` has no CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> towns = gpd.GeoDataFrame({"code12": ["500118001000"]}, geometry=[shapely.box(0, 0, 10, 10)],
    ...                          crs="EPSG:32648")
    >>> division_code_at(gpd.GeoSeries(shapely.points([(5, 5), (50, 5)]), crs="EPSG:32648"), towns).tolist()
    ['500118001000', None]
    """
    out = np.full(len(points), None, dtype=object)
    if divisions is None or len(divisions) == 0 or len(points) == 0:
        return out
    if points.crs is None:
        msg = _("`points` has no CRS; set it (gdf.set_crs) before looking up their divisions.")
        raise CRSError(msg)
    polygons = divisions.to_crs(points.crs).geometry.to_numpy()
    point, polygon = points_within(points.to_numpy(), polygons)
    first = np.unique(point, return_index=True)[1]
    out[point[first]] = divisions["code12"].astype(str).to_numpy(dtype=object)[polygon[first]]
    return out


# the name endings that put a division in a scope (Scope.ALL keeps every one)
_SCOPE_SUFFIXES: dict[Scope, tuple[str, ...]] = {
    Scope.TOWNS: ("镇", "乡"),
    Scope.STREETS: ("街道",),
    Scope.URBAN_COMMUNITIES: ("居民委员会", "居委会"),
    Scope.RURAL_VILLAGES: ("村民委员会", "村委会"),
}


def units_in_scope(gazetteer: pd.DataFrame, *, level: Level, scope: Scope = Scope.ALL) -> pd.DataFrame:
    """Return the divisions that form an indicator's denominator.

    Parameters
    ----------
    gazetteer : pandas.DataFrame
        Columns ``code12`` and ``name``.
    level : Level
        Division level (``"township"`` or ``"village"``).
    scope : Scope
        One of ``all``, ``towns``, ``streets``, ``urban_communities``, ``rural_villages``:
        ``towns`` keeps 镇/乡 (not 街道: the central city); ``streets`` keeps 街道;
        ``urban_communities`` keeps names ending
        居民委员会/居委会 (社区); ``rural_villages`` names ending 村民委员会/村委会 (建制村).

    Returns
    -------
    pandas.DataFrame
        ``code12`` and ``name`` of the divisions, sorted by code.

    Raises
    ------
    ValueError
        If `level` or `scope` is not one of their values.

    Examples
    --------
    >>> g = pd.DataFrame({"code12": ["500118001000", "500118100000", "500118100001"],
    ...                   "name": ["中山路街道", "青峰镇", "青峰村民委员会"]})
    >>> units_in_scope(g, level="township", scope="towns")["name"].tolist()
    ['青峰镇']
    """
    level = parse_choice(Level, level, "`level`")
    scope = parse_choice(Scope, scope, "`scope`")
    lvl = division_level(gazetteer["code12"])
    units = gazetteer.loc[lvl == level.value, ["code12", "name"]]
    suffixes = _SCOPE_SUFFIXES.get(scope)
    if suffixes is not None:
        units = units[units["name"].astype(str).str.endswith(suffixes)]
    return units.sort_values("code12").reset_index(drop=True)
