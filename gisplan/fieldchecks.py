"""Field checks of the scenario file: each takes a value read from TOML and returns None when it is fine, else
what is wrong ("must be … (got …)."); :func:`first_problem` runs a dataclass's checks and raises the first.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gisplan.errors import ConfigError
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def positive(value: object) -> str | None:
    ok = number(value) and value > 0  # type: ignore[operator]
    return None if ok else _("must be a positive number (got {value!r}).").format(value=value)


def metres(value: object) -> str | None:
    ok = number(value) and 0 < value <= 1e6  # type: ignore[operator]
    return None if ok else _("must be a positive number of metres (got {value!r}).").format(value=value)


def metres_or_zero(value: object) -> str | None:
    ok = number(value) and 0 <= value <= 1e6  # type: ignore[operator]
    return None if ok else _("must be a number of metres ≥ 0 (got {value!r}).").format(value=value)


def minutes(value: object) -> str | None:
    ok = number(value) and 0 < value <= 600  # type: ignore[operator]
    return None if ok else _("must be a number of minutes between 0 and 600 (got {value!r}).").format(value=value)


def bands(value: object) -> str | None:
    ok = isinstance(value, list | tuple) and bool(value) and all(minutes(b) is None for b in value)
    return None if ok else _("must be a list of minutes between 0 and 600 (got {value!r}).").format(value=value)


def years(value: object) -> str | None:
    ok = isinstance(value, list | tuple) and all(isinstance(y, int) and 1949 <= y <= 2200 for y in value)
    return None if ok else _("must be a list of years, e.g. [2026, 2027, 2028] (got {value!r}).").format(value=value)


def period(value: object) -> str | None:
    ok = (isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(y, int) and not isinstance(y, bool)
                                                                      and 1949 <= y <= 2200 for y in value)
          and value[0] <= value[1])
    return None if ok else _("must be [first year, last year] of the plan, e.g. [2021, 2025] (got {value!r}).").format(
            value=value)


def year(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 1949 <= value <= 2200
    return None if ok else _("must be a year, e.g. 2020 (got {value!r}).").format(value=value)


def path(value: object) -> str | None:
    ok = value is None or isinstance(value, Path) or (isinstance(value, str) and value != "")
    return None if ok else _("must be a file path (got {value!r}).").format(value=value)


def first_problem(obj: object, table: str, checks: Mapping[str, Callable[[Any], str | None]]) -> None:
    """Raise ConfigError for the first field of `obj` that fails its check."""
    for name, check in checks.items():
        problem = check(getattr(obj, name))
        if problem is not None:
            msg = f"[{table}] `{name}` {problem}"
            raise ConfigError(msg)


def district_code(value: object) -> str | None:
    ok = isinstance(value, str) and re.fullmatch(r"\d{6}", value)
    return None if ok else _("must be 6 digits (got {value!r}).").format(value=value)


def crs(value: object) -> str | None:
    try:
        crs = CRS.from_user_input(value)
    except ProjCRSError:
        return _("{value!r} is not a known CRS; use e.g. EPSG:32648.").format(value=value)
    return None if crs.is_projected else _("must be projected in metres (got {value}); use a UTM zone.").format(
            value=value)


def tolerance(value: object) -> str | None:
    ok = number(value) and 0 <= value <= 100_000  # type: ignore[operator]  # also refuses NaN
    return None if ok else _("must be a number of metres between 0 and 100000 (got {value!r}).").format(value=value)


def short_text(value: object) -> str | None:
    ok = isinstance(value, str) and 0 < len(value.strip()) <= 80
    return None if ok else _("must be a text of 1–80 characters (got {value!r}).").format(value=value)


def paths(value: object) -> str | None:
    ok = isinstance(value, list | tuple) and all(path(v) is None and v is not None for v in value)
    return None if ok else _("must be a list of file paths (got {value!r}).").format(value=value)


def pixels(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 256 <= value <= 8192
    return None if ok else _("must be a whole number of pixels between 256 and 8192 (got {value!r}).").format(
            value=value)


def text(value: object) -> str | None:
    return None if isinstance(value, str) and value else _("must be a text (got {value!r}).").format(value=value)


def flag(value: object) -> str | None:
    return None if isinstance(value, bool) else _("must be true or false (got {value!r}).").format(value=value)


def encoding(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return _("must be a text encoding such as utf-8, gbk or big5 (got {value!r}).").format(value=value)
    try:
        codecs.lookup(value)
    except LookupError:
        return _("{value!r} is not a text encoding; use e.g. utf-8, gbk, gb18030 or big5.").format(value=value)
    return None


def where_table(value: object) -> str | None:
    ok = isinstance(value, dict) and all(isinstance(v, str | int | bool) for v in value.values())
    return None if ok else _('must be a table of attribute = value (e.g. where = { kind = "urban" }).')


def count(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else _("must be a whole number of residents ≥ 0 (got {value!r}).").format(value=value)
