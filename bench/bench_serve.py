"""Benchmark: `gisplan serve` on a real PostGIS workspace under a bounded concurrent load, against pygeoapi.

Data: the 永川 demo layers — the real township polygons (23) and gazetteer, the place-name register started from the
gazetteer (`gisplan places import-gazetteer`), and the ten ILLUSTRATIVE facility layers (示意, seeded, shipped in
layers/). PostgreSQL runs as a throwaway cluster (tests/pg.py: Debian's postgresql-15 + postgis, loopback, fsync off
as in the tests), started and removed by this script.

Three phases, each ``--seconds`` long with ``--clients`` concurrent clients on loopback, all in this one run. The
load generator is the same for both servers: :mod:`bench.httpload`, HTTP/1.1 on kept-alive connections (connected
again when a server closes one, as gunicorn's sync workers do after every answer), one asyncio loop in this process,
responses parsed by httptools; every status is checked, and the JSON bodies the clients need (a feature's version,
an edit's answer, a conflict's description) are parsed. It spends about 0.4 ms of CPU a request where httpx spent
3.3–3.8 ms (on the same 2 cores as the server); its CPU per request is printed with each phase.

1. ``gisplan read``: `gisplan serve` (its CLI, one uvicorn process) with the read mix — name filters, bbox pages, single
   features, all township polygons;
2. ``pygeoapi read``: pygeoapi (pip; the OGR provider on a GeoPackage copy of the same layers, which needs Debian's
   python3-gdal; gunicorn with 2 sync workers, as in the issue's figures) with the same read mix;
3. ``gisplan mixed``: `gisplan serve` with place-name search and row edits added (``PATCH`` with a reviewer token and
   the version read just before; a third of the edits go to three shared rows so that conflicts happen).

It prints throughput, p50/p95 per kind, errors (any 5xx or transport error; other unexpected 4xx separately), the
conflicts, and counts the row-history rows against the acknowledged (200) edits: they must be equal, and every
acknowledged version must be in the table or the history with the value the client sent. The load average is printed
with the figures (the machine may be shared).

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_serve.py [--seconds 60] [--clients 20] [--no-peer]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import numpy as np
import pyogrio

from bench.httpload import Connection, TransportError
from gisplan.catalogue import load_catalogue
from gisplan.service.auth import make_token
from gisplan.store import PostGISWorkspace, open_workspace
from gisplan.store.copy import copy_workspace
from gisplan.vocab import ServiceRole
from gisplan.workflows.importing import ImportSpec, import_layers
from gisplan.workflows.places import start_register
from tests import pg

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ROOT / "layers"
FACILITIES = LAYERS / "yongchuan_facilities_illustrative.gpkg"
DEBIAN_PYTHON_PACKAGES = "/usr/lib/python3/dist-packages"  # Debian's python3-gdal (osgeo) for pygeoapi's OGR provider
TOWNSHIPS = "townships"
EDIT_LAYER = "facilities_community_service_centre"
EDIT_COLUMN = "note"
HOT_ROWS = (1, 2, 3)  # rows every editor touches, so that edits conflict
READ_MIX = {"name filter": 30, "bbox page": 30, "single feature": 30, "townships": 10}
MIXED = {"search": 25, "name filter": 18, "bbox page": 18, "single feature": 18, "townships": 6, "edit": 15}
SEARCHES = ("永川", "中山路", "zhongshanlu", "zsl", "500118001", "朱龙", "xinglong", "chen", "卫星湖", "shengli")
GENERATOR = ("bench.httpload — HTTP/1.1, kept-alive connections, one asyncio loop in this process, responses parsed "
             "by httptools; the same for gisplan and pygeoapi")
BOXES = ((105.80, 29.25, 106.00, 29.45), (105.70, 29.10, 105.90, 29.30), (105.85, 29.30, 105.95, 29.40),
         (105.60, 29.00, 106.10, 29.60))


# ---------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Data:
    """What the clients ask for: layer names, row counts and name values, all read from the prepared data."""

    uri: str
    peer_gpkg: Path
    rows: dict[str, int]
    names: dict[str, list[str]]


def prepare(tmp: Path, cluster_uri: str, *, schema: str = "bench_serve") -> Data:
    """Import the demo layers into a GeoPackage workspace, start its register, copy it to PostGIS (row hashes
    compared by the copy) and write the peer's plain GeoPackage (EPSG:4326, ``gid`` = gisplan's feature id)."""
    catalogue = load_catalogue()
    gpkg = open_workspace(tmp / "yc.gpkg")
    specs = [ImportSpec(LAYERS / "yongchuan_gazetteer.csv", "gazetteer"),
             ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", "district", layer="district"),
             ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", TOWNSHIPS, layer=TOWNSHIPS)]
    specs += [ImportSpec(FACILITIES, "facilities", str(kind), layer=str(kind))
              for kind, _ in pyogrio.list_layers(FACILITIES)]
    import_layers(gpkg, specs, catalogue=catalogue)
    start_register(gpkg, user="bench")
    uri = f"{cluster_uri}?schema={schema}"
    copies = copy_workspace(gpkg, open_workspace(uri))
    if not all(c.equal for c in copies):
        msg = f"the PostGIS copy differs: {[c.name for c in copies if not c.equal]}"
        raise RuntimeError(msg)
    peer_gpkg = tmp / "peer.gpkg"
    rows: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    for name in [TOWNSHIPS, *(n for n in gpkg.layer_names() if n.startswith("facilities_"))]:
        frame = gpkg.read_layer(name).to_crs("EPSG:4326").reset_index(drop=True)
        frame.insert(0, "gid", np.arange(1, len(frame) + 1))
        pyogrio.write_dataframe(frame, peer_gpkg, layer=name)
        rows[name] = len(frame)
        names[name] = sorted(frame["name"].dropna().astype(str).unique().tolist())
    return Data(uri, peer_gpkg, rows, names)


# ---------------------------------------------------------------------------------------------------- servers


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}".rstrip(os.pathsep)}


def add_token(uri: str, user: str, role: str = "reviewer") -> str:
    """A new API token for `user` (what `gisplan serve token add` prints once), made in this process."""
    token_id, token = make_token(open_workspace(uri), user=user, role=ServiceRole(role))
    del token_id
    return token


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Wait until `url` answers 200 (raises if the process exits or the deadline passes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"the server exited with {process.returncode} before answering {url}"
            raise RuntimeError(msg)
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.1)
    msg = f"{url} did not answer within {timeout_s:.0f} s"
    raise RuntimeError(msg)


def warm(base: str, *, search: bool = False) -> None:
    """Unmeasured requests to the collections (the server reads its layers on the first) and, for gisplan, one
    search (it builds the register's search index on the first)."""
    urls = [f"{base}/collections?f=json"] + ([f"{base}/places/search?q=%E6%B0%B8%E5%B7%9D"] if search else [])
    for url in urls:
        with urllib.request.urlopen(url, timeout=300) as answer:  # raises unless 2xx
            answer.read()


def start_gisplan(uri: str, port: int) -> subprocess.Popen[bytes]:
    """`gisplan serve -w URI` as a subprocess on loopback (its CLI: one uvicorn process); ready when it returns."""
    process = subprocess.Popen([sys.executable, "-c", "from gisplan.cli import main; main()", "serve", "-w", uri,
                                "--host", "127.0.0.1", "--port", str(port)], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/", process)
        warm(f"http://127.0.0.1:{port}", search=True)
    except BaseException:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started here (SIGTERM, then SIGKILL after 10 s)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass(frozen=True)
class Served:
    """A server started here: its base URL and process (the root of its process tree)."""

    base: str
    process: subprocess.Popen[bytes]

    def cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by the server's process and its children (gunicorn's workers),
        from /proc: a figure that a busy shared machine disturbs less than wall-clock latencies."""
        return tree_cpu_s(self.process.pid)


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of process `root` and its descendants (Linux /proc; 0 elsewhere)."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent pid, cpu s)
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = entry.read_text().rpartition(")")[2].split()
            stats[int(entry.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in stats.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(stats[pid][1] for pid in tree if pid in stats)


@contextlib.contextmanager
def serving_gisplan(uri: str) -> Iterator[Served]:
    """`gisplan serve` on `uri` for the block."""
    port = free_port()
    process = start_gisplan(uri, port)
    try:
        yield Served(f"http://127.0.0.1:{port}", process)
    finally:
        stop(process)


def _pygeoapi_config(data: Data, port: int) -> dict[str, Any]:
    resources = {
        name: {
            "type": "collection", "title": name, "description": f"{name} (GeoPackage copy)", "keywords": ["bench"],
            "extents": {"spatial": {"bbox": [105.5, 28.9, 106.2, 29.7],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "links": [],
            "providers": [{"type": "feature", "name": "OGR", "id_field": "gid", "layer": name,
                           "data": {"source_type": "GPKG", "source": str(data.peer_gpkg),
                                    "source_capabilities": {"paging": True}}}],
        } for name in data.rows}
    return {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "cors": False, "pretty_print": False, "limits": {"default_items": 10, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                               "keywords_type": "theme", "terms_of_service": "none", "url": "http://localhost"},
            "license": {"name": "none", "url": "http://localhost"},
            "provider": {"name": "bench", "url": "http://localhost"},
            "contact": {"name": "bench", "position": "bench", "address": "x", "city": "x", "stateorprovince": "x",
                        "postalcode": "x", "country": "x", "phone": "x", "fax": "x", "email": "x@example.org",
                        "url": "http://localhost", "hours": "x", "instructions": "x", "role": "pointOfContact"}},
        "resources": resources,
    }


_LAUNCH = ("import sys; sys.path.append({path!r}); sys.argv = {argv!r}; {call}")


@contextlib.contextmanager
def serving_pygeoapi(data: Data, tmp: Path, *, workers: int = 2) -> Iterator[Served]:
    """pygeoapi (pip) with its OGR provider on the peer GeoPackage, under gunicorn.

    Runs with this Python; Debian's ``osgeo`` (python3-gdal, same Python 3.11 ABI) is appended to ``sys.path``, after
    the venv's own packages, because the venv has no GDAL bindings and its sqlite3 cannot load SpatiaLite.
    """
    port = free_port()
    config = tmp / "pygeoapi-config.json"
    config.write_text(json.dumps(_pygeoapi_config(data, port)), encoding="utf-8")
    openapi = tmp / "pygeoapi-openapi.yml"
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    make = _LAUNCH.format(path=DEBIAN_PYTHON_PACKAGES, call="from pygeoapi import cli; cli()",
                          argv=["pygeoapi", "openapi", "generate", str(config), "--output-file", str(openapi)])
    done = subprocess.run([sys.executable, "-c", make], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        msg = f"pygeoapi openapi generate failed: {done.stderr.strip()[-800:]}"
        raise RuntimeError(msg)
    argv = ["gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "error",
            "pygeoapi.flask_app:APP"]
    run = _LAUNCH.format(path=DEBIAN_PYTHON_PACKAGES, argv=argv, call="from gunicorn.app.wsgiapp import run; run()")
    process = subprocess.Popen([sys.executable, "-c", run], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/?f=json", process)
        warm(f"http://127.0.0.1:{port}")
        yield Served(f"http://127.0.0.1:{port}", process)
    finally:
        stop(process)


# ---------------------------------------------------------------------------------------------------- load


@dataclass
class Edit:
    """One acknowledged edit (a 200 answer): the feature id (the row's position), the version the server gave it,
    the value sent."""

    fid: int
    version: int
    value: str


@dataclass
class Tally:
    """Every request's kind, status and latency, and the acknowledged edits."""

    kinds: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # 0: transport error
    seconds: list[float] = field(default_factory=list)
    acknowledged: list[Edit] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # the 409 descriptions
    attempted_fids: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)  # first few unexpected answers, for the report
    wall_s: float = 0.0
    server_cpu_s: float = float("nan")  # CPU seconds the server used during the phase
    client_cpu_s: float = float("nan")  # CPU seconds the load generator (this process) used during the phase

    def record(self, kind: str, status: int, seconds: float, detail: str = "") -> None:
        """Keep one request's outcome."""
        self.kinds.append(kind)
        self.statuses.append(status)
        self.seconds.append(seconds)
        unexpected = status == 0 or status >= 500 or (400 <= status < 500 and status != 409)
        if unexpected and len(self.problems) < 10:
            self.problems.append(f"{kind} → {status or 'transport error'} {detail[:200]}")


def _url(data: Data, rng: random.Random, kind: str) -> str:
    """A read request of `kind` (same URLs on both servers)."""
    layers = [n for n in data.rows if n != TOWNSHIPS]
    layer = rng.choice(layers)
    if kind == "name filter":
        return f"/collections/{layer}/items?f=json&name={quote(rng.choice(data.names[layer]))}&limit=50"
    if kind == "bbox page":
        box = ",".join(str(v) for v in rng.choice(BOXES))
        return f"/collections/{layer}/items?f=json&bbox={box}&limit=10&offset={rng.choice((0, 10, 20))}"
    if kind == "single feature":
        return f"/collections/{layer}/items/{rng.randint(1, data.rows[layer])}?f=json"
    if kind == "townships":
        return f"/collections/{TOWNSHIPS}/items?f=json&limit=100"
    return f"/places/search?q={rng.choice(SEARCHES)}&limit=10"


async def _edit(client: Connection, tally: Tally, rng: random.Random, who: int, token: str, rows: int) -> None:
    """Read a row's version, then PATCH one column with it: 200 is an acknowledged edit, 409 a conflict."""
    fid = rng.choice(HOT_ROWS) if rng.random() < 1 / 3 else len(HOT_ROWS) + 1 + (who * 7 + rng.randrange(7)) % (
        rows - len(HOT_ROWS))
    path = f"/collections/{EDIT_LAYER}/items/{fid}"
    started = time.perf_counter()
    try:
        got = await client.request("GET", path)
    except TransportError as exc:
        tally.record("single feature", 0, time.perf_counter() - started, repr(exc))
        return
    tally.record("single feature", got.status, got.seconds, got.text if got.status != 200 else "")
    if got.status != 200:
        return
    version = got.json().get("version")
    value = f"bench 编辑 client {who} #{rng.randrange(10**9)}"
    body = json.dumps({"version": version, "properties": {EDIT_COLUMN: value}}, ensure_ascii=False).encode()
    tally.attempted_fids.add(fid)
    started = time.perf_counter()
    try:
        answer = await client.request("PATCH", path, body=body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    except TransportError as exc:
        tally.record("edit", 0, time.perf_counter() - started, repr(exc))
        return
    tally.record("edit", answer.status, answer.seconds, answer.text if answer.status not in {200, 409} else "")
    if answer.status == 200:
        tally.acknowledged.append(Edit(fid, int(answer.json()["version"]), value))
    elif answer.status == 409:
        tally.conflicts.append(str(answer.json().get("description", answer.text)))


async def _client(base: str, data: Data, mix: dict[str, int], tally: Tally, who: int, until: float,
                  token: str | None) -> None:
    rng = random.Random(who)
    kinds, weights = list(mix), list(mix.values())
    where = urlsplit(base)
    client = Connection(where.hostname or "127.0.0.1", where.port or 80, timeout_s=30)
    try:
        while time.perf_counter() < until:
            kind = rng.choices(kinds, weights)[0]
            if kind == "edit":
                await _edit(client, tally, rng, who, token or "", data.rows[EDIT_LAYER])
                continue
            url = _url(data, rng, kind)
            started = time.perf_counter()
            try:
                answer = await client.request("GET", url)
            except TransportError as exc:
                tally.record(kind, 0, time.perf_counter() - started, repr(exc))
                continue
            tally.record(kind, answer.status, answer.seconds, answer.text if answer.status != 200 else "")
    finally:
        client.close()


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process so far: the load generator's cost."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_load(server: Served, data: Data, mix: dict[str, int], *, seconds: float, clients: int,
             token: str | None = None) -> Tally:
    """`clients` concurrent clients, each looping over requests drawn from `mix` for `seconds`."""
    tally = Tally()

    async def main() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_client(server.base, data, mix, tally, who, until, token) for who in range(clients)))

    started, cpu, own = time.perf_counter(), server.cpu_s(), _cpu_s()
    asyncio.run(main())
    tally.wall_s = time.perf_counter() - started
    tally.server_cpu_s = server.cpu_s() - cpu
    tally.client_cpu_s = _cpu_s() - own
    return tally


# ---------------------------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class EditCheck:
    """The acknowledged edits against the table and its row history."""

    acknowledged: int
    history_rows: int
    missing: list[str]  # acknowledged edits not found (or with another value) in the table or the history

    @property
    def ok(self) -> bool:
        """Every acknowledged edit is there and the history has exactly one row per edit."""
        return not self.missing and self.history_rows == self.acknowledged


def check_edits(uri: str, edits: Sequence[Edit], fids: set[int], *, exact: bool = True) -> EditCheck:
    """Count the row-history rows of the edited rows and find every acknowledged version with its value (in the
    table if it is the row's current version, else in the row history) and its revision in the change log.

    With `exact`, the history must hold exactly one row per acknowledged edit (no edit committed unseen); after a
    kill -9 an edit may commit without its answer reaching the client, so only ``≥`` holds.
    """
    ws = open_workspace(uri)
    if not isinstance(ws, PostGISWorkspace):
        msg = f"{uri} is not a PostGIS workspace"
        raise TypeError(msg)
    current = ws.read_layer(EDIT_LAYER).reset_index(drop=True)
    versions = ws.row_versions(EDIT_LAYER)  # in stored order: a feature id is a position in it
    fid_of = versions["fid"].tolist()
    history = {p: ws.row_history(EDIT_LAYER, fid_of[p - 1]) for p in sorted(fids | {e.fid for e in edits})}
    log = ws.changelog()
    log = log[(log["action"] == "edit") & (log["layer"] == EDIT_LAYER)]
    details = [json.loads(d) for d in log["detail"]]
    logged = {(fid_of.index(int(d["fid"])) + 1, int(d["to_version"])) for d in details}
    missing = [f"row {e.fid} version {e.version}: no edit in the change log" for e in edits
               if (e.fid, e.version) not in logged]
    for edit in edits:
        position = edit.fid - 1
        if int(versions["version"].iloc[position]) == edit.version:
            found = current[EDIT_COLUMN].iloc[position]
        else:
            old = history[edit.fid]
            rows = old[old["version"] == edit.version]["row"].tolist()
            found = json.loads(rows[0]).get(EDIT_COLUMN) if len(rows) == 1 else None
        if found != edit.value:
            missing.append(f"row {edit.fid} version {edit.version}: expected {edit.value!r}, found {found!r}")
    history_rows = sum(len(h) for h in history.values())
    if not exact:
        history_rows = min(history_rows, len(edits))
    return EditCheck(len(edits), history_rows, missing)


# ---------------------------------------------------------------------------------------------------- report


def summary(tally: Tally) -> dict[str, Any]:
    """Throughput, p50/p95 per kind and overall (ms), errors and other unexpected answers."""
    kinds = np.array(tally.kinds)
    statuses = np.array(tally.statuses)
    ms = np.array(tally.seconds) * 1000
    per_kind = {str(k): {"n": int((kinds == k).sum()), "p50_ms": float(np.percentile(ms[kinds == k], 50)),
                         "p95_ms": float(np.percentile(ms[kinds == k], 95))} for k in sorted(set(tally.kinds))}
    errors = int(((statuses == 0) | (statuses >= 500)).sum())
    other = int(((statuses >= 400) & (statuses < 500) & (statuses != 409)).sum())
    return {"requests": len(ms), "rps": len(ms) / tally.wall_s if tally.wall_s else 0.0,
            "server_cpu_s": tally.server_cpu_s,
            "cpu_ms_per_request": tally.server_cpu_s * 1000 / len(ms) if len(ms) else float("nan"),
            "client_cpu_s": tally.client_cpu_s,
            "client_cpu_ms_per_request": tally.client_cpu_s * 1000 / len(ms) if len(ms) else float("nan"),
            "p50_ms": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
            "p95_ms": float(np.percentile(ms, 95)) if len(ms) else float("nan"),
            "errors": errors, "other_4xx": other, "conflicts": len(tally.conflicts),
            "acknowledged": len(tally.acknowledged), "kinds": per_kind, "problems": tally.problems}


def _print(title: str, s: dict[str, Any]) -> None:
    print(f"{title}: {s['requests']:,} requests, {s['rps']:.1f} req/s, p50 {s['p50_ms']:.1f} ms, "
          f"p95 {s['p95_ms']:.1f} ms, errors {s['errors']}, other 4xx {s['other_4xx']}; server CPU "
          f"{s['server_cpu_s']:.1f} s ({s['cpu_ms_per_request']:.2f} ms a request); load generator CPU "
          f"{s['client_cpu_s']:.1f} s ({s['client_cpu_ms_per_request']:.2f} ms a request)")
    for kind, k in s["kinds"].items():
        print(f"    {kind:15s} n={k['n']:6d}  p50 {k['p50_ms']:7.1f} ms  p95 {k['p95_ms']:7.1f} ms")
    for problem in s["problems"]:
        print(f"    ! {problem}")


def load_average() -> str:
    """The 1/5/15-minute load averages and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def bench(*, seconds: float, clients: int, peer: bool = True, edits: bool = True, read: bool = True,
          cluster_uri: str | None = None) -> dict[str, Any]:
    """Run the phases; return every summary and the edit check (also printed). A throwaway PostgreSQL cluster is
    started unless `cluster_uri` names a database with PostGIS (the tests pass theirs)."""
    with contextlib.ExitStack() as stack:
        uri = cluster_uri or stack.enter_context(pg.cluster())
        return _bench(uri, seconds=seconds, clients=clients, peer=peer and read, edits=edits, read=read)
    raise AssertionError  # unreachable (for mypy: ExitStack may swallow exceptions)


def _bench(cluster_uri: str, *, seconds: float, clients: int, peer: bool, edits: bool, read: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp_name:
        tmp = Path(tmp_name)
        data = prepare(tmp, cluster_uri, schema=f"bench_serve_{os.getpid()}_{time.monotonic_ns()}")
        print(f"data: {data.rows[TOWNSHIPS]} townships, {len(data.rows) - 1} facility layers (示意) with "
              f"{sum(data.rows.values()) - data.rows[TOWNSHIPS]} rows, register on PostGIS; "
              f"{clients} clients × {seconds:g} s per phase")
        print(f"load generator: {GENERATOR}")
        print(f"before: {load_average()}")
        if read:
            with serving_gisplan(data.uri) as server:
                out["gisplan read"] = summary(run_load(server, data, READ_MIX, seconds=seconds, clients=clients))
            _print("gisplan read", out["gisplan read"])
            print(f"        {load_average()}")
        if peer:
            with serving_pygeoapi(data, tmp) as server:
                out["pygeoapi read"] = summary(run_load(server, data, READ_MIX, seconds=seconds, clients=clients))
            _print("pygeoapi read", out["pygeoapi read"])
            print(f"        {load_average()}")
        if edits:
            token = add_token(data.uri, "bench-editor")
            with serving_gisplan(data.uri) as server:
                tally = run_load(server, data, MIXED, seconds=seconds, clients=clients, token=token)
            out["gisplan mixed"] = summary(tally)
            _print("gisplan mixed", out["gisplan mixed"])
            print(f"        {load_average()}")
            check = check_edits(data.uri, tally.acknowledged, tally.attempted_fids)
            out["edit check"] = check
            print(f"edits: {check.acknowledged} acknowledged (200), {len(tally.conflicts)} conflicts (409), "
                  f"{check.history_rows} history rows: {'equal' if check.ok else 'NOT EQUAL'}")
            for line in check.missing[:10]:
                print(f"    ! lost: {line}")
    if peer:
        ours, theirs = out["gisplan read"], out["pygeoapi read"]
        out["ratios"] = {"throughput": ours["rps"] / theirs["rps"], "p95": ours["p95_ms"] / theirs["p95_ms"]}
        print(f"ratios (read mix, gisplan / pygeoapi): throughput {out['ratios']['throughput']:.2f}x (goal ≥ 4), "
              f"p95 {out['ratios']['p95']:.2f} (goal ≤ 0.25)")
    if "gisplan mixed" in out and "search" in out["gisplan mixed"]["kinds"]:
        print(f"search p95 {out['gisplan mixed']['kinds']['search']['p95_ms']:.1f} ms (goal ≤ 50)")
    return out


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase (default 60)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--no-peer", action="store_true", help="skip pygeoapi")
    parser.add_argument("--no-edits", action="store_true", help="skip the mixed phase with search and edits")
    parser.add_argument("--no-read", action="store_true", help="skip the read-only phases (gisplan and pygeoapi)")
    args = parser.parse_args()
    bench(seconds=args.seconds, clients=args.clients, peer=not args.no_peer, edits=not args.no_edits,
          read=not args.no_read)


if __name__ == "__main__":
    main()
