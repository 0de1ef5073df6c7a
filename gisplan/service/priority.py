"""Place-name search first: the public search box is interactive, feature pages for QGIS and edits are bulk work.

Every request of the service runs on one event loop. Without a policy the loop serves requests in the order they
became ready, so with many clients a search waits behind every page and edit that arrived just before it. With
:class:`SearchFirst` the other requests pass a gate (:class:`Turns`) that lets one of them start at a time, and the
next one is released from the *timer* stage of the following pass of the loop: asyncio runs a pass's due timers
after the callbacks of the sockets that became readable, so every request read from the sockets meanwhile — the
searches — is already queued ahead of the released one. Searches never wait at the gate.

Nothing starves: the next request is released as soon as the current one starts (one starts every second pass of
the loop, however many searches arrive), and a request that waits on a thread (an edit, a layer read again) holds
nothing while it waits. The gate is pure ASGI middleware (no ``BaseHTTPMiddleware``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection

    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["INTERACTIVE_PATHS", "SearchFirst", "Turns"]

#: Requests answered ahead of the others (exact paths, GET).
INTERACTIVE_PATHS = frozenset({"/places/search"})


class Turns:
    """A gate on one event loop: one request starts at a time, in arrival order, each released by a timer of the
    next pass of the loop (behind whatever the sockets delivered in that pass)."""

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._busy = False  # a release is scheduled, or a released request has not started yet
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the waiters (a test client may start others)

    @property
    def waiting(self) -> int:
        """Requests waiting for their turn."""
        return len(self._waiters)

    async def take(self) -> None:
        """Wait for the turn; return when it is the caller's (the next waiter is then released on the next pass)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: nothing of the last one's can be released any more
            self._loop, self._busy = loop, False
            self._waiters.clear()
        turn = loop.create_future()
        self._waiters.append(turn)
        if not self._busy:
            self._busy = True
            loop.call_later(0, self._release)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._pass_on(loop)  # the turn was given to this request: give it to the next one
            elif turn in self._waiters:  # a release of this pass may have dropped it already (it skips cancelled turns)
                self._waiters.remove(turn)
            raise
        self._pass_on(loop)

    def _pass_on(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._waiters:
            loop.call_later(0, self._release)
        else:
            self._busy = False

    def _release(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._busy = False


class SearchFirst:
    """Pure ASGI middleware: HTTP requests other than `interactive` GETs take a :class:`Turns` before they run."""

    def __init__(self, app: ASGIApp, *, interactive: Collection[str] = INTERACTIVE_PATHS) -> None:
        self.app = app
        self.interactive = frozenset(interactive)
        self.turns = Turns()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not (scope.get("method") == "GET" and scope.get("path") in self.interactive):
            await self.turns.take()
        await self.app(scope, receive, send)
