"""Row edits through the service (``PATCH /collections/{collectionId}/items/{featureId}``) and the audit log
(``GET /audit``).

An edit sends the version it was based on (the feature's ``version`` member, or its ``ETag``); a stale version
answers 409 naming who changed the row and when. Editing needs a reviewer's or an admin's token.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import shapely
from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gisplan.errors import GisplanError
from gisplan.service.auth import authorise
from gisplan.service.common import BEARER, ERROR_SCHEMA, RequestError
from gisplan.service.freshness import LayerClock
from gisplan.service.rows import RowState, check_values, edit_feature, row_states
from gisplan.store.servicetables import read_audit
from gisplan.vocab import ServiceRole

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from fastapi import FastAPI

    from gisplan.service.auth import TokenBook
    from gisplan.service.features import Catalogue
    from gisplan.store import Workspace

__all__ = ["AuditPage", "EditResult", "FeatureEdit", "VersionBook", "add_edit_routes", "error_docs",
           "refuse_read_only"]

_EDITORS = frozenset({ServiceRole.REVIEWER})
_ADMINS = frozenset({ServiceRole.ADMIN})

Scalar = str | bool | int | float | None

#: Columns of the register that only the naming workflow changes (a name, its romanisation, id, status and dates);
#: a row edit may change the rest (origin, remarks, location …).
WORKFLOW_COLUMNS = {"places": frozenset({
    "place_id", "standard_name", "specific", "generic", "pinyin", "pinyin_tones", "pinyin_key", "short_name", "status",
    "code12", "former_of", "approved_date", "announced_date", "retired_date"})}


def error_docs(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error answers `codes` (every one has the same JSON body)."""
    text = {400: "Bad request", 401: "No valid token", 403: "Role not allowed", 404: "Not found",
            405: "Read-only service", 409: "Conflict", 413: "Body too large", 503: "Workspace unavailable"}
    return {code: {"description": text.get(code, "Error"), "content": {"application/json": {"schema": ERROR_SCHEMA}}}
            for code in (*codes, 400, 413, 503)}


class FeatureEdit(BaseModel):
    """The body of a row edit."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**31 - 1, description="The version the edit is based on (feature `version`).")
    properties: dict[str, Scalar] = Field(default_factory=dict, max_length=200,
                                          description="Changed properties only, by name.")
    geometry: dict[str, Any] | None = Field(None, description="A new GeoJSON geometry (lon/lat, EPSG:4326).")


class EditResult(BaseModel):
    """The answer to an accepted edit."""

    id: int
    version: int
    revision: int | None


class AuditRow(BaseModel):
    """One audited write."""

    seq: int
    at: str
    user: str | None
    role: str | None
    method: str
    path: str
    client: str | None
    status: int
    summary: str | None
    request_id: str | None


class AuditPage(BaseModel):
    """A page of the audit log, newest first."""

    items: list[AuditRow]
    numberReturned: int  # noqa: N815 - the OGC API spelling


@dataclass(frozen=True, slots=True)
class _Versions:
    """Row versions of one layer as plain lists by position (a look-up or a patch is no pandas work)."""

    token: int
    version: list[int]
    changed_by: list[str | None]
    changed_at: list[str | None]


def _lookup(cached: _Versions | None, position: int) -> RowState | None:
    if cached is None or not 1 <= position <= len(cached.version):
        return None
    row = position - 1
    return RowState(position, cached.version[row], cached.changed_by[row], cached.changed_at[row])


class VersionBook:
    """Row versions per layer: read once, patched by this service's edits, read again when another writer changed
    the layer (thread-safe; a re-read blocks no reader that has the previous versions)."""

    def __init__(self, workspace: Workspace, clock: LayerClock | None = None) -> None:
        self.workspace = workspace
        self.clock = clock if clock is not None else LayerClock(workspace)
        self._cache: dict[str, _Versions] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, layer: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(layer, threading.Lock())

    def state(self, layer: str, position: int) -> RowState | None:
        """The version of feature `position` (1-based) of `layer`, or None when there is no such row."""
        token = self.clock.foreign(layer)
        cached = self._cache.get(layer)
        if cached is None or cached.token < token:
            lock = self._lock(layer)
            if lock.acquire(blocking=cached is None):
                try:
                    cached = self._cache.get(layer)
                    if cached is None or cached.token < token:
                        states = row_states(self.workspace, layer)
                        cached = _Versions(token, [int(v) for v in states["version"]],
                                           [None if v is None else str(v) for v in states["changed_by"]],
                                           [None if v is None else str(v) for v in states["changed_at"]])
                        self._cache[layer] = cached
                finally:
                    lock.release()
        return _lookup(cached, position)

    def state_now(self, layer: str, position: int) -> tuple[bool, RowState | None]:
        """:meth:`state` if it can be given without waiting (for the event loop): ``(True, state)``; else
        ``(False, None)`` — then call :meth:`state` off the loop."""
        token = self.clock.foreign_if_known(layer)
        cached = self._cache.get(layer)
        if token is None or cached is None or (cached.token < token and not self._lock(layer).locked()):
            return False, None
        return True, _lookup(cached, position)

    def patch(self, layer: str, state: RowState) -> None:
        """This service's edit gave row `state.position` of `layer` its new version (copy on write)."""
        with self._lock(layer):
            cached = self._cache.get(layer)
            if cached is None or not 1 <= state.position <= len(cached.version):
                return
            row = state.position - 1
            version, by, at = list(cached.version), list(cached.changed_by), list(cached.changed_at)
            version[row], by[row], at[row] = state.version, state.changed_by, state.changed_at
            self._cache[layer] = _Versions(cached.token, version, by, at)


def refuse_read_only(writable: bool, request: Request) -> None:
    """405 when the service is read-only (a GeoPackage served without ``--allow-writes``)."""
    if not writable:
        request.state.summary = "refused: read-only service"
        msg = ("只读服务：GeoPackage 工作区一次只能有一个写入者，需以 --allow-writes 启动 (read-only service: a "
               "GeoPackage "
               "workspace has one writer at a time; start `gisplan serve --allow-writes` to accept writes)")
        raise RequestError(405, "MethodNotAllowed", msg, headers={"Allow": "GET, HEAD"})


def _geometry(doc: dict[str, Any] | None) -> shapely.Geometry | None:
    if doc is None:
        return None
    try:
        geometry = shapely.geometry.shape(doc)
    except (GisplanError, ValueError, TypeError, KeyError, AttributeError, IndexError,
            shapely.errors.ShapelyError) as exc:
        msg = f"geometry 不是有效的 GeoJSON 几何 (`geometry` is not a GeoJSON geometry: {str(exc)[:120]})"
        raise RequestError(400, "InvalidParameterValue", msg) from None
    minx, miny, maxx, maxy = geometry.bounds if not geometry.is_empty else (math.nan,) * 4
    inside = -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    if geometry.is_empty or not geometry.is_valid or not inside:
        msg = ("geometry 须为经纬度（EPSG:4326）中的有效非空几何 (`geometry` must be a valid, non-empty geometry in "
               "lon/lat, EPSG:4326)")
        raise RequestError(400, "InvalidParameterValue", msg)
    return geometry


def add_edit_routes(app: FastAPI, workspace: Workspace, *, catalogue: Catalogue, tokens: TokenBook,
                    versions: VersionBook, writable: bool,
                    on_edit: Sequence[Callable[[str, int, Mapping[str, object]], None]] = ()) -> None:
    """Add ``PATCH /collections/{collectionId}/items/{featureId}`` and ``GET /audit`` to `app`.

    After an acknowledged edit, the cached layer and row versions are patched with the edited row, and each of
    `on_edit` is called with the layer, the row's position and the changed values (the place-name index)."""

    @app.patch("/collections/{collection_id}/items/{feature_id}", summary="Edit one feature (reviewer, admin)",
               response_model=EditResult, responses=error_docs(401, 403, 404, 405, 409),
               tags=["edits"], openapi_extra=BEARER)
    def edit_item(request: Request, collection_id: str, feature_id: str, body: FeatureEdit) -> EditResult:
        refuse_read_only(writable, request)
        caller = authorise(request, tokens, _EDITORS, what="修改要素")
        layer = catalogue.layer(collection_id)
        if layer is None:
            msg = f"没有集合 {collection_id[:80]!r} (no collection {collection_id[:80]!r}; see /collections)"
            raise RequestError(404, "NotFound", msg)
        position = int(feature_id) if feature_id.isdigit() and len(feature_id) < 10 else -1
        if position < 1:
            shown = feature_id[:40]
            msg = f"集合 {collection_id} 没有要素 {shown!r} (no feature {shown!r} in {collection_id})"
            raise RequestError(404, "NotFound", msg)
        guarded = sorted(set(body.properties) & WORKFLOW_COLUMNS.get(collection_id, frozenset()))
        if guarded:
            shown = ", ".join(guarded)
            msg = (f"{shown} 只能通过地名申报流程修改 ({shown} change only through the naming workflow: "
                   "POST /naming/applications)")
            raise RequestError(400, "InvalidParameterValue", msg)
        geometry = _geometry(body.geometry)
        if not body.properties and geometry is None:
            msg = "没有要修改的内容 (nothing to change: give `properties` and/or `geometry`)"
            raise RequestError(400, "InvalidParameterValue", msg)
        with versions.clock.editing():
            new = edit_feature(workspace, collection_id, position, base_version=body.version,
                               values=body.properties, geometry=geometry, user=str(caller.user), current=layer.frame)
            versions.clock.wrote(new.revision)
            checked = check_values(layer.frame, body.properties)
            catalogue.patch(collection_id, position, checked, geometry)  # no re-read of the layer
            versions.patch(collection_id, new)
            for listener in on_edit:
                listener(collection_id, position, checked)
        request.state.summary = (f"edit {collection_id}/{position} v{body.version}→v{new.version} "
                                 f"({', '.join(sorted(body.properties))[:120]}{' geometry' if geometry else ''})")
        return EditResult(id=position, version=new.version, revision=new.revision)

    @app.get("/audit", summary="The audit log of writes, newest first (admin)", response_model=AuditPage,
             responses=error_docs(401, 403), tags=["edits"], openapi_extra=BEARER)
    def audit(request: Request, limit: int = Query(100, ge=1, le=10_000),
              offset: int = Query(0, ge=0, le=2**53)) -> AuditPage:
        authorise(request, tokens, _ADMINS, what="查看审计日志")
        frame = read_audit(workspace, limit=limit, offset=offset) if workspace.exists() else pd.DataFrame()
        rows = [AuditRow.model_validate({str(k): (None if v is None or (isinstance(v, float) and math.isnan(v))
                                                  else v) for k, v in record.items()})
                for record in frame.to_dict("records")]
        return AuditPage(items=rows, numberReturned=len(rows))
