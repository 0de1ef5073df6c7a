"""`gisplan divisions`: division changes (区划调整) — merge, split, rename, re-code, level change, boundary
adjustment — validated, committed in one transaction, with a crosswalk of old to new codes."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from gisplan.boundaries import Change
from gisplan.cli.options import format_table, workspace_option
from gisplan.crs import parse_crs, to_storage_crs
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_csv
from gisplan.io.spatial import read_spatial
from gisplan.vocab import DivisionChange, parse_choice
from gisplan.workflows.divisions import CROSSWALK_LAYER, change_divisions, recode_table

if TYPE_CHECKING:
    from gisplan.store import Workspace

logger = logging.getLogger("gisplan")


@click.group()
def divisions() -> None:
    """区划调整：merge, split, rename, re-code or change the level of divisions, with a crosswalk.

    Every change names its legal basis (批文 number and date), is checked before anything is written
    (codes, parents, geometry, topology) and is committed in one step: the gazetteer, township and village
    polygons, households and every facility layer coded to a retired unit are re-coded, and the crosswalk
    `division_crosswalk` (old code → new code, date, kind, basis) re-codes files imported later.

    \b
    Examples:
      gisplan divisions merge -w yc.gpkg 500118006201 500118006209 --into 500118006201 \\
          --basis "永川府〔2024〕12号" --basis-date 2024-05-20 --date 2024-06-30 --dry-run
      gisplan divisions rename -w yc.gpkg 500118006201 --name 卢家岩村村民委员会 --basis "…"
      gisplan divisions change-level -w yc.gpkg 500118101000 --name 仙龙街道 --level-name 乡镇街道 --basis "…"
      gisplan divisions apply -w yc.gpkg change.toml
      gisplan divisions crosswalk -w yc.gpkg
    """


def _basis_options(func: Any) -> Any:
    for option in reversed([
        click.option("--basis", default="", help="批文 number of the approval, e.g. 渝府〔2024〕12号."),
        click.option("--basis-date", default="", help="Date of the approval (YYYY-MM-DD)."),
        click.option("--date", "effective", default="", help="Date the change takes effect (YYYY-MM-DD)."),
        click.option("--dry-run", is_flag=True, help="Check and show what would change; write nothing."),
        click.option("--crs", help="Projected CRS for the topology validation (default: UTM zone)."),
        workspace_option,
    ]):
        func = option(func)
    return func


def _dates(*values: str) -> None:
    for value in values:
        if value and (not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
                      or pd.isna(pd.to_datetime(value, format="%Y-%m-%d", errors="coerce"))):
            msg = _("date {value} is not YYYY-MM-DD; write e.g. 2024-06-30.").format(value=repr(value))
            raise ConfigError(msg)


def _run(change: Change, workspace: Workspace, *, dry_run: bool, crs: str | None) -> None:
    _dates(change.date, change.basis_date)
    if not change.basis and not dry_run:
        logger.warning(_("no --basis given: the crosswalk records the change without its 批文"))
    outcome = change_divisions(workspace, change, dry_run=dry_run, crs=crs)
    result = outcome.result
    click.echo(_("对照表 crosswalk:"))
    click.echo(format_table(result.crosswalk[["old_code", "old_name", "new_code", "new_name", "kind", "note"]]))
    touched = result.recoded[(result.recoded["recoded"] > 0) | (result.recoded["reported"] > 0)]
    click.echo("\n" + _("改码 re-coded rows per layer:"))
    click.echo(format_table(touched) if len(touched) else _("(none)"))
    left = int(result.recoded["reported"].sum())
    if left:
        click.echo(f"\n注意: {left} 行仍为被撤销的代码（无位置，无法自动改码），请人工改码后重新导入。", err=True)
    if outcome.revision is None:
        click.echo("\n" + _("--dry-run: nothing was written."))
    else:
        click.echo("\n" + _("committed as revision {revision} (`gisplan layers log` shows it).").format(
            revision=outcome.revision))


def _parts(path: Path | None, crs: str | None) -> Any:
    if path is None:
        return None
    raw = read_spatial(path)
    return to_storage_crs(raw, parse_crs(crs) if crs else None, source=path.name)


@divisions.command("merge")
@click.argument("codes", nargs=-1, required=True)
@click.option("--into", "into", help="The surviving code (default: the first).")
@click.option("--name", "new_name", help="Name of the merged unit (default: the surviving unit's).")
@_basis_options
def merge_command(codes: tuple[str, ...], into: str | None, new_name: str | None, basis: str, basis_date: str,
                  effective: str, dry_run: bool, crs: str | None, workspace: Workspace) -> None:
    """合并：merge units (villages of one township, or townships) into one.

    \b
    Example:
      gisplan divisions merge -w yc.gpkg 500118006201 500118006209 --into 500118006201 \\
          --name 卢家岩村村民委员会 --basis "永川府〔2024〕12号" --basis-date 2024-05-20 --date 2024-06-30
    """
    change = Change(DivisionChange.MERGE, codes, new_code=into or codes[0], new_name=new_name, date=effective,
                    basis=basis, basis_date=basis_date)
    _run(change, workspace, dry_run=dry_run, crs=crs)


@divisions.command("split")
@click.argument("code")
@click.option("--parts", "parts_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Polygons of the new units (code12, name).")
@click.option("--parts-crs", help="CRS of the parts file (gcj02, EPSG code; default the file's).")
@_basis_options
def split_command(code: str, parts_file: Path, parts_crs: str | None, basis: str, basis_date: str, effective: str,
                  dry_run: bool, crs: str | None, workspace: Workspace) -> None:
    """拆分：split a unit into the new units drawn in --parts; points are re-coded by location.

    \b
    Example:
      gisplan divisions split -w yc.gpkg 500118006201 --parts 新村界.geojson --basis "…" --dry-run
    """
    change = Change(DivisionChange.SPLIT, (code,), parts=_parts(parts_file, parts_crs), date=effective, basis=basis,
                    basis_date=basis_date)
    _run(change, workspace, dry_run=dry_run, crs=crs)


@divisions.command("rename")
@click.argument("code")
@click.option("--name", "new_name", required=True, help="The new standard name.")
@_basis_options
def rename_command(code: str, new_name: str, basis: str, basis_date: str, effective: str, dry_run: bool,
                   crs: str | None, workspace: Workspace) -> None:
    """更名：rename a unit (the households and polygons follow; facilities keep their own names).

    \b
    Example:
      gisplan divisions rename -w yc.gpkg 500118006201 --name 卢家岩村村民委员会 --basis "永川府〔2024〕13号"
    """
    change = Change(DivisionChange.RENAME, (code,), new_name=new_name, date=effective, basis=basis,
                    basis_date=basis_date)
    _run(change, workspace, dry_run=dry_run, crs=crs)


@divisions.command("recode")
@click.argument("code")
@click.option("--new-code", required=True, help="The new 12-digit code.")
@_basis_options
def recode_command(code: str, new_code: str, basis: str, basis_date: str, effective: str, dry_run: bool,
                   crs: str | None, workspace: Workspace) -> None:
    """改码：give a unit a new code (a township's villages follow).

    \b
    Example:
      gisplan divisions recode -w yc.gpkg 500118006209 --new-code 500118006220 --basis "…"
    """
    change = Change(DivisionChange.RECODE, (code,), new_code=new_code, date=effective, basis=basis,
                    basis_date=basis_date)
    _run(change, workspace, dry_run=dry_run, crs=crs)


@divisions.command("change-level")
@click.argument("code")
@click.option("--name", "new_name", required=True, help="The new name (…社区居民委员会, …街道).")
@click.option("--new-code", help="The new code, if it changes (e.g. a 街道 numbered 0xx).")
@click.option("--level-name", help="The gazetteer's level_name afterwards.")
@_basis_options
def change_level_command(code: str, new_name: str, new_code: str | None, level_name: str | None, basis: str,
                         basis_date: str, effective: str, dry_run: bool, crs: str | None, workspace: Workspace) -> None:
    """村改社区 / 撤镇设街：change a unit's type (and name, and code if it changes).

    \b
    Example:
      gisplan divisions change-level -w yc.gpkg 500118006201 --name 卢家岩社区居民委员会 --basis "…"
    """
    change = Change(DivisionChange.CHANGE_LEVEL, (code,), new_code=new_code, new_name=new_name,
                    new_level_name=level_name, date=effective, basis=basis, basis_date=basis_date)
    _run(change, workspace, dry_run=dry_run, crs=crs)


@divisions.command("adjust")
@click.option("--from", "source", required=True, help="Code of the unit that gives the area.")
@click.option("--to", "target", required=True, help="Code of the unit that receives it.")
@click.option("--area", "area_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Polygon(s) of the area that moves.")
@click.option("--area-crs", help="CRS of the area file.")
@_basis_options
def adjust_command(source: str, target: str, area_file: Path, area_crs: str | None, basis: str, basis_date: str,
                   effective: str, dry_run: bool, crs: str | None, workspace: Workspace) -> None:
    """边界调整：move an area from one unit to its neighbour; points inside it are re-coded.

    \b
    Example:
      gisplan divisions adjust -w yc.gpkg --from 500118006201 --to 500118006204 --area 划转.geojson --basis "…"
    """
    change = Change(DivisionChange.ADJUST, (source, target), parts=_parts(area_file, area_crs), date=effective,
                    basis=basis, basis_date=basis_date)
    _run(change, workspace, dry_run=dry_run, crs=crs)


@divisions.command("apply")
@click.argument("change_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and show what would change; write nothing.")
@click.option("--crs", help="Projected CRS for the topology validation.")
@workspace_option
def apply_command(change_file: Path, dry_run: bool, crs: str | None, workspace: Workspace) -> None:
    """按变更文件调整：apply a change file (TOML).

    \b
    change.toml:
      kind = "merge"                      # merge, split, rename, recode, change-level, adjust
      codes = ["500118006201", "500118006209"]
      new_code = "500118006201"
      new_name = "卢家岩村村民委员会"
      date = "2024-06-30"
      basis = "永川府〔2024〕12号"
      basis_date = "2024-05-20"
      parts = "新界线.geojson"              # split/adjust only, relative to the file
      parts_crs = "gcj02"
    """
    try:
        spec = tomllib.loads(change_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        msg = _("{file}: not valid TOML ({error}).").format(file=change_file.name, error=exc)
        raise ConfigError(msg) from None
    known = {"kind", "codes", "new_code", "new_name", "new_level_name", "date", "basis", "basis_date", "parts",
             "parts_crs"}
    unknown = sorted(set(spec) - known)
    if unknown:
        msg = _("{file}: unknown key(s) {keys}; expected {known}.").format(
            file=change_file.name, keys=", ".join(unknown), known=", ".join(sorted(known)))
        raise ConfigError(msg)
    try:
        kind = parse_choice(DivisionChange, spec.get("kind", ""), f"{change_file.name}: `kind`")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    codes = spec.get("codes", [])
    if not isinstance(codes, list) or not codes:
        msg = _("{file}: `codes` must be a list of 12-digit codes.").format(file=change_file.name)
        raise ConfigError(msg)
    parts = spec.get("parts")
    change = Change(kind, tuple(str(c) for c in codes), new_code=spec.get("new_code"), new_name=spec.get("new_name"),
                    new_level_name=spec.get("new_level_name"),
                    parts=_parts(change_file.parent / parts if parts else None, spec.get("parts_crs")),
                    date=str(spec.get("date", "")), basis=str(spec.get("basis", "")),
                    basis_date=str(spec.get("basis_date", "")))
    _run(change, workspace, dry_run=dry_run, crs=crs)


@divisions.command("crosswalk")
@click.option("--recode", "recode_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A table keyed by division code (a baseline run's units.csv, a ledger) to re-code.")
@click.option("--column", default="code12", show_default=True, help="The code column of --recode.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Where to write the re-coded CSV.")
@workspace_option
def crosswalk_command(recode_file: Path | None, column: str, out: Path | None, workspace: Workspace) -> None:
    """对照表：show the crosswalk of every division change (old code → new code, date, kind, basis), or re-code a
    baseline table through it so that it compares with a run after the change.

    \b
    Examples:
      gisplan divisions crosswalk -w yc.gpkg
      gisplan divisions crosswalk -w yc.gpkg --recode out2020/units.csv --out units2020_recoded.csv
    """
    if not workspace.has_layer(CROSSWALK_LAYER):
        click.echo(_("no division changes recorded yet."))
        return
    crosswalk = workspace.read_table(CROSSWALK_LAYER)
    if recode_file is None:
        click.echo(format_table(crosswalk))
        return
    if out is None:
        msg = _("--recode needs --out FILE.csv.")
        raise click.UsageError(msg)
    frame = pd.read_csv(recode_file, dtype={column: str}, encoding="utf-8-sig")
    if column not in frame:
        have = ", ".join(map(str, frame.columns))
        msg = _("{file}: no column `{column}` (columns: {have}); give --column.").format(
            file=recode_file.name, column=column, have=have)
        raise ConfigError(msg)
    table, unresolved = recode_table(frame, crosswalk, column=column)
    write_atomic_csv(table, out)
    changed = int((table[column] != table[f"{column}_before"]).sum())
    click.echo(_("{n} rows re-coded, written: {path}").format(n=changed, path=out))
    if unresolved:
        click.echo(f"注意: {unresolved} 行的单元已拆分，无法按代码改码，请人工处理。", err=True)
