"""The service as one ASGI app: OGC API – Features reads, row edits, the naming workflow, place-name query, audit.

Around every request: a request id (``X-Request-Id``), a body size limit (413 with JSON), a catch-all that logs an
unexpected error with its request id and answers 500 JSON (never a stack trace), CORS closed unless origins are
named, a row in the workspace's ``service_audit`` table for every write (allowed or refused), and place-name search
answered ahead of the other requests (:mod:`gisplan.service.priority`).
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from gisplan.errors import ConflictError, GisplanError, PlaceNameError
from gisplan.service.auth import TokenBook
from gisplan.service.common import RequestError, error_response
from gisplan.service.edits import VersionBook, add_edit_routes
from gisplan.service.features import add_feature_routes
from gisplan.service.freshness import LayerClock
from gisplan.service.naming import add_naming_routes
from gisplan.service.places import add_place_routes
from gisplan.service.priority import SearchFirst
from gisplan.store import GeoPackageWorkspace
from gisplan.store.servicetables import append_audit

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fastapi.responses import JSONResponse
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from gisplan.store import Workspace

__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PATH_MAX = 500


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Guard:
    """Pure ASGI middleware: request id, body limit, catch-all 500, audit of writes."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, workspace: Workspace, audit: bool,
                 clock: LayerClock) -> None:
        self.app, self.max_body_bytes, self.workspace, self.audit = app, max_body_bytes, workspace, audit
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        sent = {"started": False, "status": 500, "audited": False}
        audit = self.audit and scope.get("method") in _WRITE_METHODS

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["started"], sent["status"] = True, int(message["status"])
                if scope.get("method") in _WRITE_METHODS - {"PATCH"}:  # the naming workflow's writes: the next
                    self.clock.touch()  # read asks the workspace at once (a row edit patches the caches itself)
                MutableHeaders(scope=message).append("X-Request-Id", request_id)
                if audit:  # before the answer leaves: an acknowledged write always has its audit row
                    sent["audited"] = True
                    await self._record(scope, state, int(message["status"]))
            await send(message)

        too_large = error_response(413, "PayloadTooLarge", f"请求体超过 {self.max_body_bytes // 1024} KB 上限 "
                                   f"(request body larger than {self.max_body_bytes} bytes)", request_id=request_id)
        length = Headers(scope=scope).get("content-length")
        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                await too_large(scope, receive, send_with_id)
                return
            received = 0

            async def limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        state["too_large"] = True
                        raise StarletteHTTPException(413)
                return message

            try:
                await self.app(scope, limited, send_with_id)
            except Exception:
                logger.exception("request %s (%s %s) failed", request_id, scope.get("method"), scope.get("path"))
                if not sent["started"]:
                    crash = error_response(500, "ServerError", "服务器内部错误，已记录 (internal error, logged with "
                                           f"request id {request_id})", request_id=request_id)
                    await crash(scope, receive, send_with_id)
        finally:
            if audit and not sent["audited"]:  # no answer was sent (the client went away)
                await self._record(scope, state, int(sent["status"]))

    async def _record(self, scope: Scope, state: dict[str, Any], status: int) -> None:
        caller = state.get("caller")
        client = scope.get("client")
        row = {"at": _now(), "user": getattr(caller, "user", None),
               "role": None if getattr(caller, "role", None) is None else str(caller.role),  # type: ignore[union-attr]
               "method": scope.get("method"), "path": str(scope.get("path", ""))[:_PATH_MAX],
               "client": client[0] if client else None, "status": status,
               "summary": state.get("summary") or ("refused" if status >= 400 else None),
               "request_id": state.get("request_id")}
        row = {k: v.replace("\x00", "\\x00") if isinstance(v, str) else v for k, v in row.items()}  # NUL: not text
        try:
            await anyio.to_thread.run_sync(append_audit, self.workspace, row)
        except Exception:  # the answer must still go out; the log keeps what the audit could not
            logger.exception("audit row for request %s not written: %r", state.get("request_id"), row)


def _handlers(app: FastAPI) -> None:
    def rid(request: Request) -> str | None:
        return getattr(request.state, "request_id", None)

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        request.state.summary = exc.description[:200]
        return error_response(exc.status, exc.code, exc.description, request_id=rid(request), headers=exc.headers)

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> JSONResponse:
        request.state.summary = str(exc)[:200]
        return error_response(409, "Conflict", str(exc), request_id=rid(request))

    @app.exception_handler(PlaceNameError)
    async def place_error(request: Request, exc: PlaceNameError) -> JSONResponse:
        request.state.summary = str(exc)[:200]
        return error_response(409, "Conflict", str(exc), request_id=rid(request))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                             for e in exc.errors()[:5])
        return error_response(400, "InvalidParameterValue", f"请求无效 (invalid request: {problems[:500]})",
                              request_id=rid(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if getattr(request.state, "too_large", False):
            return error_response(413, "PayloadTooLarge", "请求体过大 (request body too large)",
                                  request_id=rid(request))
        codes = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
        text = {404: "没有这个资源 (no such resource; see /collections)", 405: "不支持的请求方法 (method not allowed)"}
        return error_response(exc.status_code, codes.get(exc.status_code, "Error"),
                              text.get(exc.status_code, str(exc.detail)), request_id=rid(request))

    @app.exception_handler(GisplanError)
    async def store_error(request: Request, exc: GisplanError) -> JSONResponse:
        logger.warning("serve: request %s: %s", rid(request), exc)
        return error_response(503, "ServerError", "工作区读写失败，已记录 (the workspace could not be read or written; "
                              f"logged with request id {rid(request)})", request_id=rid(request))


def create_app(
    workspace: Workspace, *, include_sensitive: bool = False, allow_writes: bool | None = None,
    cors_origins: Sequence[str] = (), max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, title: str = "gisplan",
) -> FastAPI:
    """The service over `workspace`.

    Parameters
    ----------
    workspace : Workspace
        GeoPackage or PostGIS.
    include_sensitive : bool
        Serve the boundary lines, markers and inspections too (boundary data is sensitive; off by default).
    allow_writes : bool, optional
        Accept writes (edits, the naming workflow). Default: yes on PostGIS (many writers), no on a GeoPackage (one
        writer at a time: a bureau opts in with ``--allow-writes``). Writes to a read-only service answer 405.
    cors_origins : sequence of str
        Origins allowed to call from a browser (none by default: CORS closed).
    max_body_bytes : int
        Larger request bodies answer 413.
    title : str
        The service's title on the landing page.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn (``gisplan serve``).
    """
    writable = allow_writes if allow_writes is not None else not isinstance(workspace, GeoPackageWorkspace)
    mode = "读写 read-write" if writable else "只读 read-only"
    app = FastAPI(title=title, description=f"OGC API – Features, place-name query and edits over {workspace.label} "
                  f"({mode})", version="1.1.0", openapi_url="/openapi.json", docs_url="/api.html", redoc_url=None)
    tokens = TokenBook(workspace)
    _handlers(app)
    clock = LayerClock(workspace)
    versions = VersionBook(workspace, clock)
    catalogue = add_feature_routes(app, workspace, include_sensitive=include_sensitive, title=title, versions=versions,
                                   clock=clock)
    places_edited = add_place_routes(app, workspace, clock)
    add_edit_routes(app, workspace, catalogue=catalogue, tokens=tokens, versions=versions, writable=writable,
                    on_edit=(places_edited,))
    add_naming_routes(app, workspace, tokens=tokens, writable=writable)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST", "PATCH"],
                           allow_headers=["Authorization", "Content-Type"], expose_headers=["ETag", "X-Request-Id"])
    document = app.openapi

    def openapi_with_bearer() -> dict[str, Any]:
        schema = document()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearerAuth"] = {
            "type": "http", "scheme": "bearer",
            "description": "A token from `gisplan serve token add` (roles: applicant, reviewer, admin)"}
        return schema

    app.openapi = openapi_with_bearer  # type: ignore[method-assign]
    app.add_middleware(SearchFirst)  # place-name search ahead of pages and edits (gisplan.service.priority)
    app.add_middleware(_Guard, max_body_bytes=max_body_bytes, workspace=workspace, audit=writable, clock=clock)
    return app
