"""Scenario configuration: frozen dataclasses read from a ``scenarios/*.toml`` file."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gisplan.catalogue import LAYER_KINDS as KINDS
from gisplan.errors import ConfigError

__all__ = ["IndicatorSpec", "LayerSource", "RoadSource", "Scenario", "Standard", "load_scenario"]

_METRICS = frozenset({
    "admin_share", "floor_area_compliance", "floor_area_per_100hh", "host_share", "nursing_bed_share",
    "government_bed_share", "quality_share", "reported",
})


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
    tolerance_m: float = 50.0
    path: Path | None = None

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
        ))
    std_raw = raw.get("standard", {})
    try:
        standard = Standard(**std_raw)
    except TypeError as exc:
        msg = f"{path} [standard]: {exc}."
        raise ConfigError(msg) from None
    return Scenario(
        name=_get(sc, "name", where),
        district_code=str(_get(sc, "district_code", where)),
        crs=_get(sc, "crs", where),
        workspace=base / _get(sc, "workspace", where),
        layers=tuple(layers),
        roads=roads,
        standard=standard,
        indicators=tuple(indicators),
        catalogue=base / sc["catalogue"] if "catalogue" in sc else None,
        tolerance_m=_tolerance(sc.get("tolerance_m", 50.0), where),
        path=path,
    )
