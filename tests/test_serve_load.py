"""`gisplan serve` under load on a real PostGIS workspace: the short benchmark (no errors, one history row per
acknowledged edit), two editors on one row (one wins, the other gets a 409 naming the winner), and a kill -9 of the
server while clients edit, then a restart on the same workspace: every acknowledged edit is there.

The server runs as its CLI does (`gisplan serve`, a subprocess with uvicorn), so that it can be killed; clients
record every acknowledged (200) answer on their side and the checks read the table and its row history."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from bench import bench_serve
from bench.bench_serve import EDIT_COLUMN, EDIT_LAYER, Edit, add_token, check_edits, free_port, start_gisplan, stop
from gisplan.store import open_workspace
from gisplan.store.copy import copy_workspace

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def shared_store(base_store: Path, postgis_uri: str) -> str:
    """The base workspace (real townships, the 267 illustrative centres) copied to a new PostGIS schema."""
    copy_workspace(open_workspace(base_store), open_workspace(postgis_uri))
    return postgis_uri


@contextlib.contextmanager
def _server(uri: str, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = port or free_port()
    process = start_gisplan(uri, port)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop(process)


def _item(client: httpx.Client, fid: int) -> dict[str, object]:
    got = client.get(f"/collections/{EDIT_LAYER}/items/{fid}")
    assert got.status_code == 200, got.text
    feature: dict[str, object] = got.json()
    assert got.headers["ETag"] == f'"{feature["version"]}"'
    return feature


def _patch(client: httpx.Client, token: str, fid: int, version: object, value: str) -> httpx.Response:
    return client.patch(f"/collections/{EDIT_LAYER}/items/{fid}", headers={"Authorization": f"Bearer {token}"},
                        json={"version": version, "properties": {EDIT_COLUMN: value}})


def test_short_bench_has_no_errors_and_one_history_row_per_edit(postgres_cluster: str) -> None:
    # the short mode (--seconds 5 --clients 4), its mixed phase only (every kind of request, edits included): the
    # read-only phases start two more servers, pygeoapi alone ~30 s on the shared machine
    out = bench_serve.bench(seconds=5, clients=4, read=False, cluster_uri=postgres_cluster)
    for phase in ("gisplan mixed",):
        summary = out[phase]
        assert summary["requests"] > 0, phase
        assert (summary["errors"], summary["other_4xx"], summary["problems"]) == (0, 0, []), phase
    mixed = out["gisplan mixed"]
    assert {"search", "name filter", "bbox page", "single feature", "townships", "edit"} <= set(mixed["kinds"])
    check = out["edit check"]
    assert check.acknowledged == mixed["acknowledged"] > 0
    assert check.history_rows == check.acknowledged
    assert check.missing == []
    assert set(out) == {"gisplan mixed", "edit check"}


def test_two_editors_on_one_row_one_wins_the_other_gets_a_conflict_naming_the_winner(shared_store: str) -> None:
    tokens = {"甲编辑": add_token(shared_store, "甲编辑"), "乙编辑": add_token(shared_store, "乙编辑")}
    fid = 5
    with _server(shared_store) as (url, _), httpx.Client(base_url=url, timeout=30) as client:
        before = _item(client, fid)
        version = before["version"]
        answers: dict[str, httpx.Response] = {}
        ready = threading.Barrier(2)

        def edit(user: str) -> None:
            with httpx.Client(base_url=url, timeout=30) as own:
                ready.wait()
                answers[user] = _patch(own, tokens[user], fid, version, f"{user}的修改")

        threads = [threading.Thread(target=edit, args=(user,)) for user in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        statuses = sorted(a.status_code for a in answers.values())
        assert statuses == [200, 409], {u: a.text for u, a in answers.items()}
        winner = next(u for u, a in answers.items() if a.status_code == 200)
        loser = next(u for u in tokens if u != winner)
        assert answers[winner].json() == {"id": fid, "version": version + 1,
                                          "revision": answers[winner].json()["revision"]}
        conflict = answers[loser].json()
        assert winner in conflict["description"], conflict
        after = _item(client, fid)
        assert (after["version"], after["properties"][EDIT_COLUMN]) == (version + 1, f"{winner}的修改")
        # the loser reads again and makes the edit on the new version: both versions are then in the history
        retry = _patch(client, tokens[loser], fid, after["version"], f"{loser}的修改")
        assert retry.status_code == 200, retry.text
    ws = open_workspace(shared_store)
    history = ws.row_history(EDIT_LAYER, int(ws.row_versions(EDIT_LAYER)["fid"].iloc[fid - 1]))
    assert history["version"].tolist() == [version, version + 1]
    assert history["changed_by"].tolist()[1] == winner
    check = check_edits(shared_store, [Edit(fid, version + 1, f"{winner}的修改"),
                                       Edit(fid, version + 2, f"{loser}的修改")], {fid})
    assert (check.ok, check.history_rows, check.missing) == (True, 2, [])


class _Editors:
    """Client threads editing three shared rows and three rows of their own in a loop; they record every
    acknowledged (200) edit, ride out a dead server (transport errors) and stop when told."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.acknowledged: list[Edit] = []
        self.attempted: set[int] = set()
        self.failures: list[str] = []
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self, url: str, count: int) -> None:
        self.threads = [threading.Thread(target=self._edit, args=(who, url), daemon=True) for who in range(count)]
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.done.set()
        for t in self.threads:
            t.join(15)

    def wait_for(self, count: int, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.acknowledged)

    def _edit(self, who: int, url: str) -> None:
        rows = [1, 2, 3, 10 + who * 3, 11 + who * 3, 12 + who * 3]
        with httpx.Client(base_url=url, timeout=10) as client:
            k = 0
            while not self.done.is_set():
                fid = rows[k % len(rows)]
                k += 1
                value = f"编辑者{who} 第{k}次"
                try:
                    got = client.get(f"/collections/{EDIT_LAYER}/items/{fid}")
                    with self.lock:
                        self.attempted.add(fid)
                    answer = _patch(client, self.token, fid, got.json()["version"], value)
                except httpx.TransportError:
                    time.sleep(0.05)  # the server is down: keep trying until the test stops the clients
                    continue
                with self.lock:
                    if answer.status_code == 200:
                        self.acknowledged.append(Edit(fid, int(answer.json()["version"]), value))
                    elif answer.status_code != 409:
                        self.failures.append(f"{answer.status_code} {answer.text[:200]}")


def test_kill_9_under_edits_then_restart_loses_no_acknowledged_edit(shared_store: str) -> None:
    editors = _Editors(add_token(shared_store, "压测编辑"))
    port = free_port()
    with _server(shared_store, port) as (url, process):
        editors.start(url, 4)
        editors.wait_for(20, timeout_s=20)
        os.kill(process.pid, signal.SIGKILL)  # mid-load, whatever it is doing
        process.wait(10)
        killed_at = len(editors.acknowledged)
    assert killed_at >= 20, f"only {killed_at} edits acknowledged before the kill"
    with _server(shared_store, port) as (url, _):  # the same workspace, the same address: the clients carry on
        after = editors.wait_for(killed_at + 10, timeout_s=15)
        editors.stop()
        assert after >= killed_at + 10, "the restarted server took no edits"
        with httpx.Client(base_url=url, timeout=30) as client:
            for edit in editors.acknowledged:
                assert int(_item(client, edit.fid)["version"]) >= edit.version
    assert editors.failures == []
    check = check_edits(shared_store, editors.acknowledged, editors.attempted, exact=False)
    assert check.missing == [], check.missing[:5]
    assert check.history_rows == len(editors.acknowledged)  # at least one history row per acknowledged edit
