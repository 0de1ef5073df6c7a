"""`gisplan history`, `gisplan undo`, `gisplan revert`: who changed what, when and why; take a change back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from gisplan.cli.options import format_table, workspace_option
from gisplan.i18n import _

if TYPE_CHECKING:
    from gisplan.store import LayerChange, Workspace

__all__ = ["describe_change", "history_command", "revert_command", "undo_command", "user_options"]


def user_options(func: Any) -> Any:
    """``--user`` (who; env GISPLAN_USER, default the login name) and ``--note`` (why)."""
    func = click.option("--note", help="Why: recorded with the change (批文号, 理由 …).")(func)
    return click.option("--user", envvar="GISPLAN_USER",
                        help="Who makes the change (env GISPLAN_USER; default: the login name).")(func)


def _local(at: pd.Series) -> pd.Series:
    """UTC ISO times as China Standard Time, to the second."""
    local = pd.to_datetime(at, utc=True, format="ISO8601").dt.tz_convert("Asia/Shanghai")
    return local.dt.strftime("%Y-%m-%d %H:%M:%S")


def describe_change(op: str, before: str | None, after: str | None, *, geometry_changed: bool = False,
                    width: int = 80) -> str:
    """One line saying what changed in a row: the fields that differ (``name: 甲 → 乙``), or the row added or
    removed.

    Examples
    --------
    >>> describe_change("update", '{"name": "甲", "n": 1}', '{"name": "乙", "n": 1}')
    'name: 甲 → 乙'
    >>> describe_change("insert", None, '{"name": "丙"}')
    '新增 added'
    """
    if op == "insert":
        return "新增 added"
    if op == "delete":
        return "删除 removed"
    b = json.loads(before) if before else {}
    a = json.loads(after) if after else {}
    parts = [f"{k}: {_short(b.get(k))} → {_short(a.get(k))}" for k in dict.fromkeys([*b, *a]) if b.get(k) != a.get(k)]
    if geometry_changed:
        parts.append("geometry 图形")
    text = "; ".join(parts) or "(值相同 same values)"
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(value: Any) -> str:
    return "—" if value is None else str(value)


_EPILOG = """\b
Examples:
  gisplan history -w work/yongchuan.gpkg                    # every revision: who, when, why, which layers
  gisplan history -w work/yongchuan.gpkg --unit 500118102003 # every change to one unit (code), any layer
  gisplan history -w work/yongchuan.gpkg --name 朱龙花村 --layer places
  gisplan undo -w work/yongchuan.gpkg --note "误操作"
  gisplan revert 12 -w work/yongchuan.gpkg                  # take back revision 12 (reverting an undo redoes)
"""


@click.command("history", epilog=_EPILOG)
@click.option("--layer", help="Only this layer.")
@click.option("--unit", help="Only rows of this code (12-digit division code, place id, facility id …).")
@click.option("--name", help="Only rows whose name contains this text.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0), help="Lines (0: all).")
@workspace_option
def history_command(layer: str | None, unit: str | None, name: str | None, limit: int, workspace: Workspace) -> None:
    """变更历史：谁、何时、为何改了什么 (history: who changed what, when and why).

    Without --layer/--unit/--name, one line per revision; with them, one line per changed row (before →
    after). Times are China Standard Time.
    """
    if layer is None and unit is None and name is None:
        revs = workspace.revisions()
        if revs.empty:
            click.echo(_("{workspace} has no recorded history yet.").format(workspace=workspace.label))
            return
        undoes = revs["undoes"].astype(object).where(revs["undoes"].notna(), None)
        table = revs.assign(at=_local(revs["at"]), undoes=undoes)
        shown = table[["revision", "at", "user", "action", "note", "layers", "undoes"]]
    else:
        rows = workspace.history(layer=layer, unit=unit, name=name)
        if rows.empty:
            click.echo(_("no recorded change matches."))
            return
        change = [describe_change(str(op), before, after, geometry_changed=bool(geom))
                  for op, before, after, geom in zip(rows["op"], rows["before"], rows["after"],
                                                     rows["geometry_changed"], strict=True)]
        shown = rows.assign(at=_local(rows["at"]), change=change)[
            ["revision", "at", "user", "action", "note", "layer", "key", "label", "op", "change"]]
    if limit and len(shown) > limit:
        click.echo(_("… {n} earlier lines (--limit 0 shows all)").format(n=len(shown) - limit))
        shown = shown.tail(limit)
    click.echo(format_table(shown))


@click.command("undo", epilog=_EPILOG)
@user_options
@workspace_option
def undo_command(user: str | None, note: str | None, workspace: Workspace) -> None:
    """撤销最近一次修改 (undo the last change; run again to go further back).

    The layers it touched are restored exactly (rows, values, geometry, order, metadata) as a new revision,
    so the undo itself is in the history and can be reverted (redo).
    """
    target = workspace.undoable()
    rev = workspace.undo(user=user, note=note)
    _report(workspace, rev, _("undid revision {revision}").format(revision=target))


@click.command("revert", epilog=_EPILOG)
@click.argument("revision", type=click.IntRange(min=1))
@user_options
@workspace_option
def revert_command(revision: int, user: str | None, note: str | None, workspace: Workspace) -> None:
    """撤回指定版本的修改 (take back what REVISION did; reverting an undo redoes it).

    Refused, with nothing changed, if a layer REVISION touched was changed again later: the message names
    the later revisions to revert first, who made them and when. On PostGIS (a shared store) undo and revert
    are new revisions too, and a row edit made since counts as a change.
    """
    rev = workspace.revert(revision, user=user, note=note)
    _report(workspace, rev, _("reverted revision {revision}").format(revision=revision))


def _report(workspace: Workspace, rev: int, what: str) -> None:
    changes = [c for _rev, c in workspace.layer_changes(revision=rev)]
    click.echo(_("{what} of {workspace} as revision {revision}:").format(what=what, workspace=workspace.label,
                                                                        revision=rev))
    for change in changes:
        click.echo(f"  {change.layer}: {_counts(change)}")


def _counts(change: LayerChange) -> str:
    c = change.counts
    if change.schema_after is None:
        return _("layer removed 图层已删除")
    if change.schema_before is None:
        return _("layer created with {n} rows").format(n=c["insert"])
    return _("{added} added, {changed} changed, {removed} removed").format(
        added=c["insert"], changed=c["update"], removed=c["delete"])
