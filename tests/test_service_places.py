"""The service's place-name query (public) and naming workflow (申报 → 审核 → 批准 → 公告, 驳回) on a GeoPackage and on
a real PostGIS (tests/pg.py)."""

# ruff: noqa: F811 - the fixtures shared with test_service_edits are imported by name
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gisplan.service import make_token
from gisplan.store.servicetables import read_audit
from gisplan.vocab import ServiceRole
from tests.test_service_edits import bearer, client, register_store, tokens, ws  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from gisplan.store import Workspace


@pytest.mark.parametrize(("query", "expected", "how"), [
    ("朱龙花村", "朱龙花村村民委员会", "name"),
    ("zhulonghuacun", "朱龙花村村民委员会", "pinyin"),
    ("zlhc", "朱龙花村村民委员会", "initials"),
    ("500118006200", "朱龙花村村民委员会", "code"),
])
def test_search_by_characters_pinyin_initials_and_code(client: TestClient, query: str, expected: str,
                                                       how: str) -> None:
    answer = client.get("/places/search", params={"q": query, "limit": 3})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert expected in answer.text  # Chinese JSON: UTF-8, not \\u-escaped
    first = answer.json()["results"][0]
    assert (first["name"], first["code12"], first["matched_by"]) == (expected, "500118006200", how)
    assert answer.json()["numberReturned"] <= 3


def test_search_by_code_prefix_and_paged_standard_names(client: TestClient) -> None:
    township = client.get("/places/search", params={"q": "500118102", "limit": 50}).json()["results"]
    assert township[0]["code12"] == "500118102000"
    assert all(r["code12"].startswith("500118102") for r in township)
    first = client.get("/places/standard-names", params={"limit": 100}).json()
    assert first["numberMatched"] == 291
    assert first["numberReturned"] == 100
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert nxt.endswith("limit=100&offset=100")
    last = client.get("/places/standard-names", params={"limit": 100, "offset": 200}).json()
    assert last["numberReturned"] == 91
    assert not [link for link in last["links"] if link["rel"] == "next"]
    ids = [i["place_id"] for i in first["items"]] + [i["place_id"] for i in last["items"]]
    assert len(set(ids)) == 191
    assert client.get("/places/search").status_code == 400
    assert client.get("/places/search", params={"q": "x", "limit": 0}).json()["code"] == "InvalidParameterValue"


def test_the_naming_workflow_through_the_service(ws: Workspace, client: TestClient, tokens: dict[str, str]) -> None:
    application = {"proposed_name": "凤凰大道", "category": "街路巷", "parent_id": "500118001000",
                   "origin": "因凤凰湖得名", "lon": 105.93, "lat": 29.36}
    assert client.post("/naming/applications", json=application).status_code == 401
    assert client.post("/naming/applications", json=application,
                       headers=bearer(tokens["reviewer"])).status_code == 403
    submitted = client.post("/naming/applications", json=application, headers=bearer(tokens["applicant"]))
    assert submitted.status_code == 201, submitted.text
    app_id = submitted.json()["application_id"]
    assert submitted.json()["stage"] == "申报"
    assert client.get("/naming/applications").status_code == 401  # applicants' names: a token is needed
    listed = client.get("/naming/applications", headers=bearer(tokens["applicant"])).json()
    assert [(a["application_id"], a["applicant"]) for a in listed["items"]] == [(app_id, "applicant-用户")]

    path = f"/naming/applications/{app_id}"
    assert client.post(f"{path}/review", headers=bearer(tokens["applicant"])).status_code == 403
    early = client.post(f"{path}/approve", headers=bearer(tokens["reviewer"]))
    assert early.status_code == 409  # not reviewed yet
    assert client.post(f"{path}/review", headers=bearer(tokens["reviewer"])).json()["stage"] == "审核"
    approved = client.post(f"{path}/approve", headers=bearer(tokens["reviewer"])).json()
    assert approved["stage"] == "批准"
    place_id = approved["place_id"]
    announced = client.post(f"{path}/announce", headers=bearer(tokens["admin"])).json()
    assert (announced["stage"], announced["place_id"]) == ("公告", place_id)

    found = client.get("/places/search", params={"q": "fenghuangdadao"}).json()["results"]
    assert (found[0]["place_id"], found[0]["name"]) == (place_id, "凤凰大道")
    news = client.get("/places/announcements").json()
    assert [(i["place_id"], i["standard_name"]) for i in news["items"]] == [(place_id, "凤凰大道")]
    assert client.get("/places/standard-names", params={"limit": 1}).json()["numberMatched"] == 292
    register = ws.read_table("places").set_index("place_id")
    assert register.loc[place_id, "pinyin"] == "Fenghuang Dadao"

    rejected = client.post("/naming/applications", json={**application, "proposed_name": "金隆村",
                                                         "category": "群众自治组织", "parent_id": "500118102000"},
                           headers=bearer(tokens["applicant"])).json()["application_id"]
    no_reason = client.post(f"/naming/applications/{rejected}/reject", json={"reason": ""},
                            headers=bearer(tokens["reviewer"]))
    assert no_reason.status_code == 400
    done = client.post(f"/naming/applications/{rejected}/reject", json={"reason": "与金龙村同音"},
                       headers=bearer(tokens["reviewer"]))
    assert done.json()["stage"] == "驳回"
    one = client.get(f"/naming/applications/{rejected}", headers=bearer(tokens["reviewer"])).json()
    assert one["rejection_reason"] == "与金龙村同音"
    assert client.get("/naming/applications/A999999", headers=bearer(tokens["reviewer"])).status_code == 404

    audit = read_audit(ws)
    assert set(audit["path"]) >= {"/naming/applications", f"{path}/approve", f"{path}/announce"}
    assert audit.loc[audit["path"] == f"{path}/approve", "status"].tolist() == [200, 409]
    assert (audit["summary"] == f"approve {app_id}").any()


def test_a_bad_parent_is_400_and_writes_nothing(ws: Workspace, client: TestClient) -> None:
    token = make_token(ws, user="某街道", role=ServiceRole.APPLICANT)[1]
    revision = ws.revision()
    answer = client.post("/naming/applications", json={"proposed_name": "新路", "category": "街路巷",
                                                        "parent_id": "NO-SUCH"}, headers=bearer(token))
    assert answer.status_code == 400
    assert "NO-SUCH" in answer.json()["description"]
    assert ws.revision() == revision
    assert client.post("/naming/applications", json={"proposed_name": "新路", "category": "不是类别"},
                       headers=bearer(token)).status_code == 400


def test_a_row_edit_of_the_register_leaves_names_to_the_workflow(ws: Workspace, client: TestClient,
                                                                 tokens: dict[str, str]) -> None:
    register = client.get("/collections/places/items", params={"code12": "500118006200"}).json()["features"][0]
    path = f"/collections/places/items/{register['id']}"
    renamed = client.patch(path, json={"version": 1, "properties": {"standard_name": "朱龙村"}},
                           headers=bearer(tokens["reviewer"]))
    assert renamed.status_code == 400
    assert "naming workflow" in renamed.json()["description"]
    noted = client.patch(path, json={"version": 1, "properties": {"origin": "因朱龙花得名"}},
                         headers=bearer(tokens["reviewer"]))
    assert noted.status_code == 200, noted.text
    row = ws.read_table("places").set_index("place_id").loc["500118006200"]
    assert (row["standard_name"], row["origin"]) == ("朱龙花村村民委员会", "因朱龙花得名")
