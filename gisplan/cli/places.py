"""`gisplan places`: the place-name register (地名信息库) — naming workflow, checks, search, lists and signs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from gisplan.cli.history import user_options
from gisplan.cli.options import format_table, workspace_option
from gisplan.errors import PlaceNameError
from gisplan.i18n import _
from gisplan.io.tables import read_table
from gisplan.placenames.register import Application
from gisplan.placenames.search import search
from gisplan.vocab import PlaceCategory, PlaceStatus, SignState, SignType
from gisplan.workflows import places as wf

if TYPE_CHECKING:
    from gisplan.store import Workspace

__all__ = ["places"]

_EPILOG = """\b
A planner's session (approve a new road name, export both lists, history, undo):
  gisplan places import-gazetteer -w work/yc.gpkg            # the divisions are the first entries
  gisplan places add 凤凰大道 --category 街路巷 --parent 500118001000 \\
      --applicant 中山路街道办 --origin 因凤凰湖得名 --lon 105.93 --lat 29.36 -w work/yc.gpkg   # 申报 → A000001
  gisplan places review A000001 --reviewer 地名科 -w work/yc.gpkg   # 审核: the name checks run again
  gisplan places approve A000001 --note "永川府地名〔2025〕3号" -w work/yc.gpkg   # 批准: now a standard name
  gisplan places announce A000001 -w work/yc.gpkg            # 公告
  gisplan places search zlhc -w work/yc.gpkg                 # 朱龙花村 by initials (pinyin, code, 同音 too)
  gisplan places export --out out/地名 -w work/yc.gpkg       # 标准地名录.xlsx and 历史地名保护名录.xlsx
  gisplan history --layer places -w work/yc.gpkg
  gisplan undo -w work/yc.gpkg
"""


@click.group(epilog=_EPILOG)
def places() -> None:
    """地名信息库：标准地名、命名审批、检查、查询、名录与地名标志 (the place-name register)."""


def _personal(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        msg = _("cannot read the personal-name list {path} ({error}); give a UTF-8 text file, one name a line.").format(
            path=path, error=exc)
        raise PlaceNameError(msg) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


_personal_option = click.option(
    "--personal-names", type=click.Path(dir_okay=False, path_type=Path),
    help="UTF-8 text file of personal names to flag (one a line).")
_date_option = click.option("--date", "on", help="Date of the step (YYYY-MM-DD; default today).")


def _show_problems(problems: pd.DataFrame) -> None:
    if problems.empty:
        click.echo(_("name checks: no problem found 检查通过"))
        return
    click.echo(format_table(problems[["rule", "severity", "message"]]))


@places.command("import-gazetteer", epilog=_EPILOG)
@click.option("--gazetteer", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A gazetteer CSV/XLSX (code12, name, level, parent_code12); default the workspace's layer.")
@user_options
@workspace_option
def import_gazetteer(gazetteer: Path | None, user: str | None, note: str | None, workspace: Workspace) -> None:
    """区划入库：把区划代码表的各级区划作为首批标准地名 (enter the gazetteer's divisions into the register)."""
    frame = None
    source = "gazetteer"
    if gazetteer is not None:
        frame = read_table(gazetteer, known_headers=("code12", "name", "level")).frame
        source = str(gazetteer)
    added = wf.start_register(workspace, gazetteer=frame, source=source, user=user, note=note)
    click.echo(_("added {n} names to the register of {workspace}").format(n=added, workspace=workspace.label))


@places.command("add", epilog=_EPILOG)
@click.argument("name")
@click.option("--category", required=True, type=click.Choice([c.value for c in PlaceCategory]),
              help="National place-name category.")
@click.option("--parent", help="Code or id of the unit it belongs to (township for a street or village).")
@click.option("--applicant", required=True, help="申报单位/申报人.")
@click.option("--rename", "rename", help="Place id whose name this replaces (更名); the old name becomes historical.")
@click.option("--origin", help="地名含义/由来.")
@click.option("--remarks", help="备注.")
@click.option("--lon", type=float, help="Longitude (EPSG:4326).")
@click.option("--lat", type=float, help="Latitude (EPSG:4326).")
@_personal_option
@_date_option
@user_options
@workspace_option
def add(name: str, category: str, parent: str | None, applicant: str, rename: str | None, origin: str | None,
        remarks: str | None, lon: float | None, lat: float | None, personal_names: Path | None, on: str | None,
        user: str | None, note: str | None, workspace: Workspace) -> None:
    """申报：提交新地名或更名申请并检查 (submit a name; only approved names become standard)."""
    if (lon is None) != (lat is None):
        raise click.UsageError(_("give both --lon and --lat, or neither."))
    app = Application(name.strip(), PlaceCategory(category), parent, applicant, place_id=rename, origin=origin,
                      remarks=remarks, lon=lon, lat=lat)
    app_id, problems = wf.submit_application(workspace, app, user=user, note=note, on=on,
                                             personal_names=_personal(personal_names))
    click.echo(_("application {id}: {name} — 申报 recorded").format(id=app_id, name=name))
    _show_problems(problems)


@places.command("review", epilog=_EPILOG)
@click.argument("application")
@click.option("--reviewer", required=True, help="审核人/审核单位.")
@_personal_option
@_date_option
@user_options
@workspace_option
def review(application: str, reviewer: str, personal_names: Path | None, on: str | None, user: str | None,
           note: str | None, workspace: Workspace) -> None:
    """审核：重新检查名称，无错误方可进入批准 (review: pass only when no check fails)."""
    problems = wf.review_application(workspace, application, reviewer=reviewer, user=user, note=note, on=on,
                                     personal_names=_personal(personal_names))
    click.echo(_("application {id}: 审核 passed").format(id=application))
    _show_problems(problems)


@places.command("approve", epilog=_EPILOG)
@click.argument("application")
@_date_option
@user_options
@workspace_option
def approve(application: str, on: str | None, user: str | None, note: str | None, workspace: Workspace) -> None:
    """批准：名称成为标准地名 (approve: the name becomes a standard name)."""
    place_id = wf.approve_application(workspace, application, user=user, note=note, on=on)
    click.echo(_("application {id}: 批准 — standard name {place}").format(id=application, place=place_id))


@places.command("announce", epilog=_EPILOG)
@click.argument("application")
@_date_option
@user_options
@workspace_option
def announce(application: str, on: str | None, user: str | None, note: str | None, workspace: Workspace) -> None:
    """公告：记录公告日期 (announce)."""
    wf.announce_application(workspace, application, user=user, note=note, on=on)
    click.echo(_("application {id}: 公告 recorded").format(id=application))


@places.command("reject", epilog=_EPILOG)
@click.argument("application")
@click.option("--reason", required=True, help="驳回理由.")
@_date_option
@user_options
@workspace_option
def reject(application: str, reason: str, on: str | None, user: str | None, note: str | None,
           workspace: Workspace) -> None:
    """驳回：说明理由 (reject with a reason)."""
    del note
    wf.reject_application(workspace, application, reason=reason, user=user, on=on)
    click.echo(_("application {id}: 驳回 — {reason}").format(id=application, reason=reason))


@places.command("applications")
@workspace_option
def applications(workspace: Workspace) -> None:
    """列出命名申请及其阶段 (list naming applications and their stage)."""
    apps = wf.read_applications(workspace)
    cols = ["application_id", "kind", "proposed_name", "category", "parent_id", "stage", "submitted_date",
            "approved_date", "rejection_reason"]
    click.echo(format_table(apps[cols]) if len(apps) else _("no applications yet."))


@places.command("edit", epilog=_EPILOG)
@click.argument("place_id")
@click.option("--origin", help="地名含义/由来.")
@click.option("--remarks", help="备注.")
@click.option("--category", type=click.Choice([c.value for c in PlaceCategory]))
@click.option("--lon", type=float)
@click.option("--lat", type=float)
@user_options
@workspace_option
def edit(place_id: str, origin: str | None, remarks: str | None, category: str | None, lon: float | None,
         lat: float | None, user: str | None, note: str | None, workspace: Workspace) -> None:
    """修改地名的含义、备注、类别或位置 (a name itself changes only through `add --rename`)."""
    fields = {k: v for k, v in (("origin", origin), ("remarks", remarks), ("category", category)) if v is not None}
    if (lon is None) != (lat is None):
        raise click.UsageError(_("give both --lon and --lat, or neither."))
    location = (lon, lat) if lon is not None and lat is not None else None
    if not fields and location is None:
        raise click.UsageError(_("nothing to change: give --origin, --remarks, --category or --lon/--lat."))
    wf.edit_register_place(workspace, place_id, fields=fields, location=location, user=user, note=note)
    click.echo(_("{place}: updated").format(place=place_id))


@places.command("retire", epilog=_EPILOG)
@click.argument("place_id")
@click.option("--reason", required=True, help="注销理由 (撤并、更名 …).")
@_date_option
@user_options
@workspace_option
def retire(place_id: str, reason: str, on: str | None, user: str | None, note: str | None,
           workspace: Workspace) -> None:
    """注销：标准地名转入历史地名 (retire a name to the historical list)."""
    del note
    wf.retire_place(workspace, place_id, reason=reason, user=user, on=on)
    click.echo(_("{place}: moved to the historical list 历史地名").format(place=place_id))


@places.command("show")
@click.argument("place_id")
@workspace_option
def show(place_id: str, workspace: Workspace) -> None:
    """显示一条地名记录 (show one name with all its fields)."""
    register = wf.read_register(workspace)
    hit = register[(register["place_id"] == place_id) | (register["code12"] == place_id)]
    if hit.empty:
        msg = _("no place {place} in the register of {workspace}; `gisplan places search` finds it.").format(
            place=repr(place_id), workspace=workspace.label)
        raise PlaceNameError(msg)
    row = hit.iloc[0]
    for column, value in row.drop(labels="geometry").items():
        if value is not None and not (isinstance(value, float) and pd.isna(value)):
            click.echo(f"{column:>15}: {value}")
    if row.geometry is not None and not row.geometry.is_empty:
        click.echo(f"{'location':>15}: {row.geometry.x:.6f}, {row.geometry.y:.6f}")


@places.command("search", epilog=_EPILOG)
@click.argument("query")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--historical/--current-only", default=True, show_default=True, help="Include historical names.")
@workspace_option
def search_command(query: str, limit: int, historical: bool, workspace: Workspace) -> None:
    """查询：汉字、拼音（带或不带声调、首字母）或代码，容错 (search by characters, pinyin or code)."""
    index = wf.register_index(workspace)
    started = time.perf_counter()
    found = search(index, query, limit=limit if historical else limit * 3)
    if not historical:
        found = found[found["status"] != PlaceStatus.HISTORICAL.value].head(limit)
    elapsed_ms = (time.perf_counter() - started) * 1000
    click.echo(format_table(found) if len(found) else _("nothing found 未找到"))
    click.echo(_("({n} names searched in {ms:.1f} ms)").format(n=len(index), ms=elapsed_ms), err=True)


@places.command("check", epilog=_EPILOG)
@_personal_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0), help="Lines (0: all).")
@workspace_option
def check(personal_names: Path | None, limit: int, workspace: Workspace) -> None:
    """检查全部标准地名：重名、同音、通名不符、生僻字、人名、多音字 (check every current name)."""
    problems = wf.check_register(workspace, personal_names=_personal(personal_names))
    if problems.empty:
        click.echo(_("no problem found 检查通过"))
        return
    summary = problems.groupby(["rule", "severity"]).size().rename("names").reset_index()
    click.echo(format_table(summary))
    shown = problems if limit == 0 else problems.head(limit)
    click.echo(format_table(shown[["place_id", "name", "rule", "severity", "message"]]))
    if len(shown) < len(problems):
        click.echo(_("… {n} more (--limit 0 shows all)").format(n=len(problems) - len(shown)))


@places.command("export", epilog=_EPILOG)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", default="xlsx", show_default=True, type=click.Choice(["xlsx", "csv"]))
@workspace_option
def export(out_dir: Path, fmt: str, workspace: Workspace) -> None:
    """导出标准地名录与历史地名保护名录 (export the standard list and the protected historical list)."""
    for path in wf.export_lists(workspace, out_dir, fmt=fmt):
        click.echo(str(path))


@places.group("signs")
def signs() -> None:
    """地名标志：标志记录与二维码 (place-name signs and their QR codes)."""


@signs.command("add")
@click.argument("place_id")
@click.option("--type", "sign_type", required=True, type=click.Choice([t.value for t in SignType]))
@click.option("--state", default=SignState.GOOD.value, show_default=True,
              type=click.Choice([s.value for s in SignState]))
@click.option("--installed", help="Installation date (YYYY-MM-DD).")
@click.option("--lon", type=float, help="Sign location (EPSG:4326); default the name's location.")
@click.option("--lat", type=float)
@click.option("--remarks")
@user_options
@workspace_option
def signs_add(place_id: str, sign_type: str, state: str, installed: str | None, lon: float | None,
              lat: float | None, remarks: str | None, user: str | None, note: str | None,
              workspace: Workspace) -> None:
    """登记一块地名标志 (record a sign showing a standard name).

    \b
    Example:
      gisplan places signs add P000001 --type 街路巷标志 --installed 2025-06-01 --lon 105.93 --lat 29.36 -w yc.gpkg
    """
    if (lon is None) != (lat is None):
        raise click.UsageError(_("give both --lon and --lat, or neither."))
    location = (lon, lat) if lon is not None and lat is not None else None
    sign_id = wf.add_sign(workspace, place_id, sign_type=SignType(sign_type), state=SignState(state),
                          installed=installed, location=location, remarks=remarks, user=user, note=note)
    click.echo(_("sign {sign} recorded for {place}").format(sign=sign_id, place=place_id))


@signs.command("qr")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--base-url", required=True, help="Public record URL, {id} = place id (http://HOST/places/{id}).")
@click.option("--format", "kind", default="png", show_default=True, type=click.Choice(["png", "svg"]))
@workspace_option
def signs_qr(out_dir: Path, base_url: str, kind: str, workspace: Workspace) -> None:
    """导出二维码图片，链接到地名公开记录 (write one QR image per sign, linking to its public record).

    \b
    Example:
      gisplan places signs qr --out out/二维码 --base-url "http://dm.yc.gov.cn/places/{id}" -w yc.gpkg
    """
    table = wf.export_sign_codes(workspace, out_dir, base_url=base_url, kind=kind)
    click.echo(_("{n} QR images and signs.csv written to {path}").format(n=len(table), path=out_dir))
