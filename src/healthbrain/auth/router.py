"""Auth API: bearer tokens, who am I, users, device tokens, the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from healthbrain.auth import repository, service
from healthbrain.auth.deps import PrincipalDep, require
from healthbrain.auth.roles import ROLE_PERMISSIONS, Permission
from healthbrain.auth.schemas import (
    AuditEventOut,
    DeviceTokenRequest,
    Me,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
)
from healthbrain.auth.scope import Principal
from healthbrain.core.params import IdPath, IdQuery
from healthbrain.web.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["auth"])
AdminDep = Annotated[Principal, Depends(require(Permission.USER_ADMIN))]
AuditorDep = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@router.post("/auth/token", response_model=TokenOut, summary="Exchange a username and password for a bearer token")
def token(session: SessionDep, request: Request, data: TokenRequest) -> TokenOut:
    issued = service.login(
        session,
        username=data.username,
        password=data.password,
        kind="api",
        ip=request.client.host if request.client else None,
        label=data.label,
    )
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at, role=issued.principal.role)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke the token in use")
def logout(session: SessionDep, principal: PrincipalDep) -> None:
    service.logout(session, principal=principal)


@router.get("/auth/me", response_model=Me)
def me(principal: PrincipalDep) -> Me:
    return Me(
        user_id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        institution_id=principal.institution_id,
        practitioner_id=principal.practitioner_id,
        team_ids=list(principal.team_ids),
        permissions=sorted(str(p) for p in ROLE_PERMISSIONS[principal.role]),
    )


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, _: AdminDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in repository.list_users(session)]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(session: SessionDep, principal: AdminDep, data: UserCreate) -> UserOut:
    user = service.create_user(session, actor=principal, data=data)
    return UserOut.model_validate(user)


@router.post("/users/{user_id}/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED)
def issue_token(session: SessionDep, principal: AdminDep, user_id: IdPath, data: DeviceTokenRequest) -> TokenOut:
    """A long-lived bearer token for a device or an interface engine."""
    user = service.get_user(session, user_id)
    issued = service.issue_token(session, actor=principal, user=user, label=data.label, days=data.days)
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at, role=issued.principal.role)


@router.get("/audit", response_model=list[AuditEventOut], summary="The audit trail, newest first")
def audit_trail(
    session: SessionDep,
    principal: AuditorDep,
    resident_id: IdQuery = None,
    user_id: IdQuery = None,
    action: str | None = None,
    before_id: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEventOut]:
    events = service.audit_trail(
        session,
        principal=principal,
        resident_id=resident_id,
        user_id=user_id,
        action=action,
        before_id=before_id,
        limit=limit,
    )
    return [AuditEventOut.model_validate(e) for e in events]
