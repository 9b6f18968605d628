"""Access dependencies: who is calling (bearer token or session cookie), and may they."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from healthbrain.auth import service
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.auth.security import constant_time_equal
from healthbrain.core.errors import Forbidden, NotAuthenticated
from healthbrain.web.deps import SessionDep

SESSION_COOKIE = "hb_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _resolve_principal(request: Request, session: SessionDep) -> Principal | None:
    """The caller, from a bearer token (API, devices) or the session cookie (pages). A plain
    function, so FastAPI runs its database lookup in the thread pool, off the event loop."""
    if (token := _bearer(request)) is not None:
        principal = service.principal_for_token(session, token=token)
        if principal is None:
            raise NotAuthenticated("error.bad_token")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    principal = service.principal_for_token(session, token=cookie)
    if principal is None or principal.auth_kind != "web":
        return None
    request.state.principal = principal  # error pages keep the top bar of the signed-in user
    return principal


async def optional_principal(
    request: Request, principal: Annotated[Principal | None, Depends(_resolve_principal)]
) -> Principal | None:
    """The caller; cookie-authenticated writes must also carry the session's CSRF token."""
    if principal is not None and principal.auth_kind == "web" and request.method in _UNSAFE:
        await _check_csrf(request, principal)
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    """Cookie-authenticated writes must echo the session's CSRF token (header or form field)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf_token or not constant_time_equal(sent, principal.csrf_token):
        raise Forbidden("error.csrf")


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise NotAuthenticated()
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


def require(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency that lets through only principals holding ``permission``."""

    def dependency(principal: PrincipalDep) -> Principal:
        principal.require(permission)
        return principal

    return dependency
