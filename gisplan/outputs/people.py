"""Tables written for people: in Chinese, the CSV/XLSX a planner opens carries Chinese headers, values rounded as a
planner writes them (shares as percent with one decimal, whole persons and households) and facility-type names
instead of ids. In English the machine-readable headers and full-precision values stay (tests and other tools
read them); ``results.gpkg`` is always machine-readable.

The labels are catalogue entries (:mod:`gisplan.i18n`), not Chinese strings in code.

Examples
--------
>>> import pandas as pd
>>> from gisplan.i18n import use_language
>>> frame = pd.DataFrame({"facility_type": ["elderly_day_care"], "population": [1234.56],
...                       "population_share": [0.81234], "covered": [True]})
>>> for_people(frame, type_names={"elderly_day_care": "社区养老服务站"}, lang="en") is frame
True
>>> before = use_language("zh")
>>> for_people(frame, type_names={"elderly_day_care": "社区养老服务站"}).to_dict("records")
[{'设施类型': '社区养老服务站', '人口（人）': 1235, '人口覆盖率（%）': 81.2, '是否覆盖': '是'}]
>>> _ = use_language(before)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gisplan.i18n import N_, _, language, use_language

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["COLUMNS", "for_people"]

# how a column is shown: its label (a catalogue key) and its kind: share (fraction → percent, 1 decimal), count
# (whole persons/households), d1/d2/d0 (decimals), bool (是/否), type (facility type id → name), level, text
COLUMNS: dict[str, tuple[str, str]] = {
    "indicator_id": (N_("indicator id"), "text"),
    "indicator_ids": (N_("indicator rows served"), "text"),
    "site_id": (N_("site id"), "text"),
    "name": (N_("name"), "text"),
    "name_zh": (N_("facility type name"), "text"),
    "unit": (N_("unit"), "text"),
    "value": (N_("measured value"), "d1"),
    "target": (N_("target value"), "d1"),
    "comparator": (N_("comparison"), "text"),
    "status": (N_("status"), "text"),
    "method": (N_("method"), "text"),
    "source": (N_("source"), "text"),
    "row": (N_("plan table row"), "text"),
    "section": (N_("plan section"), "text"),
    "baseline_2020": (N_("2020 (plan baseline)"), "text"),
    "target_2025": (N_("2025 target"), "text"),
    "nature": (N_("nature of indicator"), "text"),
    "numerator": (N_("numerator"), "d1"),
    "denominator": (N_("denominator"), "d1"),
    "meets_target": (N_("target met"), "bool"),
    "new_sites": (N_("new sites"), "count"),
    "value_after": (N_("value after building"), "d1"),
    "status_after": (N_("status after building"), "text"),
    "illustrative": (N_("illustrative data"), "bool"),
    "facility_type": (N_("facility type"), "type"),
    "level": (N_("level"), "level"),
    "code12": (N_("division code"), "text"),
    "kind": (N_("urban or rural"), "urban"),
    "lacking": (N_("divisions lacking"), "count"),
    "households": (N_("households"), "count"),
    "floor_area_m2": (N_("floor area (m²)"), "d1"),
    "floor_area_m2_per_100hh": (N_("floor area per 100 households (m²)"), "d1"),
    "meets_standard": (N_("standard met"), "bool"),
    "rank": (N_("rank"), "text"),
    "population": (N_("population (persons)"), "count"),
    "pop_60plus": (N_("residents aged 60+ (persons)"), "count"),
    "points": (N_("demand points"), "count"),
    "township_code12": (N_("township code"), "text"),
    "township": (N_("township"), "text"),
    "village_code12": (N_("village code"), "text"),
    "village": (N_("village (community)"), "text"),
    "area_km2": (N_("area (km²)"), "d2"),
    "candidate_id": (N_("candidate site id"), "text"),
    "population_added": (N_("residents newly covered (persons)"), "count"),
    "households_added": (N_("households newly covered"), "count"),
    "pop_60plus_added": (N_("residents aged 60+ newly covered (persons)"), "count"),
    "lon": (N_("longitude (WGS84)"), "text"),
    "lat": (N_("latitude (WGS84)"), "text"),
    "lon_gcj02": (N_("longitude (GCJ-02, AMap)"), "text"),
    "lat_gcj02": (N_("latitude (GCJ-02, AMap)"), "text"),
    "model": (N_("siting model"), "text"),
    "solver_status": (N_("solver status"), "text"),
    "solver_gap": (N_("solver gap (%)"), "share"),
    "year": (N_("build year"), "text"),
    "covered_share_after": (N_("share covered after building (%)"), "share"),
    "threshold": (N_("threshold"), "d1"),
    "threshold_unit": (N_("threshold unit"), "text"),
    "population_covered": (N_("residents covered (persons)"), "count"),
    "population_share": (N_("residents covered (%)"), "share"),
    "households_covered": (N_("households covered"), "count"),
    "households_share": (N_("households covered (%)"), "share"),
    "pop_60plus_covered": (N_("residents aged 60+ covered (persons)"), "count"),
    "pop_60plus_share": (N_("residents aged 60+ covered (%)"), "share"),
    "population_unreachable": (N_("residents too far from any road (persons)"), "count"),
    "demand_id": (N_("demand point id"), "text"),
    "nearest_facility_id": (N_("nearest facility id"), "text"),
    "minutes": (N_("minutes"), "d1"),
    "covered": (N_("covered"), "bool"),
    "access_m": (N_("distance to the road (m)"), "d0"),
    "reached_road": (N_("reaches a road"), "bool"),
    "snapped": (N_("reaches a road"), "bool"),
    "given": (N_("facilities"), "count"),
    "unsnapped": (N_("facilities too far from any road"), "count"),
}
# per-type columns of the demand table: minutes_<type>, facility_<type>, covered_<type>
_PER_TYPE = {
    "minutes": (N_("{type}: minutes"), "d1"),
    "facility": (N_("{type}: nearest facility"), "text"),
    "covered": (N_("{type}: covered"), "bool"),
}
_LEVELS = {"district": N_("district"), "township": N_("township"), "village": N_("village (community)")}
_URBAN = {"urban": N_("urban"), "rural": N_("rural")}
_PER_TYPE_RE = re.compile(r"^(minutes|facility|covered)_(?P<type>.+)$")
_ROUND = {"d0": 0, "d1": 1, "d2": 2}


def _label(column: str, type_names: Mapping[str, str]) -> tuple[str, str]:
    if column in COLUMNS:
        label, kind = COLUMNS[column]
        return _(label), kind
    match = _PER_TYPE_RE.match(column)
    if match is not None:
        label, kind = _PER_TYPE[match.group(1)]
        return _(label).format(type=type_names.get(match["type"], match["type"])), kind
    return column, "text"


def _half_up(values: pd.Series, decimals: int) -> pd.Series:
    """`values` rounded half away from zero (四舍五入: 0.5 → 1, 2.5 → 3), not numpy's half to even.

    >>> _half_up(pd.Series([0.5, 2.5, -2.5, 1200.5, 0.0435 * 100]), 0).tolist()
    [1.0, 3.0, -3.0, 1201.0, 4.0]
    """
    scale = 10.0**decimals
    # the 1e-9 keeps a value printed as …5 (e.g. 4.35 stored as 4.3499999…) rounding up, as a planner expects
    number = values.to_numpy(dtype=float)
    return pd.Series(np.sign(number) * np.floor(np.abs(number) * scale + 0.5 + 1e-9) / scale, index=values.index)


def _shown(values: pd.Series, kind: str, type_names: Mapping[str, str]) -> pd.Series:
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and kind in {"share", "count", *_ROUND}:
        number = values.astype(float)
        if kind == "count":
            return _half_up(number, 0).astype("Int64")
        return _half_up(number * 100.0, 1) if kind == "share" else _half_up(number, _ROUND[kind])
    flags = values.dropna()
    if kind == "bool" and (pd.api.types.is_bool_dtype(values) or numeric
                           or (len(flags) and flags.map(lambda v: isinstance(v, bool | np.bool_)).all())):
        yes, no = _("yes"), _("no")
        return pd.Series(np.where(values.isna(), "", np.where(values.fillna(False).astype(bool), yes, no)),
                         index=values.index, dtype=object)
    if kind == "type":
        return values.map(lambda v: type_names.get(str(v), v) if pd.notna(v) else v)
    if kind in {"level", "urban"}:
        words = _LEVELS if kind == "level" else _URBAN
        return values.map(lambda v: _(words[v]) if v in words else v)
    return values


def for_people(frame: pd.DataFrame, *, type_names: Mapping[str, str], lang: str | None = None) -> pd.DataFrame:
    """`frame` as written for people in `lang` (default: the language spoken now, :func:`gisplan.i18n.language`).

    In English `frame` itself is returned, unchanged. In Chinese: a copy with Chinese headers, shares as percent
    with one decimal, whole persons and households, minutes with one decimal, 是/否 for flags, and facility-type
    names (`type_names`: id → name) instead of ids. Columns it does not know keep their name and values.
    """
    chosen = lang or language()
    if chosen == "en":
        return frame
    if chosen != language():  # the labels in `lang`, whatever is spoken now
        before = use_language(chosen)
        try:
            return for_people(frame, type_names=type_names)
        finally:
            use_language(before)
    out = {}
    named = "facility_type" in frame.columns  # the type's name replaces its id: a name_zh beside it would repeat it
    for column in frame.columns:
        if named and column == "name_zh":
            continue
        label, kind = _label(str(column), type_names)
        while label in out:  # two machine columns with one label (snapped, reached_road): keep both
            label += "*"
        out[label] = _shown(frame[column], kind, type_names)
    return pd.DataFrame(out, index=frame.index)
