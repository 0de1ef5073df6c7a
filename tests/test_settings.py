"""Defaults and worker threads come from one place (gisplan.settings)."""

from __future__ import annotations

import gc
import os
import threading

import pytest

from gisplan import settings
from gisplan.errors import ConfigError


def test_thread_count_defaults_to_the_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.THREADS_ENV, raising=False)
    assert settings.thread_count() == (os.cpu_count() or 1)


def test_environment_and_context_narrow_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.THREADS_ENV, "3")
    assert settings.thread_count() == 3
    with settings.threads(1):
        assert settings.thread_count() == 1
        with settings.threads(2):
            assert settings.thread_count() == 2
        assert settings.thread_count() == 1
    assert settings.thread_count() == 3


def test_the_context_is_local_to_its_thread() -> None:
    seen: list[int] = []
    with settings.threads(1):
        worker = threading.Thread(target=lambda: seen.append(settings.thread_count()))
        worker.start()
        worker.join()
    assert seen == [settings.thread_count()]


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_environment_value_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(settings.THREADS_ENV, value)
    with pytest.raises(ConfigError, match="GISPLAN_THREADS"):
        settings.thread_count()


@pytest.mark.parametrize("value", [0, -1, 1.0, True])
def test_a_bad_context_value_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="positive whole number"), settings.threads(value):  # type: ignore[arg-type]
        pass


def test_collector_pauses_in_two_threads_end_with_the_last() -> None:
    """Two threads' collector pauses overlapping, the first ending inside the second: the collector stays off until
    the second ends, then is on again (with a set and restore per block, the first turned it back on early)."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with settings.collector_paused():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with settings.collector_paused():
            second_in.set()
            first_out.wait(10)
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == [False]
    assert gc.isenabled()


def test_unsynced_sqlite_blocks_in_two_threads_share_one_switch() -> None:
    """Two writers' unsynced blocks overlapping in two threads — an output file's (io) and a commit's (store): the
    option stays OFF until the last one ends and is then what it was before (with a set/restore per block, the
    first to end turned syncing back on under the second, and the second then left it OFF for the process)."""
    import pyogrio

    from gisplan.io.atomic import _sqlite_unsynced as output_unsynced
    from gisplan.store.gpkgwrite import sqlite_unsynced

    option = "OGR_SQLITE_SYNCHRONOUS"
    pyogrio.set_gdal_config_options({option: "NORMAL"})
    try:
        first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
        seen: dict[str, object] = {}  # pyogrio reads OFF back as False

        def first() -> None:
            with output_unsynced():
                first_in.set()
                second_in.wait(10)
            first_out.set()

        def second() -> None:
            first_in.wait(10)
            with sqlite_unsynced():
                second_in.set()
                first_out.wait(10)
                seen["inside, after the first ended"] = pyogrio.get_gdal_config_option(option)

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert seen == {"inside, after the first ended": False}
        assert pyogrio.get_gdal_config_option(option) == "NORMAL"
        with sqlite_unsynced(), sqlite_unsynced():  # nested in one thread
            assert pyogrio.get_gdal_config_option(option) is False
        assert pyogrio.get_gdal_config_option(option) == "NORMAL"
    finally:
        pyogrio.set_gdal_config_options({option: None})


def _fail_paused() -> None:
    with settings.collector_paused():
        assert not gc.isenabled()
        msg = "inside"
        raise ValueError(msg)


def test_the_collector_is_paused_inside_and_restored_as_it_was() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError, match="inside"):
        _fail_paused()
    assert gc.isenabled()
    gc.disable()
    try:
        with settings.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller's own pause stays
    finally:
        gc.enable()


def test_the_command_line_keeps_numpy_off_huge_pages_unless_told() -> None:
    """ordinary_pages (the command line's first step): numpy's huge-page switch is off in the process and in processes
    it starts; a NUMPY_MADVISE_HUGEPAGE the user set stands; numpy already loaded is switched at run time."""
    import subprocess
    import sys

    probe = ("from gisplan.settings import ordinary_pages; {before}ordinary_pages(); import os, sys, numpy; "
             "m = sys.modules.get('numpy._core.multiarray') or sys.modules['numpy.core.multiarray']; "  # numpy 2 / 1.x
             "print(m._get_madvise_hugepage(), os.environ['NUMPY_MADVISE_HUGEPAGE'])")
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}

    def run(before: str, **extra: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", probe.format(before=before)], env={**env, **extra},
                              capture_output=True, text=True, check=True).stdout.split()

    assert run("") == ["False", "0"]
    assert run("import numpy; ") == ["False", "0"]  # loaded first: switched at run time
    assert run("", NUMPY_MADVISE_HUGEPAGE="1") == ["True", "1"]
