"""The GeoPackage workspace's file handling: the writer lock (a ``.<name>.lock`` file beside the GeoPackage, flock
or msvcrt), the temporary copy a commit writes, its durable rename over the workspace, and the sweep of copies an
interrupted (killed) writer left behind. No SQL here: that stays in :mod:`gisplan.store.gpkg`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sys
import time
from typing import IO, TYPE_CHECKING

from gisplan.errors import StoreError
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["TMP_SUFFIX", "commit_file", "remove_tmp", "sweep_stale", "tmp_path", "writer_lock"]

logger = logging.getLogger(__name__)

#: The suffix of a commit's temporary copy (``.<name>.<pid>-<token>.importing.gpkg``).
TMP_SUFFIX = ".importing.gpkg"


def tmp_path(path: Path) -> Path:
    # pid plus a random token: a reused pid can never meet a stale file (or its journal) of another run
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}")


if sys.platform == "win32":  # planners' desktops: the same lock through msvcrt
    import msvcrt

    def _try_lock(fh: IO[str]) -> bool:
        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fh: IO[str]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fh: IO[str]) -> bool:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fh: IO[str]) -> None:
        fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def writer_lock(path: Path, *, wait_s: float = 600.0) -> Iterator[None]:
    """Hold the store's writer lock (a ``.<name>.lock`` file beside it), waiting up to `wait_s`.

    Hold it around reading the workspace for validation *and* writing, so that no other writer
    changes what was validated against. Leftover temporary files of interrupted writers are removed
    once the lock is held.

    Raises
    ------
    StoreError
        If another process still holds the lock after `wait_s` seconds.
    """
    lock_path = path.with_name(f".{path.name}.lock")
    existed = path.exists()
    created = [d for d in (path.parent, *path.parent.parents) if not d.exists()]  # deepest first
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = lock_path.open("a+")
    except OSError as exc:
        _tidy_new(path, lock_path, created, existed=existed)
        msg = _("cannot write a workspace at {path} ({strerror}); choose a folder you can write to.").format(
                path=path, strerror=exc.strerror or exc)
        raise StoreError(msg) from None
    deadline = time.monotonic() + wait_s
    waited = False
    with fh:
        while not _try_lock(fh):
            if time.monotonic() >= deadline:
                msg = (_("{path} is being written by another gisplan process (waited {wait_s:g} s); wait for it to "
                         "finish and retry.").format(path=path, wait_s=wait_s))
                raise StoreError(msg)
            if not waited:
                logger.warning("%s is being written by another gisplan process; waiting …", path)
                waited = True
            time.sleep(0.05)
        try:
            for stale in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}*"):  # with -journal/-wal/-shm
                logger.info("removing %s, left by an interrupted write", stale)
                stale.unlink(missing_ok=True)
            yield
        finally:
            if not existed and not path.exists():  # a failed first write leaves no lock file and no folders
                _tidy_new(path, lock_path, created, existed=existed)
            _unlock(fh)


def _tidy_new(path: Path, lock_path: Path, created: list[Path], *, existed: bool) -> None:
    """Remove the lock file and the folders a failed first write created for a workspace that never came to be."""
    if existed or path.exists():
        return
    lock_path.unlink(missing_ok=True)
    for folder in created:
        with contextlib.suppress(OSError):  # not empty: someone else wrote there meanwhile
            folder.rmdir()


def sweep_stale(path: Path) -> None:
    """Remove the temporary files of an interrupted (killed) write when no writer holds the workspace: any command
    that reads the workspace tidies up, not only the next import."""
    stale = list(path.parent.glob(f".{path.name}.*{TMP_SUFFIX}*")) if path.exists() else []
    if not stale:
        return
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        fh = lock_path.open("a+")
    except OSError:
        return
    with fh:
        if not _try_lock(fh):
            return  # a live writer: its temporary file is in use
        try:
            for tmp in stale:
                logger.info("removing %s, left by an interrupted write", tmp)
                tmp.unlink(missing_ok=True)
        finally:
            _unlock(fh)


def remove_tmp(tmp: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        tmp.with_name(tmp.name + suffix).unlink(missing_ok=True)


def commit_file(tmp: Path, path: Path) -> None:
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    tmp.replace(path)
    if os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
