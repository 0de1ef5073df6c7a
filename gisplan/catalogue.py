"""The facility-type catalogue: facility types, their attributes and travel profiles, read from TOML.

The built-in catalogue is ``gisplan/data/facility_types.toml``. A user file passed to
:func:`load_catalogue` adds types (or replaces a built-in type with the same id) without any code change.
"""

from __future__ import annotations

import re
import tomllib
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.profiles import Profile, parse_profile
from gisplan.vocab import CoverageKind, Level, Metric, MetricInput, Scope, SitingRule, allowed, parse_choice

__all__ = [
    "LAYER_KINDS",
    "MAP_PALETTE",
    "Attribute",
    "Catalogue",
    "FacilityType",
    "Profile",
    "facility_layer_name",
    "facility_type_of",
    "load_catalogue",
    "normalise_header",
]

#: Layer kinds a workspace holds, in the order they must be imported (later kinds are checked
#: against earlier ones).
LAYER_KINDS = ("gazetteer", "district", "townships", "villages", "households", "facilities", "roads")

_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,50}$")
_DTYPES = frozenset({"str", "code12", "float", "int", "bool", "enum"})
#: the metrics a type may list in its `metrics` key: those that read the layer of the type listing them
_FED_METRICS = tuple(m for m in Metric if m.input is MetricInput.CATALOGUE)
#: the attributes a type must declare (required or optional) to feed each of them
_METRIC_ATTRIBUTES: dict[Metric, tuple[str, ...]] = {
    Metric.FLOOR_AREA_COMPLIANCE: ("floor_area_m2",),
    Metric.FLOOR_AREA_PER_100HH: ("floor_area_m2",),
    Metric.HOST_SHARE: ("host_facility_id",),
    Metric.NURSING_BED_SHARE: ("beds", "nursing_beds", "operator"),
    Metric.GOVERNMENT_BED_SHARE: ("beds", "nursing_beds", "operator"),
    Metric.QUALITY_SHARE: ("beds", "nursing_beds", "operator", "quality_ok"),
}
E = TypeVar("E", bound=StrEnum)
_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")

#: Map colours of the types whose ``[[type]]`` table gives no ``colour``: the type id picks one
#: (:attr:`FacilityType.map_colour`). None of them is a built-in type's colour, so a user type draws apart.
MAP_PALETTE = ("#3949ab", "#c0ca33", "#8d6e63", "#26a69a", "#ec407a", "#5c6bc0", "#ffa000", "#78909c")
_FULLWIDTH = str.maketrans({"（": "(", "）": ")", "　": "", " ": "", "\t": "", "：": ":", "㎡": "m2"})


_FACILITY_PREFIX = "facilities_"


def facility_layer_name(type_id: str) -> str:
    """Return the workspace layer name of facility type `type_id`.

    Examples
    --------
    >>> facility_layer_name("public_cemetery")
    'facilities_public_cemetery'
    """
    return _FACILITY_PREFIX + type_id


def facility_type_of(layer: str) -> str | None:
    """Return the facility type id of a workspace layer name, or None for a layer that holds no facilities.

    Examples
    --------
    >>> facility_type_of("facilities_public_cemetery"), facility_type_of("townships")
    ('public_cemetery', None)
    """
    return layer.removeprefix(_FACILITY_PREFIX) if layer.startswith(_FACILITY_PREFIX) else None


def normalise_header(text: str) -> str:
    """Return a column header in the form used to match aliases.

    Parameters
    ----------
    text : str
        A column header as spelled in a file.

    Returns
    -------
    str
        Lower case, trimmed, with full-width brackets made half-width, ``㎡`` spelled ``m2``
        and all spaces removed.

    Examples
    --------
    >>> normalise_header(" 建筑面积（㎡） ")
    '建筑面积(m2)'
    """
    return str(text).strip().lower().translate(_FULLWIDTH)


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute a layer may carry.

    Attributes
    ----------
    name : str
        Canonical column name (unit in the name, e.g. ``floor_area_m2``).
    dtype : str
        One of ``str``, ``code12``, ``float``, ``int``, ``bool``, ``enum``.
    unit : str | None
        Unit of a numeric attribute.
    aliases : tuple[str, ...]
        Headers accepted for this attribute, normalised with :func:`normalise_header`.
    min_value : float | None
        Smallest allowed value of a numeric attribute.
    values : Mapping[str, str]
        For enums: every accepted spelling (normalised) mapped to its canonical value.
    suffixes : tuple[str, ...]
        Unit words accepted after a number and dropped (``120㎡``, ``60张``): they say the attribute's
        own unit, so nothing is guessed.
    """

    name: str
    dtype: str
    unit: str | None = None
    aliases: tuple[str, ...] = ()
    min_value: float | None = None
    values: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    suffixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FacilityType:
    """One facility type of the catalogue (see the keys documented in ``facility_types.toml``).

    ``colour`` (``#rrggbb``) and ``glyph`` (one or two characters) are the map symbol as the catalogue
    gives it, or None; :attr:`map_colour` and :attr:`map_glyph` always give one.
    """

    id: str
    name_zh: str
    name_en: str
    coverage: tuple[CoverageKind, ...]
    admin_level: Level
    admin_scope: Scope
    profile: str
    max_minutes: float
    required: tuple[str, ...]
    optional: tuple[str, ...]
    plan_rows: tuple[str, ...]
    aliases_zh: tuple[str, ...] = ()
    min_population: int | None = None
    host: str | None = None
    metrics: tuple[Metric, ...] = ()
    colour: str | None = None
    glyph: str | None = None
    siting: SitingRule = SitingRule.COVERAGE
    min_distance_m: float = 0.0
    min_distance_source: str = ""

    @property
    def layer_name(self) -> str:
        """Name of this type's layer in a workspace store."""
        return facility_layer_name(self.id)

    @property
    def map_colour(self) -> str:
        """The type's colour on a map: its own ``colour``, else the :data:`MAP_PALETTE` entry its id picks
        (CRC-32 of the id, so the same id always draws in the same colour).

        Examples
        --------
        >>> FacilityType("reading_room", "农家书屋", "Reading room", ("network",), "village", "all", "walk",
        ...              15.0, ("facility_id", "name"), (), ()).map_colour
        '#78909c'
        """
        if self.colour is not None:
            return self.colour
        return MAP_PALETTE[zlib.crc32(self.id.encode("ascii")) % len(MAP_PALETTE)]

    @property
    def map_glyph(self) -> str:
        """The character(s) on the type's map markers: its own ``glyph``, else the first character of ``name_zh``."""
        return self.glyph if self.glyph is not None else self.name_zh[0]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Facility types, attributes and travel profiles, as read from one or more TOML files."""

    types: MappingProxyType[str, FacilityType]
    attributes: MappingProxyType[str, Attribute]
    profiles: MappingProxyType[str, Profile]
    sources: tuple[str, ...]

    def get_type(self, type_id: str) -> FacilityType:
        """Return the facility type `type_id`.

        Raises
        ------
        ConfigError
            If no such type exists; the message lists the known ids.
        """
        try:
            return self.types[type_id]
        except KeyError:
            known = ", ".join(sorted(self.types))
            msg = (
                _("unknown facility type `{type_id}`; known types: {known}. Add a [[type]] table to a catalogue "
                  "file to define a new one.").format(type_id=type_id, known=known)
            )
            raise ConfigError(msg) from None

    def metric_type(self, metric: Metric) -> FacilityType | None:
        """The type whose layer `metric` reads: the one listing it in its ``metrics`` key (None if no type does).

        Examples
        --------
        >>> load_catalogue().metric_type(Metric.NURSING_BED_SHARE).id
        'elderly_institution'
        """
        return next((t for t in self.types.values() if metric in t.metrics), None)

    def host_depth(self, type_id: str | None) -> int:
        """0 for a type without a host (or no type), else 1 + its host's: import layers in this order, so that
        a host layer is there when the layers naming it are checked.

        Examples
        --------
        >>> cat = load_catalogue()
        >>> cat.host_depth("community_service_centre"), cat.host_depth("volunteer_service_point")
        (0, 1)
        """
        depth, ftype = 0, self.types.get(str(type_id))
        while ftype is not None and ftype.host is not None:  # no cycles: refused on load
            depth, ftype = depth + 1, self.types.get(ftype.host)
        return depth


def _builtin_path() -> Path:
    return Path(str(resources.files("gisplan") / "data" / "facility_types.toml"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        msg = _("catalogue file {path} does not exist; check the path.").format(path=path)
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = _("catalogue file {path} is not valid TOML: {exc}. Fix the syntax at that line.").format(
                path=path, exc=exc)
        raise ConfigError(msg) from None


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = _("{where} must be a list of strings (got {value!r}).").format(where=where, value=value)
        raise ConfigError(msg)
    return tuple(value)


def _parse_attribute(name: str, raw: Any, where: str) -> Attribute:
    if not isinstance(raw, dict):
        msg = _("{where}: [attributes.{name}] must be a table.").format(where=where, name=name)
        raise ConfigError(msg)
    dtype = raw.get("dtype")
    if dtype not in _DTYPES:
        msg = _("{where}: attributes.{name}.dtype must be one of {dtypes} (got {dtype!r}).").format(
                where=where, name=name, dtypes=sorted(_DTYPES), dtype=dtype)
        raise ConfigError(msg)
    values: dict[str, str] = {}
    if dtype == "enum":
        raw_values = raw.get("values")
        if not isinstance(raw_values, dict) or not raw_values:
            msg = _("{where}: enum attribute `{name}` needs a [attributes.{name}.values] table.").format(
                    where=where, name=name)
            raise ConfigError(msg)
        for canonical, spellings in raw_values.items():
            for spelling in (canonical, *_str_tuple(spellings, f"{where}: {name}.values")):
                values[normalise_header(spelling)] = canonical
    aliases = (name, *_str_tuple(raw.get("aliases", []), f"{where}: attributes.{name}.aliases"))
    min_value = raw.get("min")
    if min_value is not None and not isinstance(min_value, int | float):
        msg = _("{where}: attributes.{name}.min must be a number (got {min_value!r}).").format(
                where=where, name=name, min_value=min_value)
        raise ConfigError(msg)
    return Attribute(
        name=name,
        dtype=dtype,
        unit=raw.get("unit"),
        aliases=tuple(dict.fromkeys(normalise_header(a) for a in aliases)),
        min_value=None if min_value is None else float(min_value),
        values=MappingProxyType(values),
        suffixes=_str_tuple(raw.get("suffixes", []), f"{where}: attributes.{name}.suffixes"),
    )


def _choice(enum: type[E], value: object, what: str) -> E:
    try:
        return parse_choice(enum, value, what)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _metrics(raw: Any, here: str, attributes: tuple[str, ...], host: str | None) -> tuple[Metric, ...]:
    names = _str_tuple(raw, f"{here}: `metrics`")
    wrong = [n for n in names if n not in _FED_METRICS]
    if wrong:
        msg = (_("{here}: `metrics` names {map}; a type may feed {fed_metrics} (the other metrics take the "
                 "indicator row's `type`).").format(
                here=here, map=', '.join(map(repr, wrong)), fed_metrics=', '.join(_FED_METRICS)))
        raise ConfigError(msg)
    for metric in map(Metric, names):
        lacking = [a for a in _METRIC_ATTRIBUTES[metric] if a not in attributes]
        if lacking:
            msg = (_("{here}: metric {value!r} reads {metric_attributes}; add {lacking} to `required` or "
                     "`optional`.").format(
                    here=here, value=metric.value, metric_attributes=', '.join(_METRIC_ATTRIBUTES[metric]),
                    lacking=', '.join(lacking)))
            raise ConfigError(msg)
        if metric is Metric.HOST_SHARE and host is None:
            msg = _("{here}: metric 'host_share' counts the hosts of this type's facilities; give the type a "
                    "`host`.").format(here=here)
            raise ConfigError(msg)
    return tuple(Metric(n) for n in names)


def _host(raw: Any, here: str, type_id: str, attributes: tuple[str, ...]) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not _ID_RE.match(raw) or raw == type_id:
        msg = _("{here}: `host` must be the id of another facility type (got {raw!r}).").format(here=here, raw=raw)
        raise ConfigError(msg)
    if "host_facility_id" not in attributes:
        msg = (_("{here}: a type with a `host` must list `host_facility_id` in `required` or `optional` (the "
                 "column naming each row's host facility).").format(here=here))
        raise ConfigError(msg)
    return raw


def _map_symbol(raw: dict[str, Any], here: str) -> tuple[str | None, str | None]:
    """The optional ``colour`` (``#rrggbb``, returned in lower case) and ``glyph`` (one or two characters)."""
    colour, glyph = raw.get("colour"), raw.get("glyph")
    if colour is not None and (not isinstance(colour, str) or not _COLOUR_RE.match(colour)):
        msg = _("{here}: `colour` must be a colour written #rrggbb, e.g. \"#1565c0\" (got {colour!r}).").format(
                here=here, colour=colour)
        raise ConfigError(msg)
    if glyph is not None and (not isinstance(glyph, str) or not 1 <= len(glyph) <= 2 or not glyph.isprintable()
                              or any(ch.isspace() for ch in glyph)):
        msg = _("{here}: `glyph` must be one or two characters without spaces, e.g. \"社\" (got {glyph!r}).").format(
                here=here, glyph=glyph)
        raise ConfigError(msg)
    return (colour.lower() if colour is not None else None), glyph


def _siting(raw: dict[str, Any], here: str) -> tuple[SitingRule, float, str]:
    """The optional ``siting``, ``min_distance_m`` and ``min_distance_source`` of a type."""
    siting = _choice(SitingRule, raw.get("siting", SitingRule.COVERAGE), f"{here}: `siting`")
    min_distance = raw.get("min_distance_m", 0.0)
    if not isinstance(min_distance, int | float) or isinstance(min_distance, bool) or not 0 <= min_distance <= 1e5:
        msg = _("{here}: `min_distance_m` must be a number of metres between 0 and 100000 (got "
                "{min_distance!r}).").format(
                here=here, min_distance=min_distance)
        raise ConfigError(msg)
    source = raw.get("min_distance_source", "")
    if not isinstance(source, str):
        msg = _("{here}: `min_distance_source` must be text saying where the distance comes from (got "
                "{source!r}).").format(
                here=here, source=source)
        raise ConfigError(msg)
    return siting, float(min_distance), source


def _parse_type(
    raw: Any, where: str, attributes: dict[str, Attribute], profiles: dict[str, Profile]
) -> FacilityType:
    if not isinstance(raw, dict):
        msg = _("{where}: every [[type]] entry must be a table.").format(where=where)
        raise ConfigError(msg)
    type_id = raw.get("id")
    if not isinstance(type_id, str) or not _ID_RE.match(type_id):
        msg = (
            _("{where}: type id must be lower_snake_case ASCII starting with a letter (got {type_id!r}); it "
              "becomes a layer name.").format(where=where, type_id=type_id)
        )
        raise ConfigError(msg)
    here = f"{where}: type `{type_id}`"
    for key in ("name_zh", "name_en"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            msg = _("{here}: `{key}` is required (a non-empty string).").format(here=here, key=key)
            raise ConfigError(msg)
    coverage = _str_tuple(raw.get("coverage", []), f"{here}: `coverage`")
    if not coverage or not set(coverage) <= {k.value for k in CoverageKind}:
        msg = _("{here}: `coverage` must list some of {allowed} (got {coverage}).").format(
                here=here, allowed=allowed(CoverageKind), coverage=list(coverage))
        raise ConfigError(msg)
    required = _str_tuple(raw.get("required", []), f"{here}: `required`")
    optional = _str_tuple(raw.get("optional", []), f"{here}: `optional`")
    for attr in (*required, *optional):
        if attr not in attributes:
            msg = _("{here}: attribute `{attr}` is not defined; add an [attributes.{attr}] table.").format(
                    here=here, attr=attr)
            raise ConfigError(msg)
    for must in ("facility_id", "name"):
        if must not in required:
            msg = _("{here}: `required` must include `{must}`.").format(here=here, must=must)
            raise ConfigError(msg)
    profile = raw.get("profile", "walk")
    if profile not in profiles:
        msg = _("{here}: profile must be one of {profiles} (got {profile!r}).").format(
                here=here, profiles=sorted(profiles), profile=profile)
        raise ConfigError(msg)
    max_minutes = raw.get("max_minutes", 15)
    if not isinstance(max_minutes, int | float) or not 0 < max_minutes <= 240:
        msg = _("{here}: `max_minutes` must be a number in (0, 240] (got {max_minutes!r}).").format(
                here=here, max_minutes=max_minutes)
        raise ConfigError(msg)
    min_population = raw.get("min_population")
    if min_population is not None and (not isinstance(min_population, int) or min_population < 0):
        msg = _("{here}: `min_population` must be a non-negative integer (got {min_population!r}).").format(
                here=here, min_population=min_population)
        raise ConfigError(msg)
    colour, glyph = _map_symbol(raw, here)
    siting, min_distance, source = _siting(raw, here)
    return FacilityType(
        id=type_id,
        name_zh=raw["name_zh"].strip(),
        name_en=raw["name_en"].strip(),
        coverage=tuple(CoverageKind(k) for k in coverage),
        admin_level=_choice(Level, raw.get("admin_level"), f"{here}: `admin_level`"),
        admin_scope=_choice(Scope, raw.get("admin_scope", "all"), f"{here}: `admin_scope`"),
        profile=profile,
        max_minutes=float(max_minutes),
        required=required,
        optional=optional,
        plan_rows=_str_tuple(raw.get("plan_rows", []), f"{here}: `plan_rows`"),
        aliases_zh=_str_tuple(raw.get("aliases_zh", []), f"{here}: `aliases_zh`"),
        min_population=min_population,
        host=_host(raw.get("host"), here, type_id, (*required, *optional)),
        metrics=_metrics(raw.get("metrics", []), here, (*required, *optional), raw.get("host")),
        colour=colour,
        glyph=glyph,
        siting=siting,
        min_distance_m=min_distance,
        min_distance_source=source,
    )


def load_catalogue(*extra: str | Path) -> Catalogue:
    """Read the built-in catalogue, then each extra file in order.

    Parameters
    ----------
    *extra : str or Path
        User catalogue files. Their attributes, profiles and types are added; a type or attribute
        with an existing id replaces the earlier one.

    Returns
    -------
    Catalogue

    Raises
    ------
    ConfigError
        If a file is missing, not TOML, or has a bad entry (the message names file, type and key).

    Examples
    --------
    >>> cat = load_catalogue()
    >>> cat.get_type("public_cemetery").name_zh
    '城乡公益性安葬（放）设施'
    """
    attributes: dict[str, Attribute] = {}
    profiles: dict[str, Profile] = {}
    types: dict[str, FacilityType] = {}
    source: dict[str, str] = {}
    paths = [_builtin_path(), *(Path(p) for p in extra)]
    for path in paths:
        raw = _read_toml(path)
        where = str(path)
        for name, attr in raw.get("attributes", {}).items():
            attributes[name] = _parse_attribute(name, attr, where)
        for pid, prof in raw.get("profiles", {}).items():
            profiles[pid] = parse_profile(pid, prof, f"{where}: profiles.{pid}", profiles.get(pid))
        raw_types = raw.get("type", [])
        if not isinstance(raw_types, list):
            msg = _("{where}: facility types must be written as [[type]] tables.").format(where=where)
            raise ConfigError(msg)
        for entry in raw_types:
            ftype = _parse_type(entry, where, attributes, profiles)
            types[ftype.id] = ftype
            source[ftype.id] = where
    _check_relations(types, source)
    return Catalogue(
        types=MappingProxyType(dict(sorted(types.items()))),
        attributes=MappingProxyType(attributes),
        profiles=MappingProxyType(profiles),
        sources=tuple(str(p) for p in paths),
    )


def _check_relations(types: dict[str, FacilityType], source: dict[str, str]) -> None:
    """Across all files: every host is a known type, hosts form no cycle, and a metric is fed by one type."""
    for ftype in types.values():
        if ftype.host is not None and ftype.host not in types:
            msg = (_("{source}: type `{id}`: `host` {host!r} is not a facility type; known types: {types}.").format(
                    source=source[ftype.id], id=ftype.id, host=ftype.host, types=', '.join(sorted(types))))
            raise ConfigError(msg)
    for ftype in types.values():
        chain, host = [ftype.id], ftype.host
        while host is not None:
            if host in chain:
                msg = (_("{source}: type `{id}`: its `host` relation returns to it ({value}); break the cycle.").format(
                        source=source[ftype.id], id=ftype.id, value=' -> '.join([*chain, host])))
                raise ConfigError(msg)
            chain.append(host)
            host = types[host].host
    fed: dict[Metric, str] = {}
    for ftype in types.values():
        for metric in ftype.metrics:
            if metric in fed:
                msg = (_("{source}: type `{id}`: metric {value!r} is fed by type `{fed}` already; a metric reads "
                         "one type's layer. Remove it from one of their `metrics`.").format(
                        source=source[ftype.id], id=ftype.id, value=metric.value, fed=fed[metric]))
                raise ConfigError(msg)
            fed[metric] = ftype.id
