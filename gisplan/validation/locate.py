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
from gisplan.toponym import NameMatch, division_parts, register_names
from gisplan.vocab import LocationPrecision

if TYPE_CHECKING:
    from gisplan.validation.rules import Context

__all__ = ["address_codes", "address_matches", "unit_points"]

_MIN_CORE = 2  # a one-character core (石村) would match inside too many addresses


def _forms(name: str) -> set[str]:
    """The ways an address writes a unit: the standard name and its short form (朱龙花村, 中山路社区, 来苏镇)."""
    core, generic = division_parts(name)
    forms = {name.strip()}
    if len(core) >= _MIN_CORE and generic:
        forms.add(core + generic)
    return forms


def _named(text: pd.Series, names: pd.DataFrame, prefix: np.ndarray | None) -> tuple[pd.Series, pd.Series]:
    """Per address, the one unit among `names` (``code12``, ``name``, ``former``, ``current``) whose name it
    contains (None where none or two do), and that unit's current name where only a former name was found."""
    code = pd.Series(None, index=text.index, dtype=object)
    note = pd.Series(None, index=text.index, dtype=object)
    clash = np.zeros(len(text), dtype=bool)
    for unit, name, was, now in names[["code12", "name", "former", "current"]].itertuples(index=False):
        hit = np.zeros(len(text), dtype=bool)
        for form in _forms(str(name)):
            hit |= text.str.contains(form, regex=False).to_numpy(dtype=bool)
        if prefix is not None:
            hit &= (prefix == "") | (prefix == str(unit)[:9])
        clash |= hit & code.notna().to_numpy() & (code != unit).to_numpy()
        first = hit & code.isna().to_numpy()
        code[first] = unit
        if was:
            note[first] = now
        else:  # the current name is written too: no note
            note[hit & (code == unit).to_numpy()] = None
    code[clash] = None
    note[clash] = None
    return code, note


def address_matches(address: pd.Series, gazetteer: pd.DataFrame, places: pd.DataFrame | None = None) -> NameMatch:
    """The most precise unit each address names: a village/community inside the township the address names (or
    anywhere, when it names none and the village's name is unique), else the township. With the place-name
    register (`places`), the units' register names and former names (历史地名) are recognised too.

    Returns
    -------
    NameMatch
        ``code12`` (None where no unit's name appears, or two townships do), ``ambiguous`` (always False here:
        an address naming two units is left unplaced) and ``former`` (the unit's current name where the
        address uses a former name).

    Examples
    --------
    >>> gaz = pd.DataFrame({"code12": ["500118111000", "500118111201"], "name": ["来苏镇", "观音井村村民委员会"]})
    >>> places = pd.DataFrame({"place_id": ["500118111201", "P1"], "standard_name": ["观音井村村民委员会", "观井村"],
    ...                        "code12": ["500118111201", None], "status": ["现行", "历史"],
    ...                        "former_of": [None, "500118111201"]})
    >>> m = address_matches(pd.Series(["来苏镇观井村3组"]), gaz, places)
    >>> m.code12.tolist(), m.former.tolist()
    (['500118111201'], ['观音井村村民委员会'])
    """
    text = address.astype(object).where(address.notna(), "").astype(str).str.replace(r"\s+", "", regex=True)
    names = register_names(gazetteer, places)
    level = divisions.division_level(names["code12"])
    town, town_note = _named(text, names[level == "township"], None)
    prefix = town.astype(object).where(town.notna(), "").astype(str).str.slice(0, 9).to_numpy()
    village, village_note = _named(text, names[level == "village"], prefix)
    use_village = village.notna().to_numpy()
    chosen = np.where(use_village, village.to_numpy(dtype=object), town.to_numpy(dtype=object))
    note = np.where(use_village, village_note.to_numpy(dtype=object), town_note.to_numpy(dtype=object))
    chosen[pd.isna(chosen)] = None
    note[pd.isna(note)] = None
    return NameMatch(pd.Series(chosen, index=address.index, dtype=object),
                     pd.Series(False, index=address.index), pd.Series(note, index=address.index, dtype=object))


def address_codes(address: pd.Series, gazetteer: pd.DataFrame, places: pd.DataFrame | None = None) -> pd.Series:
    """The code of the most precise unit each address names (:func:`address_matches`).

    Parameters
    ----------
    address : pandas.Series
        Addresses as written (``重庆市永川区来苏镇朱龙花村3组``); None where missing.
    gazetteer : pandas.DataFrame
        ``code12`` and ``name`` of the district's units.
    places : pandas.DataFrame, optional
        The workspace's place-name register (its current and historical names are recognised too).

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
    return address_matches(address, gazetteer, places).code12


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
