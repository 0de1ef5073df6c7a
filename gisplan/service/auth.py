"""API tokens and roles of the service: made once, stored only as a salted hash, checked per request.

A token is ``secrets.token_urlsafe(32)`` (256 random bits), shown once when it is made. The workspace keeps a
per-token random salt and ``pbkdf2_hmac("sha256", token, salt, 10_000)`` in its ``service_tokens`` table
(:mod:`gisplan.store.servicetables`), never the token. Checking a token tries the live tokens' hashes (a bureau
has a handful); the answer is remembered in memory under a SHA-256 of the token for the life of the process, so a
request costs one dictionary look-up, and the table is re-read every few seconds so that a revocation by
``gisplan serve token revoke`` (another process) takes effect within :data:`REFRESH_S` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gisplan.errors import GisplanError
from gisplan.i18n import _
from gisplan.service.common import RequestError
from gisplan.store.servicetables import add_token_row, read_tokens, revoke_token_row
from gisplan.vocab import ServiceRole

if TYPE_CHECKING:
    import pandas as pd
    from fastapi import Request

    from gisplan.store import Workspace

__all__ = [
    "ITERATIONS",
    "REFRESH_S",
    "Caller",
    "TokenBook",
    "authorise",
    "hash_token",
    "list_tokens",
    "make_token",
    "revoke_token",
]

#: A token has 256 random bits, so stretching adds no strength against guessing; it only costs each unknown token
#: (tried against every live hash) time: 10 000 rounds ≈ 5 ms here.
ITERATIONS = 10_000
REFRESH_S = 5.0
_USER_MAX = 64
_REFUSED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the token's user and role (``None`` for the public)."""

    user: str | None
    role: ServiceRole | None
    token_id: str | None = None


PUBLIC = Caller(None, None)


def hash_token(token: str, salt: bytes) -> str:
    """The stored hash of `token` with `salt` (hex).

    >>> hash_token("t", bytes(16)) == hash_token("t", bytes(16)) != hash_token("t", bytes(15) + b"1")
    True
    """
    return hashlib.pbkdf2_hmac("sha256", token.encode(), salt, ITERATIONS).hex()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_token(ws: Workspace, *, user: str, role: ServiceRole) -> tuple[str, str]:
    """Make a token for `user` with `role`; return ``(token_id, token)``. The token is not stored anywhere.

    Raises
    ------
    GisplanError
        If the user name is empty or longer than 64 characters.
    StoreError
        If the workspace does not exist or cannot be written.
    """
    user = user.strip()
    if not user or len(user) > _USER_MAX or not user.isprintable():
        msg = _("`--user` must be a printable name of 1–{most} characters (got {user!r}).").format(most=_USER_MAX,
                                                                                                  user=user)
        raise GisplanError(msg)
    token = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    token_id = secrets.token_hex(4)
    add_token_row(ws, {"token_id": token_id, "user": user, "role": ServiceRole(role).value, "salt": salt.hex(),
                       "hash": hash_token(token, salt), "created_at": _now()})
    return token_id, token


def list_tokens(ws: Workspace) -> pd.DataFrame:
    """The tokens without their salts and hashes: ``token_id``, ``user``, ``role``, ``created_at``, ``revoked_at``."""
    return read_tokens(ws).drop(columns=["salt", "hash"])


def revoke_token(ws: Workspace, token_id: str) -> None:
    """Revoke token `token_id` (it stays listed, with the time of revocation).

    Raises
    ------
    GisplanError
        If there is no live token with that id.
    """
    if not revoke_token_row(ws, token_id, at=_now()):
        msg = _("no live token {token_id!r}; `gisplan serve token list` shows the tokens and their ids.").format(
            token_id=token_id)
        raise GisplanError(msg)


class TokenBook:
    """The live tokens of a workspace, checked per request (thread-safe; see the module docstring)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[str, str, bytes, str, bool]] = {}  # id -> user, role, salt, hash, live
        self._read_at = -1e9
        self._known: dict[bytes, str] = {}  # sha256(token) -> token id, for tokens already verified
        self._refused: set[bytes] = set()  # sha256 of tokens that matched no live token (until the table changes)

    def _refresh(self) -> None:
        if time.monotonic() - self._read_at < REFRESH_S:
            return
        frame = read_tokens(self.workspace) if self.workspace.exists() else None
        rows: dict[str, tuple[str, str, bytes, str, bool]] = {}
        if frame is not None:
            for token_id, user, role, salt, digest, revoked in zip(
                    frame["token_id"], frame["user"], frame["role"], frame["salt"], frame["hash"],
                    frame["revoked_at"], strict=True):
                rows[str(token_id)] = (str(user), str(role), bytes.fromhex(str(salt)), str(digest), revoked is None)
        if rows != self._rows:
            self._refused.clear()
        self._rows = rows
        self._read_at = time.monotonic()

    def _token_id(self, token: str) -> str | None:
        """The id of the live token `token` (hold the lock)."""
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        token_id = self._known.get(key)
        if token_id is None and key not in self._refused:
            token_id = next((i for i, (_, _, salt, digest, live) in self._rows.items()
                             if live and hmac.compare_digest(hash_token(token, salt), digest)), None)
            if token_id is not None:
                self._known[key] = token_id
            elif len(self._refused) < _REFUSED_MAX:
                self._refused.add(key)
        return token_id

    def caller(self, token: str | None) -> Caller | None:
        """The caller holding `token`: :data:`PUBLIC` for no token, None for a token that is unknown or revoked."""
        if token is None:
            return PUBLIC
        if not token or len(token) > 256:
            return None
        with self._lock:
            self._refresh()
            token_id = self._token_id(token)
            row = None if token_id is None else self._rows.get(token_id)
        if row is None or not row[4] or row[1] not in {r.value for r in ServiceRole}:
            return None
        return Caller(row[0], ServiceRole(row[1]), token_id)


def authorise(request: Request, tokens: TokenBook, roles: frozenset[ServiceRole], *, what: str) -> Caller:
    """The caller of `request` if their role is one of `roles` (admin always is).

    Raises
    ------
    RequestError
        401 without a valid ``Authorization: Bearer TOKEN``, 403 with a token of another role.
    """
    header = request.headers.get("authorization")
    token = None
    if header is not None:
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
    caller = tokens.caller(token)
    request.state.caller = caller
    challenge = {"WWW-Authenticate": 'Bearer realm="gisplan"'}
    if caller is None or caller.role is None:
        msg = (f"{what}需要有效的令牌 (a valid `Authorization: Bearer TOKEN` is needed to {_WHAT.get(what, what)}; "
               "ask the administrator for one: gisplan serve token add)")
        raise RequestError(401, "Unauthorized", msg, headers=challenge)
    if caller.role is not ServiceRole.ADMIN and caller.role not in roles:
        wanted = " / ".join(sorted(r.value for r in roles | {ServiceRole.ADMIN}))
        msg = (f"角色 {caller.role.value} 无权{what} (role {caller.role.value} may not {_WHAT.get(what, what)}; "
               f"needs {wanted})")
        raise RequestError(403, "Forbidden", msg)
    return caller


_WHAT = {"修改要素": "edit features", "提交地名申报": "submit naming applications", "审核地名申报": "review naming "
         "applications", "查看地名申报": "read naming applications", "查看审计日志": "read the audit log"}
