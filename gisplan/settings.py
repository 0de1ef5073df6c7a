"""Defaults, in one place: distances every layer check and network step falls back to, and the number of
worker threads.

The distances are constants; a scenario overrides them in its TOML and the CLI with options, and those values
are passed explicitly down the call chain (there is no mutable settings object to reassign).

Worker threads: numerical kernels that run on several cores (the exact GCJ-02 inverse, snapping, one
Dijkstra per facility type) ask :func:`thread_count`. It is the CPU count unless ``GISPLAN_THREADS`` is set in
the environment or a caller narrows it for its own calls with :func:`threads`; a Dask worker, which already
runs one task per core, sets 1 so that tasks do not oversubscribe the machine.

Examples
--------
>>> with threads(1):
...     thread_count()
1
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import TYPE_CHECKING

from gisplan.errors import ConfigError
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "BASEMAP_MAX_BYTES",
    "BASEMAP_MAX_PX",
    "GPKG_VERSIONS",
    "GPKG_VERSION_ENV",
    "HUGEPAGE_ENV",
    "MAX_SNAP_M",
    "MIN_PIECE_M",
    "OFFLINE_ENV",
    "OSM_BUFFER_M",
    "OSM_CACHE_MAX_AGE_DAYS",
    "OSM_NETWORK_TYPES",
    "OSM_TIMEOUT_S",
    "PROPOSAL_THREADS_ENV",
    "RADIUS_M",
    "SNAP_TOLERANCE_M",
    "SPREAD_SPACING_M",
    "THREADS_ENV",
    "TODAY_ENV",
    "TOLERANCE_M",
    "TRIM_M",
    "collector_paused",
    "gpkg_dataset_options",
    "gpkg_version",
    "gpkg_versions",
    "option_held",
    "ordinary_pages",
    "proposal_threads",
    "thread_count",
    "threads",
    "today",
]

TOLERANCE_M = 50.0
"""Metres a point may lie outside its polygon (district, township) before it is reported."""
SNAP_TOLERANCE_M = 1.0
"""Road end points closer than this are one node of the network."""
MIN_PIECE_M = 1000.0
"""Disconnected road pieces with less road than this are dropped (and counted)."""
MAX_SNAP_M = 1000.0
"""Points farther than this from any usable road are unreachable (and count as not covered)."""
TRIM_M = 100.0
"""Service areas are the reached roads buffered by this many metres."""
RADIUS_M = 1000.0
"""The straight-line (城市体检) service radius."""
BASEMAP_MAX_PX = 2048
"""The longest side, in pixels, of a local GeoTIFF basemap embedded in a map."""
BASEMAP_MAX_BYTES = 3_000_000
"""The most bytes a local GeoTIFF basemap takes in a map, encoded (the page grows by 4/3 of it, base64)."""
SPREAD_SPACING_M = 100.0
"""A households table by village is spread as one demand point per this many metres of road."""

OSM_BUFFER_M = 2000.0
"""OpenStreetMap roads are fetched for the district outline widened by this many metres (roads residents near
the boundary use)."""
OSM_NETWORK_TYPES = ("walk", "drive")
"""The osmnx network types fetched and merged into one road layer (flags ``walk`` and ``drive`` per piece)."""
OSM_CACHE_MAX_AGE_DAYS = 365
"""A cached OpenStreetMap download older than this is stale: refetched when online, reused (with a warning)
offline."""
OSM_TIMEOUT_S = 180
"""Seconds one Overpass request may take."""
OFFLINE_ENV = "GISPLAN_OFFLINE"
"""Set to 1 to never try the internet (intranets, tests): cached roads are used, else the straight-line estimate."""

THREADS_ENV = "GISPLAN_THREADS"
_threads: ContextVar[int | None] = ContextVar("gisplan_threads", default=None)
PROPOSAL_THREADS_ENV = "GISPLAN_PROPOSAL_THREADS"
"""Threads the proposals of different facility types run on side by side (:func:`proposal_threads`)."""

TODAY_ENV = "GISPLAN_TODAY"
"""Environment variable holding the run's date (YYYY-MM-DD) instead of the clock's: tests, and re-running an
evaluation as of a given day."""
HUGEPAGE_ENV = "NUMPY_MADVISE_HUGEPAGE"
"""numpy's own switch of transparent huge pages for its large arrays (see :func:`ordinary_pages`)."""


def today() -> date:
    """The run's date: ``GISPLAN_TODAY`` (YYYY-MM-DD) when set, else the clock's.

    Raises
    ------
    ConfigError
        If ``GISPLAN_TODAY`` is not a date.
    """
    raw = os.environ.get(TODAY_ENV, "").strip()
    if not raw:
        return date.today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        msg = _("{today_env}={raw!r} is not a date; write it YYYY-MM-DD (e.g. 2026-03-01), or unset it.").format(
                today_env=TODAY_ENV, raw=raw)
        raise ConfigError(msg) from None


def thread_count() -> int:
    """The number of worker threads a kernel may use: :func:`threads` if set, else ``GISPLAN_THREADS``, else
    the CPU count.

    Raises
    ------
    ConfigError
        If ``GISPLAN_THREADS`` is not a positive whole number.
    """
    chosen = _threads.get()
    if chosen is not None:
        return chosen
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            msg = _("{threads_env}={text!r} must be a positive whole number of threads (e.g. 1 on a Dask "
                    "worker).").format(
                    threads_env=THREADS_ENV, text=text)
            raise ConfigError(msg)
        return int(text)
    return os.cpu_count() or 1


def proposal_threads() -> int:
    """The threads the proposals of different facility types run on side by side
    (:func:`gisplan.workflows.proposing.propose_rows`): ``GISPLAN_PROPOSAL_THREADS``, else :func:`thread_count`,
    and never more than :func:`thread_count` (1 on a Dask worker).

    Most of a proposal's work holds the GIL (pandas, the road searches, the reductions); HiGHS and GEOS release it.
    On the 永川 run's proposals with 2 cores at load 2.5–2.8, two threads took 3.60–3.75 s against one thread's
    4.06–4.42 s, for 4.55–4.82 s of CPU against 4.01–4.30 s; on a machine already busy (load 7–8) they took no
    less time (12.9–13.6 s against 10.8–13.0 s): ``GISPLAN_PROPOSAL_THREADS=1`` there. The answers are the same on
    any number while every model is solved to optimality; when ``solver_time_limit_s`` stops one, its best
    solution depends on the CPU its chain got, and so can differ. Each chain's HiGHS has the kernels' thread
    count, so two chains on 2 cores run up to four HiGHS workers.

    Raises
    ------
    ConfigError
        If ``GISPLAN_PROPOSAL_THREADS`` is not a positive whole number.
    """
    text = os.environ.get(PROPOSAL_THREADS_ENV, "").strip()
    if not text:
        return thread_count()
    if not text.isdigit() or int(text) < 1:
        msg = _("{threads_env}={text!r} must be a positive whole number of threads (e.g. 1 on a Dask "
                "worker).").format(
                threads_env=PROPOSAL_THREADS_ENV, text=text)
        raise ConfigError(msg)
    return min(int(text), thread_count())


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Use `n` worker threads in the calls made inside the ``with`` block (in this thread or task only).

    Raises
    ------
    ConfigError
        If `n` is not a positive whole number.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        msg = _("`threads` must be a positive whole number (got {n!r}).").format(n=n)
        raise ConfigError(msg)
    token = _threads.set(n)
    try:
        yield
    finally:
        _threads.reset(token)


def ordinary_pages() -> None:
    """Let numpy keep its large arrays on ordinary 4 KiB pages in this process and in the processes it starts (a local
    Dask cluster's workers), unless ``NUMPY_MADVISE_HUGEPAGE`` is already set (then that choice stands).

    numpy asks Linux for transparent huge pages for every array of 4 MB or more. Where the kernel compacts memory to
    find one at each first touch (``defrag`` in madvise mode, its default), a command that makes and drops thousands
    of large temporaries spends more time in the kernel than the huge pages save: on a 2-core VM the million-point
    ad-hoc coverage took 5.0-5.4 s instead of 5.6-7.1 s (system time 1.4 s instead of 2.1-3.5 s), the Chongqing
    library path 6.5 s instead of 7.1-7.6 s. The command line calls this first; a library user may set the variable.
    """
    if HUGEPAGE_ENV in os.environ:
        return
    os.environ[HUGEPAGE_ENV] = "0"  # numpy reads it when it loads, here and in every process started from here
    if "numpy" in sys.modules:  # already loaded: switch it at run time (numpy 2 and 1.x keep the switch apart)
        for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
            module = sys.modules.get(name)
            switch = getattr(module, "_set_madvise_hugepage", None)
            if switch is not None:
                switch(False)
                return


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused inside the ``with`` block (and restored as it was).

    A city's roads or a million points are hundreds of thousands of shapely geometries, which the collector tracks:
    while they are made, it runs hundreds of times, and each of its full passes walks every object the process
    holds. Reference counting still frees what is no longer used; the few cycles left go at the collector's next
    pass after the block. (Process-wide: another thread's collections wait too; blocks in several threads share one
    pause, which ends with the last of them.)
    """
    with _collector.held():
        yield


GPKG_VERSIONS = ("1.2", "1.4")
"""GeoPackage versions gisplan writes. 1.2 is the default: QGIS 3.22 (Debian 12, the LTR many bureaus still run)
warns that a 1.4 file "may only be partially supported"; 1.4 is what the GDAL in the pyogrio wheel writes by itself."""
GPKG_VERSION_ENV = "GISPLAN_GPKG_VERSION"
_gpkg_version: ContextVar[str | None] = ContextVar("gisplan_gpkg_version", default=None)


def _check_gpkg_version(value: str, where: str) -> str:
    if value not in GPKG_VERSIONS:
        msg = _("{where} must be one of {gpkg_versions} (got {value!r}); 1.2 opens in every QGIS since 3.x.").format(
                where=where, gpkg_versions=', '.join(GPKG_VERSIONS), value=value)
        raise ConfigError(msg)
    return value


def gpkg_version() -> str:
    """The GeoPackage version of every new GeoPackage gisplan writes: :func:`gpkg_versions` if set, else
    ``GISPLAN_GPKG_VERSION``, else ``"1.2"``.

    Raises
    ------
    ConfigError
        If ``GISPLAN_GPKG_VERSION`` is not one of :data:`GPKG_VERSIONS`.

    Examples
    --------
    >>> with gpkg_versions("1.4"):
    ...     gpkg_version()
    '1.4'
    """
    chosen = _gpkg_version.get()
    if chosen is not None:
        return chosen
    text = os.environ.get(GPKG_VERSION_ENV, "").strip()
    return _check_gpkg_version(text, GPKG_VERSION_ENV) if text else GPKG_VERSIONS[0]


def gpkg_dataset_options() -> dict[str, str]:
    """GDAL dataset creation options of a new GeoPackage (``{"VERSION": "1.2"}``): pass them to every write
    that creates one.

    >>> gpkg_dataset_options()
    {'VERSION': '1.2'}
    """
    return {"VERSION": gpkg_version()}


class _SharedSwitch:
    """A process-wide setting changed while any block holding it runs, in any thread, and put back as it was when the
    last of them ends (a set and restore per block would let the first to end undo it under the others, and the
    last restore the changed value)."""

    def __init__(self, turn: Callable[[], object], restore: Callable[[object], None]) -> None:
        self._turn, self._restore = turn, restore
        self._lock = threading.Lock()
        self._depth = 0
        self._before: object = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._before = self._turn()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._restore(self._before)


def _collector_off() -> object:
    was = gc.isenabled()
    gc.disable()
    return was


def _collector_back(was: object) -> None:
    if was:
        gc.enable()


_collector = _SharedSwitch(_collector_off, _collector_back)


_options: dict[str, _SharedSwitch] = {}
_options_lock = threading.Lock()


def option_held(
    name: str, value: object, get: Callable[[str], object], put: Callable[[dict[str, object]], None],
) -> contextlib.AbstractContextManager[None]:
    """A process-wide option (one of GDAL's, say) set to `value` while any block holding it runs, in any thread, and
    put back as it was when the last of them ends; `get(name)` reads it, ``put({name: v})`` sets it.

    Every caller naming the same option shares one switch, whichever module asks (the GeoPackage writers of the io
    and store packages turn ``OGR_SQLITE_SYNCHRONOUS`` off for their temporary copies: with a set and restore per
    block, two writers in two threads turned syncing back on under the second, then left it off for good).
    """
    with _options_lock:
        switch = _options.get(name)
        if switch is None:
            def turn() -> object:
                before = get(name)
                put({name: value})
                return before

            switch = _options[name] = _SharedSwitch(turn, lambda before: put({name: before}))
    return switch.held()


@contextmanager
def gpkg_versions(version: str) -> Iterator[None]:
    """Write GeoPackages of `version` (``"1.2"`` or ``"1.4"``) in the calls made inside the ``with`` block.

    Raises
    ------
    ConfigError
        If `version` is not one of :data:`GPKG_VERSIONS`.
    """
    token = _gpkg_version.set(_check_gpkg_version(version, "`gpkg_version`"))
    try:
        yield
    finally:
        _gpkg_version.reset(token)
