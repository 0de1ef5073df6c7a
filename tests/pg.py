"""A throwaway PostgreSQL + PostGIS cluster for the tests (Debian's postgresql-15 and postgresql-15-postgis-3).

`initdb` refuses to run as root, so as root the cluster is created and run as the ``postgres`` user (with
``runuser``); otherwise as the current user. It listens on a free loopback port with its socket in its own folder,
trusts local connections, and is stopped and removed at the end of the session. A database ``gisplan`` with the
postgis extension is ready; each test uses its own schema.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

BIN = Path(os.environ.get("GISPLAN_PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
USER = "gis"
DATABASE = "gisplan"


class ClusterUnavailableError(RuntimeError):
    """PostgreSQL or PostGIS is not installed, or the cluster did not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str], what: str) -> None:
    done = subprocess.run(_as_owner(args), capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        msg = f"{what} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        raise ClusterUnavailableError(msg)


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start a throwaway cluster; yield the URI of its ``gisplan`` database (append ``?schema=…``).

    Raises
    ------
    ClusterUnavailableError
        If PostgreSQL 15 or PostGIS is not installed or the server does not start (the message says why).
    """
    if not (BIN / "initdb").exists():
        msg = f"PostgreSQL 15 not found at {BIN} (`apt-get install postgresql-15-postgis-3`)"
        raise ClusterUnavailableError(msg)
    if not POSTGIS_CONTROL.exists():
        msg = f"PostGIS not installed ({POSTGIS_CONTROL} missing; `apt-get install postgresql-15-postgis-3`)"
        raise ClusterUnavailableError(msg)
    root = Path(tempfile.mkdtemp(prefix="gisplan-pg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    started = False
    try:
        _run([str(BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
             "initdb")
        _run([str(BIN / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-t", "60",
              "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c full_page_writes=off",
              "start"], "pg_ctl start")
        started = True
        import psycopg

        with psycopg.connect(f"postgresql://{USER}@127.0.0.1:{port}/postgres", autocommit=True) as con:
            con.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}", autocommit=True) as con:
            con.execute("CREATE EXTENSION postgis")
        yield f"postgresql://{USER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            subprocess.run(_as_owner([str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)
