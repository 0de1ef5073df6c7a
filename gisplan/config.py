"""Scenario configuration: frozen dataclasses read from a ``scenarios/*.toml`` file."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gisplan import settings
from gisplan.catalogue import LAYER_KINDS as KINDS
from gisplan.catalogue import parse_profile
from gisplan.errors import ConfigError

if TYPE_CHECKING:
    from gisplan.catalogue import Catalogue, Profile

__all__ = [
    "CoverageSettings", "IndicatorSpec", "LayerSource", "RoadSource", "Scenario", "Standard", "load_scenario",
    "scenario_profiles",
]

_METRICS = frozenset({
    "admin_share", "floor_area_compliance", "floor_area_per_100hh", "host_share", "nursing_bed_share",
    "government_bed_share", "quality_share", "reported", "network_coverage", "facility_count",
})
#: how each metric is computed, as written in indicators.csv
METHODS = {
    "admin_share": "computed-spatial", "network_coverage": "computed-spatial", "host_share": "computed-attribute",
    "floor_area_compliance": "computed-attribute", "floor_area_per_100hh": "computed-attribute",
    "nursing_bed_share": "computed-attribute", "government_bed_share": "computed-attribute",
    "quality_share": "computed-attribute", "facility_count": "count", "reported": "reported",
}
_WEIGHTS = ("population", "households", "pop_60plus")


@dataclass(frozen=True, slots=True)
class Standard:
    """Planning standards (both plans: 15-min circle, ≥ 30 m² per 100 households)."""

    max_minutes: float = 15.0
    walk_speed_m_per_min: float = 66.667
    elderly_walk_speed_m_per_min: float = 60.0
    floor_area_m2_per_100hh: float = 30.0
    new_area_centre_min_m2: float = 2700.0

    def __post_init__(self) -> None:
        for name in ("max_minutes", "walk_speed_m_per_min", "elderly_walk_speed_m_per_min",
                     "floor_area_m2_per_100hh", "new_area_centre_min_m2"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                msg = f"[standard] `{name}` must be a positive number (got {value!r})."
                raise ConfigError(msg)


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


@dataclass(frozen=True, slots=True)
class RoadSource:
    """Where the road network comes from, tried in order: a line layer, then OpenStreetMap."""

    path: Path | None = None
    crs: str | None = None
    osm_fallback: bool = False


@dataclass(frozen=True, slots=True)
class CoverageSettings:
    """How network coverage is measured (the scenario's ``[coverage]`` table).

    Attributes
    ----------
    method : {"network", "straight_line"}
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
    spread : {"roads", "area"}
        How a household table by village code is spread over the village.
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
        Build years the proposed sites are spread over, in phased order.
    """

    method: str = "network"
    radius_m: float = settings.RADIUS_M
    bands_minutes: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0)
    snap_tolerance_m: float = settings.SNAP_TOLERANCE_M
    max_snap_m: float = settings.MAX_SNAP_M
    min_piece_m: float = settings.MIN_PIECE_M
    trim_m: float = settings.TRIM_M
    spread: str = "roads"
    spread_spacing_m: float = settings.SPREAD_SPACING_M
    raster: Path | None = None
    candidate_spacing_m: float = 300.0
    solver_time_limit_s: float = 30.0
    candidates: Path | None = None
    exclusions: Path | None = None
    candidate_mask: Path | None = None
    years: tuple[int, ...] = (2021, 2022, 2023, 2024, 2025)

    def __post_init__(self) -> None:
        if self.method not in {"network", "straight_line"}:
            msg = f"[coverage] `method` must be 'network' or 'straight_line' (got {self.method!r})."
            raise ConfigError(msg)
        if self.spread not in {"roads", "area"}:
            msg = f"[coverage] `spread` must be 'roads' or 'area' (got {self.spread!r})."
            raise ConfigError(msg)
        for name in ("radius_m", "max_snap_m", "trim_m", "spread_spacing_m", "candidate_spacing_m",
                     "solver_time_limit_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1e6:
                msg = f"[coverage] `{name}` must be a positive number of metres (got {value!r})."
                raise ConfigError(msg)
        for name in ("snap_tolerance_m", "min_piece_m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1e6:
                msg = f"[coverage] `{name}` must be a number of metres ≥ 0 (got {value!r})."
                raise ConfigError(msg)
        bands = self.bands_minutes
        if not bands or not all(isinstance(b, int | float) and not isinstance(b, bool) and 0 < b <= 600
                                for b in bands):
            msg = f"[coverage] `bands_minutes` must be a list of minutes between 0 and 600 (got {bands!r})."
            raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """One row of a plan's indicator table and how gisplan computes it."""

    row: str
    name_zh: str
    unit: str
    baseline_2020: str
    target_2025: str
    nature: str
    metric: str
    facility_type: str | None = None
    scope: str | None = None
    source: str | None = None
    indicator_id: str = ""
    section: str = ""
    minutes: float | None = None
    weight: str = "population"
    min_population: int | None = None
    value: str | None = None
    where: tuple[tuple[str, str], ...] = ()
    comparator: str | None = None

    @property
    def method(self) -> str:
        """computed-spatial, computed-attribute, count or reported."""
        return METHODS[self.metric]

@dataclass(frozen=True, slots=True)
class Scenario:
    """A planning scenario: the district, its CRS, its layers, standards and plan indicators."""

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

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{6}", self.district_code):
            msg = f"[scenario] `district_code` must be 6 digits (got {self.district_code!r})."
            raise ConfigError(msg)
        try:
            crs = CRS.from_user_input(self.crs)
        except ProjCRSError:
            msg = f"[scenario] `crs` {self.crs!r} is not a known CRS; use e.g. EPSG:32648."
            raise ConfigError(msg) from None
        if not crs.is_projected:
            msg = f"[scenario] `crs` must be projected in metres (got {self.crs}); use a UTM zone."
            raise ConfigError(msg)


def _get(table: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    if key not in table:
        msg = f"{where}: `{key}` is required."
        raise ConfigError(msg)
    value = table[key]
    if not isinstance(value, kind):
        msg = f"{where}: `{key}` has the wrong type (got {value!r})."
        raise ConfigError(msg)
    return value


def _tolerance(value: object, where: str) -> float:
    if not isinstance(value, int | float) or not 0 <= value <= 100_000:  # also refuses NaN
        msg = f"{where}: `tolerance_m` must be a number of metres between 0 and 100000 (got {value!r})."
        raise ConfigError(msg)
    return float(value)


def _optional_number(entry: dict[str, Any], key: str, where: str) -> float | None:
    if key not in entry:
        return None
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 600:
        msg = f"{where}: `{key}` must be a number of minutes between 0 and 600 (got {value!r})."
        raise ConfigError(msg)
    return float(value)


def _where(entry: dict[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    table = entry.get("where", {})
    if not isinstance(table, dict) or not all(isinstance(v, str | int | bool) for v in table.values()):
        msg = f'{where}: `where` must be a table of attribute = value (e.g. where = {{ kind = "urban" }}).'
        raise ConfigError(msg)
    return tuple((str(k), str(v)) for k, v in table.items())


_COMPARATORS = (">=", "<=", ">", "<", "==", "text")


def _comparator(entry: dict[str, Any], where: str) -> str | None:
    value = entry.get("comparator")
    if value is not None and value not in _COMPARATORS:
        msg = f"{where}: `comparator` must be one of {', '.join(_COMPARATORS)} (got {value!r})."
        raise ConfigError(msg)
    return value


def _weight(entry: dict[str, Any], where: str) -> str:
    weight = entry.get("weight", "population")
    if weight not in _WEIGHTS:
        msg = f"{where}: `weight` must be one of {', '.join(_WEIGHTS)} (got {weight!r})."
        raise ConfigError(msg)
    return str(weight)


def _indicators(raw: dict[str, Any], path: Path) -> tuple[IndicatorSpec, ...]:
    indicators = []
    for i, entry in enumerate(raw.get("indicator", []), start=1):
        w = f"{path} [[indicator]] #{i}"
        metric = _get(entry, "metric", w)
        if metric not in _METRICS:
            msg = f"{w}: `metric` must be one of {', '.join(sorted(_METRICS))} (got {metric!r})."
            raise ConfigError(msg)
        indicators.append(IndicatorSpec(
            row=str(_get(entry, "row", w)),
            name_zh=_get(entry, "name_zh", w),
            unit=str(entry.get("unit", "%")),
            baseline_2020=str(entry.get("baseline_2020", "——")),
            target_2025=str(entry.get("target_2025", "——")),
            nature=str(entry.get("nature", "")),
            metric=metric,
            facility_type=entry.get("type"),
            scope=entry.get("scope"),
            source=entry.get("source"),
            indicator_id=str(entry.get("id", f"#{entry.get('row')}")),
            section=str(entry.get("section", "")),
            minutes=_optional_number(entry, "minutes", w),
            weight=_weight(entry, w),
            min_population=int(entry["min_population"]) if "min_population" in entry else None,
            value=str(entry["value"]) if "value" in entry else None,
            where=_where(entry, w),
            comparator=_comparator(entry, w),
        ))
        if metric in {"network_coverage", "facility_count", "admin_share"} and not entry.get("type"):
            msg = f"{w}: metric {metric!r} needs `type` (a facility type id)."
            raise ConfigError(msg)
    ids = [spec.indicator_id for spec in indicators]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        msg = (f"{path}: indicator id(s) {', '.join(repeated)} used more than once; give each [[indicator]] "
               "its own `id`.")
        raise ConfigError(msg)
    return tuple(indicators)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file.

    Relative paths inside it are resolved against the file's folder.

    Raises
    ------
    ConfigError
        Naming the file, the table and the key that is wrong.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"scenario file {path} does not exist."
        raise ConfigError(msg) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"scenario file {path} is not valid UTF-8 TOML: {exc}."
        raise ConfigError(msg) from None
    base = path.parent
    sc = raw.get("scenario", {})
    where = f"{path} [scenario]"
    layers = []
    for i, entry in enumerate(raw.get("layer", []), start=1):
        w = f"{path} [[layer]] #{i}"
        kind = _get(entry, "kind", w)
        if kind not in KINDS:
            msg = f"{w}: `kind` must be one of {', '.join(KINDS)} (got {kind!r})."
            raise ConfigError(msg)
        layers.append(LayerSource(
            kind=kind,
            path=base / _get(entry, "path", w),
            facility_type=entry.get("type"),
            layer=entry.get("layer"),
            sheet=entry.get("sheet"),
            crs=entry.get("crs"),
            illustrative=bool(entry.get("illustrative", False)),
        ))
    roads = None
    if "roads" in raw:
        r = raw["roads"]
        roads = RoadSource(
            path=base / r["path"] if "path" in r else None,
            crs=r.get("crs"),
            osm_fallback=bool(r.get("osm_fallback", False)),
        )
    indicators = _indicators(raw, path)
    std_raw = raw.get("standard", {})
    try:
        standard = Standard(**std_raw)
    except TypeError as exc:
        msg = f"{path} [standard]: {exc}."
        raise ConfigError(msg) from None
    coverage = _coverage(raw.get("coverage", {}), path, base)
    profiles = raw.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        msg = f"{path}: [profiles.<id>] must be tables (e.g. [profiles.walk] speed_m_per_min = 70)."
        raise ConfigError(msg)
    return Scenario(
        name=_get(sc, "name", where),
        district_code=str(_get(sc, "district_code", where)),
        crs=_get(sc, "crs", where),
        workspace=base / _get(sc, "workspace", where),
        layers=tuple(layers),
        roads=roads,
        standard=standard,
        indicators=indicators,
        catalogue=base / sc["catalogue"] if "catalogue" in sc else None,
        tolerance_m=_tolerance(sc.get("tolerance_m", 50.0), where),
        path=path,
        coverage=coverage,
        reported_values=base / sc["reported_values"] if "reported_values" in sc else None,
        profiles=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in profiles.items()}),
    )


def _coverage(raw: object, path: Path, base: Path) -> CoverageSettings:
    if not isinstance(raw, dict):
        msg = f"{path}: [coverage] must be a table."
        raise ConfigError(msg)
    known = set(CoverageSettings.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        msg = f"{path} [coverage]: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}."
        raise ConfigError(msg)
    values = dict(raw)
    if "bands_minutes" in values:
        if not isinstance(values["bands_minutes"], list):
            msg = f"{path} [coverage]: `bands_minutes` must be a list of minutes (got {values['bands_minutes']!r})."
            raise ConfigError(msg)
        values["bands_minutes"] = tuple(values["bands_minutes"])
    for key in ("raster", "candidates", "exclusions", "candidate_mask"):
        if key in values:
            values[key] = base / str(values[key])
    if "years" in values:
        years = values["years"]
        if not isinstance(years, list) or not years or not all(isinstance(y, int) for y in years):
            msg = f"{path} [coverage]: `years` must be a list of years, e.g. [2021, 2022, 2023] (got {years!r})."
            raise ConfigError(msg)
        values["years"] = tuple(years)
    return CoverageSettings(**values)


def scenario_profiles(scenario: Scenario, catalogue: Catalogue) -> dict[str, Profile]:
    """The travel profiles in force: the catalogue's, with the scenario's walking speeds from
    ``[standard]`` and its ``[profiles.<id>]`` tables on top.

    Raises
    ------
    ConfigError
        If a ``[profiles.<id>]`` table is wrong.
    """
    profiles = dict(catalogue.profiles)
    std = scenario.standard
    for pid, speed in (("walk", std.walk_speed_m_per_min), ("elderly_walk", std.elderly_walk_speed_m_per_min)):
        if pid in profiles:
            prof = profiles[pid]
            access = speed if prof.access_speed_m_per_min == prof.speed_m_per_min else prof.access_speed_m_per_min
            profiles[pid] = replace(prof, speed_m_per_min=speed, access_speed_m_per_min=access)
    where = f"{scenario.path or 'scenario'} [profiles"
    for pid, table in scenario.profiles.items():
        profiles[pid] = parse_profile(pid, dict(table), f"{where}.{pid}]", profiles.get(pid))
    return profiles
