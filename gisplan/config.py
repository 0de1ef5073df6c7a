"""Scenario configuration: frozen dataclasses read from a ``scenarios/*.toml`` file.

:func:`load_scenario` parses every choice value (scope, weight, metric, coverage method …) into the enums of
:mod:`gisplan.vocab` where it enters, and collects every problem of the file, each with its line, before it
refuses the file with one :class:`~gisplan.errors.ConfigFileError` (like layer validation's ``SchemaError``).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gisplan import fieldchecks as fc
from gisplan import settings
from gisplan.catalogue import LAYER_KINDS as KINDS
from gisplan.errors import ConfigError, ConfigFileError
from gisplan.i18n import _
from gisplan.tomllines import OneOf, TomlProblems
from gisplan.vocab import Comparator, CoverageMethod, Level, Metric, MetricInput, Scope, Spread, Weight

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CoverageSettings", "IndicatorSpec", "LayerSource", "MapSettings", "RoadSource", "Scenario", "Standard",
    "load_scenario", "require_indicators",
]


_STANDARD_CHECKS = dict.fromkeys(("max_minutes", "walk_speed_m_per_min", "elderly_walk_speed_m_per_min",
                                  "floor_area_m2_per_100hh", "new_area_centre_min_m2"), fc.positive)


@dataclass(frozen=True, slots=True)
class Standard:
    """Planning standards (both plans: 15-min circle, ≥ 30 m² per 100 households)."""

    max_minutes: float = 15.0
    walk_speed_m_per_min: float = 66.667
    elderly_walk_speed_m_per_min: float = 60.0
    floor_area_m2_per_100hh: float = 30.0
    new_area_centre_min_m2: float = 2700.0

    def __post_init__(self) -> None:
        fc.first_problem(self, "standard", _STANDARD_CHECKS)


@dataclass(frozen=True, slots=True)
class LayerSource:
    """One input layer of a scenario (paths are resolved against the scenario file)."""

    kind: str
    path: Path
    facility_type: str | None = None
    layer: str | None = None
    sheet: str | None = None
    crs: str | None = None
    illustrative: bool = False
    encoding: str | None = None
    make_ids: bool = False
    tolerance_m: float | None = None
    accept_large: bool = False
    locate_by_name: bool = False


@dataclass(frozen=True, slots=True)
class RoadSource:
    """Where the road network comes from, tried in order: a line layer, then OpenStreetMap."""

    path: Path | None = None
    crs: str | None = None
    osm_fallback: bool = False


_COVERAGE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "method": OneOf.of(CoverageMethod), "spread": OneOf.of(Spread), "bands_minutes": fc.bands, "years": fc.years,
    **dict.fromkeys(("radius_m", "max_snap_m", "trim_m", "spread_spacing_m", "candidate_spacing_m",
                     "solver_time_limit_s"), fc.metres),
    **dict.fromkeys(("snap_tolerance_m", "min_piece_m"), fc.metres_or_zero),
    **dict.fromkeys(("raster", "candidates", "exclusions", "candidate_mask"), fc.path),
}


@dataclass(frozen=True, slots=True)
class CoverageSettings:
    """How network coverage is measured (the scenario's ``[coverage]`` table).

    Attributes
    ----------
    method : CoverageMethod
        ``network``: travel minutes along roads. ``straight_line``: the 城市体检-style service radius,
        labelled as such in every output; never a silent substitute for ``network``.
    radius_m : float
        Service radius of the straight-line method.
    bands_minutes : tuple of float
        Thresholds reported besides each type's own (5/10/15/20 min).
    snap_tolerance_m : float
        Road end points closer than this are one node.
    max_snap_m : float
        Demand or facilities farther than this from every usable road are reported unreachable.
    min_piece_m : float
        Disconnected road pieces with less road than this are dropped (and reported).
    trim_m : float
        Width of the display polygons around the reached roads.
    spread : Spread
        How a household table by village code is spread over the village (``roads`` or ``area``).
    spread_spacing_m : float
        Spacing of the demand points made by spreading.
    raster : Path or None
        A population raster (GeoTIFF) used as demand instead of the households layer.
    candidate_spacing_m : float
        Spacing of the candidate sites generated on road nodes for siting.
    solver_time_limit_s : float
        HiGHS time limit per siting model in `gisplan run` (the gap is reported when it is reached).
    candidates : Path or None
        A point layer of candidate sites (vacant public buildings, planned plots) with ``candidate_id``;
        used instead of generated road nodes.
    exclusions : Path or None
        Polygons where no generated candidate may go.
    candidate_mask : Path or None
        A raster; generated candidates on a non-zero cell are left out.
    years : tuple of int
        Build years the proposed sites are spread over, in phased order; empty (the default): the proposal
        years of :func:`period_status` (the rest of the plan period, or the next period once it has ended).
    """

    method: CoverageMethod = CoverageMethod.NETWORK
    radius_m: float = settings.RADIUS_M
    bands_minutes: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0)
    snap_tolerance_m: float = settings.SNAP_TOLERANCE_M
    max_snap_m: float = settings.MAX_SNAP_M
    min_piece_m: float = settings.MIN_PIECE_M
    trim_m: float = settings.TRIM_M
    spread: Spread = Spread.ROADS
    spread_spacing_m: float = settings.SPREAD_SPACING_M
    raster: Path | None = None
    candidate_spacing_m: float = 300.0
    solver_time_limit_s: float = 30.0
    candidates: Path | None = None
    exclusions: Path | None = None
    candidate_mask: Path | None = None
    years: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        fc.first_problem(self, "coverage", _COVERAGE_CHECKS)
        object.__setattr__(self, "method", CoverageMethod(self.method))
        object.__setattr__(self, "spread", Spread(self.spread))


_SPEC_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "metric": OneOf.of(Metric), "weight": OneOf.of(Weight),
    "scope": lambda v: None if v is None else OneOf.of(Scope)(v),
    "comparator": lambda v: None if v is None else OneOf.of(Comparator)(v),
}


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """One row of a plan's indicator table and how gisplan computes it.

    ``metric``, ``scope`` and ``weight`` are parsed into :mod:`gisplan.vocab` members (a bad value raises
    ConfigError); the registry of :mod:`gisplan.analysis.metrics` says how each metric is computed.

    ``baseline_2020`` and ``target_2025`` hold the row's baseline and target whatever the plan's years (the
    TOML keys ``baseline`` and ``target`` fill them; the field names are kept for the code that reads them).
    Siting options (see README "Siting per row"): ``per_unit`` — true: the row's count is met by one new site
    in each division that lacks one (``siting_unit``: township or village; by default the row's scope, its
    ``where.level`` or the type's level), false: MCLP; unset: per unit when the row names divisions (a scope
    or a level) or its type is counted by division only. ``min_distance_m`` overrides the type's distance
    from residential demand for area siting.
    """

    row: str
    name_zh: str
    unit: str
    baseline_2020: str
    target_2025: str
    nature: str
    metric: Metric
    facility_type: str | None = None
    scope: Scope | None = None
    source: str | None = None
    indicator_id: str = ""
    section: str = ""
    minutes: float | None = None
    weight: Weight = Weight.POPULATION
    min_population: int | None = None
    value: str | None = None
    where: tuple[tuple[str, str], ...] = ()
    comparator: Comparator | None = None
    siting_unit: Level | None = None
    per_unit: bool | None = None
    min_distance_m: float | None = None
    headline: bool | None = None  # on in the map's default view; None: decided by the metric (a spatial one is)

    def __post_init__(self) -> None:
        fc.first_problem(self, "indicator", _SPEC_CHECKS)
        object.__setattr__(self, "metric", Metric(self.metric))
        object.__setattr__(self, "weight", Weight(self.weight))
        object.__setattr__(self, "scope", None if self.scope is None else Scope(self.scope))
        object.__setattr__(self, "comparator", None if self.comparator is None else Comparator(self.comparator))


_SCENARIO_CHECKS = {"district_code": fc.district_code, "crs": fc.crs, "tolerance_m": fc.tolerance}


_MAP_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "basemap": fc.path, "basemap_max_px": fc.pixels, "notice": fc.short_text,
    "review_number": lambda v: None if v is None else fc.short_text(v), "neighbours": fc.paths,
}


@dataclass(frozen=True, slots=True)
class MapSettings:
    """How the plan map is drawn (the scenario's ``[map]`` table).

    Attributes
    ----------
    basemap : Path or None
        A local GeoTIFF (orthophoto, a 天地图 export, a scanned plan) embedded under the layers as an image,
        so an intranet map has imagery without a tile server (``gisplan map --basemap-file`` overrides it).
    basemap_max_px : int
        The embedded image's longest side in pixels (the GeoTIFF is resampled down to it; the map states the
        size).
    notice : str
        The map notice on every map: 内部用图 (internal use) unless a published map's 审图号 is given.
    review_number : str or None
        The 审图号 (map review number) of a published map; when given, the notice reads 审图号：….
    neighbours : tuple of Path
        Polygon files of the neighbouring districts (``name`` column); their names are written at the edge.
    """

    basemap: Path | None = None
    basemap_max_px: int = settings.BASEMAP_MAX_PX
    notice: str = "内部用图"
    review_number: str | None = None
    neighbours: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        fc.first_problem(self, "map", _MAP_CHECKS)

    @property
    def notice_text(self) -> str:
        """The notice printed on every map: the 审图号 when given, else `notice`.

        Examples
        --------
        >>> MapSettings().notice_text, MapSettings(review_number="渝S(2024)001号").notice_text
        ('内部用图', '审图号：渝S(2024)001号')
        """
        return f"审图号：{self.review_number}" if self.review_number else self.notice


@dataclass(frozen=True, slots=True)
class Scenario:
    """A planning scenario: the district, its CRS, its layers, standards and plan indicators.

    ``period`` is the plan's (first year, last year), e.g. (2021, 2025) for 十四五, and ``baseline_year`` the
    year of its baseline column (e.g. 2020); without them (None), :func:`period_status` takes the Five-Year
    Plan period that holds the run's year and the year before it.
    """

    name: str
    district_code: str
    crs: str
    workspace: Path
    layers: tuple[LayerSource, ...]
    roads: RoadSource | None
    standard: Standard
    indicators: tuple[IndicatorSpec, ...]
    catalogue: Path | None = None
    tolerance_m: float = settings.TOLERANCE_M
    path: Path | None = None
    coverage: CoverageSettings = field(default_factory=CoverageSettings)
    reported_values: Path | None = None
    profiles: MappingProxyType[str, MappingProxyType[str, Any]] = field(
        default_factory=lambda: MappingProxyType({}))
    period: tuple[int, int] | None = None
    baseline_year: int | None = None
    map: MapSettings = field(default_factory=MapSettings)

    def __post_init__(self) -> None:
        fc.first_problem(self, "scenario", _SCENARIO_CHECKS)


_INDICATOR_KEYS = frozenset({
    "row", "name_zh", "unit", "baseline_2020", "target_2025", "nature", "metric", "type", "scope", "source", "id",
    "section", "minutes", "weight", "min_population", "value", "where", "comparator", "headline",
    "baseline", "target", "per_unit", "siting_unit", "min_distance_m",
})
_LAYER_KEYS = frozenset({"kind", "path", "type", "layer", "sheet", "crs", "illustrative", "encoding", "make_ids",
                         "tolerance_m", "accept_large", "locate_by_name"})


# the options of a [[layer]] besides kind, path and type: those of `gisplan layers import`
_LAYER_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "layer": fc.text, "sheet": fc.text, "crs": fc.text, "encoding": fc.encoding, "illustrative": fc.flag,
    "make_ids": fc.flag, "accept_large": fc.flag, "locate_by_name": fc.flag, "tolerance_m": fc.tolerance,
}
_SCENARIO_KEYS = frozenset({"name", "district_code", "crs", "workspace", "catalogue", "tolerance_m",
                            "reported_values", "period", "baseline_year"})
_ROADS_KEYS = frozenset({"path", "crs", "osm_fallback"})
_MAP_KEYS = frozenset(_MAP_CHECKS)
_TABLES = frozenset({"scenario", "layer", "roads", "standard", "coverage", "profiles", "indicator", "map"})


_ENTRY_CHECKS: dict[str, Any] = {
    "metric": OneOf.of(Metric), "scope": OneOf.of(Scope), "weight": OneOf.of(Weight), "minutes": fc.minutes,
    "min_population": fc.count, "where": fc.where_table,
    "comparator": OneOf.of(Comparator),
    "headline": lambda v: None if isinstance(v, bool) else f"must be true or false (got {v!r}).",
    "type": lambda v: None if isinstance(v, str) and v else _("must be a facility type id (got {v!r}).").format(v=v),
    "siting_unit": OneOf.of(Level), "min_distance_m": fc.metres_or_zero,
    "per_unit": lambda v: None if isinstance(v, bool) else f"must be true or false (got {v!r}).",
}


def _indicator(entry: object, i: int, col: TomlProblems) -> IndicatorSpec | None:
    """One ``[[indicator]]`` table, or None (with its problems recorded)."""
    if not isinstance(entry, dict):
        col.add("indicator", i, None, _("every [[indicator]] must be a table."),
                _("write it as an [[indicator]] table."))
        return None
    col.unknown_keys(entry, "indicator", i, _INDICATOR_KEYS)
    row, name_zh = col.required(entry, "indicator", i, "row"), col.required(entry, "indicator", i, "name_zh")
    metric = col.required(entry, "indicator", i, "metric")
    ok = all([col.check("indicator", i, key, entry[key], check) for key, check in _ENTRY_CHECKS.items()
              if key in entry and (key != "metric" or metric is not None)])
    if metric in _ENTRY_CHECKS["metric"].options and Metric(metric).input is MetricInput.ROW_TYPE \
            and not entry.get("type"):
        col.add("indicator", i, "metric", _("metric {metric!r} needs `type` (a facility type id).").format(
                metric=metric),
                _('add e.g. type = "public_cemetery" to the table.'))
        ok = False
    for new, old in (("baseline", "baseline_2020"), ("target", "target_2025")):
        if new in entry and old in entry:
            col.add("indicator", i, new, _("both `{new}` and `{old}` are given.").format(
                    new=new, old=old), _("keep `{new}` only.").format(
                    new=new))
            ok = False
    if not ok or row is None or name_zh is None or metric is None:
        return None
    return IndicatorSpec(
        row=row, name_zh=name_zh, unit=str(entry.get("unit", "%")),
        baseline_2020=str(entry.get("baseline", entry.get("baseline_2020", "——"))),
        target_2025=str(entry.get("target", entry.get("target_2025", "——"))),
        nature=str(entry.get("nature", "")), metric=Metric(metric), facility_type=entry.get("type"),
        scope=Scope(entry["scope"]) if "scope" in entry else None, source=entry.get("source"),
        indicator_id=str(entry.get("id", f"#{entry.get('row')}")), section=str(entry.get("section", "")),
        minutes=float(entry["minutes"]) if "minutes" in entry else None,
        weight=Weight(entry.get("weight", Weight.POPULATION)), min_population=entry.get("min_population"),
        value=str(entry["value"]) if "value" in entry else None,
        where=tuple((str(k), str(v)) for k, v in entry.get("where", {}).items()),
        comparator=Comparator(entry["comparator"]) if "comparator" in entry else None,
        siting_unit=Level(entry["siting_unit"]) if "siting_unit" in entry else None,
        per_unit=entry.get("per_unit"),
        min_distance_m=float(entry["min_distance_m"]) if "min_distance_m" in entry else None,
        headline=entry.get("headline"),
    )


def _indicators(raw: dict[str, Any], col: TomlProblems) -> tuple[IndicatorSpec, ...]:
    entries = raw.get("indicator", [])
    if not isinstance(entries, list):
        col.add("indicator", 0, None, _("indicators must be [[indicator]] tables."), _("write each as [[indicator]]."))
        return ()
    specs = [_indicator(entry, i, col) for i, entry in enumerate(entries, start=1)]
    first: dict[str, int] = {}
    for i, entry in enumerate(entries, start=1):
        key = str(entry.get("id", f"#{entry.get('row')}")) if isinstance(entry, dict) else None
        if key in first:
            col.add("indicator", i, "id", _("indicator id {key!r} is used by [[indicator]] #{first} already.").format(
                    key=key, first=first[key]),
                    _("give each [[indicator]] its own `id`."))
        elif key is not None:
            first[key] = i
    return tuple(s for s in specs if s is not None)


def _layers(raw: dict[str, Any], base: Path, col: TomlProblems) -> tuple[LayerSource, ...]:
    layers: list[LayerSource] = []
    entries = raw.get("layer", [])
    if not isinstance(entries, list):
        col.add("layer", 0, None, _("layers must be [[layer]] tables."), _("write each as [[layer]]."))
        return ()
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            col.add("layer", i, None, _("every [[layer]] must be a table."), _("write it as a [[layer]] table."))
            continue
        col.unknown_keys(entry, "layer", i, _LAYER_KEYS)
        kind, path = col.required(entry, "layer", i, "kind"), col.required(entry, "layer", i, "path")
        if kind is not None and not col.check("layer", i, "kind", kind, OneOf(KINDS)):
            continue
        if kind == "facilities" and not entry.get("type"):
            col.add("layer", i, "kind", _("a facilities layer needs `type` (a facility type id)."),
                    _('add e.g. type = "elderly_institution" to the table.'))
        elif kind != "facilities" and entry.get("make_ids"):
            col.add("layer", i, "make_ids", _("`make_ids` numbers facilities only."),
                    _("remove it from this [[layer]]."))
        options_ok = all([col.check("layer", i, key, entry[key], check) for key, check in _LAYER_CHECKS.items()
                          if key in entry])
        if kind is not None and path is not None and options_ok:
            layers.append(LayerSource(
                kind=kind, path=base / path, facility_type=entry.get("type"), layer=entry.get("layer"),
                sheet=entry.get("sheet"), crs=entry.get("crs"), illustrative=bool(entry.get("illustrative", False)),
                encoding=entry.get("encoding"), make_ids=bool(entry.get("make_ids", False)),
                tolerance_m=float(entry["tolerance_m"]) if "tolerance_m" in entry else None,
                accept_large=bool(entry.get("accept_large", False)),
                locate_by_name=bool(entry.get("locate_by_name", False)),
            ))
    return tuple(layers)


def _table(raw: dict[str, Any], name: str, col: TomlProblems) -> dict[str, Any]:
    value = raw.get(name, {})
    if isinstance(value, dict):
        return value
    col.add(name, 0, None, _("[{name}] must be a table.").format(name=name),
            _("write it as a [{name}] table.").format(name=name))
    return {}


def _standard(raw: dict[str, Any], col: TomlProblems) -> Standard | None:
    table = _table(raw, "standard", col)
    col.unknown_keys(table, "standard", 0, frozenset(_STANDARD_CHECKS))
    ok = all([col.check("standard", 0, k, v, _STANDARD_CHECKS[k]) for k, v in table.items() if k in _STANDARD_CHECKS])
    return Standard(**table) if ok and set(table) <= set(_STANDARD_CHECKS) else None


def _coverage(raw: dict[str, Any], base: Path, col: TomlProblems) -> CoverageSettings | None:
    table = _table(raw, "coverage", col)
    col.unknown_keys(table, "coverage", 0, frozenset(_COVERAGE_CHECKS))
    values: dict[str, Any] = {}
    ok = True
    for key, value in table.items():
        if key not in _COVERAGE_CHECKS or not col.check("coverage", 0, key, value, _COVERAGE_CHECKS[key]):
            ok = False
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = base / value if _COVERAGE_CHECKS[key] is fc.path else value
    return CoverageSettings(**values) if ok else None


def _map(raw: dict[str, Any], base: Path, col: TomlProblems) -> MapSettings | None:
    table = _table(raw, "map", col)
    col.unknown_keys(table, "map", 0, _MAP_KEYS)
    ok = all([col.check("map", 0, k, v, _MAP_CHECKS[k]) for k, v in table.items() if k in _MAP_CHECKS])
    if not ok or not set(table) <= _MAP_KEYS:
        return None
    values = dict(table)
    if "basemap" in values:
        values["basemap"] = base / values["basemap"]
    if "neighbours" in values:
        values["neighbours"] = tuple(base / v for v in values["neighbours"])
    return MapSettings(**values)


def _profiles(raw: dict[str, Any], col: TomlProblems) -> MappingProxyType[str, MappingProxyType[str, Any]]:
    table = _table(raw, "profiles", col)
    for pid, value in table.items():
        if not isinstance(value, dict):
            col.add("profiles", 0, pid, _("[profiles.{pid}] must be a table (got {value!r}).").format(
                    pid=pid, value=value),
                    _("write e.g. [profiles.walk] speed_m_per_min = 70."))
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in table.items() if isinstance(v, dict)})


def _read(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = _("scenario file {path} does not exist.").format(path=path)
        raise ConfigError(msg) from None
    except UnicodeDecodeError as exc:
        msg = _("scenario file {path} is not valid UTF-8 TOML: {exc}.").format(path=path, exc=exc)
        raise ConfigError(msg) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        msg = _("scenario file {path} is not valid UTF-8 TOML: {exc}.").format(path=path, exc=exc)
        raise ConfigError(msg) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file.

    Relative paths inside it are resolved against the file's folder. Every choice value is parsed into its
    :mod:`gisplan.vocab` enum here, so a typo is refused on load, not in the middle of a run.

    Raises
    ------
    ConfigFileError
        Listing every problem of the file: the table, the line, the key, the value and what is allowed.
    ConfigError
        If the file is missing or not TOML.
    """
    path = Path(path)
    raw, text = _read(path)
    col = TomlProblems(path, text)
    base = path.parent
    for name in sorted(set(raw) - _TABLES):
        close = difflib.get_close_matches(name, sorted(_TABLES), n=1)
        col.add(name, 0, None, _("unknown table or key `{name}`.").format(name=name),
                _("did you mean [{close}]?").format(
                    close=close[0]) if close else _("use the tables {tables}.").format(
                        tables=', '.join(sorted(_TABLES))))
    sc = _table(raw, "scenario", col)
    col.unknown_keys(sc, "scenario", 0, _SCENARIO_KEYS)
    name, code, crs = (col.required(sc, "scenario", 0, key) for key in ("name", "district_code", "crs"))
    workspace = col.required(sc, "scenario", 0, "workspace")
    for key, check in _SCENARIO_CHECKS.items():
        value = {"district_code": code, "crs": crs}.get(key, sc.get(key, settings.TOLERANCE_M))
        if value is not None:
            col.check("scenario", 0, key, value, check)
    period_ok = "period" not in sc or col.check("scenario", 0, "period", sc["period"], fc.period)
    base_ok = "baseline_year" not in sc or col.check("scenario", 0, "baseline_year", sc["baseline_year"], fc.year)
    if period_ok and base_ok and "period" in sc and "baseline_year" in sc and sc["baseline_year"] >= sc["period"][0]:
        col.add("scenario", 0, "baseline_year", _("the baseline year {baseline_year} is not before the plan period "
                                                  "{first}–{last}.").format(
                baseline_year=sc['baseline_year'], first=sc['period'][0], last=sc['period'][1]),
                _("use the year before it, {year}.").format(year=sc['period'][0] - 1))
    roads_raw = _table(raw, "roads", col) if "roads" in raw else None
    if roads_raw is not None:
        col.unknown_keys(roads_raw, "roads", 0, _ROADS_KEYS)
    for table, key, value in (("scenario", "catalogue", sc.get("catalogue")),
                              ("scenario", "reported_values", sc.get("reported_values")),
                              ("roads", "path", (roads_raw or {}).get("path"))):
        col.check(table, 0, key, value, fc.path)
    layers, indicators = _layers(raw, base, col), _indicators(raw, col)
    standard, coverage, profiles = _standard(raw, col), _coverage(raw, base, col), _profiles(raw, col)
    map_settings = _map(raw, base, col)
    if col.problems or standard is None or coverage is None or map_settings is None:
        raise ConfigFileError(sorted(col.problems, key=lambda p: p.row or 0))  # in file order
    return Scenario(
        name=name, district_code=code, crs=crs, workspace=base / workspace, layers=layers,
        roads=None if roads_raw is None else RoadSource(
            path=base / roads_raw["path"] if "path" in roads_raw else None, crs=roads_raw.get("crs"),
            osm_fallback=bool(roads_raw.get("osm_fallback", False))),
        standard=standard, indicators=indicators, catalogue=base / sc["catalogue"] if "catalogue" in sc else None,
        tolerance_m=float(sc.get("tolerance_m", settings.TOLERANCE_M)), path=path, coverage=coverage,
        reported_values=base / sc["reported_values"] if "reported_values" in sc else None, profiles=profiles,
        period=(int(sc["period"][0]), int(sc["period"][1])) if "period" in sc else None,
        baseline_year=int(sc["baseline_year"]) if "baseline_year" in sc else None,
        map=map_settings,
    )


def require_indicators(scenario: Scenario) -> None:
    """Refuse a scenario without any ``[[indicator]]`` for a whole run, before anything is imported.

    Raises
    ------
    ConfigError
        Naming the file and how to add an indicator row.
    """
    if scenario.indicators:
        return
    where = scenario.path or "the scenario"
    msg = (_("{where} has no [[indicator]] table, so `gisplan run` has nothing to compute; nothing was imported. "
             "Fix: add the plan's indicator rows as [[indicator]] tables (see scenarios/yongchuan-2025.toml), or "
             "use `gisplan coverage` for coverage alone.").format(where=where))
    raise ConfigError(msg)
