"""The `gisplan` command line. The only module that configures logging, reads ``scenarios/`` or
prints; everything it does is a call into the library.

Exit codes: 0 success, 1 data or configuration error (message on stderr, no traceback), 2 usage error.
"""

from __future__ import annotations

import codecs
import logging
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import geopandas as gpd
import pandas as pd

from gisplan import __version__
from gisplan.catalogue import LAYER_KINDS, Catalogue, load_catalogue
from gisplan.cli.coverage import coverage_command
from gisplan.cli.map import map_command, map_options
from gisplan.cli.options import catalogue_for, catalogue_option, format_table, import_scenario, report_problems
from gisplan.cli.propose import propose_command
from gisplan.config import load_scenario
from gisplan.crs import parse_crs
from gisplan.errors import ConfigError, CRSError, GisplanError, SchemaError
from gisplan.outputs.results import map_layers, write_map, write_results
from gisplan.outputs.webmap import check_basemap
from gisplan.store.gpkg import list_layers, read_changelog, read_store_layer
from gisplan.workflows.importing import ImportSpec, import_layers, validate_imports
from gisplan.workflows.plan import RunResult, run_scenario

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger("gisplan")

_EPILOG_IMPORT = """\b
Examples:
  gisplan layers import 区划代码.csv --kind gazetteer -w yc.gpkg
  gisplan layers import 镇街.geojson --kind townships --crs gcj02 -w yc.gpkg
  gisplan layers import 社区服务中心台账.xlsx --kind facilities \\
      --type community_service_centre --crs gcj02 --sheet 2023 -w yc.gpkg
  gisplan layers import 养老机构.csv --kind facilities --type elderly_institution \\
      --crs EPSG:4490 -w yc.gpkg
\b
--crs: an EPSG code (4326 GPS/WGS84, 4490 CGCS2000/天地图, 4545 …), gcj02 (高德/腾讯 points,
even when a file says EPSG:4326) or bd09 (百度). Tables with coordinates need it.
"""


class _Group(click.Group):
    """Turn gisplan errors into a one-paragraph message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GisplanError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gisplan")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
def cli(verbose: int, quiet: int) -> None:
    """gisplan: facility coverage and plan indicators for district civil-affairs bureaus (民政局).

    \b
    Examples:
      gisplan run scenarios/yongchuan-2025.toml     # indicators, 15-min coverage, gaps, proposed sites, map.html
      gisplan map scenarios/yongchuan-2025.toml --choropleth floor_area --basemap osm
      gisplan coverage scenarios/yongchuan-2025.toml --out out/coverage
      gisplan coverage --roads roads.gpkg --facilities 站点.csv --demand 小区.csv --crs gcj02 --out out/adhoc
      gisplan propose --costs od.csv --demand d.csv --candidates c.csv --model mclp --p 4 --cutoff 1000
      gisplan layers import 台账.xlsx --kind facilities --type elderly_institution --crs gcj02 -w yc.gpkg
      gisplan layers list -w yc.gpkg
      gisplan types list
    """
    level = max(10, 30 - 10 * (verbose - quiet))
    fmt = "%(levelname)s %(name)s: %(message)s" if verbose > quiet else "%(levelname)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    logging.getLogger("pyogrio").setLevel(max(level, logging.WARNING))


@cli.group()
def layers() -> None:
    """Import, validate and list the layers of a workspace GeoPackage."""


_workspace = click.option(
    "-w", "--workspace", type=click.Path(dir_okay=False, path_type=Path), envvar="GISPLAN_WORKSPACE",
    default=Path("workspace.gpkg"), show_default=True, help="Workspace GeoPackage (env GISPLAN_WORKSPACE).",
)


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Refuse NaN (click's FloatRange lets it through, and NaN would switch every distance check off)."""
    if not math.isfinite(value):
        msg = f"{value} is not a number of metres."
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
        click.option("--tolerance-m", default=50.0, show_default=True, type=click.FloatRange(min=0, max=100_000),
                     callback=_finite,
                     help="Metres a point may lie outside its polygon before it is reported."),
        _workspace,
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
            msg = f"{encoding!r} is not a text encoding; use e.g. utf-8, gbk or gb18030."
            raise click.BadParameter(msg, param_hint="--encoding") from None


def _check_combinations(files: Sequence[Path], kind: str, facility_type: str | None, crs: str | None,
                        layer: str | None, sheet: str | None, encoding: str | None, make_ids: bool) -> None:
    """Options that do not fit the kind or the files (usage errors, exit 2)."""
    if kind == "facilities" and not facility_type:
        raise click.UsageError("--type is required with --kind facilities (see `gisplan types list`).")
    if kind != "facilities" and (facility_type or make_ids):
        raise click.UsageError("--type and --make-ids are only for --kind facilities.")
    if crs is not None and kind == "gazetteer":
        raise click.UsageError("--crs does not apply to a gazetteer (it has no coordinates).")
    suffixes = {Path(f).suffix.lower() for f in files}
    if encoding is not None and suffixes & {".xlsx", ".xlsm", ".gpkg", ".parquet"}:
        raise click.UsageError("--encoding applies to CSV/TSV files and shapefiles only.")
    if sheet is not None and not suffixes <= {".xlsx", ".xlsm"}:
        raise click.UsageError("--sheet applies to .xlsx workbooks only.")
    if layer is not None and not suffixes <= {".gpkg"}:
        raise click.UsageError("--layer applies to GeoPackages (.gpkg) only.")


def _specs(files: Sequence[Path], kind: str, facility_type: str | None, crs: str | None, layer: str | None,
           sheet: str | None, encoding: str | None, illustrative: bool, make_ids: bool,
           catalogue: Catalogue) -> list[ImportSpec]:
    """Check the options (usage errors, exit 2) and build the import specs."""
    _check_combinations(files, kind, facility_type, crs, layer, sheet, encoding, make_ids)
    _check_values(facility_type, crs, encoding, catalogue)
    return [ImportSpec(Path(f), kind, facility_type, crs, layer, sheet, encoding, illustrative, make_ids)
            for f in files]


@layers.command("import", epilog=_EPILOG_IMPORT)
@_import_options
def layers_import(files: tuple[Path, ...], kind: str, facility_type: str | None, crs: str | None,
                  layer: str | None, sheet: str | None, encoding: str | None, illustrative: bool,
                  make_ids: bool, tolerance_m: float, workspace: Path, catalogue_files: tuple[Path, ...]) -> None:
    """Validate FILES and import them into the workspace, all or nothing.

    Every problem in every file is listed (file, row, field, what is wrong, the fix); then nothing is
    written and the exit code is 1.
    """
    cat = load_catalogue(*catalogue_files)
    specs = _specs(files, kind, facility_type, crs, layer, sheet, encoding, illustrative, make_ids, cat)
    try:
        results = import_layers(workspace, specs, catalogue=cat, tolerance_m=tolerance_m,
                                progress=sys.stderr.isatty())
    except SchemaError as exc:
        report_problems(exc)
    for r in results:
        flag = " (示意 illustrative)" if r.illustrative else ""
        click.echo(f"imported {r.rows} row{'s' if r.rows != 1 else ''} into layer `{r.layer}` of {workspace}{flag}")


@layers.command("validate", epilog=_EPILOG_IMPORT.replace("layers import", "layers validate"))
@_import_options
def layers_validate(files: tuple[Path, ...], kind: str, facility_type: str | None, crs: str | None,
                    layer: str | None, sheet: str | None, encoding: str | None, illustrative: bool,
                    make_ids: bool, tolerance_m: float, workspace: Path, catalogue_files: tuple[Path, ...]) -> None:
    """Check FILES as `layers import` would, against the workspace, without writing anything."""
    cat = load_catalogue(*catalogue_files)
    specs = _specs(files, kind, facility_type, crs, layer, sheet, encoding, illustrative, make_ids, cat)
    if not workspace.exists():
        logger.warning("workspace %s does not exist: checking against an empty workspace (no gazetteer, no "
                       "boundaries); give -w to check against yours", workspace)
    try:
        writes = validate_imports(specs, store=workspace if workspace.exists() else None, catalogue=cat,
                                  tolerance_m=tolerance_m)
    except SchemaError as exc:
        report_problems(exc)
    for w in writes:
        click.echo(f"OK: {w.source_path} → `{w.name}`, {len(w.data)} rows")


@layers.command("list")
@_workspace
def layers_list(workspace: Path) -> None:
    """List the workspace's layers with their provenance.

    \b
    Example:
      gisplan layers list -w work/yongchuan.gpkg
    """
    meta = list_layers(workspace)
    meta["illustrative"] = meta["illustrative"].map({1: "示意 illustrative", 0: "real"})
    cols = ["layer", "kind", "row_count", "illustrative", "crs_given", "imported_at", "source_path"]
    click.echo(format_table(meta[cols]))


@layers.command("show")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0),
              help="Rows to print (0: all).")
@_workspace
def layers_show(name: str, limit: int, workspace: Path) -> None:
    """Print the rows of layer NAME (points as lon/lat; other geometries by type).

    \b
    Examples:
      gisplan layers show gazetteer --limit 0 -w work/yongchuan.gpkg
      gisplan layers show facilities_public_cemetery -w work/yongchuan.gpkg
    """
    frame = read_store_layer(workspace, name)
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
        click.echo(f"… {len(frame) - len(shown)} more rows (--limit 0 shows all)")


@layers.command("log")
@_workspace
def layers_log(workspace: Path) -> None:
    """Show the workspace's append-only change log, oldest first."""
    log = read_changelog(workspace)
    click.echo(format_table(log[["seq", "at", "user", "action", "layer", "detail"]]))


@cli.group()
def types() -> None:
    """The facility-type catalogue (a TOML file: add types without code)."""


@types.command("list")
@catalogue_option
def types_list(catalogue_files: tuple[Path, ...]) -> None:
    """List facility types: id, names, coverage rule, default threshold, plan rows.

    \b
    Example:
      gisplan types list --catalogue my_types.toml
    """
    cat = load_catalogue(*catalogue_files)
    rows = [{
        "id": t.id, "中文名": t.name_zh, "name": t.name_en, "coverage": "+".join(t.coverage),
        "level": t.admin_level, "profile": f"{t.profile} ≤{t.max_minutes:g} min", "plan rows": "; ".join(t.plan_rows),
    } for t in cat.types.values()]
    click.echo(format_table(pd.DataFrame(rows)))


@types.command("show")
@click.argument("type_id")
@catalogue_option
def types_show(type_id: str, catalogue_files: tuple[Path, ...]) -> None:
    """Show one facility type with its required and optional attributes and accepted headers."""
    cat = load_catalogue(*catalogue_files)
    t = cat.get_type(type_id)
    click.echo(f"{t.id}: {t.name_zh} / {t.name_en}")
    click.echo(f"coverage: {', '.join(t.coverage)}; level: {t.admin_level} ({t.admin_scope}); "
               f"profile: {t.profile}, {t.max_minutes:g} min")
    if t.min_population:
        click.echo(f"required in every township of ≥ {t.min_population:,} residents")
    click.echo(f"plan rows: {'; '.join(t.plan_rows)}")
    for label, names in (("required", t.required), ("optional", t.optional)):
        for name in names:
            a = cat.attributes[name]
            unit = f" [{a.unit}]" if a.unit else ""
            click.echo(f"  {label:8} {name}{unit} ({a.dtype}); headers: {', '.join(a.aliases)}")
            for value in sorted(set(a.values.values())):
                spellings = [k for k, v in a.values.items() if v == value and k != value]
                click.echo(f"           {value}: {', '.join(spellings)}")


@cli.command("run")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-w", "--workspace", type=click.Path(dir_okay=False, path_type=Path),
              help="Workspace GeoPackage (default: the scenario's `workspace`).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: beside the workspace, <workspace>_results).")
@click.option("--propose/--no-propose", default=True, show_default=True,
              help="Propose the new sites that close the gap to each target the layers miss.")
@click.option("--map/--no-map", "draw_map", default=True, show_default=True,
              help="Write map.html (redraw it later with `gisplan map`).")
@map_options
@catalogue_option
def run(
    scenario: Path, workspace: Path | None, out: Path | None, propose: bool, draw_map: bool, choropleth: str | None,
    basemap: str, tianditu_key: str | None, catalogue_files: tuple[Path, ...],
) -> None:
    """Import and validate every layer of SCENARIO, measure network coverage (when the workspace has roads
    and demand), and print and write the plan's indicator table, with the uncovered areas ranked.

    \b
    Writes to --out: indicators.csv (indicator_id, name, unit, value, target, comparator, status,
    method, source …), units.csv (coverage per district/township/village), gaps.csv, admin_gaps.csv,
    proposed_sites.csv, results.gpkg (demand, townships/villages with their indicators, gaps, service
    areas, proposed sites) and map.html (the coverage map; opens offline; see `gisplan map --help`).

    \b
    Example:
      gisplan run scenarios/yongchuan-2025.toml
      gisplan run scenarios/zhushan-2025.toml -w /tmp/zhushan.gpkg --out /tmp/zhushan
      gisplan run scenarios/yongchuan-2025.toml --choropleth floor_area --basemap osm
    """
    check_basemap(basemap, tianditu_key)  # before the long run, not after it
    sc = load_scenario(scenario)
    store = workspace or sc.workspace
    cat = catalogue_for(sc, catalogue_files)
    import_scenario(sc, store, cat)
    meta = list_layers(store)
    illustrative = bool(meta["illustrative"].any())
    meta["illustrative"] = meta["illustrative"].map({1: "示意 illustrative", 0: "real"})
    click.echo(f"\n{sc.name}\nworkspace: {os.path.normpath(store)}\n")
    click.echo(format_table(meta[["layer", "kind", "row_count", "illustrative", "crs_given"]]))
    result = run_scenario(store, sc, cat, progress=sys.stderr.isatty(), propose=propose)
    if result.coverage is not None and result.coverage.network is not None:
        click.echo(f"\nroads: {result.coverage.network.summary()}")
    elif result.coverage_note:
        click.echo(f"\ncoverage not measured: {result.coverage_note}")
    table = result.indicators.copy()
    if len(table):
        table["value"] = table["value"].round(1)
        columns = {"indicator_id": "编号 id", "name_zh": "指标", "unit": "单位", "baseline_2020": "2020年(规划)",
                   "value": "测算 measured", "target_2025": "2025年目标", "status": "状态 status",
                   "method": "方法 method", "basis": "依据 basis"}
        click.echo("\n" + format_table(table.rename(columns=columns)[list(columns.values())]))
    _print_gaps(result)
    _print_proposals(result)
    if "townships" not in set(meta["layer"]):
        click.echo("\nNo township polygons in this workspace: points were checked against the district outline "
                   "only, and township-level indicators use the declared division codes.")
    target = out or store.with_name(f"{store.stem}_results")
    files = write_results(result, out_dir=target, store=store, illustrative=illustrative)
    if draw_map:
        files.append(write_map(map_layers(target / "results.gpkg", store, sc, cat), target / "map.html",
                               choropleth=choropleth, basemap=basemap, tianditu_key=tianditu_key))
    click.echo("\nwritten:")
    for path in files:
        click.echo(os.path.normpath(path))
    if illustrative:
        click.echo("\n示意 — facility and household layers are generated illustrative data, not real facilities; "
                   "measured values show how the tool works, not the district's real state.")


def _print_proposals(result: RunResult) -> None:
    table = result.indicators
    if "new_sites" not in table or not table["new_sites"].notna().any():
        return
    rows = table[table["new_sites"].notna()]
    shown = pd.DataFrame({"编号 id": rows["indicator_id"], "现状 now": rows["value"].round(1),
                          "目标 target": rows["target_2025"], "新增 new sites": rows["new_sites"].astype(int),
                          "建成后 after": rows["value_after"].round(1), "状态 after": rows["status_after"]})
    click.echo("\n选址建议 proposed sites to reach each target (phased order and locations in proposed_sites.csv):")
    click.echo(format_table(shown))


def _print_gaps(result: RunResult) -> None:
    gaps = result.gaps
    if len(gaps):
        top = gaps[gaps["rank"] <= 3][["facility_type", "rank", "population", "households", "township", "village"]]
        top = top.assign(population=top["population"].round(0), households=top["households"].round(0))
        click.echo("\n最大的未覆盖片区 largest uncovered areas (top 3 per type; all in gaps.csv):")
        click.echo(format_table(top))
    if len(result.admin_gaps):
        counts = result.admin_gaps.groupby(["facility_type", "level"]).size().rename("lacking").reset_index()
        click.echo("\n缺少设施的行政单元 divisions lacking a required facility (all in admin_gaps.csv):")
        click.echo(format_table(counts))


cli.add_command(coverage_command)
cli.add_command(propose_command)
cli.add_command(map_command)


def main() -> None:
    """Entry point of the `gisplan` command."""
    cli(prog_name="gisplan")
