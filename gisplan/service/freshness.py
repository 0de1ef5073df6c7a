"""Which served layers another writer changed: the service's caches ask here instead of reading the change log.

The service patches its cached layers itself after each edit it makes (see
:class:`~gisplan.service.features.Catalogue`), so a cache only has to be read again when *another* writer (the CLI,
the naming workflow, another server) changed a layer. :class:`LayerClock` finds that out cheaply: at most one
``max(revision)`` of the change log every :data:`CHECK_INTERVAL_S` seconds (asked by one background thread while
the requests go on with the last answer), and the full per-layer ``GROUP BY`` only when the log holds a revision
this process did not write itself.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

from gisplan.store.servicetables import layer_revisions

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gisplan.store import Workspace

__all__ = ["CHECK_INTERVAL_S", "LayerClock"]

logger = logging.getLogger(__name__)

#: How old the service's idea of the workspace's last revision may be (seconds) before a request asks again.
CHECK_INTERVAL_S = 0.2
#: How long a check may wait for this process's edits in flight (whose revisions it cannot tell apart from another
#: writer's yet) before it re-reads every layer changed in the meantime anyway.
_DEFER_MAX_S = 1.0


class LayerClock:
    """Per layer, the last revision written by someone other than this process (thread-safe).

    A cache built when :meth:`foreign` was ``r`` is current while :meth:`foreign` stays ``r``; this process's own
    edits (:meth:`wrote`) do not move it, because the caches patch those in themselves.
    """

    def __init__(self, workspace: Workspace, *, interval_s: float = CHECK_INTERVAL_S) -> None:
        self.workspace = workspace
        self.interval_s = interval_s
        self._state = threading.Lock()  # guards the fields below; never held during a query
        self._checking = threading.Lock()  # one thread queries at a time; the others use the last answer
        self._seen = -1  # every revision up to this one is accounted for (-1: nothing read yet)
        self._foreign: dict[str, int] = {}
        self._any_foreign = 0  # the last revision by another writer, of any layer (the collection list)
        self._ours: set[int] = set()
        self._in_flight = 0
        self._checked_at = -1e9
        self._deferred_since: float | None = None
        self._touched = False

    def foreign(self, layer: str) -> int:
        """The last revision of `layer` by another writer (0 if none seen)."""
        self.check()
        with self._state:
            return self._foreign.get(layer, 0)

    def foreign_if_known(self, layer: str) -> int | None:
        """:meth:`foreign` without ever waiting for the workspace (for code on the event loop): None when it would
        have to ask first (nothing read yet, or a write just went through this process)."""
        if not self.check(wait=False):
            return None
        with self._state:
            return self._foreign.get(layer, 0)

    def any_foreign_if_known(self) -> int | None:
        """:meth:`any_foreign` without ever waiting (see :meth:`foreign_if_known`)."""
        if not self.check(wait=False):
            return None
        with self._state:
            return self._any_foreign

    def any_foreign(self) -> int:
        """The last revision of any layer by another writer (the collection list changes only with those)."""
        self.check()
        with self._state:
            return self._any_foreign

    @contextlib.contextmanager
    def editing(self) -> Iterator[None]:
        """Around an edit of this process: until it is recorded with :meth:`wrote`, a check cannot tell its revision
        from another writer's, so checks wait (at most about a second) rather than re-read the layer."""
        with self._state:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._state:
                self._in_flight -= 1

    def wrote(self, revision: int | None) -> None:
        """`revision` was written by this process (its caches patch it in themselves)."""
        if revision is None:
            return
        with self._state:
            if revision > self._seen:
                self._ours.add(revision)

    def touch(self) -> None:
        """A write went through this process: the next request asks the workspace itself, at once."""
        with self._state:
            self._touched = True

    def check(self, *, force: bool = False, wait: bool = True) -> bool:
        """Ask the workspace for its last revision if the last answer is older than the interval.

        The first time, after :meth:`touch` and with `force` the caller asks and waits for the answer; otherwise
        one background thread asks and the caller goes on with the last answer (a request never waits for it).
        With `wait` False the caller never waits: then False means the answer it would have had to wait for is not
        known (the caller asks again off the event loop).
        """
        now = time.monotonic()
        with self._state:
            fresh = now - self._checked_at < self.interval_s and self._seen >= 0
            inline = force or self._touched or self._seen < 0
        if inline and not wait:
            return False
        if fresh and not inline:
            return True
        if not self._checking.acquire(blocking=inline):
            return True  # another thread is asking right now: use what is known
        if inline:
            try:
                self._check(time.monotonic())
            finally:
                self._checking.release()
            return True
        threading.Thread(target=self._background, name="gisplan-layer-clock", daemon=True).start()
        return True

    def _background(self) -> None:
        try:
            self._check(time.monotonic())
        except Exception:  # the requests go on with the last answer; the next check tries again
            logger.warning("serve: the workspace's last revision could not be read", exc_info=True)
        finally:
            self._checking.release()

    def _check(self, now: float) -> None:
        with self._state:
            self._touched = False
        last = self.workspace.revision() if self.workspace.exists() else 0
        with self._state:
            self._checked_at = now
            if last <= self._seen:
                return
            unknown = set(range(max(self._seen, 0) + 1, last + 1)) - self._ours
            if not unknown and self._seen >= 0:
                self._advance(last)
                return
            if self._in_flight and self._seen >= 0:
                if self._deferred_since is None:
                    self._deferred_since = now
                if now - self._deferred_since < _DEFER_MAX_S:
                    return  # probably our own edit, not yet recorded: look again on the next request
            seen = self._seen
        last, by_layer = layer_revisions(self.workspace)
        with self._state:
            # Every layer changed since `seen` counts as changed by another writer: from the per-layer maximum
            # alone an edit of ours cannot be told from another writer's before it (a spare re-read, never a
            # missed one).
            for layer, revision in by_layer.items():
                if revision > seen:
                    self._foreign[layer] = max(self._foreign.get(layer, 0), revision)
            self._any_foreign = max(self._any_foreign, last)
            self._advance(max(last, self._seen))

    def _advance(self, last: int) -> None:
        self._seen = last
        self._ours = {r for r in self._ours if r > last}
        self._deferred_since = None
