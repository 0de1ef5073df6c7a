"""Exception and warning classes for gisplan. Nothing else lives here."""

from __future__ import annotations

from dataclasses import dataclass


class GisplanError(Exception):
    """Root of every gisplan error."""


class CRSError(GisplanError, ValueError):
    """A coordinate reference system is missing, wrong or mismatched."""


class ConfigError(GisplanError, ValueError):
    """A scenario, catalogue or setting has a bad value."""


class NetworkError(GisplanError, ValueError):
    """A road network cannot be built or used."""


class InfeasibleError(GisplanError, RuntimeError):
    """A solver ended without a proven optimum."""


class StoreError(GisplanError, RuntimeError):
    """The workspace store cannot be opened, locked or written."""


class ConflictError(StoreError):
    """An edit was based on a row version that someone else has changed since (optimistic concurrency)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in an input file.

    Attributes
    ----------
    source : str
        The file (and layer or sheet) the problem is in.
    row : int | None
        1-based row number as the user sees it (spreadsheet row, CSV line, or feature number);
        ``None`` when the problem concerns the whole file or a column.
    field : str | None
        The column the problem is in, as spelled in the file.
    message : str
        What is wrong: what was expected and what was found.
    fix : str
        How to fix it.
    """

    source: str
    row: int | None
    field: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f", row {self.row}"
        if self.field is not None:
            where += f", field `{self.field}`"
        return f"{where}: {self.message} Fix: {self.fix}"


class SchemaError(GisplanError, ValueError):
    """An input layer breaks its schema; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found; nothing was written:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class ConfigFileError(ConfigError):
    """A configuration file (a scenario) has bad values; carries every problem found, not just the first.

    Each problem's ``source`` names the file and table, ``row`` the line in the file and ``field`` the key.
    """

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} found in the configuration file; nothing was done:"]
        for p in self.problems:
            where = p.source + (f", line {p.row}" if p.row is not None else "")
            lines.append(f"  - {where}: {p.message} Fix: {p.fix}")
        super().__init__("\n".join(lines))


class DivisionChangeError(GisplanError, ValueError):
    """A division change (区划调整) failed validation; carries every reason, and nothing was written."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        head = "区划调整未通过校验，未写入任何内容 (nothing was written):"
        super().__init__("\n  - ".join([head, *self.problems]))


class GisplanWarning(UserWarning):
    """A recoverable data issue."""
