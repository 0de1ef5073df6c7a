"""The `gisplan` command group. The CLI package is the only place that configures logging (here), reads
``scenarios/`` or prints; everything its commands do is a call into the library.

Exit codes: 0 success, 1 data or configuration error (message on stderr, no traceback), 2 usage error.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from importlib import import_module
from typing import TYPE_CHECKING, Any

import click

from gisplan import __version__
from gisplan.cli.clicktext import install_click_catalogue
from gisplan.cli.helptext import GisplanContext, use_help_context
from gisplan.errors import GisplanError
from gisplan.i18n import LANGUAGES, _, use_language
from gisplan.settings import collector_paused, ordinary_pages

if TYPE_CHECKING:
    from collections.abc import MutableMapping, Sequence

# Each command's module, imported only when the command runs (or --help lists it): `gisplan run` does not load the
# report's, the server's or the batch scheduler's libraries (WeasyPrint, matplotlib, FastAPI, Dask …) at start-up.
_COMMANDS = {
    "batch": ("batch", "batch_command"), "boundaries": ("boundaries", "boundaries"),
    "coverage": ("coverage", "coverage_command"), "db": ("db", "db"), "divisions": ("divisions", "divisions"),
    "export": ("export", "export_command"), "history": ("history", "history_command"),
    "init": ("init", "init_command"), "layers": ("layers", "layers"), "map": ("map", "map_command"),
    "places": ("places", "places"), "propose": ("propose", "propose_command"), "report": ("report", "report_command"),
    "revert": ("history", "revert_command"), "roads": ("roads", "roads"), "run": ("run", "run"),
    "serve": ("serve", "serve_command"), "types": ("types", "types"), "undo": ("history", "undo_command"),
}


def _lang_in(args: Sequence[str]) -> str | None:
    """The value of a `--lang` given before the subcommand (``--lang zh`` or ``--lang=zh``), if any."""
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
        if not arg.startswith("-") and (i == 0 or args[i - 1] != "--lang"):
            return None  # the subcommand: its own options follow
    return None


class _Group(click.Group):
    """Speak the chosen language for the whole command (help and usage errors included, which click handles
    before any callback runs: its own texts come from gisplan's catalogue of click's texts,
    :mod:`gisplan.cli.clicktext`); turn gisplan errors into a one-paragraph message and exit code 1.

    The subcommands of :data:`_COMMANDS` are imported when first asked for (:meth:`get_command`); reading
    :attr:`commands` imports them all."""

    _loaded: dict[str, click.Command]

    @property
    def commands(self) -> MutableMapping[str, click.Command]:
        """Every subcommand, each module imported."""
        for name in _COMMANDS:
            self._load(name)
        return self._loaded

    @commands.setter
    def commands(self, value: MutableMapping[str, click.Command]) -> None:
        self._loaded = dict(value)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Register `cmd` (under `name`, else its own) without importing the lazy ones."""
        name = name or cmd.name
        if name is None:
            msg = "Command has no name."
            raise TypeError(msg)
        self._loaded[name] = cmd

    def _load(self, name: str) -> click.Command | None:
        if name not in self._loaded and name in _COMMANDS:
            module, attr = _COMMANDS[name]
            # imported in English, as when every module was imported at start-up: click names its parameter
            # types (`DIRECTORY`, `FILE`) when a command is declared, and those names are kept for the process
            before = use_language("en")
            try:
                # the collector paused: pandas, geopandas and scipy make it run its full passes while they load
                with collector_paused():
                    command: click.Command = getattr(import_module(f"gisplan.cli.{module}"), attr)
            finally:
                use_language(before)
            use_help_context(command)
            self._loaded[name] = command
        return self._loaded.get(name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand `cmd_name`, its module imported now."""
        del ctx
        return self._load(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand's name, sorted, without importing them."""
        del ctx
        return sorted({*self._loaded, *_COMMANDS})

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        """Run the command in the language of `--lang`, else the locale's, then restore the one spoken before."""
        given = _lang_in(list(sys.argv[1:] if args is None else args)) or os.environ.get("GISPLAN_LANG")
        before = use_language(given if given in LANGUAGES else None)  # a bad value: click says so, in the locale's
        try:
            return super().main(args, *a, **kw)
        finally:
            use_language(before)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GisplanError as exc:
            click.echo(_("error: {message}").format(message=exc), err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gisplan")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", count=True, help="Less log output (and no progress display).")
@click.option("--lang", type=click.Choice(list(LANGUAGES)), envvar="GISPLAN_LANG",
              help="Interface language: messages, --help and the tables and CSV headers written for people (zh: "
                   "中文). Default: the locale's (LANG=zh_CN.UTF-8 → zh), English in a C/POSIX locale.")
def cli(verbose: int, quiet: int, lang: str | None) -> None:
    """gisplan: facility coverage and plan indicators for district civil-affairs bureaus (民政局).

    \b
    Examples:
      gisplan run scenarios/yongchuan-2025.toml     # indicators, 15-min coverage, gaps, proposed sites, map.html
      gisplan map scenarios/yongchuan-2025.toml --choropleth floor_area --basemap osm
      gisplan report scenarios/yongchuan-2025.toml  # report.pdf, report.docx, tables.xlsx, report.html
      gisplan coverage scenarios/yongchuan-2025.toml --out out/coverage
      gisplan coverage --roads roads.gpkg --facilities 站点.csv --demand 小区.csv --crs gcj02 --out out/adhoc
      gisplan propose --costs od.csv --demand d.csv --candidates c.csv --model mclp --p 4 --cutoff 1000
      gisplan layers import 台账.xlsx --kind facilities --type elderly_institution --crs gcj02 -w yc.gpkg
      gisplan layers list -w yc.gpkg
      gisplan export -w out/yongchuan --layers proposed_sites --format dxf --out to_cad/
      gisplan roads fetch scenarios/zhushan-2025.toml   # OpenStreetMap roads, cached for offline use
      gisplan types list
      gisplan boundaries check -w yc.gpkg             # topology of the township polygons (km²)
      gisplan divisions merge -w yc.gpkg 500118006201 500118006209 --basis "永川府〔2024〕12号" --dry-run
      gisplan history -w yc.gpkg --unit 500118102003     # who changed this unit, when and why
      gisplan undo -w yc.gpkg                              # take the last change back exactly
      gisplan places search 朱龙花村 -w yc.gpkg            # the place-name register (地名信息库)
      gisplan init 500118 --illustrative                # a scenario for any of Chongqing's 38 districts
      gisplan batch scenarios/chongqing-districts.toml --out out/cq --workers 2
      gisplan db copy yc.gpkg "postgresql://planner@db:5432/civil?schema=yongchuan"   # to a shared PostGIS
      gisplan serve -w yc.gpkg --port 8000           # OGC API – Features for QGIS, place-name query
    """
    level = max(10, 30 - 10 * (verbose - quiet))
    fmt = "%(levelname)s %(name)s: %(message)s" if verbose > quiet else "%(levelname)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    logging.getLogger("pyogrio").setLevel(max(level, logging.WARNING))
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A library's warning as one log line, without the library's file path and source line (-vv adds them)."""
    del file, line
    logger = logging.getLogger("gisplan")
    if logger.isEnabledFor(logging.DEBUG):
        logger.warning("%s (%s, %s:%d)", message, category.__name__, filename, lineno)
    else:
        logger.warning("%s", message)


cli.context_class = GisplanContext  # the subcommands get theirs (and their short help) as they are imported
install_click_catalogue()


def main() -> None:
    """Entry point of the `gisplan` command."""
    ordinary_pages()  # before numpy loads
    cli(prog_name="gisplan")
