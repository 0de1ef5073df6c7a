"""Exception and warning classes for gisplan. Nothing else lives here."""

from __future__ import annotations

from dataclasses import dataclass

from gisplan.i18n import _, ngettext


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
            where += _(", row {row}").format(row=self.row)
        if self.field is not None:
            where += _(", field `{field}`").format(field=self.field)
        fix = _("Fix:")
        return f"{where}: {_(self.message)} {fix} {_(self.fix)}"


class SchemaError(GisplanError, ValueError):
    """An input layer breaks its schema; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        head = ngettext("{n} problem found; nothing was written:", "{n} problems found; nothing was written:",
                        n).format(n=n)
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class ConfigFileError(ConfigError):
    """A configuration file (a scenario) has bad values; carries every problem found, not just the first.

    Each problem's ``source`` names the file and table, ``row`` the line in the file and ``field`` the key.
    """

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        lines = [ngettext("{n} problem found in the configuration file; nothing was done:",
                          "{n} problems found in the configuration file; nothing was done:", n).format(n=n)]
        fix = _("Fix:")
        for p in self.problems:
            where = p.source + (_(", line {row}").format(row=p.row) if p.row is not None else "")
            lines.append(f"  - {where}: {_(p.message)} {fix} {_(p.fix)}")
        super().__init__("\n".join(lines))


class DivisionChangeError(GisplanError, ValueError):
    """A division change (区划调整) failed validation; carries every reason, and nothing was written."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        head = "区划调整未通过校验，未写入任何内容 (nothing was written):"
        super().__init__("\n  - ".join([head, *self.problems]))


class PlaceNameError(GisplanError, ValueError):
    """A place-name register step that cannot be done: an unknown name or application, a step out of order,
    a name that fails its checks (the message names the name, the rule and the fix)."""


class GisplanWarning(UserWarning):
    """A recoverable data issue."""
