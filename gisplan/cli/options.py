"""Helpers shared by the command-line modules: table printing and scenario import."""

from __future__ import annotations

import logging
import math
import os
import sys
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisplan.catalogue import Catalogue, load_catalogue
from gisplan.cli.progressbar import close, progress_sink
from gisplan.errors import SchemaError, StoreError
from gisplan.i18n import _
from gisplan.scenariocat import check_scenario_types
from gisplan.store import Workspace, open_workspace
from gisplan.workflows.importing import import_scenario as _import_scenario
from gisplan.workflows.importing import scenario_specs

catalogue_option = click.option(
    "--catalogue", "catalogue_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Extra facility-type catalogue TOML (adds or replaces types and profiles).",
)


class WorkspaceParam(click.ParamType[Workspace]):
    """A ``-w`` value opened as a :class:`~gisplan.store.Workspace` (a GeoPackage path, or ``gpkg:path``); a
    URI gisplan cannot open is a usage error (exit 2)."""

    name = "workspace"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Workspace:
        """Open the workspace `value` names."""
        try:
            return open_workspace(value)
        except StoreError as exc:
            self.fail(str(exc), param, ctx)


WORKSPACE = WorkspaceParam()

workspace_option = click.option(
    "-w", "--workspace", type=WORKSPACE, envvar="GISPLAN_WORKSPACE", default="workspace.gpkg", show_default=True,
    help="Workspace: a GeoPackage path or postgresql://user@host:port/db?schema=NAME (env GISPLAN_WORKSPACE).",
)


if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from gisplan.config import Scenario
    from gisplan.workflows.plan import RunResult

__all__ = [
    "WORKSPACE",
    "WorkspaceParam",
    "catalogue_for",
    "catalogue_option",
    "format_table",
    "import_scenario",
    "report_problems",
    "run_if_no_results",
    "workspace_option",
]

logger = logging.getLogger("gisplan")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# C0 and C1 control characters (CR rewrites the terminal line, ESC starts colour/cursor sequences), shown escaped
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {
    0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t", 0x00: "\\0"}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float):
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    return str(value).translate(_CONTROL)


def format_table(frame: pd.DataFrame) -> str:
    """Render a DataFrame as an aligned plain-text table (CJK characters count two columns)."""
    cells = [[str(c) for c in frame.columns]] + [[_fmt(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(_width(r[j]) for r in cells) for j in range(len(frame.columns))]
    lines = []
    for i, row in enumerate(cells):
        lines.append("  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report_problems(exc: SchemaError) -> None:
    click.echo(_("error: {message}").format(message=exc), err=True)
    sys.exit(1)


def catalogue_for(sc: Scenario | None, extra: Sequence[Path]) -> Catalogue:
    """The built-in catalogue plus the scenario's and the command line's extra files; a scenario naming a type
    the catalogue lacks is refused here, before anything is imported."""
    files = ([sc.catalogue] if sc is not None and sc.catalogue else []) + list(extra)
    catalogue = load_catalogue(*files)
    if sc is not None:
        check_scenario_types(sc, catalogue)
    return catalogue


def import_scenario(sc: Scenario, workspace: Workspace, cat: Catalogue) -> None:
    """Import a scenario's layers, saying so on stderr; a data error ends the command with exit code 1."""
    specs = scenario_specs(sc, workspace)
    click.echo(_("{name}: importing {n} layers into {workspace} …").format(name=sc.name, n=len(specs),
                                                                            workspace=workspace.label), err=True)
    show = progress_sink()
    try:
        _import_scenario(sc, workspace, cat, specs=specs, progress=show)
    except SchemaError as exc:
        close(show)
        report_problems(exc)
    close(show)


def run_if_no_results(sc: Scenario, ws: Workspace, cat: Catalogue, target: Path, *, propose: bool,
                      import_layers: bool = True) -> RunResult | None:
    """Run the scenario and write its results into `target` when `target` has no ``results.gpkg`` yet (what
    `gisplan map` and `gisplan report` read), saying so on stderr; return the run, or None when results were
    there. `import_layers` False: the layers are in the workspace already (``-w`` without a scenario file)."""
    from gisplan.outputs.results import write_results  # noqa: PLC0415 - only when a run is needed
    from gisplan.workflows.plan import run_scenario  # noqa: PLC0415

    if (target / "results.gpkg").is_file():
        return None
    click.echo(_("{folder} has no results yet: running the scenario first (`gisplan run` prints the "
                 "tables)").format(folder=os.path.normpath(target)), err=True)
    if import_layers:
        import_scenario(sc, ws, cat)
    show = progress_sink()
    result = run_scenario(ws, sc, cat, progress=show, propose=propose)
    write_results(result, out_dir=target, workspace=ws, illustrative=ws.illustrative(),
                  type_names={t.id: t.name_zh for t in cat.types.values()})
    close(show)
    return result
