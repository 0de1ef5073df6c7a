"""`gisplan layers`: import, validate, list, show and log the layers of a workspace."""

from __future__ import annotations

import codecs
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import geopandas as gpd
import pandas as pd

from gisplan import settings
from gisplan.catalogue import LAYER_KINDS, Catalogue, load_catalogue
from gisplan.cli.options import catalogue_option, format_table, report_problems, workspace_option
from gisplan.cli.progressbar import close, progress_sink
from gisplan.crs import parse_crs
from gisplan.errors import ConfigError, CRSError, SchemaError
from gisplan.i18n import _, ngettext
from gisplan.workflows.importing import ImportSpec, import_layers, validate_imports

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gisplan.store import Workspace

logger = logging.getLogger("gisplan")


_EPILOG_IMPORT = """\b
Examples:
  gisplan layers import 区划代码.csv --kind gazetteer -w yc.gpkg
  gisplan layers import 镇街.geojson --kind townships --crs gcj02 -w yc.gpkg
  gisplan layers import 社区服务中心台账.xlsx --kind facilities \\
      --type community_service_centre --crs gcj02 --sheet 2023 -w yc.gpkg
  gisplan layers import 养老机构.csv --kind facilities --type elderly_institution \\
      --crs EPSG:4490 -w yc.gpkg
  gisplan layers import 来苏镇站点.csv --kind facilities --type elderly_day_care \\
      --crs gcj02 --tolerance-m 1000 -w yc.gpkg      # kept with the layer for later re-checks
  gisplan layers import 台账无坐标.xlsx --kind facilities --type minor_protection_station \\
      --make-ids --locate-by-name -w yc.gpkg         # placed at village/township points
\b
--crs: an EPSG code (4326 GPS/WGS84, 4490 CGCS2000/天地图, 4544 CGCS2000 3° CM 105E …), gcj02 (高德/腾讯 points,
even when a file says EPSG:4326) or bd09 (百度). Tables with coordinates need it.
"""


@click.group()
def layers() -> None:
    """Import, validate and list the layers of a workspace GeoPackage."""


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Refuse NaN (click's FloatRange lets it through, and NaN would switch every distance check off)."""
    if value is not None and not math.isfinite(value):
        msg = _("{value} is not a number of metres.").format(value=value)
        raise click.BadParameter(msg, ctx=ctx, param=param)
    return value


def _import_options(func: Any) -> Any:
    options = [
        click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path)),
        click.option("--kind", required=True, type=click.Choice(LAYER_KINDS), help="What the file holds."),
        click.option("--type", "facility_type", help="Facility type id (see `gisplan types list`)."),
        click.option("--crs", help="CRS of the coordinates: EPSG code, gcj02 or bd09."),
        click.option("--layer", help="Layer name inside a GeoPackage."),
        click.option("--sheet", help="Sheet name of an XLSX workbook (default: the first)."),
        click.option("--encoding", help="Text encoding of a CSV (default: detect UTF-8/GBK)."),
        click.option("--illustrative", is_flag=True, help="Flag the layer as generated (示意) data."),
        click.option("--make-ids", is_flag=True,
                     help="Facilities without an id column get <type>-<row> ids (row as in the file)."),
        click.option("--tolerance-m", default=None, type=click.FloatRange(min=0, max=100_000), callback=_finite,
                     help=f"Metres a point may lie outside its polygon before it is reported (default "
                          f"{settings.TOLERANCE_M:g}); kept with the layer and used when it is checked again."),
        click.option("--accept-large", is_flag=True,
                     help="Accept populations, floor areas or beds beyond the plausible (kept with the layer)."),
        click.option("--locate-by-name", is_flag=True,
                     help="A facility ledger without coordinates (only 地址 / 所属村社区 / 所属镇街): place each "
                          "row at its village's (else township's) representative point; column location_precision."),
        workspace_option,
        catalogue_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _check_values(facility_type: str | None, crs: str | None, encoding: str | None, catalogue: Catalogue) -> None:
    """Option values that are wrong on their own: a bad value is a usage error (exit 2)."""
    if facility_type and facility_type not in catalogue.types:
        try:
            catalogue.get_type(facility_type)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--type") from None
    if crs is not None:
        try:
            parse_crs(crs)
        except CRSError as exc:
            raise click.BadParameter(str(exc), param_hint="--crs") from None
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            msg = _("{encoding!r} is not a text encoding; use e.g. utf-8, gbk or gb18030.").format(encoding=encoding)
            raise click.BadParameter(msg, param_hint="--encoding") from None


def _check_combinations(files: Sequence[Path], kind: str, facility_type: str | None, crs: str | None,
                        layer: str | None, sheet: str | None, encoding: str | None, make_ids: bool) -> None:
    """Options that do not fit the kind or the files (usage errors, exit 2)."""
    if kind == "facilities" and not facility_type:
        raise click.UsageError(_("--type is required with --kind facilities (see `gisplan types list`)."))
    if kind != "facilities" and (facility_type or make_ids):
        raise click.UsageError(_("--type and --make-ids are only for --kind facilities."))
    if crs is not None and kind == "gazetteer":
        raise click.UsageError(_("--crs does not apply to a gazetteer (it has no coordinates)."))
    suffixes = {Path(f).suffix.lower() for f in files}
    if encoding is not None and suffixes & {".xlsx", ".xlsm", ".gpkg", ".parquet"}:
        raise click.UsageError(_("--encoding applies to CSV/TSV files and shapefiles only."))
    if sheet is not None and not suffixes <= {".xlsx", ".xlsm"}:
        raise click.UsageError(_("--sheet applies to .xlsx workbooks only."))
    if layer is not None and not suffixes <= {".gpkg"}:
        raise click.UsageError(_("--layer applies to GeoPackages (.gpkg) only."))


def _specs(files: Sequence[Path], kind: str, facility_type: str | None, crs: str | None, layer: str | None,
           sheet: str | None, encoding: str | None, illustrative: bool, make_ids: bool,
           catalogue: Catalogue, *, tolerance_m: float | None = None, accept_large: bool = False,
           locate_by_name: bool = False) -> list[ImportSpec]:
    """Check the options (usage errors, exit 2) and build the import specs."""
    _check_combinations(files, kind, facility_type, crs, layer, sheet, encoding, make_ids)
    _check_values(facility_type, crs, encoding, catalogue)
    return [ImportSpec(Path(f), kind, facility_type, crs, layer, sheet, encoding, illustrative, make_ids,
                       tolerance_m=tolerance_m, accept_large=accept_large, locate_by_name=locate_by_name)
            for f in files]


@layers.command("import", epilog=_EPILOG_IMPORT)
@_import_options
def layers_import(files: tuple[Path, ...], kind: str, facility_type: str | None, crs: str | None,
                  layer: str | None, sheet: str | None, encoding: str | None, illustrative: bool,
                  make_ids: bool, tolerance_m: float | None, accept_large: bool, locate_by_name: bool,
                  workspace: Workspace, catalogue_files: tuple[Path, ...]) -> None:
    """Validate FILES and import them into the workspace, all or nothing.

    Every problem in every file is listed (file, row, field, what is wrong, the fix); then nothing is
    written and the exit code is 1.
    """
    cat = load_catalogue(*catalogue_files)
    specs = _specs(files, kind, facility_type, crs, layer, sheet, encoding, illustrative, make_ids, cat,
                   tolerance_m=tolerance_m, accept_large=accept_large, locate_by_name=locate_by_name)
    show = progress_sink()
    try:
        results = import_layers(workspace, specs, catalogue=cat, progress=show)
    except SchemaError as exc:
        close(show)
        report_problems(exc)
    close(show)
    for r in results:
        flag = _(" (示意 illustrative)") if r.illustrative else ""
        click.echo(ngettext("imported {n} row into layer `{layer}` of {workspace}{flag}",
                            "imported {n} rows into layer `{layer}` of {workspace}{flag}", r.rows).format(
            n=r.rows, layer=r.layer, workspace=workspace.label, flag=flag))
        if r.precision:
            placed = ", ".join(_("{n} at their {kind}'s representative point").format(n=n, kind=kind)
                               for kind, n in sorted(r.precision.items()))
            click.echo(_("  located by name (no coordinates): {placed}; column location_precision — coverage from "
                         "these points is approximate, not metre-precise").format(placed=placed))


@layers.command("validate", epilog=_EPILOG_IMPORT.replace("layers import", "layers validate"))
@_import_options
def layers_validate(files: tuple[Path, ...], kind: str, facility_type: str | None, crs: str | None,
                    layer: str | None, sheet: str | None, encoding: str | None, illustrative: bool,
                    make_ids: bool, tolerance_m: float | None, accept_large: bool, locate_by_name: bool,
                    workspace: Workspace, catalogue_files: tuple[Path, ...]) -> None:
    """Check FILES as `layers import` would, against the workspace, without writing anything."""
    cat = load_catalogue(*catalogue_files)
    specs = _specs(files, kind, facility_type, crs, layer, sheet, encoding, illustrative, make_ids, cat,
                   tolerance_m=tolerance_m, accept_large=accept_large, locate_by_name=locate_by_name)
    if not workspace.exists():
        logger.warning("workspace %s does not exist: checking against an empty workspace (no gazetteer, no "
                       "boundaries); give -w to check against yours", workspace.label)
    try:
        writes = validate_imports(specs, workspace=workspace if workspace.exists() else None, catalogue=cat)
    except SchemaError as exc:
        report_problems(exc)
    for w in writes:
        click.echo(_("OK: {path} → `{layer}`, {n} rows").format(path=w.source_path, layer=w.name, n=len(w.data)))


@layers.command("list")
@workspace_option
def layers_list(workspace: Workspace) -> None:
    """List the workspace's layers with their provenance.

    \b
    Example:
      gisplan layers list -w work/yongchuan.gpkg
    """
    meta = workspace.metadata()
    meta["illustrative"] = meta["illustrative"].map({1: "示意 illustrative", 0: "real"})
    cols = ["layer", "kind", "row_count", "illustrative", "crs_given", "imported_at", "source_path"]
    # the note carries a layer's attribution (OpenStreetMap roads: source, date, ODbL); shown when any layer has one
    cols += ["note"] if meta["note"].fillna("").astype(str).str.strip().ne("").any() else []
    click.echo(format_table(meta[cols]))


@layers.command("show")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0),
              help="Rows to print (0: all).")
@click.option("--as-of", "as_of", help="Show the layer as it was at a revision number or date (2024-12-31).")
@workspace_option
def layers_show(name: str, limit: int, as_of: str | None, workspace: Workspace) -> None:
    """Print the rows of layer NAME (points as lon/lat; other geometries by type).

    \b
    Examples:
      gisplan layers show gazetteer --limit 0 -w work/yongchuan.gpkg
      gisplan layers show facilities_public_cemetery -w work/yongchuan.gpkg
      gisplan layers show villages --as-of 2024-12-31 -w work/yongchuan.gpkg
    """
    frame = workspace.read(name, as_of=as_of)
    if isinstance(frame, gpd.GeoDataFrame):
        geom = frame.geometry
        is_point = (geom.geom_type == "Point").to_numpy()
        frame = pd.DataFrame(frame.drop(columns=[geom.name]))
        if is_point.all():
            frame["lon"], frame["lat"] = geom.x.round(6), geom.y.round(6)
        else:
            frame["geometry"] = geom.geom_type
    shown = frame if limit == 0 else frame.head(limit)
    click.echo(format_table(shown))
    if len(shown) < len(frame):
        click.echo(_("… {n} more rows (--limit 0 shows all)").format(n=len(frame) - len(shown)))


@layers.command("log")
@workspace_option
def layers_log(workspace: Workspace) -> None:
    """Show the workspace's append-only change log, oldest first."""
    log = workspace.changelog()
    click.echo(format_table(log[["seq", "at", "user", "action", "layer", "detail"]]))


@layers.command("diff")
@click.argument("name")
@click.option("--since", required=True, help="From this revision number or date (2023-12-31).")
@click.option("--until", help="To this revision number or date (default: now).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0), help="Rows (0: all).")
@workspace_option
def layers_diff(name: str, since: str, until: str | None, limit: int, workspace: Workspace) -> None:
    """比较图层两个时点 (compare layer NAME at two points in time, row by row).

    Rows are matched by their id (facility_id, code12, place_id …): two years' 台账 compare facility by
    facility.

    \b
    Examples:
      gisplan layers diff facilities_elderly_day_care --since 2023-12-31 -w work/yongchuan.gpkg
      gisplan layers diff villages --since 3 --until 7 -w work/yongchuan.gpkg
    """
    from gisplan.cli.history import describe_change  # noqa: PLC0415 - sibling command module

    change = workspace.diff(name, since=since, until=until)
    c = change.counts
    click.echo(_("{name}: {insert} added, {update} changed, {delete} removed (rows matched by {key_column})").format(
            name=name, insert=c['insert'], update=c['update'], delete=c['delete'], key_column=change.key_column))
    rows = pd.DataFrame({
        "op": [r.op for r in change.rows], "key": [r.key for r in change.rows], "label": [r.label for r in change.rows],
        "change": [describe_change(r.op, r.before, r.after, geometry_changed=r.before_geom != r.after_geom
                                   and r.op == "update") for r in change.rows],
    })
    if len(rows):
        click.echo(format_table(rows if limit == 0 else rows.head(limit)))
