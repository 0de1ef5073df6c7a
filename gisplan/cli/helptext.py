"""`--help` in the interface language: a click help formatter that passes every text it writes (command help,
epilogs, option help, headings, the usage prefix) through the gettext catalogue (:mod:`gisplan.i18n`).

The catalogue's keys are the exact English texts click hands the formatter, so ``scripts/i18n.py`` extracts them
by rendering every command's help in English with :class:`RecordingFormatter`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

import click

from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["GisplanContext", "HelpFormatter", "RecordingFormatter", "first_sentence", "use_help_context",
           "walk_commands"]

_EXTRA = re.compile(r"^(?P<head>.*?)\s*\[(?P<extra>[^\[\]]*)\]$", re.DOTALL)
_EXTRA_WORDS = ("default: ", "required", "env var: ")


class HelpFormatter(click.HelpFormatter):
    """click's formatter, translating what it writes."""

    def tr(self, text: str) -> str:
        """`text` in the interface language."""
        return _(text)

    def _tr_record(self, text: str) -> str:
        """An option's help with click's ``[default: …; required]`` tail: the help and the tail's words apart."""
        match = _EXTRA.match(text)
        if match is None:
            return self.tr(text)
        extra = match["extra"]
        for word in _EXTRA_WORDS:
            extra = extra.replace(word, self.tr(word))
        head = self.tr(match["head"]) if match["head"] else ""
        return f"{head}  [{extra}]" if head else f"[{extra}]"

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        """The usage line, its prefix translated."""
        super().write_usage(prog, args, prefix=prefix if prefix is not None else self.tr("Usage:") + " ")

    def write_heading(self, heading: str) -> None:
        """A section heading (Options, Commands), translated."""
        super().write_heading(self.tr(heading))

    def write_text(self, text: str) -> None:
        """A command's help or epilog, translated as a whole."""
        super().write_text(self.tr(text))

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        """Options and commands with their help, translated."""
        super().write_dl([(term, self._tr_record(text) if text else text) for term, text in rows],
                         col_max=col_max, col_spacing=col_spacing)


class RecordingFormatter(HelpFormatter):
    """Writes English and records every text it was asked to translate (the catalogue's help keys)."""

    seen: ClassVar[list[str]] = []

    def tr(self, text: str) -> str:
        """Record `text`; return it unchanged."""
        if text and text not in RecordingFormatter.seen:
            RecordingFormatter.seen.append(text)
        return text


class GisplanContext(click.Context):
    """The context of every gisplan command: help through :class:`HelpFormatter`."""

    formatter_class = HelpFormatter


def use_help_context(command: click.Command) -> None:
    """Give `command` and its subcommands the translating help context, and each a short help: the first
    sentence of its help, untruncated, so that a command list's row is one catalogue key whatever the
    terminal's width (click would cut it to fit)."""
    for cmd in walk_commands(command):
        cmd.context_class = GisplanContext
        if cmd.short_help is None and cmd.help:
            cmd.short_help = first_sentence(cmd.help)


def first_sentence(text: str) -> str:
    """The first sentence of a command's help (up to the first ". " of its first paragraph), on one line.

    >>> first_sentence("Import layers.  Every problem is listed.\\n\\nMore.")
    'Import layers.'
    """
    para = " ".join(text.partition("\f")[0].strip().split("\n\n")[0].split())
    head, dot, _rest = para.partition(". ")
    return head + "." if dot else para


def walk_commands(command: click.Command) -> Iterator[click.Command]:
    """`command` and every subcommand under it, depth first."""
    yield command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk_commands(command.commands[name])
