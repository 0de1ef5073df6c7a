"""`gisplan serve`: a workspace as an OGC API – Features service with place-name query and authenticated edits, for
QGIS and other GIS clients; `gisplan serve token add|list|revoke` manages the API tokens."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from gisplan.cli.options import WORKSPACE, format_table, workspace_option
from gisplan.i18n import _
from gisplan.vocab import ServiceRole

if TYPE_CHECKING:
    from gisplan.store import Workspace

logger = logging.getLogger("gisplan")

_EPILOG = """\b
Examples:
  gisplan serve -w yc.gpkg                               # http://127.0.0.1:8000/ (read-only)
  gisplan serve -w yc.gpkg --allow-writes                # one writer: this service
  gisplan serve -w "postgresql://planner@db:5432/civil?schema=yongchuan" --host 0.0.0.0 --port 8080
  gisplan serve -w "postgresql://…" --cors-origin https://map.example.gov.cn --max-body-kb 512
  gisplan serve token add -w "postgresql://…" --user 张三 --role reviewer
\b
In QGIS: Layer → Add Layer → Add WFS / OGC API – Features Layer, URL http://127.0.0.1:8000/.
Collections are the workspace's spatial layers; boundary lines, markers and inspections are left out unless
--include-boundaries (boundary data is sensitive). Pages: /collections/NAME/items?bbox=…&limit=…&offset=…, in a
stable order. Place names: /places/search?q=…, /places/standard-names, /places/announcements (public);
searches are answered ahead of feature pages and edits (the public search box is interactive).
Edits (Authorization: Bearer TOKEN): PATCH /collections/NAME/items/ID with {"version": V, "properties": {…}}
(reviewer, admin; 409 when the row changed since version V); the naming workflow under /naming/applications
(applicant submits; reviewer reviews, rejects, approves, announces); GET /audit (admin). A PostGIS workspace is
read-write; a GeoPackage is read-only unless --allow-writes. OpenAPI: /openapi.json, documentation: /api.html.
"""

_KEYS_EPILOG = """\b
Examples:
  gisplan serve token add -w yc.gpkg --user 李四 --role applicant
  gisplan serve token list -w yc.gpkg
  gisplan serve token revoke -w yc.gpkg 3f9a1c2e
\b
The token is printed once and never stored: the workspace keeps only a salted hash. Roles: applicant (submits
naming applications), reviewer (reviews, approves, announces, edits features), admin (everything, the audit too).
"""


_required_workspace = click.option(
    "-w", "--workspace", type=WORKSPACE, envvar="GISPLAN_WORKSPACE", required=True,
    help="Workspace: a GeoPackage path or postgresql://user@host:port/db?schema=NAME (env GISPLAN_WORKSPACE).")


@click.group("serve", epilog=_EPILOG, invoke_without_command=True)
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--include-boundaries", is_flag=True, help="Also serve boundary lines, markers and inspections.")
@click.option("--allow-writes", is_flag=True,
              help="Accept edits on a GeoPackage workspace (one writer: this service). PostGIS always accepts them.")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Allow browser pages from ORIGIN to call the service (repeatable; none by default).")
@click.option("--max-body-kb", type=click.IntRange(1, 1024 * 1024), default=1024, show_default=True,
              help="Refuse larger request bodies (413).")
@click.pass_context
def serve_command(
    ctx: click.Context, workspace: Workspace, host: str, port: int, include_boundaries: bool, allow_writes: bool,
    cors_origins: tuple[str, ...], max_body_kb: int,
) -> None:
    """发布 OGC API – Features 服务、地名查询与授权编辑。 Serve OGC API – Features, place-name query and edits."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        import uvicorn  # noqa: PLC0415

        from gisplan.service import create_app  # noqa: PLC0415 - FastAPI only when serving
    except ImportError:
        msg = _("gisplan serve needs FastAPI and uvicorn: pip install 'gisplan[serve]'")
        raise click.UsageError(msg) from None
    for origin in cors_origins:
        if origin == "*" or not origin.startswith(("http://", "https://")):
            msg = _("--cors-origin must be an origin such as https://map.example.gov.cn (got {origin!r})").format(
                origin=origin)
            raise click.BadParameter(msg, param_hint="--cors-origin")
    app = create_app(workspace, include_sensitive=include_boundaries, allow_writes=True if allow_writes else None,
                     cors_origins=cors_origins, max_body_bytes=max_body_kb * 1024)
    click.echo(_("serving {label} on http://{host}:{port}/ (Ctrl+C stops)").format(
        label=workspace.label, host=host, port=port), err=True)
    # one worker: uvicorn with several workers stops setting TCP_NODELAY (≈ 40 ms added per kept-alive request)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="warning", server_header=False)


@serve_command.group("token", epilog=_KEYS_EPILOG)
def token_group() -> None:
    """管理服务的访问令牌。 Make, list and revoke the service's API tokens."""


@token_group.command("add", epilog=_KEYS_EPILOG)
@_required_workspace
@click.option("--user", required=True, help="Who holds the token (recorded with every write it makes).")
@click.option("--role", type=click.Choice([r.value for r in ServiceRole]), required=True, help="What it may do.")
def token_add(workspace: Workspace, user: str, role: str) -> None:
    """新建令牌（只显示一次）。 Make a token for USER with ROLE and print it once."""
    from gisplan.service.auth import make_token  # noqa: PLC0415 - FastAPI only when serving

    token_id, token = make_token(workspace, user=user, role=ServiceRole(role))
    click.echo(token)
    click.echo(_("token {token_id} for {user} ({role}) made; it is shown only now: keep it secret. "
                 "Requests carry it as `Authorization: Bearer TOKEN`.").format(token_id=token_id, user=user, role=role),
               err=True)


@token_group.command("list", epilog=_KEYS_EPILOG)
@_required_workspace
def token_list(workspace: Workspace) -> None:
    """列出令牌（不含令牌本身）。 List the tokens: id, user, role, made, revoked (never the token)."""
    from gisplan.service.auth import list_tokens  # noqa: PLC0415

    frame = list_tokens(workspace)
    click.echo(format_table(frame) if len(frame) else _("no tokens yet (`gisplan serve token add`)"))


@token_group.command("revoke", epilog=_KEYS_EPILOG)
@_required_workspace
@click.argument("token_id")
def token_revoke(workspace: Workspace, token_id: str) -> None:
    """吊销令牌。 Revoke token TOKEN_ID (a running service refuses it within 5 s)."""
    from gisplan.service.auth import revoke_token  # noqa: PLC0415

    revoke_token(workspace, token_id)
    click.echo(_("token {token_id} revoked").format(token_id=token_id))
