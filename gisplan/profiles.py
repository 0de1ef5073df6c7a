"""Travel profiles: how fast one moves along roads, and which roads and directions one may use, read from the
``[profiles.<id>]`` tables of a facility catalogue or a scenario (:mod:`gisplan.catalogue` re-exports both names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from gisplan.errors import ConfigError
from gisplan.i18n import _

__all__ = ["Profile", "parse_profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    """A travel profile: how fast one moves along roads, and which roads and directions one may use.

    Attributes
    ----------
    id, name_zh : str
    speed_m_per_min : float
        Speed on a road whose class has no speed of its own (every road, for walking).
    oneway : bool
        Whether one-way links bind (driving, cycling) or not (walking).
    access_speed_m_per_min : float
        Speed of the legs off the network: home to the nearest road, and road to facility.
    class_speeds_m_per_min : mapping of str to float
        Speed per road class (OSM ``highway`` value or the layer's own class), overriding the default.
    excluded_classes : frozenset of str
        Road classes this profile may not use (motorways for walking, footways for driving).
    """

    id: str
    name_zh: str
    speed_m_per_min: float
    oneway: bool = False
    access_speed_m_per_min: float = 66.667
    class_speeds_m_per_min: MappingProxyType[str, float] = field(default_factory=lambda: MappingProxyType({}))
    excluded_classes: frozenset[str] = frozenset()


_PROFILE_KEYS = frozenset({
    "name_zh", "speed_m_per_min", "oneway", "access_speed_m_per_min", "class_speed_km_per_h", "excluded_classes",
})


def _positive(value: object, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
        msg = _("{where}.{key} must be a positive number (got {value!r}).").format(where=where, key=key, value=value)
        raise ConfigError(msg)
    return float(value)


def parse_profile(pid: str, raw: object, where: str, base: Profile | None = None) -> Profile:
    """Read one ``[profiles.<id>]`` table, on top of `base` (the same profile read earlier) when given.

    Raises
    ------
    ConfigError
        Naming the table and key that is wrong.

    Examples
    --------
    >>> p = parse_profile("drive", {"speed_m_per_min": 500, "oneway": True,
    ...                             "class_speed_km_per_h": {"motorway": 90}}, "x")
    >>> p.oneway, round(p.class_speeds_m_per_min["motorway"], 1)
    (True, 1500.0)
    """
    if not isinstance(raw, dict):
        msg = _("{where} must be a table.").format(where=where)
        raise ConfigError(msg)
    unknown = sorted(set(raw) - _PROFILE_KEYS)
    if unknown:
        msg = _("{where}: unknown key(s) {unknown}; expected some of {profile_keys}.").format(
            where=where, unknown=", ".join(unknown), profile_keys=", ".join(sorted(_PROFILE_KEYS)))
        raise ConfigError(msg)
    if base is None and "speed_m_per_min" not in raw:
        msg = _("{where}.speed_m_per_min is required (a positive number of metres per minute).").format(where=where)
        raise ConfigError(msg)
    speed = _positive(raw["speed_m_per_min"], where, "speed_m_per_min") if "speed_m_per_min" in raw else None
    speed = speed if speed is not None else base.speed_m_per_min  # type: ignore[union-attr]
    oneway = raw.get("oneway", base.oneway if base else False)
    if not isinstance(oneway, bool):
        msg = _("{where}.oneway must be true or false (got {oneway!r}).").format(where=where, oneway=oneway)
        raise ConfigError(msg)
    access = raw.get("access_speed_m_per_min", base.access_speed_m_per_min if base else min(speed, 66.667))
    classes = dict(base.class_speeds_m_per_min) if base else {}
    table = raw.get("class_speed_km_per_h", {})
    if not isinstance(table, dict):
        msg = _("{where}.class_speed_km_per_h must be a table of road class = km/h.").format(where=where)
        raise ConfigError(msg)
    for name, kmh in table.items():
        classes[str(name)] = _positive(kmh, f"{where}.class_speed_km_per_h", str(name)) * 1000.0 / 60.0
    excluded = raw.get("excluded_classes", sorted(base.excluded_classes) if base else [])
    if not isinstance(excluded, list) or not all(isinstance(x, str) for x in excluded):
        msg = _("{where}.excluded_classes must be a list of road class names.").format(where=where)
        raise ConfigError(msg)
    return Profile(
        id=pid,
        name_zh=str(raw.get("name_zh", base.name_zh if base else pid)),
        speed_m_per_min=speed,
        oneway=oneway,
        access_speed_m_per_min=_positive(access, where, "access_speed_m_per_min"),
        class_speeds_m_per_min=MappingProxyType(classes),
        excluded_classes=frozenset(excluded),
    )
