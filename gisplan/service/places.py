"""Public place-name query (地名查询): search, the standard-name list (标准地名录) and announcements (公告).

The register and its search index are read once per workspace revision and shared by the requests. Answers are
Chinese JSON (UTF-8, not escaped).
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pandas as pd
from fastapi import Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gisplan.placenames.search import RESULT_COLUMNS, SearchIndex, build_index, search_records
from gisplan.service.edits import error_docs
from gisplan.service.features import patch_frame
from gisplan.vocab import PlaceStatus
from gisplan.workflows.places import PLACES, read_register

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from fastapi import FastAPI

    from gisplan.service.freshness import LayerClock
    from gisplan.store import Workspace

__all__ = ["add_place_routes"]

_NAME_COLUMNS = ("place_id", "standard_name", "pinyin", "category", "code12", "parent_id", "approved_date",
                 "announced_date", "origin")


class SearchHit(BaseModel):
    """One name found."""

    place_id: str
    name: str
    code12: str
    parent_id: str
    status: str
    score: float
    matched_by: str


class SearchAnswer(BaseModel):
    """Names matching a query, best first."""

    query: str
    results: list[SearchHit]
    numberReturned: int  # noqa: N815 - the OGC API spelling


class NamePage(BaseModel):
    """A page of names."""

    items: list[dict[str, str | None]]
    numberMatched: int  # noqa: N815
    numberReturned: int  # noqa: N815
    links: list[dict[str, str]]


class _Register:
    """The register and its search index (thread-safe): read once, patched by this service's row edits of the
    register, read again when another writer (the naming workflow, the CLI) changed it. A search never waits: while
    the register is read again or patched, searches use the previous index."""

    def __init__(self, workspace: Workspace, clock: LayerClock) -> None:
        self.workspace = workspace
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[int, pd.DataFrame, SearchIndex] | None = None

    def get(self) -> tuple[pd.DataFrame, SearchIndex]:
        token = self.clock.foreign(PLACES)
        cached = self._cached
        if cached is not None and cached[0] >= token:
            return cached[1], cached[2]
        if not self._lock.acquire(blocking=cached is None):
            assert cached is not None
            return cached[1], cached[2]
        try:
            cached = self._cached
            if cached is None or cached[0] < token:
                frame = pd.DataFrame(read_register(self.workspace).drop(columns="geometry")).reset_index(drop=True)
                cached = (token, frame, build_index(frame))
                self._cached = cached
            return cached[1], cached[2]
        finally:
            self._lock.release()

    def ready(self) -> SearchIndex | None:
        """The index if it is current and built, without waiting for anything (for the event loop): None when it
        has to be read or built first (then call :meth:`get` off the loop). While another thread rebuilds it, the
        previous index, as :meth:`get` gives."""
        token = self.clock.foreign_if_known(PLACES)
        cached = self._cached
        if token is None or cached is None:
            return None
        if cached[0] >= token or self._lock.locked():
            return cached[2]
        return None

    def edited(self, layer: str, position: int, values: Mapping[str, object]) -> None:
        """A row edit through the service: patch the register and rebuild its index (not read the layer again)."""
        if layer != PLACES:
            return
        with self._lock:
            cached = self._cached
            if cached is None or not 1 <= position <= len(cached[1]):
                return
            frame = patch_frame(cached[1], position, {c: v for c, v in values.items() if c in cached[1]})
            self._cached = (cached[0], frame, build_index(frame))


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _page(frame: pd.DataFrame, *, here: str, limit: int, offset: int) -> dict[str, Any]:
    page = frame.iloc[offset:offset + limit]
    items = [{c: _text(v) for c, v in zip(_NAME_COLUMNS, row, strict=True)}
             for row in page[list(_NAME_COLUMNS)].itertuples(index=False)]
    links = [{"href": f"{here}?limit={limit}&offset={offset}", "rel": "self", "type": "application/json"}]
    if offset + limit < len(frame):
        links.append({"href": f"{here}?limit={limit}&offset={offset + limit}", "rel": "next",
                      "type": "application/json"})
    return {"items": items, "numberMatched": len(frame), "numberReturned": len(items), "links": links}


def add_place_routes(app: FastAPI, workspace: Workspace,
                     clock: LayerClock) -> Callable[[str, int, Mapping[str, object]], None]:
    """Add ``/places/search``, ``/places/standard-names`` and ``/places/announcements`` to `app`; return what to
    call after a row edit through the service (it patches the register and its search index)."""
    register = _Register(workspace, clock)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.get("/places/search", summary="Search place names by characters, pinyin, initials or code",
             response_model=SearchAnswer, responses=error_docs(), tags=["places"])
    async def search_places(q: str = Query(..., min_length=1, max_length=100,
                                           description="朱龙花村 / zhulonghua / zlhc / 500118"),
                            limit: int = Query(10, ge=1, le=100)) -> JSONResponse:
        # On the event loop, not the thread pool: a search over the index in memory takes about a millisecond,
        # less than the hand-over to a worker thread and back, which under load waits for the GIL twice. Only
        # reading or building the index (the first search, or after another writer changed the register) goes to
        # a thread.
        ready = register.ready()
        index = ready if ready is not None else (await anyio.to_thread.run_sync(register.get))[1]
        hits = [dict(zip(RESULT_COLUMNS, record, strict=True)) for record in search_records(index, q, limit=limit)]
        return JSONResponse({"query": q, "results": hits, "numberReturned": len(hits)})  # as SearchAnswer

    @app.get("/places/standard-names", summary="The standard-name list 标准地名录 (current names), paged",
             response_model=NamePage, responses=error_docs(), tags=["places"])
    def standard_names(request: Request, limit: int = Query(100, ge=1, le=10_000),
                       offset: int = Query(0, ge=0, le=2**53)) -> dict[str, Any]:
        frame, _ = register.get()
        current = frame[frame["status"] == PlaceStatus.CURRENT.value]
        return _page(current, here=f"{base(request)}/places/standard-names", limit=limit, offset=offset)

    @app.get("/places/announcements", summary="Announced standard names 公告, newest first",
             response_model=NamePage, responses=error_docs(), tags=["places"])
    def announcements(request: Request, limit: int = Query(100, ge=1, le=10_000),
                      offset: int = Query(0, ge=0, le=2**53)) -> dict[str, Any]:
        frame, _ = register.get()
        announced = frame[frame["announced_date"].notna() & (frame["announced_date"].astype(str) != "")]
        announced = announced.sort_values(["announced_date", "place_id"], ascending=[False, True], kind="stable")
        return _page(announced, here=f"{base(request)}/places/announcements", limit=limit, offset=offset)

    return register.edited
