r"""Where the tables and keys of a TOML file are, so that messages name the line (tomllib gives no positions),
and a collector that places every problem of a file at its line.

Examples
--------
>>> lines = TomlLines('[scenario]\nname = "x"\n\n[[layer]]\nkind = "district"\n[[layer]]\nkind = "roads"\n')
>>> lines.line("scenario", key="name"), lines.line("layer", 2, "kind"), lines.line("layer", 2, "path")
(2, 7, 6)
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gisplan.errors import Problem
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable
    from enum import StrEnum
    from pathlib import Path

__all__ = ["OneOf", "TomlLines", "TomlProblems"]


@dataclass(frozen=True, slots=True)
class OneOf:
    """A choice check; its options let a message suggest the closest one."""

    options: tuple[str, ...]

    @classmethod
    def of(cls, enum: type[StrEnum]) -> OneOf:
        """The check that a value is one of `enum`'s."""
        return cls(tuple(m.value for m in enum))

    def __call__(self, value: object) -> str | None:
        return None if value in self.options else f"must be one of {', '.join(self.options)} (got {value!r})."


class TomlLines:
    """Where the tables and keys of a TOML text are (tomllib gives no positions).

    A table is named by its header and its number: ``("scenario", 0)`` for ``[scenario]``, ``("indicator", 3)``
    for the third ``[[indicator]]``. Keys inside multi-line arrays and strings are not mistaken for keys.
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]""")

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple[str, int], int] = {}
        self.keys: dict[tuple[str, int, str], int] = {}
        counts: dict[str, int] = {}
        table: tuple[str, int] = ("", 0)
        depth, quote = 0, ""
        for number, line in enumerate(text.splitlines(), start=1):
            if depth == 0 and not quote:
                header = self._HEADER.match(line)
                key = self._KEY.match(line)
                if header:
                    name, index = header.group(2).replace(" ", ""), 0
                    if header.group(1) == "[[":
                        index = counts[name] = counts.get(name, 0) + 1
                    table = (name, index)
                    self.tables.setdefault(table, number)
                    continue
                if key:
                    self.keys.setdefault((*table, key.group(1).strip("\"'")), number)
            depth, quote = self._scan(line, depth, quote)

    @staticmethod
    def _scan(line: str, depth: int, quote: str) -> tuple[int, str]:
        """Bracket depth and open multi-line string after `line`."""
        i = 0
        while i < len(line):
            if quote:
                end = line.find(quote, i)
                if end < 0:
                    return depth, quote
                i, quote = end + len(quote), ""
                continue
            ch = line[i]
            if ch == "#":
                break
            if line.startswith(('"""', "'''"), i):
                quote, i = line[i:i + 3], i + 3
            elif ch in "\"'":
                end = line.find(ch, i + 1)
                while ch == '"' and end > 0 and line[end - 1] == "\\":
                    end = line.find(ch, end + 1)
                i = len(line) if end < 0 else end + 1
            else:
                depth += (ch in "[{") - (ch in "]}")
                i += 1
        return depth, quote

    def line(self, table: str, index: int = 0, key: str | None = None) -> int | None:
        """The line of `key` in the table (else of the table's header; None if neither is written)."""
        found = self.keys.get((table, index, key)) if key is not None else None
        return found if found is not None else self.tables.get((table, index))


class TomlProblems:
    """The problems of one TOML file, each placed at its line.

    A table is ``(name, index)`` as in :class:`TomlLines`; messages name it ``[name]`` or ``[[name]] #index``.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = TomlLines(text)
        self.problems: list[Problem] = []

    def add(self, table: str, index: int, key: str | None, message: str, fix: str) -> None:
        """Record a problem of `key` (or of the whole table) at its line."""
        where = f"{self.path} [{table}]" if index == 0 else f"{self.path} [[{table}]] #{index}"
        self.problems.append(Problem(where, self.lines.line(table, index, key), key, message, fix))

    def check(self, table: str, index: int, key: str, value: object, check: Callable[[Any], str | None]) -> bool:
        """Record a problem if `value` fails `check`; True when it passes."""
        problem = check(value)
        if problem is None:
            return True
        fix = _("correct the value.")
        if isinstance(check, OneOf):
            close = difflib.get_close_matches(value, check.options, n=1, cutoff=0.5) if isinstance(value, str) else []
            fix = (_("did you mean {close!r}?").format(close=close[0]) if close
                   else _("write one of the allowed values."))
        self.add(table, index, key, f"`{key}` {problem}", fix)
        return False

    def required(self, raw: dict[str, Any], table: str, index: int, key: str, kind: type = str) -> Any:
        """The value of a required key, or None (with a problem) when it is missing or of the wrong type."""
        if key not in raw:
            self.add(table, index, key, _("`{key}` is required.").format(key=key),
                     _("add `{key} = ...` to the table.").format(key=key))
            return None
        if not isinstance(raw[key], kind):
            what = {str: _("text in quotes"), bool: _("true or false")}.get(kind, kind.__name__)
            self.add(table, index, key, _("`{key}` has the wrong type (got {raw!r}).").format(
                    key=key, raw=raw[key]), _("write {what}.").format(
                    what=what))
            return None
        return raw[key]

    def unknown_keys(self, raw: dict[str, Any], table: str, index: int, known: frozenset[str]) -> None:
        """Record every key of the table that is not `known`, with the closest known one."""
        for key in sorted(set(raw) - known):
            close = difflib.get_close_matches(key, sorted(known), n=1)
            self.add(table, index, key, _("unknown key `{key}`.").format(key=key),
                     _("did you mean `{close}`?").format(
                         close=close[0]) if close else _("use some of {known}.").format(
                             known=', '.join(sorted(known))))
