"""Place-name search ahead of bulk requests (gisplan.service.priority) on a real asyncio event loop.

A request "arrives" as a byte written to a socket pair: its read callback creates the request's task, as uvicorn's
protocol does when a request has been parsed, so the tests exercise the loop's own order of sockets, ready
callbacks and timers."""

from __future__ import annotations

import asyncio
import itertools
import socket
from typing import TYPE_CHECKING, Any

from gisplan.service.priority import INTERACTIVE_PATHS, SearchFirst, Turns

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine


class _Wire:
    """A socket pair on the loop: `send(make)` makes `make()` a task when the byte has been read from the socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.queue: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.tasks: list[asyncio.Task[None]] = []
        loop.add_reader(self.reader.fileno(), self._readable)

    def send(self, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.queue.append(make)
        self.writer.send(b"x")

    def _readable(self) -> None:
        for _ in self.reader.recv(4096):
            self.tasks.append(self.loop.create_task(self.queue.pop(0)()))

    def close(self) -> None:
        self.loop.remove_reader(self.reader.fileno())
        self.reader.close()
        self.writer.close()


def _run(main: Callable[[asyncio.AbstractEventLoop], Coroutine[Any, Any, None]]) -> None:
    async def go() -> None:
        await main(asyncio.get_running_loop())

    asyncio.run(go())


def test_a_search_that_arrives_while_a_bulk_request_runs_goes_before_the_next_bulk_request() -> None:
    order: list[str] = []

    async def main(loop: asyncio.AbstractEventLoop) -> None:
        wire, turns = _Wire(loop), Turns()

        async def search(n: int) -> None:
            order.append(f"search {n}")

        async def bulk(n: int) -> None:
            await turns.take()
            order.append(f"bulk {n}")
            if n in {0, 2}:  # two searches arrive on the sockets while these run
                wire.send(lambda: search(n))

        for n in range(5):
            wire.send(lambda n=n: bulk(n))  # type: ignore[misc]
        while len(order) < 7:
            await asyncio.sleep(0.001)
        await asyncio.gather(*wire.tasks)
        wire.close()

    _run(main)
    # first-come order among the bulk requests; each search before the bulk request released after it arrived
    assert order == ["bulk 0", "search 0", "bulk 1", "bulk 2", "search 2", "bulk 3", "bulk 4"]


def test_without_the_gate_the_same_search_waits_behind_every_bulk_request() -> None:
    # the order the loop gives by itself (what the gate changes)
    order: list[str] = []

    async def main(loop: asyncio.AbstractEventLoop) -> None:
        wire = _Wire(loop)

        async def search() -> None:
            order.append("search")

        async def bulk(n: int) -> None:
            order.append(f"bulk {n}")
            if n == 0:
                wire.send(search)

        for n in range(3):
            wire.send(lambda n=n: bulk(n))  # type: ignore[misc]
        while len(order) < 4:
            await asyncio.sleep(0.001)
        wire.close()

    _run(main)
    assert order == ["bulk 0", "bulk 1", "bulk 2", "search"]


def test_bulk_requests_still_progress_while_searches_keep_arriving() -> None:
    order: list[str] = []

    async def main(loop: asyncio.AbstractEventLoop) -> None:
        wire, turns = _Wire(loop), Turns()

        async def search(n: int) -> None:
            order.append("s")
            if n < 60:  # each search brings the next one: a search is always arriving
                wire.send(lambda: search(n + 1))

        async def bulk(n: int) -> None:
            await turns.take()
            order.append(f"b{n}")

        wire.send(lambda: search(0))
        for n in range(10):
            wire.send(lambda n=n: bulk(n))  # type: ignore[misc]
        while order.count("s") < 61:
            await asyncio.sleep(0.001)
        wire.close()

    _run(main)
    bulks = [i for i, kind in enumerate(order) if kind.startswith("b")]
    assert [order[i] for i in bulks] == [f"b{n}" for n in range(10)]  # all of them, in arrival order
    assert bulks[-1] < len(order) - 20  # done while searches were still arriving (not starved until they stop)
    assert max(b - a for a, b in itertools.pairwise(bulks)) <= 3  # at most two searches between two


def test_a_cancelled_waiter_does_not_hold_up_the_others() -> None:
    done: list[int] = []

    async def main(loop: asyncio.AbstractEventLoop) -> None:
        del loop
        turns = Turns()

        async def bulk(n: int) -> None:
            await turns.take()
            done.append(n)

        tasks = [asyncio.create_task(bulk(n)) for n in range(4)]
        await asyncio.sleep(0)  # all four wait
        tasks[1].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[1], asyncio.CancelledError)
        assert turns.waiting == 0
        await asyncio.wait_for(bulk(9), 1)  # the gate is free again

    _run(main)
    assert done == [0, 2, 3, 9]


def test_a_waiter_cancelled_in_the_pass_that_releases_it_passes_the_turn_on() -> None:
    """The client of the first waiter goes away in the very pass whose timer releases the gate: the release skips
    the cancelled turn and gives it to the next waiter, and the cancelled request ends cancelled (not with an
    error of the gate's own bookkeeping)."""
    done: list[int] = []

    async def main(loop: asyncio.AbstractEventLoop) -> None:
        turns = Turns()

        async def bulk(n: int) -> None:
            if n == 0:  # cancelled by a timer due in the same pass as the release its take() schedules, just before it
                loop.call_later(0, asyncio.current_task().cancel)  # type: ignore[union-attr]
            await turns.take()
            done.append(n)

        first = asyncio.create_task(bulk(0))
        second = asyncio.create_task(bulk(1))
        results = await asyncio.gather(first, second, return_exceptions=True)
        assert isinstance(results[0], asyncio.CancelledError), results[0]
        assert results[1] is None
        assert turns.waiting == 0
        await asyncio.wait_for(bulk(9), 1)  # the gate is free again

    _run(main)
    assert done == [1, 9]


def test_only_the_search_path_skips_the_gate() -> None:
    taken: list[str] = []
    answered: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        del receive, send
        answered.append(str(scope.get("path", scope["type"])))

    async def main(loop: asyncio.AbstractEventLoop) -> None:
        del loop
        gate = SearchFirst(app)
        take = gate.turns.take

        async def counting() -> None:
            taken.append(str(len(answered)))
            await take()

        gate.turns.take = counting  # type: ignore[method-assign]
        for method, path in [("GET", "/places/search"), ("GET", "/collections/townships/items"),
                             ("PATCH", "/collections/townships/items/1"), ("GET", "/places/standard-names"),
                             ("POST", "/places/search")]:
            await gate({"type": "http", "method": method, "path": path}, None, None)
        await gate({"type": "lifespan"}, None, None)

    _run(main)
    assert {"/places/search"} == INTERACTIVE_PATHS
    assert answered == ["/places/search", "/collections/townships/items", "/collections/townships/items/1",
                        "/places/standard-names", "/places/search", "lifespan"]
    assert taken == ["1", "2", "3", "4"]  # every HTTP request but the search GET took a turn; not the lifespan


def test_a_new_event_loop_starts_with_a_free_gate() -> None:
    turns = Turns()
    loop = asyncio.new_event_loop()
    waiting: list[asyncio.Task[None]] = []

    async def stranded() -> None:  # the loop stops while requests hold and wait for the turn
        waiting.extend(asyncio.create_task(turns.take()) for _ in range(3))
        await asyncio.sleep(0)

    loop.run_until_complete(stranded())
    assert turns.waiting >= 1
    loop.close()  # without running the waiters again (a test client's loop that ended)
    for task in waiting:
        task._log_destroy_pending = False  # type: ignore[attr-defined]  # stranded on purpose: no warning

    async def fresh() -> None:
        await asyncio.wait_for(turns.take(), 1)

    asyncio.run(fresh())
    assert turns.waiting == 0
