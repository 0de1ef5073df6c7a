"""What a facility located only by name may count for (``location_precision`` of a ledger without coordinates).

A ledger row located from its village/community or township name sits at that unit's representative point
(:mod:`gisplan.validation.locate`), not where the facility stands. The rule a planner can defend:

* ``point`` (own coordinates): counts for everything, as before.
* ``village`` (村/社区代表点): counts for the administrative coverage of its village and township (by its division
  code), and for 15-minute network coverage **with a stated uncertainty**: the residents whose nearest facility
  of the type is such a point are counted as covered, and how many they are is reported beside the figure
  (indicator basis, gaps, ``approx_<type>`` on the demand points). A village is walkable in most of 永川's
  built-up area, but not its far corners: the figure is an upper bound of what the facility serves.
* ``township`` (镇街代表点): counts for the administrative coverage of its township only (never for a village),
  and **never for network coverage** — a point that could be anywhere in a 50–100 km² township says nothing about
  which residents walk to it in 15 minutes. It is left out of the network measurement; the indicator basis and
  the gaps of its township say it exists, so a gap there reads "may be served by a facility whose place is
  unknown", and a site proposed in such a township or village carries a note to check the ledger first.

The functions are pure: they return new frames and never change their inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gisplan.vocab import LocationPrecision

if TYPE_CHECKING:
    from collections.abc import Mapping

    import geopandas as gpd

__all__ = [
    "SITE_NOTE",
    "approximate_reach",
    "imprecise_by_unit",
    "mark_approximate",
    "network_facilities",
    "precision_counts",
    "with_imprecise_gaps",
    "with_imprecise_sites",
]

#: the note of a proposed site in a unit holding a facility of its type located only by name
SITE_NOTE = ("所在{unit}已有{n}处同类设施仅按名称定位（位置精度：{level}），实际位置未知：先核实台账坐标再定此点 — "
             "{n} facility(ies) of this type in this {unit_en} are located by name only; check their real place first")


def _precision(frame: pd.DataFrame) -> pd.Series:
    """Each row's precision (``point`` where the column is missing or empty)."""
    if "location_precision" not in frame:
        return pd.Series(LocationPrecision.POINT.value, index=frame.index, dtype=object)
    return frame["location_precision"].astype(object).where(frame["location_precision"].notna(),
                                                            LocationPrecision.POINT.value)


def precision_counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many facilities are located to a village and to a township point (zeros included).

    Examples
    --------
    >>> precision_counts(pd.DataFrame({"location_precision": ["point", "village", "township", None, "village"]}))
    {'village': 2, 'township': 1}
    """
    counts = _precision(frame).value_counts()
    return {level.value: int(counts.get(level, 0)) for level in (LocationPrecision.VILLAGE, LocationPrecision.TOWNSHIP)}


def network_facilities(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The facilities that may count for network coverage: all but those located only to their township.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> f = gpd.GeoDataFrame({"location_precision": ["point", "township", "village"]},
    ...                      geometry=shapely.points([[0, 0], [1, 1], [2, 2]]))
    >>> network_facilities(f).index.tolist()
    [0, 2]
    """
    return frame[(_precision(frame) != LocationPrecision.TOWNSHIP).to_numpy()]


def _ids(frame: pd.DataFrame) -> pd.Series:
    """The ids coverage gives the facilities (``facility_id``, else ``id``, else 1, 2, … as
    :func:`gisplan.analysis.coverage.measure_coverage` numbers them)."""
    for column in ("facility_id", "id"):
        if column in frame:
            return frame[column].astype(str)
    return pd.Series(np.arange(1, len(frame) + 1).astype(str), index=frame.index)


def mark_approximate(demand: gpd.GeoDataFrame, facilities: Mapping[str, pd.DataFrame]) -> gpd.GeoDataFrame:
    """`demand` with ``approx_<type>``: True where the point is covered and its nearest facility of the type sits
    at a village's representative point (for every type of `facilities` holding such a facility and measured).

    `facilities` are the frames given to coverage (township-precision ones already left out), so their ids
    match the demand's ``facility_<type>``. Where no type has such a facility, `demand` itself is returned.
    """
    rough = {type_id: set(_ids(frame)[(_precision(frame) == LocationPrecision.VILLAGE).to_numpy()])
             for type_id, frame in facilities.items()}
    rough = {t: ids for t, ids in rough.items() if ids and f"facility_{t}" in demand and f"covered_{t}" in demand}
    if not rough:
        return demand  # nothing located by village: the points as they are (no copy of a large layer)
    out = demand.copy()
    for type_id, ids in rough.items():
        nearest = out[f"facility_{type_id}"].astype(object).to_numpy()
        out[f"approx_{type_id}"] = out[f"covered_{type_id}"].to_numpy(dtype=bool) & np.isin(nearest, list(ids))
    return out


def approximate_reach(demand: pd.DataFrame, type_id: str, weight: str) -> tuple[float, float]:
    """The `weight` of the points covered through a village-located facility (``approx_<type>``), and its
    share of all the points' weight (0, 0 where no point is).

    Examples
    --------
    >>> d = pd.DataFrame({"population": [10.0, 30.0, 60.0], "approx_x": [True, False, False]})
    >>> approximate_reach(d, "x", "population")
    (10.0, 0.1)
    """
    column = f"approx_{type_id}"
    if column not in demand or weight not in demand:
        return 0.0, 0.0
    w = demand[weight].to_numpy(dtype=float)
    total = float(np.nansum(w))
    part = float(np.nansum(w[demand[column].to_numpy(dtype=bool)]))
    return part, (part / total if total else 0.0)


def imprecise_by_unit(frame: pd.DataFrame) -> pd.DataFrame:
    """Facilities located by name, counted per unit: ``level`` (``village``/``township``), ``code12`` of the
    unit they are located to (the village's code, or the township's ``xxxxxxxxx000``) and ``n``."""
    precision = _precision(frame)
    rough = precision.isin([LocationPrecision.VILLAGE, LocationPrecision.TOWNSHIP]).to_numpy()
    if not rough.any() or "code12" not in frame:
        return pd.DataFrame({"level": pd.Series(dtype=object), "code12": pd.Series(dtype=object),
                             "n": pd.Series(dtype=np.int64)})
    code = frame.loc[rough, "code12"].astype(str)
    level = precision[rough]
    unit = np.where(level == LocationPrecision.TOWNSHIP, code.str[:9] + "000", code)
    return (pd.DataFrame({"level": level.to_numpy(dtype=object), "code12": unit})
            .groupby(["level", "code12"]).size().rename("n").reset_index())


def with_imprecise_gaps(gaps: gpd.GeoDataFrame, facilities: Mapping[str, pd.DataFrame]) -> gpd.GeoDataFrame:
    """`gaps` with ``imprecise_facilities``: how many facilities of the gap's type are located by name to its
    township (township precision: left out of coverage, may stand in the gap) or its village (village precision:
    counted, at the village's point) — 0 where none. Where no facility is located by name, `gaps` itself is
    returned (no new column)."""
    by_type = {t: imprecise_by_unit(frame) for t, frame in facilities.items()}
    by_type = {t: units for t, units in by_type.items() if not units.empty}
    if not by_type or "facility_type" not in gaps:
        return gaps
    out = gaps.copy()
    out["imprecise_facilities"] = np.zeros(len(out), dtype=np.int64)
    for type_id, units in by_type.items():
        mine = (out["facility_type"] == type_id).to_numpy()
        per_unit = units.groupby("code12")["n"].sum()
        town = out.get("township_code12", pd.Series("", index=out.index)).astype(str).map(per_unit).fillna(0)
        village = out.get("village_code12", pd.Series("", index=out.index)).astype(str).map(per_unit).fillna(0)
        out.loc[mine, "imprecise_facilities"] = (town + village).to_numpy(dtype=np.int64)[mine]
    return out


def with_imprecise_sites(sites: gpd.GeoDataFrame, facilities: pd.DataFrame) -> gpd.GeoDataFrame:
    """Proposed `sites` of one type with ``imprecise_in_unit`` (facilities of the type located by name to the
    site's village or township) and ``siting_note`` (:data:`SITE_NOTE`, empty where none); `sites` itself where
    no facility of the type is located by name."""
    units = imprecise_by_unit(facilities)
    if units.empty:
        return sites
    out = sites.copy()
    n = np.zeros(len(out), dtype=np.int64)
    notes = np.full(len(out), "", dtype=object)
    if len(out):
        for level, column, unit_zh, unit_en in (
                (LocationPrecision.VILLAGE, "village_code12", "村（社区）", "village"),
                (LocationPrecision.TOWNSHIP, "township_code12", "镇街", "township")):
            per_unit = units[units["level"] == level].set_index("code12")["n"]
            if per_unit.empty or column not in out:
                continue
            here = out[column].astype(str).map(per_unit).fillna(0).to_numpy(dtype=np.int64)
            for i in np.flatnonzero(here):
                n[i] += here[i]
                notes[i] = (notes[i] + "；" if notes[i] else "") + SITE_NOTE.format(
                    unit=unit_zh, unit_en=unit_en, n=int(here[i]), level=str(level))
    out["imprecise_in_unit"] = n
    out["siting_note"] = notes
    return out
