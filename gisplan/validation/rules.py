"""Shared parts of layer validation: the problem collector, layer schemas and the workspace context."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from gisplan import settings
from gisplan.catalogue import Attribute, normalise_header
from gisplan.errors import Problem
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import geopandas as gpd



logger = logging.getLogger(__name__)

_POLYGONS = frozenset({"Polygon", "MultiPolygon"})


_LINES = frozenset({"LineString", "MultiLineString"})


_POINTS = frozenset({"Point"})


_MAX_PROBLEMS_PER_RULE = 200

#: The largest value of an attribute on one row that is plausible in a Chinese district (one facility, or one
#: village/township row of households). Values 10⁶× too large (a unit mix-up, digits pasted twice) are refused
#: unless the import says `--accept-large`. Orders of magnitude: the largest 街道 of 重庆 has about 200,000
#: residents and a whole district at most about 1.7 million (7th census); a 社区 service centre has hundreds to a few
#: thousand m², the largest 养老 institutions about 2,000 beds.
PLAUSIBLE_MAX = MappingProxyType({
    "population": 2_000_000, "pop_60plus": 1_000_000, "households": 800_000,
    "floor_area_m2": 200_000.0, "beds": 10_000, "nursing_beds": 10_000,
})


def _show(value: object) -> str:
    """A cell value for a message: text quoted, numbers plain (no ``np.int64(-1)``)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _attr(name: str, dtype: str, *aliases: str, unit: str | None = None, min_value: float | None = None) -> Attribute:
    return Attribute(
        name=name,
        dtype=dtype,
        unit=unit,
        aliases=tuple(dict.fromkeys(normalise_header(a) for a in (name, *aliases))),
        min_value=min_value,
    )


@dataclass(frozen=True, slots=True)
class LayerSchema:
    """What a layer kind must and may carry.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    required, optional : tuple of Attribute
    geometry : frozenset of str or None
        Accepted geometry types; ``None`` for a table without geometry.
    geometry_required : bool
        Whether a row without geometry is an error.
    """

    kind: str
    required: tuple[Attribute, ...]
    optional: tuple[Attribute, ...]
    geometry: frozenset[str] | None
    geometry_required: bool


@dataclass(frozen=True, slots=True)
class Context:
    """What the workspace already holds, for cross-layer checks (all in the storage CRS).

    Attributes
    ----------
    gazetteer : pandas.DataFrame, optional
        Columns ``code12``, ``name``, ``level``, ``parent_code12``.
    district, townships, villages : geopandas.GeoDataFrame, optional
        Polygons with ``code12`` and ``name``.
    facilities : Mapping[str, geopandas.GeoDataFrame]
        Facility layers by type id.
    tolerance_m : float
        How far (metres) a point may lie outside its polygon before it is reported: the boundary
        layers disagree with each other by tens of metres.
    planning_crs : str, optional
        Projected CRS to measure in (the scenario's); default the data's UTM zone.
    accept_large : bool
        Accept values above :data:`PLAUSIBLE_MAX` (the user's override, ``--accept-large``).
    locate_by_name : bool
        Place the rows of a facility table without coordinate columns at the representative point of their
        village or township (``--locate-by-name``).
    places : pandas.DataFrame, optional
        The workspace's place-name register (layer ``places``): its current and historical names are matched
        too (a ledger that still writes a unit's former name is placed, with a note).
    """

    gazetteer: pd.DataFrame | None = None
    district: gpd.GeoDataFrame | None = None
    townships: gpd.GeoDataFrame | None = None
    villages: gpd.GeoDataFrame | None = None
    facilities: Mapping[str, pd.DataFrame] = field(default_factory=lambda: MappingProxyType({}))
    tolerance_m: float = settings.TOLERANCE_M
    planning_crs: str | None = None
    accept_large: bool = False
    locate_by_name: bool = False
    places: pd.DataFrame | None = None


class _Collector:
    def __init__(self, source: str, rows: np.ndarray, blanks: Mapping[tuple[int, str], str] | None = None) -> None:
        self.source = source
        self.rows = rows
        self.problems: list[Problem] = []
        self.blanks = blanks or {}

    def blank_note(self, i: int, fld: str) -> str | None:
        """Why cell (row position `i`, column `fld`) is empty, when the file says more than that (merged cells)."""
        return self.blanks.get((int(self.rows[i]), fld))

    def table(self, fld: str | None, message: str, fix: str) -> None:
        self.problems.append(Problem(self.source, None, fld, message, fix))

    def at(self, mask: np.ndarray | pd.Series, fld: str | None, message: Any, fix: str) -> None:
        """Record a problem for every row where `mask` holds; `message` may be a per-row callable."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        for i in idx[:_MAX_PROBLEMS_PER_RULE]:
            text = message(int(i)) if callable(message) else message
            self.problems.append(Problem(self.source, int(self.rows[i]), fld, text, fix))
        if len(idx) > _MAX_PROBLEMS_PER_RULE:
            more = len(idx) - _MAX_PROBLEMS_PER_RULE
            self.problems.append(Problem(self.source, None, fld, _("… and {more} more rows like that.").format(
                    more=more), fix))


def _geometry_field(mapping: dict[str, str]) -> str:
    """How the user sees the geometry of a row: its coordinate columns, or the geometry."""
    if "lon" in mapping and "lat" in mapping:
        return f"{mapping['lon']}/{mapping['lat']}"
    return mapping.get("lonlat", mapping.get("wkt", "geometry"))


def _check_unique(values: pd.Series, column: str, col: _Collector) -> None:
    dup = values.duplicated(keep="first") & values.notna()
    if dup.any():
        firsts: dict[Any, int] = {}
        for i, v in enumerate(values):
            if v is not None and not pd.isna(v) and v not in firsts:
                firsts[v] = int(col.rows[i])
        col.at(
            dup.to_numpy(),
            column,
            lambda i: _("{value} is used already on row {row}.").format(
                    value=_show(values.iloc[i]), row=firsts[values.iloc[i]]),
            "give every row its own value.",
        )


_T = TypeVar("_T")
_MEMO: dict[tuple[object, ...], tuple[tuple[object, ...], Any]] = {}
_MEMO_SIZE = 32


def per_context(what: str, frames: tuple[object, ...], extra: tuple[object, ...], compute: Callable[[], _T]) -> _T:
    """`compute()` once per workspace layer it derives from: the cross-checks of one import derive the same things
    from the same context layers for every file (the district outline and the townships in the planning CRS, the
    gazetteer's names …; ten facility files of 永川 did it ten times). Keyed by the identity of `frames` (held, so
    that an identity is never reused while cached) and `extra`; the caller must not change the value it gets."""
    key = (what, *map(id, frames), *extra)
    hit = _MEMO.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], frames, strict=True)):
        value: _T = hit[1]
        return value
    value = compute()
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[key] = (frames, value)
    return value
