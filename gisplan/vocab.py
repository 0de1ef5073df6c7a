"""The typed vocabulary: every choice value a scenario, the catalogue or the command line may name.

Each is a :class:`enum.StrEnum` whose values are the strings written in TOML files, on the command line
and in the result tables, so outputs do not change. Parse a value where it enters (``Scope("towns")``, or
:func:`parse_choice` for a message that lists the allowed values) and compare members inside.

Examples
--------
>>> Scope("towns") is Scope.TOWNS, Status.NOT_MET == "未达标", f"{Weight.POP_60PLUS}_covered"
(True, True, 'pop_60plus_covered')
>>> allowed(Level)
'township, village'
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

__all__ = [
    "Comparator",
    "CoverageKind",
    "CoverageMethod",
    "ExportFormat",
    "Level",
    "Method",
    "Metric",
    "MetricInput",
    "OsmCacheState",
    "QuestionKind",
    "Scope",
    "Spread",
    "Status",
    "Weight",
    "allowed",
    "parse_choice",
]


E = TypeVar("E", bound=StrEnum)


class Scope(StrEnum):
    """Which divisions form an indicator's denominator (:func:`gisplan.divisions.units_in_scope`)."""

    ALL = "all"
    TOWNS = "towns"  # 镇/乡, not 街道
    STREETS = "streets"  # 街道, the central city
    URBAN_COMMUNITIES = "urban_communities"  # 居民委员会 (社区)
    RURAL_VILLAGES = "rural_villages"  # 村民委员会 (建制村)


class Level(StrEnum):
    """The division level a facility type belongs to and serves."""

    TOWNSHIP = "township"
    VILLAGE = "village"


class Weight(StrEnum):
    """Demand weights: the columns of a demand table that coverage counts."""

    POPULATION = "population"
    HOUSEHOLDS = "households"
    POP_60PLUS = "pop_60plus"


class Metric(StrEnum):
    """How a plan row is computed: the ``metric`` of a scenario's ``[[indicator]]`` table.

    The registry of :mod:`gisplan.analysis.metrics` gives each its compute function, the facility types it
    reads, its method label and the siting question it can ask.
    """

    ADMIN_SHARE = "admin_share"
    FACILITY_COUNT = "facility_count"
    NETWORK_COVERAGE = "network_coverage"
    FLOOR_AREA_COMPLIANCE = "floor_area_compliance"
    FLOOR_AREA_PER_100HH = "floor_area_per_100hh"
    HOST_SHARE = "host_share"
    NURSING_BED_SHARE = "nursing_bed_share"
    GOVERNMENT_BED_SHARE = "government_bed_share"
    QUALITY_SHARE = "quality_share"
    REPORTED = "reported"

    @property
    def input(self) -> MetricInput:
        """Where the metric finds its facility layer (see :class:`MetricInput`)."""
        return _METRIC_INPUT[self]


class MetricInput(StrEnum):
    """Where a metric's facility layer comes from.

    ``row_type``: the indicator row's own ``type`` (required there). ``catalogue``: the catalogue type that
    lists the metric in its ``metrics`` key (``host_share`` also accepts the row's ``type``). ``none``: no
    layer (a reported value).
    """

    ROW_TYPE = "row_type"
    CATALOGUE = "catalogue"
    NONE = "none"


_METRIC_INPUT = MappingProxyType({
    Metric.ADMIN_SHARE: MetricInput.ROW_TYPE,
    Metric.FACILITY_COUNT: MetricInput.ROW_TYPE,
    Metric.NETWORK_COVERAGE: MetricInput.ROW_TYPE,
    Metric.FLOOR_AREA_COMPLIANCE: MetricInput.CATALOGUE,
    Metric.FLOOR_AREA_PER_100HH: MetricInput.CATALOGUE,
    Metric.HOST_SHARE: MetricInput.CATALOGUE,
    Metric.NURSING_BED_SHARE: MetricInput.CATALOGUE,
    Metric.GOVERNMENT_BED_SHARE: MetricInput.CATALOGUE,
    Metric.QUALITY_SHARE: MetricInput.CATALOGUE,
    Metric.REPORTED: MetricInput.NONE,
})


class Method(StrEnum):
    """How a row's value was obtained, as written in the ``method`` column of indicators.csv."""

    COMPUTED_SPATIAL = "computed-spatial"
    COMPUTED_ATTRIBUTE = "computed-attribute"
    COUNT = "count"
    REPORTED = "reported"
    STRAIGHT_LINE = "straight-line"  # a network row estimated by the service radius (no roads): status 参考


class CoverageMethod(StrEnum):
    """How coverage is measured: travel minutes along roads, or the straight-line service radius."""

    NETWORK = "network"
    STRAIGHT_LINE = "straight_line"


class ExportFormat(StrEnum):
    """The file formats of `gisplan export`."""

    GPKG = "gpkg"
    SHP = "shp"
    GEOJSON = "geojson"
    KMZ = "kmz"
    DXF = "dxf"
    XLSX = "xlsx"


class ReportFormat(StrEnum):
    """The files of `gisplan report`: report.pdf, report.docx, tables.xlsx and report.html."""

    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    HTML = "html"


class Spread(StrEnum):
    """How a household table by village code is spread over the village: along its roads or over its area."""

    ROADS = "roads"
    AREA = "area"


class CoverageKind(StrEnum):
    """How plans count a facility type (the catalogue's ``coverage`` list)."""

    NETWORK = "network"  # travel minutes along roads
    ADMINISTRATIVE = "administrative"  # share of divisions holding one
    ATTRIBUTES = "attributes"  # ratios over attributes (beds, floor area)


class Comparator(StrEnum):
    """How a value is compared with a plan's target; ``text`` when the target is not a number."""

    GE = ">="
    LE = "<="
    GT = ">"
    LT = "<"
    EQ = "=="
    TEXT = "text"


class Status(StrEnum):
    """A row's status against its target (the ``status`` column of indicators.csv)."""

    MET = "达标"
    NOT_MET = "未达标"
    NO_DATA = "无数据"  # no value
    NO_TARGET = "无目标"  # a value, but the target is not a number
    REFERENCE = "参考"  # a straight-line estimate of a network-defined row: never judged against its target


class OsmCacheState(StrEnum):
    """What a cached OpenStreetMap download is worth: ``fresh`` (use it), ``missing``, ``partial`` (cut short or
    changed: never used) or ``stale`` (too old, or for another area: refetched when online, else reused)."""

    FRESH = "fresh"
    MISSING = "missing"
    PARTIAL = "partial"
    STALE = "stale"


class QuestionKind(StrEnum):
    """What new sites a target asks for: a number of facilities, a share of divisions, a share of demand."""

    COUNT = "count"
    UNITS = "units"
    SHARE = "share"


def allowed(enum: type[StrEnum]) -> str:
    """The values of `enum`, comma-separated, for messages."""
    return ", ".join(member.value for member in enum)


def parse_choice(enum: type[E], value: object, what: str) -> E:
    """Parse `value` as a member of `enum`.

    Parameters
    ----------
    enum : type of StrEnum
    value : object
        As read from a file or the command line.
    what : str
        How messages name the value, e.g. ``"`scope`"``.

    Raises
    ------
    ValueError
        Naming `what`, the value and the allowed values.

    Examples
    --------
    >>> parse_choice(Weight, "households", "`weight`")
    <Weight.HOUSEHOLDS: 'households'>
    >>> parse_choice(Level, "county", "`admin_level`")
    Traceback (most recent call last):
    ...
    ValueError: `admin_level` must be one of township, village (got 'county').
    """
    if isinstance(value, str) and value in {member.value for member in enum}:
        return enum(value)
    msg = f"{what} must be one of {allowed(enum)} (got {value!r})."
    raise ValueError(msg)
