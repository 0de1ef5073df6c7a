"""The place-name register (地名信息库): one row per name, current (标准地名) or historical (历史地名).

The register is the workspace layer ``places`` (points in EPSG:4326 where a location is known, else empty
geometry) with :data:`PLACE_COLUMNS`; its first entries are the gazetteer's divisions
(:func:`places_from_gazetteer`). Names enter it only through the naming workflow (``place_applications``,
:data:`APPLICATION_COLUMNS`): 申报 → 审核 → 批准 → 公告; :func:`approve` writes the approved name, and a
renamed or retired name stays in the register as a historical row (the 历史地名保护名录).

Everything here is pure: frames in, new frames out (the workflow module reads and writes the workspace).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.errors import PlaceNameError
from gisplan.i18n import _
from gisplan.placenames.pinyin import romanise
from gisplan.toponym import short_name, split_name
from gisplan.vocab import NameStage, PlaceCategory, PlaceStatus

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "APPLICATION_COLUMNS",
    "PLACE_COLUMNS",
    "Application",
    "approve",
    "edit_place",
    "empty_applications",
    "empty_register",
    "name_fields",
    "next_id",
    "places_from_gazetteer",
    "retire",
    "stage_after",
]

PLACE_COLUMNS = (
    "place_id", "standard_name", "category", "specific", "generic", "pinyin", "pinyin_tones", "pinyin_key",
    "short_name", "pinyin_review", "code12", "parent_id", "status", "approved_date", "announced_date",
    "retired_date", "former_of", "origin", "remarks", "basis", "source",
)
APPLICATION_COLUMNS = (
    "application_id", "kind", "proposed_name", "category", "parent_id", "place_id", "applicant", "stage",
    "submitted_date", "reviewed_date", "approved_date", "announced_date", "reviewer", "rejection_reason",
    "check_messages", "origin", "remarks", "basis", "lon", "lat",
)
_TEXT = "str"


@dataclass(frozen=True, slots=True)
class Application:
    """A naming application (申报): a new name, or a new name for an existing place (``place_id``)."""

    proposed_name: str
    category: PlaceCategory
    parent_id: str | None
    applicant: str
    place_id: str | None = None
    origin: str | None = None
    remarks: str | None = None
    basis: str | None = None
    lon: float | None = None
    lat: float | None = None


def _text_frame(columns: tuple[str, ...], rows: int = 0) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([None] * rows, dtype=object) for c in columns})


def empty_register() -> gpd.GeoDataFrame:
    """A register with no names."""
    return gpd.GeoDataFrame(_text_frame(PLACE_COLUMNS), geometry=gpd.GeoSeries([], crs="EPSG:4326"))


def empty_applications() -> pd.DataFrame:
    """An application table with no rows."""
    frame = _text_frame(APPLICATION_COLUMNS)
    return frame.astype({"lon": "float64", "lat": "float64"})


def name_fields(name: str, category: PlaceCategory | str) -> dict[str, str | None]:
    """The derived fields of a name: specific and generic part, pinyin (three forms), short name, and the
    polyphonic characters to review.

    Examples
    --------
    >>> f = name_fields("景山后街", "街路巷")
    >>> f["specific"], f["generic"], f["pinyin"], f["short_name"]
    ('景山', '后街', 'Jingshan Houjie', '景山后街')
    """
    specific, generic = split_name(name)
    short = short_name(name)
    rom = romanise(name, category=category)
    key = romanise(short, category=category).toneless if short != name else rom.toneless
    return {"standard_name": name, "specific": specific, "generic": generic, "pinyin": rom.text,
            "pinyin_tones": rom.tone_marks, "pinyin_key": key, "short_name": short,
            "pinyin_review": "、".join(rom.polyphonic) or None}


def places_from_gazetteer(gazetteer: pd.DataFrame, *, source: str = "gazetteer") -> gpd.GeoDataFrame:
    """The register's first entries: every division of a gazetteer as a current standard name.

    Parameters
    ----------
    gazetteer : pandas.DataFrame
        ``code12``, ``name``, ``level`` (3 district, 4 township, 5 village/community) and optional
        ``parent_code12``.
    source : str
        Recorded in ``source``.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`PLACE_COLUMNS`; ``place_id`` = ``code12``; levels 3–4 are 行政区域, level 5 群众自治组织.

    Raises
    ------
    PlaceNameError
        If a column is missing or a code repeats.
    """
    for column in ("code12", "name", "level"):
        if column not in gazetteer.columns:
            msg = _("{source}: the gazetteer has no `{column}` column; expected code12, name, level, "
                    "parent_code12.").format(source=source, column=column)
            raise PlaceNameError(msg)
    codes = gazetteer["code12"].astype(str)
    if codes.duplicated().any():
        msg = _("{source}: code12 {codes} appears twice; each division once.").format(
                source=source, codes=codes[codes.duplicated()].iloc[0])
        raise PlaceNameError(msg)
    level = pd.to_numeric(gazetteer["level"], errors="coerce")
    category = np.where(level >= 5, PlaceCategory.SELF_GOVERNING.value, PlaceCategory.ADMINISTRATIVE.value)
    fields = [name_fields(str(n), c) for n, c in zip(gazetteer["name"], category, strict=True)]
    frame = pd.DataFrame(fields, index=gazetteer.index)
    parent = gazetteer["parent_code12"].astype(object) if "parent_code12" in gazetteer else None
    out = _text_frame(PLACE_COLUMNS, len(gazetteer)).set_index(gazetteer.index)
    for column in frame.columns:
        out[column] = frame[column]
    out["place_id"] = codes
    out["category"] = category
    out["code12"] = codes
    out["parent_id"] = parent.where(parent.notna(), None).map(lambda v: str(v) if v is not None else None) \
        if parent is not None else None
    out["status"] = PlaceStatus.CURRENT.value
    out["source"] = source
    geometry = gpd.GeoSeries(np.full(len(out), None, dtype=object), index=out.index, crs="EPSG:4326")
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=geometry.reset_index(drop=True), crs="EPSG:4326")


def next_id(ids: pd.Series, prefix: str) -> str:
    """The next free ``<prefix><number>`` id (``P000001``, ``A000001`` …).

    Examples
    --------
    >>> next_id(pd.Series(["P000001", "500118000000"]), "P")
    'P000002'
    """
    numbers = pd.to_numeric(ids.astype(str).str.extract(rf"^{prefix}(\d+)$")[0], errors="coerce")
    return f"{prefix}{int(numbers.max() if numbers.notna().any() else 0) + 1:06d}"


def _historical_row(row: pd.Series, *, new_id: str, date: str, reason: str | None) -> pd.Series:
    old = row.copy()
    old["place_id"] = new_id
    old["status"] = PlaceStatus.HISTORICAL.value
    old["retired_date"] = date
    old["former_of"] = row["place_id"]
    old["code12"] = None
    old["remarks"] = "；".join(x for x in (row.get("remarks"), reason) if isinstance(x, str) and x) or None
    return old


def approve(
    register: gpd.GeoDataFrame, application: Mapping[str, object], *, date: str,
) -> tuple[gpd.GeoDataFrame, str]:
    """Write an approved name into the register; return the new register and the place id.

    A new name gets the next ``P`` id; a rename keeps the place's id and code, and its former name becomes a
    historical row (``former_of`` = the place id, ``retired_date`` = `date`).

    Raises
    ------
    PlaceNameError
        If the application names a place that is not a current name in the register.
    """
    name = str(application["proposed_name"])
    category = str(application["category"])
    fields = name_fields(name, category)
    out = register.copy()
    target = application.get("place_id")
    lon, lat = application.get("lon"), application.get("lat")
    point = shapely.Point(float(lon), float(lat)) if _filled(lon) and _filled(lat) else None  # type: ignore[arg-type]
    if isinstance(target, str) and target:
        hit = out.index[(out["place_id"] == target) & (out["status"] == PlaceStatus.CURRENT.value)]
        if len(hit) != 1:
            msg = _("application {application_id}: no current place {target!r} to rename.").format(
                    application_id=application.get('application_id'), target=target)
            raise PlaceNameError(msg)
        i = hit[0]
        old = _historical_row(out.loc[i], new_id=next_id(out["place_id"], "H"), date=date,
                              reason=f"更名为{name}")
        updates: dict[str, object] = {**fields, "category": category, "approved_date": date, "announced_date": None,
                                      "basis": application.get("basis")}
        if application.get("origin"):
            updates["origin"] = application["origin"]
        if point is not None:
            updates["geometry"] = point
        _put(out, i, updates)
        joined = pd.concat([out, old.to_frame().T], ignore_index=True)
        return gpd.GeoDataFrame(joined, geometry="geometry", crs="EPSG:4326"), target
    place_id = next_id(out["place_id"], "P")
    row = {c: None for c in PLACE_COLUMNS} | fields | {
        "place_id": place_id, "category": category, "parent_id": application.get("parent_id"),
        "status": PlaceStatus.CURRENT.value, "approved_date": date, "origin": application.get("origin"),
        "remarks": application.get("remarks"), "basis": application.get("basis"),
        "source": f"application {application.get('application_id')}"}
    new = gpd.GeoDataFrame(pd.DataFrame([row]), geometry=gpd.GeoSeries(np.array([point], dtype=object),
                                                                        crs="EPSG:4326"))
    joined = pd.concat([out, new], ignore_index=True)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs="EPSG:4326"), place_id


def _put(frame: Any, i: object, values: Mapping[str, object]) -> None:
    """Set cells of row `i` (in place, on a copy the caller owns)."""
    for column, value in values.items():
        frame.loc[i, column] = value


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def retire(register: gpd.GeoDataFrame, place_id: str, *, date: str, reason: str) -> gpd.GeoDataFrame:
    """Move a current name to the historical list (status 历史, retired on `date`, `reason` in remarks).

    Raises
    ------
    PlaceNameError
        If `place_id` is not a current name.
    """
    out = register.copy()
    hit = out.index[(out["place_id"] == place_id) & (out["status"] == PlaceStatus.CURRENT.value)]
    if len(hit) != 1:
        msg = _("no current place {place_id!r} in the register; `gisplan places search` finds its id.").format(
                place_id=place_id)
        raise PlaceNameError(msg)
    i = hit[0]
    out.loc[i, "status"] = PlaceStatus.HISTORICAL.value
    out.loc[i, "retired_date"] = date
    remarks = out.loc[i, "remarks"]
    out.loc[i, "remarks"] = "；".join(x for x in (remarks, reason) if isinstance(x, str) and x)
    return out


_EDITABLE = frozenset({"origin", "remarks", "category", "basis", "code12", "parent_id"})


def edit_place(
    register: gpd.GeoDataFrame, place_id: str, *, fields: Mapping[str, str | None],
    location: tuple[float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Change descriptive fields (origin 地名含义/由来, remarks, category …) or the location of a name. The name
    itself changes only through an approved rename application.

    Raises
    ------
    PlaceNameError
        If `place_id` is unknown or a field may not be edited here.
    """
    bad = sorted(set(fields) - _EDITABLE)
    if bad:
        msg = (_("`{bad}` cannot be edited directly; a name changes only through an application (`gisplan places "
                 "apply --rename`). Editable: {editable}.").format(
                bad=', '.join(bad), editable=', '.join(sorted(_EDITABLE))))
        raise PlaceNameError(msg)
    out = register.copy()
    hit = out.index[out["place_id"] == place_id]
    if len(hit) != 1:
        msg = _("no place {place_id!r} in the register; `gisplan places search` finds its id.").format(
                place_id=place_id)
        raise PlaceNameError(msg)
    i = hit[0]
    _put(out, i, fields)
    if location is not None:
        _put(out, i, {"geometry": shapely.Point(*location)})
    return out


def stage_after(current: str, wanted: NameStage) -> None:
    """Refuse a workflow step out of order (申报 → 审核 → 批准 → 公告; 驳回 before 批准).

    Raises
    ------
    PlaceNameError
        Naming the current stage and the next allowed one.
    """
    order = [NameStage.SUBMITTED, NameStage.REVIEWED, NameStage.APPROVED, NameStage.ANNOUNCED]
    if wanted == NameStage.REJECTED:
        if current in {NameStage.SUBMITTED, NameStage.REVIEWED}:
            return
    elif current in order and order.index(NameStage(current)) + 1 == order.index(wanted):
        return
    nxt = {NameStage.SUBMITTED: "审核 or 驳回", NameStage.REVIEWED: "批准 or 驳回", NameStage.APPROVED: "公告"}
    allowed = nxt.get(NameStage(current), "nothing (the application is closed)") if current in set(NameStage) \
        else "nothing"
    msg = _("the application is at stage {current}; it cannot go to {value} (next: {allowed}).").format(
            current=current, value=wanted.value, allowed=allowed)
    raise PlaceNameError(msg)
