"""The place-name register in a workspace: start it from the gazetteer, run the naming workflow, retire and
edit names, check, search, export the two lists, and keep sign records with their QR codes.

Every change is one workspace transaction (so it is in the history, with who and why, and ``gisplan undo``
takes it back exactly). Layers: ``places`` (the register), ``place_applications`` (the naming workflow) and
``place_signs`` (地名标志).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import shapely

from gisplan.errors import PlaceNameError
from gisplan.i18n import _
from gisplan.io.atomic import atomic_path, write_atomic_csv
from gisplan.io.export import write_xlsx
from gisplan.placenames.checks import check_names
from gisplan.placenames.register import (
    APPLICATION_COLUMNS,
    PLACE_COLUMNS,
    Application,
    approve,
    edit_place,
    empty_applications,
    empty_register,
    name_fields,
    next_id,
    places_from_gazetteer,
    retire,
    stage_after,
)
from gisplan.placenames.search import SearchIndex, build_index
from gisplan.placenames.signs import SIGN_COLUMNS, qr_image, record_url
from gisplan.store import LayerWrite, Workspace
from gisplan.vocab import NameStage, PlaceStatus, SignState, SignType

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "APPLICATIONS",
    "PLACES",
    "SIGNS",
    "add_sign",
    "announce_application",
    "approve_application",
    "check_register",
    "edit_register_place",
    "export_lists",
    "export_sign_codes",
    "read_applications",
    "read_register",
    "read_signs",
    "register_index",
    "reject_application",
    "retire_place",
    "review_application",
    "start_register",
    "submit_application",
]

logger = logging.getLogger(__name__)

PLACES = "places"
APPLICATIONS = "place_applications"
SIGNS = "place_signs"


def _today() -> str:
    return dt.date.today().isoformat()


def read_register(ws: Workspace) -> gpd.GeoDataFrame:
    """The register (empty when the workspace has none yet)."""
    if not ws.exists() or not ws.has_layer(PLACES):
        return empty_register()
    frame = ws.read_layer(PLACES)
    for column in PLACE_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame


def read_applications(ws: Workspace) -> pd.DataFrame:
    """The naming applications (empty when there are none)."""
    if not ws.exists() or not ws.has_layer(APPLICATIONS):
        return empty_applications()
    return ws.read_table(APPLICATIONS)


def read_signs(ws: Workspace) -> gpd.GeoDataFrame:
    """The sign records (empty when there are none)."""
    if not ws.exists() or not ws.has_layer(SIGNS):
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in SIGN_COLUMNS})
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    return ws.read_layer(SIGNS)


def _write(ws: Workspace, layers: Mapping[str, pd.DataFrame], *, action: str, detail: dict[str, object],
           user: str | None, note: str | None) -> int:
    writes = [LayerWrite(name, "register", frame, note="地名信息库 place-name register")
              for name, frame in layers.items()]
    return ws.write(writes, action=action, detail=detail, user=user, note=note, lock=False)


def start_register(ws: Workspace, *, gazetteer: pd.DataFrame | None = None, source: str = "gazetteer",
                   user: str | None = None, note: str | None = None) -> int:
    """Enter the gazetteer's divisions into the register (the workspace's ``gazetteer`` layer by default);
    divisions already in it are left as they are. Returns the number of names added.

    Raises
    ------
    PlaceNameError
        If there is no gazetteer to start from, or it lacks code12/name/level.
    """
    with ws.lock():
        if gazetteer is None:
            if not ws.exists() or not ws.has_layer("gazetteer"):
                msg = (_("{label} has no gazetteer layer; import one first (`gisplan layers import 区划代码.csv --kind "
                         "gazetteer`) or give `--gazetteer FILE`.").format(label=ws.label))
                raise PlaceNameError(msg)
            gazetteer = ws.read_table("gazetteer")
            source = _("gazetteer layer of {label}").format(label=ws.label)
        register = read_register(ws)
        new = places_from_gazetteer(gazetteer, source=source)
        new = new[~new["place_id"].isin(register["place_id"])]
        if new.empty:
            return 0
        merged = gpd.GeoDataFrame(pd.concat([register, new], ignore_index=True), geometry="geometry", crs="EPSG:4326")
        _write(ws, {PLACES: merged}, action="places-import", detail={"source": source, "added": len(new)},
               user=user, note=note or f"区划入库 {source}")
        return len(new)


def _candidate(register: gpd.GeoDataFrame, app: Mapping[str, object]) -> pd.DataFrame:
    fields = name_fields(str(app["proposed_name"]), str(app["category"]))
    target = app.get("place_id")
    pid = target if isinstance(target, str) and target else f"(申报 {app['application_id']})"
    return pd.DataFrame([fields | {"place_id": pid, "category": app["category"], "parent_id": app.get("parent_id")}])


def submit_application(ws: Workspace, application: Application, *, user: str | None = None,
                       note: str | None = None, on: str | None = None,
                       personal_names: Iterable[str] = ()) -> tuple[str, pd.DataFrame]:
    """申报: record a naming application and check the name; return its id and the problems found.

    Raises
    ------
    PlaceNameError
        If the parent or the place to rename is not a current name of the register.
    """
    with ws.lock():
        register = read_register(ws)
        current = register[register["status"] == PlaceStatus.CURRENT.value]
        if application.parent_id is not None and application.parent_id not in set(current["place_id"]):
            msg = (_("parent {parent_id!r} is not a current name of the register; give the code or id of the "
                     "township (or district) the name belongs to (`gisplan places search`).").format(
                    parent_id=application.parent_id))
            raise PlaceNameError(msg)
        if application.place_id is not None and application.place_id not in set(current["place_id"]):
            msg = _("place {place_id!r} to rename is not a current name of the register.").format(
                    place_id=application.place_id)
            raise PlaceNameError(msg)
        apps = read_applications(ws)
        app_id = next_id(apps["application_id"], "A")
        row = {c: None for c in APPLICATION_COLUMNS} | {
            "application_id": app_id, "kind": "更名" if application.place_id else "新增",
            "proposed_name": application.proposed_name, "category": application.category.value,
            "parent_id": application.parent_id, "place_id": application.place_id, "applicant": application.applicant,
            "stage": NameStage.SUBMITTED.value, "submitted_date": on or _today(), "origin": application.origin,
            "remarks": application.remarks, "basis": application.basis, "lon": application.lon, "lat": application.lat}
        problems = check_names(_candidate(register, row), register, personal_names=personal_names)
        row["check_messages"] = _messages(problems)
        apps = pd.concat([apps, pd.DataFrame([row]).astype({"lon": "float64", "lat": "float64"})], ignore_index=True)
        _write(ws, {APPLICATIONS: apps}, action="places-submit", detail={"application": app_id},
               user=user, note=note or f"申报 {application.proposed_name}")
        return app_id, problems


def _row(frame: pd.DataFrame, i: int) -> dict[str, object]:
    return {str(k): v for k, v in frame.loc[i].items()}


def _name(apps: pd.DataFrame, i: int) -> str:
    return str(apps.at[i, "proposed_name"])


def _messages(problems: pd.DataFrame) -> str | None:
    lines = [f"[{s}] {r}: {m}" for s, r, m in zip(problems["severity"], problems["rule"], problems["message"],
                                                  strict=True)]
    return "\n".join(lines) or None


def _application(apps: pd.DataFrame, app_id: str) -> int:
    hit = apps.index[apps["application_id"] == app_id]
    if len(hit) != 1:
        known = ", ".join(apps["application_id"].astype(str).tail(5)) or "none"
        msg = _("no application {app_id!r} (latest: {known}); `gisplan places applications` lists them.").format(
                app_id=app_id, known=known)
        raise PlaceNameError(msg)
    return int(hit[0])


def review_application(ws: Workspace, app_id: str, *, reviewer: str, user: str | None = None,
                       note: str | None = None, on: str | None = None,
                       personal_names: Iterable[str] = ()) -> pd.DataFrame:
    """审核: check the name again against the register as it is now; pass it to 批准 only when no check
    fails with an error (warnings are recorded for the approver). Returns the problems.

    Raises
    ------
    PlaceNameError
        If the application is not at 申报, or a check fails (then reject it with a reason).
    """
    with ws.lock():
        apps = read_applications(ws)
        i = _application(apps, app_id)
        stage_after(str(apps.loc[i, "stage"]), NameStage.REVIEWED)
        register = read_register(ws)
        problems = check_names(_candidate(register, _row(apps, i)), register, personal_names=personal_names)
        errors = problems[problems["severity"] == "error"]
        if len(errors):
            lines = "\n".join(f"  {r.rule}: {r.message}" for r in errors.itertuples())
            msg = (_("application {app_id} ({name}) fails the name checks:\n{lines}\nReject it with a reason: "
                     "`gisplan places reject {app_id} --reason …`.").format(
                    app_id=app_id, name=_name(apps, i), lines=lines))
            raise PlaceNameError(msg)
        apps.loc[i, ["stage", "reviewed_date", "reviewer"]] = [NameStage.REVIEWED.value, on or _today(), reviewer]
        apps.loc[i, "check_messages"] = _messages(problems)
        _write(ws, {APPLICATIONS: apps}, action="places-review", detail={"application": app_id},
               user=user, note=note or f"审核 {_name(apps, i)}")
        return problems


def reject_application(ws: Workspace, app_id: str, *, reason: str, user: str | None = None,
                       on: str | None = None) -> None:
    """驳回 an application at 申报 or 审核, with the reason.

    Raises
    ------
    PlaceNameError
        If the reason is empty or the application is past 审核.
    """
    if not reason.strip():
        msg = _("a rejection needs a reason (`--reason`), e.g. 与金龙镇金龙村同音.")
        raise PlaceNameError(msg)
    with ws.lock():
        apps = read_applications(ws)
        i = _application(apps, app_id)
        stage_after(str(apps.loc[i, "stage"]), NameStage.REJECTED)
        apps.loc[i, ["stage", "rejection_reason", "reviewed_date"]] = [NameStage.REJECTED.value, reason, on or _today()]
        _write(ws, {APPLICATIONS: apps}, action="places-reject", detail={"application": app_id},
               user=user, note=f"驳回 {_name(apps, i)}：{reason}")


def approve_application(ws: Workspace, app_id: str, *, user: str | None = None, note: str | None = None,
                        on: str | None = None) -> str:
    """批准: the name becomes a standard name of the register (a rename keeps the place's id and moves the old
    name to the historical list), in the same revision as the application's stage. Returns the place id.

    Raises
    ------
    PlaceNameError
        If the application has not passed 审核.
    """
    with ws.lock():
        apps = read_applications(ws)
        i = _application(apps, app_id)
        stage_after(str(apps.loc[i, "stage"]), NameStage.APPROVED)
        when = on or _today()
        register, place_id = approve(read_register(ws), _row(apps, i), date=when)
        apps.loc[i, ["stage", "approved_date", "place_id"]] = [NameStage.APPROVED.value, when, place_id]
        _write(ws, {PLACES: register, APPLICATIONS: apps}, action="places-approve",
               detail={"application": app_id, "place": place_id}, user=user,
               note=note or f"批准 {_name(apps, i)}")
        return place_id


def announce_application(ws: Workspace, app_id: str, *, user: str | None = None, note: str | None = None,
                         on: str | None = None) -> None:
    """公告: record the announcement date on the application and the standard name.

    Raises
    ------
    PlaceNameError
        If the application has not been approved.
    """
    with ws.lock():
        apps = read_applications(ws)
        i = _application(apps, app_id)
        stage_after(str(apps.loc[i, "stage"]), NameStage.ANNOUNCED)
        when = on or _today()
        register = read_register(ws)
        register.loc[register["place_id"] == apps.loc[i, "place_id"], "announced_date"] = when
        apps.loc[i, ["stage", "announced_date"]] = [NameStage.ANNOUNCED.value, when]
        _write(ws, {PLACES: register, APPLICATIONS: apps}, action="places-announce",
               detail={"application": app_id}, user=user, note=note or f"公告 {_name(apps, i)}")


def retire_place(ws: Workspace, place_id: str, *, reason: str, user: str | None = None,
                 on: str | None = None) -> None:
    """Move a standard name to the historical list (历史地名), with the reason and date."""
    with ws.lock():
        register = retire(read_register(ws), place_id, date=on or _today(), reason=reason)
        _write(ws, {PLACES: register}, action="places-retire", detail={"place": place_id}, user=user,
               note=f"注销 {place_id}：{reason}")


def edit_register_place(ws: Workspace, place_id: str, *, fields: Mapping[str, str | None],
                        location: tuple[float, float] | None = None, user: str | None = None,
                        note: str | None = None) -> None:
    """Edit a name's descriptive fields (origin, remarks, category …) or location (lon, lat in EPSG:4326)."""
    with ws.lock():
        register = edit_place(read_register(ws), place_id, fields=fields, location=location)
        _write(ws, {PLACES: register}, action="places-edit", detail={"place": place_id, "fields": sorted(fields)},
               user=user, note=note or f"修改 {place_id}")


def check_register(ws: Workspace, *, personal_names: Iterable[str] = ()) -> pd.DataFrame:
    """Check every current name of the register against its siblings and the rules."""
    register = read_register(ws)
    current = register[register["status"] == PlaceStatus.CURRENT.value]
    return check_names(current, register, personal_names=personal_names)


def register_index(ws: Workspace) -> SearchIndex:
    """A search index of the register (current and historical names)."""
    return build_index(pd.DataFrame(read_register(ws).drop(columns="geometry")))


_LIST_COLUMNS = {
    "place_id": "地名编号", "standard_name": "标准名称", "pinyin": "汉语拼音", "category": "类别", "specific": "专名",
    "generic": "通名", "code12": "区划代码", "parent_id": "上级", "approved_date": "批准日期",
    "announced_date": "公告日期", "retired_date": "注销/更名日期", "former_of": "现名编号", "origin": "地名含义/由来",
    "remarks": "备注", "pinyin_review": "多音字待核",
}


def export_lists(ws: Workspace, out_dir: Path, *, fmt: str = "xlsx") -> list[Path]:
    """Write the 标准地名录 (current names) and the 历史地名保护名录 (historical names) as XLSX or CSV.

    Returns
    -------
    list of Path
        The two files written.
    """
    register = pd.DataFrame(read_register(ws).drop(columns="geometry"))
    names = dict(zip(register["place_id"], register["standard_name"], strict=True))
    register["parent_id"] = pd.Series([f"{names.get(p, '')}（{p}）" if isinstance(p, str) and p else None
                                       for p in register["parent_id"]], index=register.index, dtype=object)
    current = register[register["status"] == PlaceStatus.CURRENT.value]
    historical = register[register["status"] == PlaceStatus.HISTORICAL.value]
    former = [f"{names.get(p, '')}（{p}）" if isinstance(p, str) and p else None for p in historical["former_of"]]
    historical = historical.assign(former_of=pd.Series(former, index=historical.index, dtype=object))
    lists = {
        "标准地名录": current[[c for c in _LIST_COLUMNS if c not in {"retired_date", "former_of"}]],
        "历史地名保护名录": historical[list(_LIST_COLUMNS)],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for title, frame in lists.items():
        table = frame.rename(columns=_LIST_COLUMNS).reset_index(drop=True)
        path = out_dir / f"{title}.{fmt}"
        if fmt == "csv":
            write_atomic_csv(table, path)
        else:
            write_xlsx({title: table}, path, notes=[f"{title}，导出自 {ws.label}，{_today()}，共 {len(table)} 条。"])
        paths.append(path)
    return paths


def add_sign(  # noqa: PLR0913 - a sign record's fields, keyword-only
    ws: Workspace, place_id: str, *, sign_type: SignType, state: SignState, installed: str | None,
    location: tuple[float, float] | None, remarks: str | None = None, user: str | None = None,
    note: str | None = None,
) -> str:
    """Record a place-name sign (地名标志) showing a current standard name; returns its id (``S000001``)."""
    with ws.lock():
        register = read_register(ws)
        hit = register[(register["place_id"] == place_id) & (register["status"] == PlaceStatus.CURRENT.value)]
        if hit.empty:
            msg = _("no current place {place_id!r} in the register; a sign shows a standard name.").format(
                    place_id=place_id)
            raise PlaceNameError(msg)
        place = hit.iloc[0]
        signs = read_signs(ws)
        sign_id = next_id(signs["sign_id"], "S")
        point = shapely.Point(*location) if location is not None else place.geometry
        row = {"sign_id": sign_id, "place_id": place_id, "standard_name": place["standard_name"],
               "pinyin": place["pinyin"], "sign_type": sign_type.value, "state": state.value,
               "installed_date": installed, "inspected_date": None, "remarks": remarks, "url": None}
        new = gpd.GeoDataFrame(pd.DataFrame([row]), geometry=gpd.GeoSeries([point], crs="EPSG:4326"))
        signs = gpd.GeoDataFrame(pd.concat([signs, new], ignore_index=True), geometry="geometry", crs="EPSG:4326")
        _write(ws, {SIGNS: signs}, action="places-sign", detail={"sign": sign_id, "place": place_id}, user=user,
               note=note or f"地名标志 {place['standard_name']}")
        return sign_id


def _write_bytes(data: bytes, path: Path) -> None:
    with atomic_path(path, ".tmp") as tmp:
        Path(tmp).write_bytes(data)


def export_sign_codes(ws: Workspace, out_dir: Path, *, base_url: str, kind: str = "png") -> pd.DataFrame:
    """Write one QR image per sign (``<sign_id>_<place_id>.png|svg``) linking to its name's public record, and
    ``signs.csv`` listing every sign with its URL and image file. Returns that table."""
    signs = pd.DataFrame(read_signs(ws).drop(columns="geometry"))
    out_dir.mkdir(parents=True, exist_ok=True)
    urls = [record_url(base_url, str(p)) for p in signs["place_id"]]
    files = []
    for sign_id, place_id, url in zip(signs["sign_id"], signs["place_id"], urls, strict=True):
        path = out_dir / f"{sign_id}_{place_id}.{kind}"
        _write_bytes(qr_image(url, kind=kind), path)
        files.append(path.name)
    table = signs.assign(url=urls, qr_file=files)
    write_atomic_csv(table, out_dir / "signs.csv")
    return table
