"""`gisplan serve`: a workspace as an OGC API – Features service (read-only) for QGIS and other GIS clients."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from gisplan.cli.options import workspace_option
from gisplan.i18n import _

if TYPE_CHECKING:
    from gisplan.store import Workspace

logger = logging.getLogger("gisplan")

_EPILOG = """\b
Examples:
  gisplan serve -w yc.gpkg                               # http://127.0.0.1:8000/
  gisplan serve -w "postgresql://planner@db:5432/civil?schema=yongchuan" --host 0.0.0.0 --port 8080
\b
In QGIS: Layer → Add Layer → Add WFS / OGC API – Features Layer, URL http://127.0.0.1:8000/.
Collections are the workspace's spatial layers; boundary lines, markers and inspections are left out unless
--include-boundaries (boundary data is sensitive). Pages: /collections/NAME/items?bbox=…&limit=…&offset=…, in a
stable order. OpenAPI: /openapi.json, documentation: /api.html. Read-only: no edits through the service yet.
"""


@click.command("serve", epilog=_EPILOG)
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--include-boundaries", is_flag=True, help="Also serve boundary lines, markers and inspections.")
def serve_command(workspace: Workspace, host: str, port: int, include_boundaries: bool) -> None:
    """发布 OGC API – Features 服务（只读）。 Serve the workspace's layers as OGC API – Features (read-only)."""
    try:
        import uvicorn  # noqa: PLC0415

        from gisplan.service import create_app  # noqa: PLC0415 - FastAPI only when serving
    except ImportError:
        msg = _("gisplan serve needs FastAPI and uvicorn: pip install 'gisplan[serve]'")
        raise click.UsageError(msg) from None
    app = create_app(workspace, include_sensitive=include_boundaries)
    click.echo(_("serving {label} on http://{host}:{port}/ (Ctrl+C stops)").format(
            label=workspace.label, host=host, port=port), err=True)
    # one worker: uvicorn with several workers stops setting TCP_NODELAY (≈ 40 ms added per kept-alive request)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="warning", server_header=False)
