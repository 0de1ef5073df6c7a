"""schemathesis fuzzes the service from its own OpenAPI document, in-process over ASGI: no answer is a 5xx, and every
answer has a documented status, content type and body schema. Bounded (a few examples per operation) to stay under
a minute; with an admin's token, so that the write paths are reached too."""

# ruff: noqa: F811 - the fixtures shared with test_service_edits are imported by name
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from gisplan.service import create_app, make_token
from gisplan.vocab import ServiceRole
from tests.conftest import missing
from tests.test_service_edits import register_store, workspace_of  # noqa: F401 - fixture

if TYPE_CHECKING:
    from pathlib import Path

try:
    import schemathesis
    from hypothesis import HealthCheck, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )
except ImportError:  # pragma: no cover - the test below says so (and fails under CI=true)
    schemathesis = None


@pytest.fixture(params=["gpkg", "postgis"])
def served(request: pytest.FixtureRequest, register_store: Path, tmp_path: Path) -> tuple[Any, str]:
    ws = workspace_of(request.param, register_store, tmp_path, request)
    token = make_token(ws, user="fuzz", role=ServiceRole.ADMIN)[1]
    return create_app(ws, allow_writes=True), token


@pytest.fixture
def api_schema(served: tuple[Any, str]) -> Any:
    if schemathesis is None:
        missing("peer library schemathesis is not installed (`bash scripts/setup.sh --test` installs it)")
    return schemathesis.openapi.from_asgi("/openapi.json", served[0])


def test_no_5xx_and_every_answer_fits_the_schema(api_schema: Any, served: tuple[Any, str]) -> None:
    """Every operation of /openapi.json, a few generated requests each (schemathesis' pytest plugin does not run
    under this pytest, so the operations are driven with hypothesis directly)."""
    from hypothesis import given

    headers = {"Authorization": f"Bearer {served[1]}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    labels = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        run()
    assert "PATCH /collections/{collection_id}/items/{feature_id}" in labels
    assert len(labels) == 18  # 16 paths; GET + PATCH of a feature, GET + POST of the applications
