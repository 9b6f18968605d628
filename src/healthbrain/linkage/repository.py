"""Every query of the linkage domain. Reads of residents for a reviewer go through the scope helper."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from healthbrain.auth.scope import Principal, scoped
from healthbrain.geo.models import Division, Institution
from healthbrain.linkage.features import Person
from healthbrain.linkage.models import LinkCandidate, LinkRun
from healthbrain.people.models import Resident, ResidentStatus


def active_persons(session: Session) -> list[Person]:
    """Every active resident of the district, as the matcher reads them (a job: no scope)."""
    rows = session.execute(
        select(
            Resident.id,
            Resident.name,
            Resident.sex,
            Resident.birth_date,
            Resident.phone,
            Resident.id_number,
            Resident.address,
        )
        .where(Resident.status == ResidentStatus.ACTIVE)
        .order_by(Resident.id)
    )
    return [Person(*row) for row in rows]


def candidates_by_pair(session: Session) -> dict[tuple[int, int], LinkCandidate]:
    return {(c.left_id, c.right_id): c for c in session.scalars(select(LinkCandidate))}


def _in_scope(principal: Principal) -> Select[int]:
    return scoped(select(Resident.id), principal)


def _active_ids() -> Select[int]:
    return select(Resident.id).where(Resident.status == ResidentStatus.ACTIVE)


def _visible(principal: Principal, status: str) -> Select[LinkCandidate]:
    """Pairs whose two residents the principal may see; open pairs only while both are active."""
    stmt = select(LinkCandidate).where(
        LinkCandidate.status == status,
        LinkCandidate.left_id.in_(_in_scope(principal)),
        LinkCandidate.right_id.in_(_in_scope(principal)),
    )
    if status == "open":
        stmt = stmt.where(LinkCandidate.left_id.in_(_active_ids()), LinkCandidate.right_id.in_(_active_ids()))
    return stmt


def candidates(
    session: Session, principal: Principal, *, status: str, offset: int, limit: int
) -> tuple[Sequence[LinkCandidate], bool]:
    stmt = _visible(principal, status)
    if status == "open":
        stmt = stmt.order_by(LinkCandidate.probability.desc(), LinkCandidate.id)
    else:
        stmt = stmt.order_by(LinkCandidate.reviewed_at.desc(), LinkCandidate.id.desc())
    rows = session.scalars(stmt.offset(offset).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def count_candidates(session: Session, principal: Principal, *, status: str) -> int:
    return session.scalar(select(func.count()).select_from(_visible(principal, status).subquery())) or 0


def candidate_in_scope(session: Session, principal: Principal, candidate_id: int) -> LinkCandidate | None:
    return session.scalar(
        select(LinkCandidate).where(
            and_(
                LinkCandidate.id == candidate_id,
                LinkCandidate.left_id.in_(_in_scope(principal)),
                LinkCandidate.right_id.in_(_in_scope(principal)),
            )
        )
    )


def candidate_exists(session: Session, candidate_id: int) -> bool:
    return session.get(LinkCandidate, candidate_id) is not None


def residents_by_id(session: Session, principal: Principal, ids: set[int]) -> dict[int, Resident]:
    if not ids:
        return {}
    return {r.id: r for r in session.scalars(scoped(select(Resident).where(Resident.id.in_(ids)), principal))}


def division_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {i: n for i, n in session.execute(select(Division.id, Division.name).where(Division.id.in_(ids)))}


def institution_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {i: n for i, n in session.execute(select(Institution.id, Institution.name).where(Institution.id.in_(ids)))}


def latest_run(session: Session) -> LinkRun | None:
    return session.scalar(select(LinkRun).order_by(LinkRun.id.desc()).limit(1))
