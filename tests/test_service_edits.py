"""The service's write side (tokens, roles, row edits with conflicts, audit, limits, errors) on a GeoPackage and on a
real PostGIS (tests/pg.py), through the ASGI app in-process (FastAPI's TestClient)."""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.service import create_app, make_token
from gisplan.service.freshness import CHECK_INTERVAL_S
from gisplan.store import LayerWrite, layer_hash, open_workspace
from gisplan.store.servicetables import read_audit, read_tokens
from gisplan.vocab import ServiceRole
from gisplan.workflows.places import start_register
from tests.conftest import peer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi.testclient import TestClient

    from gisplan.store import Workspace

TOWNSHIPS = "townships"


@pytest.fixture(scope="module")
def register_store(tmp_path_factory: pytest.TempPathFactory, base_store: Path) -> Path:
    """The base workspace (townships, 267 centres, gazetteer) with the place-name register started."""
    store = tmp_path_factory.mktemp("svc") / "yc.gpkg"
    shutil.copyfile(base_store, store)
    start_register(open_workspace(store), user="地名科")
    return store


def workspace_of(kind: str, register_store: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Workspace:
    store = tmp_path / "yc.gpkg"
    shutil.copyfile(register_store, store)
    if kind == "gpkg":
        return open_workspace(store)
    uri = request.getfixturevalue("postgis_uri")
    result = CliRunner().invoke(cli, ["db", "copy", str(store), uri])
    assert result.exit_code == 0, result.output
    return open_workspace(uri)


@pytest.fixture(params=["gpkg", "postgis"])
def ws(request: pytest.FixtureRequest, register_store: Path, tmp_path: Path) -> Workspace:
    return workspace_of(request.param, register_store, tmp_path, request)


@pytest.fixture
def tokens(ws: Workspace) -> dict[str, str]:
    return {role.value: make_token(ws, user=f"{role.value}-用户", role=role)[1] for role in ServiceRole}


def client_for(ws: Workspace, **options: Any) -> TestClient:
    testclient = peer("fastapi.testclient")
    client: TestClient = testclient.TestClient(create_app(ws, allow_writes=True, **options),
                                               raise_server_exceptions=False)
    return client


@pytest.fixture
def client(ws: Workspace) -> Iterator[TestClient]:
    with client_for(ws) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hashes(ws: Workspace) -> dict[str, str | None]:
    return {name: layer_hash(ws.read(name)) for name in sorted(ws.layer_names())}


def history_rows(ws: Workspace, layer: str, position: int) -> int:
    """How many earlier versions of feature `position` the workspace's history keeps."""
    if ws.uri.startswith("postgresql"):
        fid = int(ws.row_versions(layer)["fid"].iloc[position - 1])  # type: ignore[attr-defined]
        return len(ws.row_history(layer, fid))  # type: ignore[attr-defined]
    history = ws.history(layer=layer)
    return int((history["action"] == "edit").sum())


def test_no_token_401_wrong_role_403_reviewer_200_with_history_and_audit(ws: Workspace, client: TestClient,
                                                                         tokens: dict[str, str]) -> None:
    feature = client.get(f"/collections/{TOWNSHIPS}/items/3")
    assert feature.status_code == 200
    assert feature.headers["etag"] == '"1"'
    assert feature.json()["version"] == 1
    name = feature.json()["properties"]["name"]
    body = {"version": 1, "properties": {"name": f"{name}（改）"}}
    path = f"/collections/{TOWNSHIPS}/items/3"

    nobody = client.patch(path, json=body)
    assert nobody.status_code == 401
    assert nobody.headers["www-authenticate"].startswith("Bearer")
    assert "令牌" in nobody.json()["description"]
    assert client.patch(path, json=body, headers=bearer("not-a-token")).status_code == 401
    applicant = client.patch(path, json=body, headers=bearer(tokens["applicant"]))
    assert applicant.status_code == 403
    assert "applicant" in applicant.json()["description"]
    assert ws.read_layer(TOWNSHIPS)["name"].iloc[2] == name  # refused: unchanged

    done = client.patch(path, json=body, headers=bearer(tokens["reviewer"]))
    assert done.status_code == 200, done.text
    assert done.json()["id"] == 3
    assert done.json()["version"] == 2
    assert done.json()["revision"] == ws.revision()
    assert ws.read_layer(TOWNSHIPS)["name"].iloc[2] == f"{name}（改）"
    assert history_rows(ws, TOWNSHIPS, 3) == 1
    again = client.get(path)
    assert again.headers["etag"] == '"2"'
    assert again.json()["properties"]["name"] == f"{name}（改）"

    audit = read_audit(ws)  # newest first
    assert audit["status"].tolist() == [200, 403, 401, 401]
    assert audit["user"].tolist()[:2] == ["reviewer-用户", "applicant-用户"]
    assert audit["role"].tolist()[:2] == ["reviewer", "applicant"]
    assert set(audit["method"]) == {"PATCH"}
    assert audit["client"].iloc[0] == "testclient"
    assert audit["summary"].iloc[0].startswith("edit townships/3 v1→v2")
    assert client.get("/audit", headers=bearer(tokens["reviewer"])).status_code == 403
    listed = client.get("/audit", headers=bearer(tokens["admin"]))
    assert listed.status_code == 200
    assert [r["status"] for r in listed.json()["items"]] == [200, 403, 401, 401]


def test_two_editors_one_wins_the_other_gets_409_naming_the_winner(ws: Workspace, client: TestClient) -> None:
    first = make_token(ws, user="王五", role=ServiceRole.REVIEWER)[1]
    second = make_token(ws, user="赵六", role=ServiceRole.ADMIN)[1]
    path = f"/collections/{TOWNSHIPS}/items/5"
    won = client.patch(path, json={"version": 1, "properties": {"name": "甲"}}, headers=bearer(first))
    lost = client.patch(path, json={"version": 1, "properties": {"name": "乙"}}, headers=bearer(second))
    assert won.status_code == 200
    assert lost.status_code == 409
    assert lost.json()["code"] == "Conflict"
    assert "王五" in lost.json()["description"]
    assert ws.read_layer(TOWNSHIPS)["name"].iloc[4] == "甲"
    retry = client.patch(path, json={"version": 2, "properties": {"name": "乙"}}, headers=bearer(second))
    assert retry.status_code == 200
    assert retry.json()["version"] == 3
    assert history_rows(ws, TOWNSHIPS, 5) == 2  # both earlier versions kept


def test_geometry_edit_and_bad_bodies(ws: Workspace, client: TestClient, tokens: dict[str, str]) -> None:
    centres = "facilities_community_service_centre"
    path = f"/collections/{centres}/items/1"
    moved = {"version": 1, "geometry": {"type": "Point", "coordinates": [105.9, 29.35]}}
    done = client.patch(path, json=moved, headers=bearer(tokens["reviewer"]))
    assert done.status_code == 200, done.text
    point = ws.read_layer(centres).geometry.iloc[0]
    assert (round(point.x, 6), round(point.y, 6)) == (105.9, 29.35)
    before = hashes(ws)
    for body in ({"version": 2, "properties": {"no_such_column": "x"}},
                 {"version": 2, "geometry": {"type": "Point", "coordinates": [500, 29]}},
                 {"version": 2, "geometry": {"type": "Nonsense"}},
                 {"version": 2},
                 {"version": "two", "properties": {}},
                 {"version": 2, "properties": {"name": ["a", "list"]}}):
        answer = client.patch(path, json=body, headers=bearer(tokens["reviewer"]))
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["code"] == "InvalidParameterValue"
    assert client.patch(f"/collections/{centres}/items/99999", json={"version": 1, "properties": {"name": "x"}},
                        headers=bearer(tokens["reviewer"])).status_code == 404
    assert client.patch("/collections/boundary_lines/items/1", json={"version": 1, "properties": {"name": "x"}},
                        headers=bearer(tokens["reviewer"])).status_code == 404
    assert hashes(ws) == before


INJECTIONS = ("'; DROP TABLE townships;--", "../../etc/passwd", "%00", "\x00", "1 OR 1=1", '"; DELETE FROM x; --',
              "名" * 2000, "x" * 20_000, "..%2f..%2fetc%2fpasswd", "${jndi:ldap://x}")


def test_injection_and_traversal_strings_change_nothing_and_never_5xx(ws: Workspace, client: TestClient,
                                                                       tokens: dict[str, str]) -> None:
    before = hashes(ws)
    statuses: list[int] = []
    for bad in INJECTIONS:
        seg = quote(bad, safe="")  # how a client sends it in a path (\x00 → %00)
        header = bearer(quote(bad)[:4000])
        answers = [
            client.get(f"/collections/{seg}"),
            client.get(f"/collections/{seg}/items"),
            client.get(f"/collections/{TOWNSHIPS}/items/{seg}"),
            client.get(f"/collections/{TOWNSHIPS}/items", params={"name": bad, "limit": bad}),
            client.get(f"/collections/{TOWNSHIPS}/items", params={"bbox": bad, bad[:60]: "1"}),
            client.get("/places/search", params={"q": bad, "limit": bad}),
            client.get("/places/search", params={"q": bad[:100]}),
            client.get("/places/standard-names", params={"offset": bad}),
            client.get(f"/naming/applications/{seg}", headers=bearer(tokens["admin"])),
            client.get("/audit", headers=header),
            client.patch(f"/collections/{seg}/items/1", json={"version": 1, "properties": {"name": "x"}},
                         headers=bearer(tokens["reviewer"])),
            client.patch(f"/collections/{TOWNSHIPS}/items/{seg}", json={"version": 1, "properties": {"name": "x"}},
                         headers=bearer(tokens["reviewer"])),
            client.patch(f"/collections/{TOWNSHIPS}/items/1", json={"version": 1, "properties": {bad: "x"}},
                         headers=bearer(tokens["reviewer"])),
            client.patch(f"/collections/{TOWNSHIPS}/items/1", json={"version": 1, "properties": {"name": bad}},
                         headers=bearer(tokens["applicant"])),
            client.patch(f"/collections/{TOWNSHIPS}/items/1", json={"version": 1, "properties": {"name": bad}},
                         headers=header),
            client.post("/naming/applications", json={"proposed_name": bad, "category": "街路巷", "parent_id": bad},
                        headers=bearer(tokens["applicant"])),
            client.post(f"/naming/applications/{seg}/approve", headers=bearer(tokens["reviewer"])),
        ]
        statuses += [a.status_code for a in answers]
        for answer in answers:
            assert answer.status_code < 500, (bad[:40], answer.request.url, answer.text[:300])
            assert "Traceback" not in answer.text
    nul = client.post("/naming/applications", json={"proposed_name": "新\x00路", "category": "街路巷",
                                                     "parent_id": "500118001000"}, headers=bearer(tokens["applicant"]))
    assert nul.status_code == 400
    assert hashes(ws) == before
    assert {200, 400, 401, 403, 404} >= set(statuses) - {405}

    # a reviewer may store any text as a value: it is stored literally, nothing else changes
    stored = client.patch(f"/collections/{TOWNSHIPS}/items/2", json={"version": 1, "properties": {
        "name": INJECTIONS[0]}}, headers=bearer(tokens["reviewer"]))
    assert stored.status_code == 200
    assert ws.read_layer(TOWNSHIPS)["name"].iloc[1] == INJECTIONS[0]
    after = hashes(ws)
    assert {k for k in before if before[k] != after[k]} == {TOWNSHIPS}


def test_oversized_body_is_413_json(ws: Workspace) -> None:
    with client_for(ws, max_body_bytes=2048) as small:
        big = {"version": 1, "properties": {"name": "长" * 4000}}
        answer = small.patch(f"/collections/{TOWNSHIPS}/items/1", json=big)
        assert answer.status_code == 413
        assert answer.json()["code"] == "PayloadTooLarge"
        assert "requestId" in answer.json()

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts the streamed bytes
            yield b'{"version": 1, "properties": {"name": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}}'

        streamed = small.patch(f"/collections/{TOWNSHIPS}/items/1", content=chunks(),
                               headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        assert streamed.json()["code"] == "PayloadTooLarge"


def test_a_geopackage_is_read_only_unless_allow_writes(register_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "ro.gpkg"
    shutil.copyfile(register_store, store)
    ws = open_workspace(store)
    token = make_token(ws, user="审核员", role=ServiceRole.REVIEWER)[1]
    testclient = peer("fastapi.testclient")
    with testclient.TestClient(create_app(ws)) as ro:
        answer = ro.patch(f"/collections/{TOWNSHIPS}/items/1", json={"version": 1, "properties": {"name": "x"}},
                          headers=bearer(token))
        assert answer.status_code == 405
        assert "--allow-writes" in answer.json()["description"]
        assert ro.get(f"/collections/{TOWNSHIPS}/items/1").status_code == 200
    assert read_audit(ws).empty  # a read-only service writes nothing, not even its audit


def test_errors_are_json_with_a_request_id_never_a_stack_trace(ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    import gisplan.service.places as places_module

    def broken(*_: object, **__: object) -> None:
        msg = "boom in the search"
        raise RuntimeError(msg)

    monkeypatch.setattr(places_module, "search_records", broken)
    with client_for(ws) as c:
        answer = c.get("/places/search", params={"q": "永川"})
    assert answer.status_code == 500
    body = answer.json()
    assert body["code"] == "ServerError"
    assert body["requestId"] == answer.headers["x-request-id"]
    assert "boom" not in answer.text
    assert "Traceback" not in answer.text
    assert any(body["requestId"] in r.getMessage() for r in caplog.records)


def test_cors_is_closed_by_default_and_open_to_named_origins(ws: Workspace) -> None:
    preflight = {"Origin": "https://map.example.gov.cn", "Access-Control-Request-Method": "PATCH"}
    with client_for(ws) as closed:
        answer = closed.get("/", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in answer.headers
        assert "access-control-allow-origin" not in closed.options("/", headers=preflight).headers
    with client_for(ws, cors_origins=["https://map.example.gov.cn"]) as opened:
        answer = opened.options(f"/collections/{TOWNSHIPS}/items/1", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://map.example.gov.cn"
        other = opened.get("/", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_token_cli_add_list_revoke_stores_only_a_salted_hash(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from gisplan.service import auth

    monkeypatch.setattr(auth, "REFRESH_S", 0.0)  # the service re-reads the tokens at once (else within 5 s)
    runner = CliRunner()
    added = runner.invoke(cli, ["serve", "token", "add", "-w", ws.uri, "--user", "张三", "--role", "reviewer"])
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert len(token) >= 40
    rows = read_tokens(ws)
    assert len(rows) == 1
    assert token not in rows.to_string()
    assert len(rows["salt"].iloc[0]) == 32
    assert len(rows["hash"].iloc[0]) == 64
    token_id = str(rows["token_id"].iloc[0])
    with client_for(ws) as c:
        path = f"/collections/{TOWNSHIPS}/items/1"
        assert c.patch(path, json={"version": 1, "properties": {"name": "甲"}}, headers=bearer(token)).status_code == 200
        listed = runner.invoke(cli, ["serve", "token", "list", "-w", ws.uri])
        assert listed.exit_code == 0
        assert "张三" in listed.output
        assert token_id in listed.output
        assert token not in listed.output
        revoked = runner.invoke(cli, ["serve", "token", "revoke", "-w", ws.uri, token_id])
        assert revoked.exit_code == 0, revoked.output
        assert c.patch(path, json={"version": 2, "properties": {"name": "乙"}}, headers=bearer(token)).status_code == 401
    again = runner.invoke(cli, ["serve", "token", "revoke", "-w", ws.uri, token_id])
    assert again.exit_code == 1
    assert "no live token" in again.output
    bad_role = runner.invoke(cli, ["serve", "token", "add", "-w", ws.uri, "--user", "x", "--role", "root"])
    assert bad_role.exit_code == 2


def test_serve_help_is_chinese_first_and_documents_writes() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    _, _, rest = result.output.partition("\n\n")
    first = rest.strip().splitlines()[0]
    assert first.startswith("发布 OGC API")
    assert "Read-only: no edits" not in result.output
    for text in ("--allow-writes", "--cors-origin", "--max-body-kb", "token add", "PATCH"):
        assert text in result.output


def test_own_edits_patch_the_cache_and_another_writers_edits_are_read_again(ws: Workspace, client: TestClient,
                                                                            tokens: dict[str, str]) -> None:
    centres = "facilities_community_service_centre"
    items = f"/collections/{centres}/items?limit=1000"
    assert client.get(items).status_code == 200  # the layer is cached now
    hit = client.get("/places/search", params={"q": "朱龙花村", "limit": 1}).json()["results"][0]
    edit = {"version": 1, "properties": {"note": "服务改"}, "geometry": {"type": "Point", "coordinates": [105.91, 29.36]}}
    assert client.patch(f"/collections/{centres}/items/2", json=edit, headers=bearer(tokens["reviewer"])).status_code \
        == 200
    values = {"version": 1, "properties": {"note": "只改属性 \"引号\" 1e-05", "name": "社区服务中心 甲"}}  # no geometry
    assert client.patch(f"/collections/{centres}/items/4", json=values, headers=bearer(tokens["reviewer"])) \
        .status_code == 200
    register = ws.read_layer("places").reset_index(drop=True)
    row = int(register.index[register["place_id"] == hit["place_id"]][0]) + 1
    moved = client.patch(f"/collections/places/items/{row}", json={"version": 1, "properties": {"parent_id": "P-新"}},
                         headers=bearer(tokens["reviewer"]))
    assert moved.status_code == 200, moved.text
    # the patched cache serves what a service reading the store afresh serves
    with client_for(ws) as fresh:
        assert client.get(items).json()["features"] == fresh.get(items).json()["features"]
        assert client.get(f"/collections/{centres}/items/2").headers["etag"] == '"2"'
        near = client.get(f"/collections/{centres}/items", params={"bbox": "105.905,29.355,105.915,29.365"}).json()
        assert 2 in [f["id"] for f in near["features"]]
        assert client.get("/places/search", params={"q": "朱龙花村", "limit": 1}).json()["results"][0]["parent_id"] \
            == "P-新"  # the search index was patched too
        other = fresh.patch(f"/collections/{centres}/items/3", json={"version": 1, "properties": {"note": "他改"}},
                            headers=bearer(tokens["reviewer"]))  # another writer
        assert other.status_code == 200
    for _ in range(50):  # read again within a few check intervals (the check runs in the background)
        time.sleep(CHECK_INTERVAL_S)
        if client.get(f"/collections/{centres}/items/3").json()["properties"]["note"] == "他改":
            break
    assert client.get(f"/collections/{centres}/items/3").json()["properties"]["note"] == "他改"
    assert client.get(f"/collections/{centres}/items/3").headers["etag"] == '"2"'
    assert client.get(f"/collections/{centres}/items/2").json()["properties"]["note"] == "服务改"


def test_an_edit_read_before_a_whole_layer_write_is_refused(ws: Workspace, client: TestClient) -> None:
    """A re-import (any whole-layer write) between a client's read and its edit: the edit is refused on both backends,
    not applied on top of the new layer as if nothing had happened, and the row's version only ever goes up."""
    editor = make_token(ws, user="王五", role=ServiceRole.REVIEWER)[1]
    path = f"/collections/{TOWNSHIPS}/items/4"
    assert client.patch(path, json={"version": 1, "properties": {"name": "甲"}}, headers=bearer(editor)).status_code \
        == 200
    read = client.get(path).json()["version"]  # what the client holds: 2
    assert read == 2
    layer = ws.read_layer(TOWNSHIPS).reset_index(drop=True)
    meta = ws.metadata().set_index("layer").loc[TOWNSHIPS]
    layer.loc[3, "name"] = "重新导入"
    ws.write([LayerWrite(TOWNSHIPS, str(meta["kind"]), layer, illustrative=bool(meta["illustrative"]))],
             action="import", user="另一位同事")
    with client_for(ws) as fresh:  # a service reading the store afresh
        now = fresh.get(path).json()["version"]
        assert now > read
        stale = fresh.patch(path, json={"version": read, "properties": {"name": "乙"}}, headers=bearer(editor))
        assert stale.status_code == 409, stale.text
        assert ws.read_layer(TOWNSHIPS)["name"].iloc[3] == "重新导入"
        other = fresh.get(f"/collections/{TOWNSHIPS}/items/6").json()["version"]
        assert other > 1  # every row moved on with the whole-layer write
        again = fresh.patch(path, json={"version": now, "properties": {"name": "乙"}}, headers=bearer(editor))
        assert again.status_code == 200, again.text
        assert again.json()["version"] == now + 1
