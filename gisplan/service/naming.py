"""The naming workflow through the service (地名网上审批): 申报 → 审核 → 批准 → 公告, or 驳回.

An applicant's token submits (``POST /naming/applications``; the applicant is the token's user); a reviewer's or
an admin's token reviews, rejects, approves and announces (``POST /naming/applications/{id}/review|reject|approve|
announce``). Every step is the same workspace transaction as ``gisplan places`` makes (:mod:`gisplan.workflows.
places`), so it is in the history with who and why. Applications carry applicants' names, so reading them needs a
token of any role.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fastapi import Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gisplan.errors import PlaceNameError
from gisplan.i18n import _
from gisplan.placenames.register import Application
from gisplan.service.auth import authorise
from gisplan.service.common import BEARER, RequestError
from gisplan.service.edits import error_docs, refuse_read_only
from gisplan.vocab import PlaceCategory, ServiceRole
from gisplan.workflows.places import (
    announce_application,
    approve_application,
    read_applications,
    reject_application,
    review_application,
    submit_application,
)

if TYPE_CHECKING:
    import pandas as pd
    from fastapi import FastAPI

    from gisplan.service.auth import TokenBook
    from gisplan.store import Workspace

__all__ = ["ApplicationIn", "StepResult", "add_naming_routes"]

_APPLICANTS = frozenset({ServiceRole.APPLICANT})
_REVIEWERS = frozenset({ServiceRole.REVIEWER})
_ANYONE = frozenset(ServiceRole)
_ID = Path(..., min_length=1, max_length=32, description="Application id (A0001 …)")


class _Text(BaseModel):
    """Text fields without NUL characters (no database stores them as text)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _no_nul(self) -> _Text:
        bad = [name for name, value in self if isinstance(value, str) and "\x00" in value]
        if bad:
            msg = _("NUL character in {fields}").format(fields=", ".join(bad))
            raise ValueError(msg)
        return self


class ApplicationIn(_Text):
    """A naming application (申报)."""

    proposed_name: str = Field(min_length=1, max_length=50, description="拟用名称")
    category: PlaceCategory = Field(description="地名类别")
    parent_id: str | None = Field(None, max_length=64, description="上级（乡镇或区）的编号或区划代码")
    place_id: str | None = Field(None, max_length=64, description="更名时：被更名地名的编号")
    origin: str | None = Field(None, max_length=2000, description="地名含义/由来")
    remarks: str | None = Field(None, max_length=2000)
    basis: str | None = Field(None, max_length=2000, description="依据/批文")
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class Rejection(_Text):
    """Why an application is rejected (驳回)."""

    reason: str = Field(min_length=1, max_length=2000)


class Problem(BaseModel):
    """One problem the name checks found."""

    rule: str
    severity: str
    message: str


class StepResult(BaseModel):
    """An application after a step of the workflow."""

    application_id: str
    stage: str
    place_id: str | None = None
    problems: list[Problem] = []


class ApplicationList(BaseModel):
    """Naming applications, oldest first."""

    items: list[dict[str, Any]]
    numberReturned: int  # noqa: N815 - the OGC API spelling


def _problems(frame: pd.DataFrame) -> list[Problem]:
    return [Problem(rule=str(r), severity=str(s), message=str(m))
            for r, s, m in zip(frame["rule"], frame["severity"], frame["message"], strict=True)]


def _clean(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def add_naming_routes(app: FastAPI, workspace: Workspace, *, tokens: TokenBook, writable: bool) -> None:
    """Add the ``/naming/applications`` endpoints to `app`."""

    def known(app_id: str) -> pd.Series:
        apps = read_applications(workspace)
        hit = apps[apps["application_id"] == app_id]
        if hit.empty:
            msg = f"没有地名申报 {app_id[:32]!r} (no application {app_id[:32]!r}; see /naming/applications)"
            raise RequestError(404, "NotFound", msg)
        return hit.iloc[0]

    def step(request: Request, app_id: str, what: str) -> str:
        refuse_read_only(writable, request)
        caller = authorise(request, tokens, _REVIEWERS, what="审核地名申报")
        known(app_id)
        request.state.summary = f"{what} {app_id}"
        return str(caller.user)

    def stage(app_id: str) -> pd.Series:
        return known(app_id)

    @app.post("/naming/applications", summary="Submit a naming application 申报 (applicant, admin)", status_code=201,
              response_model=StepResult, responses=error_docs(401, 403, 405, 409),
              tags=["naming"], openapi_extra=BEARER)
    def submit(request: Request, body: ApplicationIn) -> StepResult:
        refuse_read_only(writable, request)
        caller = authorise(request, tokens, _APPLICANTS, what="提交地名申报")
        application = Application(proposed_name=body.proposed_name.strip(), category=body.category,
                                  parent_id=body.parent_id, applicant=str(caller.user), place_id=body.place_id,
                                  origin=body.origin, remarks=body.remarks, basis=body.basis, lon=body.lon,
                                  lat=body.lat)
        try:
            app_id, problems = submit_application(workspace, application, user=caller.user)
        except PlaceNameError as exc:
            raise RequestError(400, "InvalidParameterValue", str(exc)) from None
        request.state.summary = f"submit {app_id} {body.proposed_name[:50]}"
        return StepResult(application_id=app_id, stage=str(stage(app_id)["stage"]), problems=_problems(problems))

    @app.post("/naming/applications/{app_id}/review", summary="Review 审核 (reviewer, admin)",
              response_model=StepResult, responses=error_docs(401, 403, 404, 405, 409),
              tags=["naming"], openapi_extra=BEARER)
    def review(request: Request, app_id: str = _ID) -> StepResult:
        user = step(request, app_id, "review")
        problems = review_application(workspace, app_id, reviewer=user, user=user)
        return StepResult(application_id=app_id, stage=str(stage(app_id)["stage"]), problems=_problems(problems))

    @app.post("/naming/applications/{app_id}/reject", summary="Reject 驳回 with a reason (reviewer, admin)",
              response_model=StepResult, responses=error_docs(401, 403, 404, 405, 409),
              tags=["naming"], openapi_extra=BEARER)
    def reject(request: Request, body: Rejection, app_id: str = _ID) -> StepResult:
        user = step(request, app_id, "reject")
        reject_application(workspace, app_id, reason=body.reason, user=user)
        return StepResult(application_id=app_id, stage=str(stage(app_id)["stage"]))

    @app.post("/naming/applications/{app_id}/approve", summary="Approve 批准 (reviewer, admin)",
              response_model=StepResult, responses=error_docs(401, 403, 404, 405, 409),
              tags=["naming"], openapi_extra=BEARER)
    def approve(request: Request, app_id: str = _ID) -> StepResult:
        user = step(request, app_id, "approve")
        place_id = approve_application(workspace, app_id, user=user)
        return StepResult(application_id=app_id, stage=str(stage(app_id)["stage"]), place_id=place_id)

    @app.post("/naming/applications/{app_id}/announce", summary="Announce 公告 (reviewer, admin)",
              response_model=StepResult, responses=error_docs(401, 403, 404, 405, 409),
              tags=["naming"], openapi_extra=BEARER)
    def announce(request: Request, app_id: str = _ID) -> StepResult:
        user = step(request, app_id, "announce")
        announce_application(workspace, app_id, user=user)
        row = stage(app_id)
        return StepResult(application_id=app_id, stage=str(row["stage"]), place_id=_clean(row["place_id"]))  # type: ignore[arg-type]

    @app.get("/naming/applications", summary="Naming applications (any token)", response_model=ApplicationList,
             responses=error_docs(401, 403), tags=["naming"], openapi_extra=BEARER)
    def applications(request: Request) -> ApplicationList:
        authorise(request, tokens, _ANYONE, what="查看地名申报")
        items = _records(read_applications(workspace))
        return ApplicationList(items=items, numberReturned=len(items))

    @app.get("/naming/applications/{app_id}", summary="One naming application (any token)",
             response_model=dict[str, Any], responses=error_docs(401, 403, 404), tags=["naming"], openapi_extra=BEARER)
    def application(request: Request, app_id: str = _ID) -> dict[str, Any]:
        authorise(request, tokens, _ANYONE, what="查看地名申报")
        return {str(k): _clean(v) for k, v in known(app_id).items()}
