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

from gisplan.i18n import _

__all__ = [
    "Comparator",
    "CoverageKind",
    "CoverageMethod",
    "DivisionChange",
    "ExportFormat",
    "Level",
    "LineLevel",
    "LocationPrecision",
    "MarkerState",
    "Method",
    "Metric",
    "MetricInput",
    "NameStage",
    "OsmCacheState",
    "PeriodPhase",
    "PlaceCategory",
    "PlaceStatus",
    "QuestionKind",
    "Scope",
    "ServiceRole",
    "SignState",
    "SignType",
    "SitingRule",
    "Spread",
    "Status",
    "TopologyCheck",
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


class LocationPrecision(StrEnum):
    """How precisely a facility's point is known: its own coordinates, or the representative point of its
    village/community or township (a ledger without coordinates, located by name or address)."""

    POINT = "point"
    VILLAGE = "village"
    TOWNSHIP = "township"


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


class SitingRule(StrEnum):
    """How a facility type's new sites are placed (the catalogue's ``siting``): ``coverage`` — where they reach
    the most residents within the type's minutes; ``area`` — the type serves a whole division rather than a
    walking catchment (cemeteries, funeral stations): one per eligible division, at least ``min_distance_m``
    from residential demand, outside the scenario's exclusion polygons."""

    COVERAGE = "coverage"
    AREA = "area"


class PeriodPhase(StrEnum):
    """Where a run stands against its scenario's plan period: inside it (proposals up to its end), or after
    it (终期评估: the period is evaluated and proposals are phased over the next period)."""

    CURRENT = "规划期内"
    ENDED = "终期评估"
class PlaceCategory(StrEnum):
    """The national place-name classification (GB/T 18521 地名分类与类别代码编制规则, top classes, and the kinds
    of the 2022 《地名管理条例》); the value is written in the 标准地名录."""

    ADMINISTRATIVE = "行政区域"
    SELF_GOVERNING = "群众自治组织"
    SETTLEMENT = "居民点"
    STREET = "街路巷"
    TRANSPORT = "交通运输设施"
    WATER_POWER = "水利电力通信设施"
    MEMORIAL = "纪念地和名胜古迹"
    NATURAL = "自然地理实体"
    PARK = "城市公园和自然保护地"
    LANDMARK_BUILDING = "具有重要地理方位意义的住宅区和楼宇"
    OTHER = "其他"


class PlaceStatus(StrEnum):
    """Whether a name is in use (标准地名) or retired (历史地名, kept on the protected list)."""

    CURRENT = "现行"
    HISTORICAL = "历史"


class NameStage(StrEnum):
    """The naming workflow: 申报 → 审核 → 批准 → 公告, or 驳回 with a reason at any stage before 批准."""

    SUBMITTED = "申报"
    REVIEWED = "审核"
    APPROVED = "批准"
    ANNOUNCED = "公告"
    REJECTED = "驳回"


class SignType(StrEnum):
    """Kinds of place-name signs (地名标志, GB 17733)."""

    STREET = "街路巷标志"
    VILLAGE = "村(社区)标志"
    DOOR = "门(楼)牌"
    POINTER = "指向标志"
    FEATURE = "地物标志"


class SignState(StrEnum):
    """A sign's state as last inspected."""

    PLANNED = "待设置"
    GOOD = "完好"
    DAMAGED = "损坏"
    MISSING = "缺失"
    REMOVED = "已拆除"


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
    msg = _("{what} must be one of {allowed} (got {value!r}).").format(what=what, allowed=allowed(enum), value=value)
    raise ValueError(msg)


class TopologyCheck(StrEnum):
    """The problems `gisplan boundaries check` reports (the ``check`` column of the problems layer)."""

    INVALID_RING = "invalid_ring"  # 边界无效 (self-intersection, bad ring)
    OVERLAP = "overlap"  # 重叠 between sibling units
    GAP = "gap"  # 缝隙 between sibling units, inside their union
    SLIVER = "sliver"  # 狭长碎片: a gap or overlap thinner than the sliver width
    OUTLINE_GAP = "outline_gap"  # outline area in no unit
    OUTSIDE_OUTLINE = "outside_outline"  # unit area outside the outline
    EDGE_MISMATCH = "edge_mismatch"  # shared edges not identical (coverage_invalid_edges)
    MALFORMED_CODE = "malformed_code"
    DUPLICATE_CODE = "duplicate_code"
    UNKNOWN_CODE = "unknown_code"
    NAME_MISMATCH = "name_mismatch"
    PARENT_MISMATCH = "parent_mismatch"  # the code's parent is not the polygon that holds the unit
    MARKER_OFF_LINE = "marker_off_line"  # 界桩 too far from its line


class LineLevel(StrEnum):
    """The level of an administrative boundary line (行政区域界线)."""

    PROVINCIAL = "省级"
    COUNTY = "县级"
    TOWNSHIP = "乡级"


class DivisionChange(StrEnum):
    """The kinds of division change (区划调整) `gisplan divisions` records in the crosswalk."""

    MERGE = "merge"  # 合并 / 撤并
    SPLIT = "split"  # 拆分
    RENAME = "rename"  # 更名
    RECODE = "recode"  # 代码变更
    CHANGE_LEVEL = "change-level"  # 村改社区 / 撤镇设街 (type change; may re-code)
    ADJUST = "adjust"  # 边界调整 between two units


class MarkerState(StrEnum):
    """What a joint inspection (联检) found at a boundary marker (界桩)."""

    GOOD = "完好"
    DAMAGED = "损坏"
    TILTED = "倾斜"
    MISSING = "丢失"
    MOVED = "移位"


class ServiceRole(StrEnum):
    """The roles of `gisplan serve`'s API tokens (the public reads without a token)."""

    APPLICANT = "applicant"  # 申报人: submits naming applications
    REVIEWER = "reviewer"  # 审核人: reviews, rejects, approves and announces; edits rows
    ADMIN = "admin"  # 管理员: everything, the audit included
