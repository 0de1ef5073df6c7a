"""Locating ledger rows that carry no coordinates (many 台账 give only 地址 and 村/社区): from the division code, the
village/township names or the address, to the representative point of the smallest unit that has a polygon.

The precision is never hidden: every located row carries ``location_precision`` (``village`` or ``township``;
rows with their own coordinates are ``point``), and the import says how many rows were placed how.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import divisions
from gisplan.crs import STORAGE_CRS
from gisplan.namematch import split_name
from gisplan.vocab import LocationPrecision

if TYPE_CHECKING:
    from gisplan.validation.rules import Context

__all__ = ["address_codes", "unit_points"]

_MIN_CORE = 2  # a one-character core (石村) would match inside too many addresses


def _forms(name: str) -> set[str]:
    """The ways an address writes a unit: the standard name and its short form (朱龙花村, 中山路社区, 来苏镇)."""
    core, generic = split_name(name)
    forms = {name.strip()}
    if len(core) >= _MIN_CORE and generic:
        forms.add(core + generic)
    return forms


def address_codes(address: pd.Series, gazetteer: pd.DataFrame) -> pd.Series:
    """The code of the most precise unit each address names: a village/community inside the township the address
    names (or anywhere, when it names none and the village's name is unique), else the township.

    Parameters
    ----------
    address : pandas.Series
        Addresses as written (``重庆市永川区来苏镇朱龙花村3组``); None where missing.
    gazetteer : pandas.DataFrame
        ``code12`` and ``name`` of the district's units.

    Returns
    -------
    pandas.Series
        12-digit codes on the index of `address`; None where no unit's name appears, or two townships do.

    Examples
    --------
    >>> gaz = pd.DataFrame({"code12": ["500118111000", "500118111201", "500118006000"],
    ...                     "name": ["来苏镇", "观音井村村民委员会", "陈食街道"]})
    >>> address_codes(pd.Series(["永川区来苏镇观音井村3组", "陈食街道办事处旁", "火星"]), gaz).tolist()
    ['500118111201', '500118006000', None]
    """
    text = address.astype(object).where(address.notna(), "").astype(str).str.replace(r"\s+", "", regex=True)
    level = divisions.division_level(gazetteer["code12"].astype(str))
    towns = gazetteer[level == "township"]
    villages = gazetteer[level == "village"]
    town = pd.Series(None, index=address.index, dtype=object)
    clash = np.zeros(len(address), dtype=bool)
    for code, name in zip(towns["code12"].astype(str), towns["name"].astype(str), strict=True):
        hit = np.zeros(len(address), dtype=bool)
        for form in _forms(name):
            hit |= text.str.contains(form, regex=False).to_numpy(dtype=bool)
        clash |= hit & town.notna().to_numpy() & (town != code).to_numpy()
        town[hit & town.isna().to_numpy()] = code
    town[clash] = None
    village = pd.Series(None, index=address.index, dtype=object)
    many = np.zeros(len(address), dtype=bool)
    prefix = town.astype(object).where(town.notna(), "").astype(str).str.slice(0, 9).to_numpy()
    for code, name in zip(villages["code12"].astype(str), villages["name"].astype(str), strict=True):
        hit = np.zeros(len(address), dtype=bool)
        for form in _forms(name):
            hit |= text.str.contains(form, regex=False).to_numpy(dtype=bool)
        hit &= (prefix == "") | (prefix == code[:9])
        many |= hit & village.notna().to_numpy() & (village != code).to_numpy()
        village[hit & village.isna().to_numpy()] = code
    village[many] = None
    chosen = np.where(village.notna().to_numpy(), village.to_numpy(dtype=object), town.to_numpy(dtype=object))
    values = chosen.copy()
    values[pd.isna(chosen)] = None
    return pd.Series(values, index=address.index, dtype="object")


def unit_points(codes: pd.Series, ctx: Context) -> tuple[gpd.GeoSeries, pd.Series]:
    """The representative point (inside the polygon) of each code's village, else of its township.

    Returns
    -------
    points : geopandas.GeoSeries
        In EPSG:4326, on the index of `codes`; None where no polygon holds the unit.
    precision : pandas.Series
        ``village``, ``township`` or None, per row.
    """
    points = np.full(len(codes), None, dtype=object)
    precision = np.full(len(codes), None, dtype=object)
    given = codes.astype(object).where(codes.notna(), "").astype(str)
    for layer, key, kind in ((ctx.villages, given, LocationPrecision.VILLAGE),
                             (ctx.townships, divisions.township_code(given.where(given != "", "0" * 12)),
                              LocationPrecision.TOWNSHIP)):
        if layer is None or not len(layer) or "code12" not in layer:
            continue
        polys = layer.to_crs(STORAGE_CRS).drop_duplicates("code12").set_index("code12").geometry
        reps = pd.Series(shapely.point_on_surface(polys.to_numpy()), index=polys.index.astype(str))
        found = key.map(reps).to_numpy(dtype=object)
        take = pd.isna(points) & pd.notna(found) & (given != "").to_numpy()
        points[take] = found[take]
        precision[take] = kind.value
    return (gpd.GeoSeries(points, index=codes.index, crs=STORAGE_CRS),
            pd.Series(precision, index=codes.index, dtype=object, name="location_precision"))
