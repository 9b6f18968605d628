"""The organisation scope: the one helper every query over resident data goes through.

A family doctor sees the residents of the communities their teams serve, a centre manager the
centre's catchment, a data submitter the residents their institution registered or identifies,
the bureau, the CDC and the administrator the whole district, a device nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, exists, false, or_, select, true

from healthbrain.auth.roles import ROLE_PERMISSIONS, ROLE_SCOPE, Permission, Role, Scope
from healthbrain.core.errors import Forbidden
from healthbrain.geo.models import CareTeamCommunity, InstitutionCatchment
from healthbrain.people.models import Resident, ResidentIdentifier

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request or job."""

    user_id: int
    username: str
    display_name: str
    role: Role
    institution_id: int | None = None
    practitioner_id: int | None = None
    team_ids: tuple[int, ...] = ()
    session_id: int | None = None
    csrf_token: str | None = None
    auth_kind: str = "web"  # web (cookie) / api (bearer) / job (CLI)

    @property
    def scope(self) -> Scope:
        return ROLE_SCOPE[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden("error.forbidden_permission", permission=str(permission))


def _served_divisions(principal: Principal) -> Select[int] | None:
    """The communities a TEAM or CATCHMENT principal serves (None: serves no community)."""
    if principal.scope == Scope.TEAM and principal.team_ids:
        return select(CareTeamCommunity.division_id).where(CareTeamCommunity.team_id.in_(principal.team_ids))
    if principal.scope == Scope.CATCHMENT and principal.institution_id is not None:
        return select(InstitutionCatchment.division_id).where(
            InstitutionCatchment.institution_id == principal.institution_id
        )
    return None


def resident_scope_clause(principal: Principal) -> ColumnElement[bool]:
    """A filter over ``Resident`` that keeps only the residents this principal may see."""
    match principal.scope:
        case Scope.ALL:
            return true()
        case Scope.TEAM | Scope.CATCHMENT:
            served = _served_divisions(principal)
            return Resident.division_id.in_(served) if served is not None else false()
        case Scope.INSTITUTION:
            if principal.institution_id is None:
                return false()
            return or_(
                Resident.registered_institution_id == principal.institution_id,
                exists(
                    select(ResidentIdentifier.id).where(
                        ResidentIdentifier.resident_id == Resident.id,
                        ResidentIdentifier.institution_id == principal.institution_id,
                    )
                ),
            )
    return false()


def division_scope_clause(principal: Principal, division_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """Whether a principal may place a resident in (or list the residents of) a community.

    Institution-bound submitters may register residents anywhere: the record then carries their
    institution, which brings it into their scope.
    """
    if principal.scope in (Scope.ALL, Scope.INSTITUTION):
        return true()
    served = _served_divisions(principal)
    if served is None:
        return false()
    return division_id.in_(served)


def scoped(statement: S, principal: Principal) -> S:
    """Apply the principal's scope to a statement that selects from (or joins) ``Resident``."""
    if not principal.can(Permission.RESIDENT_READ):
        return statement.where(false())
    return statement.where(resident_scope_clause(principal))
