"""What every part of the service shares: the request error and its JSON body."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from gisplan.errors import GisplanError

__all__ = ["BEARER", "ERROR_SCHEMA", "RequestError", "error_response"]

#: The JSON body of every error (OGC API's exception: code and description), plus the request id.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "string"}, "description": {"type": "string"},
                   "requestId": {"type": "string"}},
}

#: OpenAPI: the operation needs ``Authorization: Bearer TOKEN`` (the scheme ``bearerAuth`` of the document).
BEARER: dict[str, Any] = {"security": [{"bearerAuth": []}]}


class RequestError(GisplanError):
    """A request the service refuses: HTTP `status`, an OGC-style `code`, and a description (Chinese + English)."""

    def __init__(self, status: int, code: str, description: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description
        self.headers = headers or {}


def error_response(status: int, code: str, description: str, *, request_id: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response (never a stack trace)."""
    body = {"code": code, "description": description}
    if request_id:
        body["requestId"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)
