"""Use cases of linkage without an ID: run the matcher into the review queue, list the queue,
decide a pair (同一人 → merge; 不是同一人), undo a merge made from the queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Role
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import Conflict, InvalidInput, NotFound
from healthbrain.core.masking import mask_id_number, mask_phone
from healthbrain.core.time import utcnow
from healthbrain.linkage import repository
from healthbrain.linkage.model import BLOCKING_RULES, link
from healthbrain.linkage.models import LinkCandidate, LinkRun
from healthbrain.linkage.schemas import CandidateOut, CandidatePage, FieldEvidence, PairSide
from healthbrain.people import service as people
from healthbrain.people.models import Resident

METHOD = "splink-duckdb"
DEFAULT_REVIEW_THRESHOLD = 0.5  # match probability from which a pair goes to review

LINKAGE_JOB = Principal(user_id=0, username="linkage", display_name="linkage", role=Role.ADMIN, auth_kind="job")


@dataclass(frozen=True, slots=True)
class RunSummary:
    run: LinkRun
    new: int  # pairs added to the queue
    refreshed: int  # open pairs found again (their score updated)
    kept_decided: int  # pairs found again that were already decided (not reopened)
    trained: bool
    seconds: float


def run(
    session: Session,
    *,
    principal: Principal = LINKAGE_JOB,
    threshold: float = DEFAULT_REVIEW_THRESHOLD,
    train: bool | None = None,
    seed: int = 42,
) -> RunSummary:
    """Score the active residents and put the likely duplicate pairs into the review queue.

    Idempotent: a pair already in the queue is refreshed, never duplicated; a decided pair is
    never reopened."""
    principal.require(Permission.RESIDENT_MERGE)
    if not 0.0 < threshold <= 1.0:
        raise InvalidInput("error.linkage.threshold", field="threshold", value=threshold)
    started = utcnow()
    persons = repository.active_persons(session)
    result = link(persons, threshold=threshold, train=train, seed=seed)
    row = LinkRun(
        started_at=started,
        method=METHOD,
        params={
            "threshold": threshold,
            "trained": result.trained,
            "seed": seed,
            "blocking_rules": [list(r) for r in BLOCKING_RULES],
            "model": result.parameters,
        },
        records=result.records,
        pairs_scored=result.pairs_scored,
        started_by_id=principal.user_id or None,
    )
    session.add(row)
    session.flush()
    existing = repository.candidates_by_pair(session)
    now = utcnow()
    new = refreshed = kept = 0
    for pair in result.pairs:
        found = existing.get((pair.left_id, pair.right_id))
        if found is None:
            session.add(
                LinkCandidate(
                    run_id=row.id,
                    left_id=pair.left_id,
                    right_id=pair.right_id,
                    probability=pair.probability,
                    match_weight=pair.match_weight,
                    evidence=pair.evidence,
                    status="open",
                    created_at=now,
                )
            )
            new += 1
        elif found.status == "open":
            found.run_id = row.id
            found.probability, found.match_weight, found.evidence = pair.probability, pair.match_weight, pair.evidence
            refreshed += 1
        else:
            kept += 1
    row.candidates = new + refreshed
    row.finished_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        "linkage.run",
        object_type="link_run",
        object_id=row.id,
        detail={"records": result.records, "new": new, "refreshed": refreshed, "kept_decided": kept},
    )
    return RunSummary(row, new, refreshed, kept, result.trained, result.seconds)


def suggested_survivor(left: Resident, right: Resident) -> Resident:
    """The record that stays: the one with a resident ID number, else the older record."""
    if bool(left.id_number) != bool(right.id_number):
        return left if left.id_number else right

    def age(r: Resident) -> tuple[date, int]:
        return (r.record_created_on or r.created_at.date(), r.id)

    return min(left, right, key=age)


def _sides(session: Session, principal: Principal, rows: list[LinkCandidate]) -> list[CandidateOut]:
    residents = repository.residents_by_id(session, principal, {c.left_id for c in rows} | {c.right_id for c in rows})
    divisions = repository.division_names(session, {r.division_id for r in residents.values()})
    institutions = repository.institution_names(
        session, {r.registered_institution_id for r in residents.values() if r.registered_institution_id}
    )

    def side(r: Resident) -> PairSide:
        return PairSide(
            id=r.id,
            name=r.name,
            sex=r.sex,
            birth_date=r.birth_date,
            id_number_masked=mask_id_number(r.id_number),
            phone_masked=mask_phone(r.phone),
            address=r.address,
            division=divisions.get(r.division_id),
            registered_institution=institutions.get(r.registered_institution_id or 0),
            record_created_on=r.record_created_on,
            status=r.status,
            link=f"/residents/{r.id}",
        )

    out: list[CandidateOut] = []
    for c in rows:
        left, right = residents.get(c.left_id), residents.get(c.right_id)
        if left is None or right is None:
            continue  # out of scope since the query (cannot happen inside one transaction)
        out.append(
            CandidateOut(
                id=c.id,
                status=c.status,
                probability=c.probability,
                match_weight=c.match_weight,
                evidence={k: FieldEvidence(**v) for k, v in (c.evidence or {}).items()},
                left=side(left),
                right=side(right),
                suggested_survivor_id=suggested_survivor(left, right).id,
                created_at=c.created_at,
                reviewed_at=c.reviewed_at,
                merge_id=c.merge_id,
            )
        )
    return out


def list_candidates(
    session: Session, *, principal: Principal, status: str = "open", offset: int = 0, limit: int = 20
) -> CandidatePage:
    principal.require(Permission.RESIDENT_MERGE)
    rows, has_more = repository.candidates(session, principal, status=status, offset=offset, limit=limit)
    items = _sides(session, principal, list(rows))
    audit.record(
        session,
        principal,
        "linkage.list",
        detail={"status": status, "offset": offset, "results": len(items), "residents": _ids(items)},
    )
    return CandidatePage(
        items=items,
        offset=offset,
        limit=limit,
        has_more=has_more,
        total=repository.count_candidates(session, principal, status=status),
    )


def _ids(items: list[CandidateOut]) -> list[int]:
    return sorted({i.left.id for i in items} | {i.right.id for i in items})


def _candidate(session: Session, principal: Principal, candidate_id: int, action: str) -> LinkCandidate:
    principal.require(Permission.RESIDENT_MERGE)
    found = repository.candidate_in_scope(session, principal, candidate_id)
    if found is None:
        if repository.candidate_exists(session, candidate_id):
            audit.record_refused(
                session,
                principal,
                action,
                object_type="link_candidate",
                object_id=candidate_id,
                detail={"why": "scope"},
            )
        raise NotFound("error.linkage.not_found", id=candidate_id)
    return found


def get_candidate(session: Session, *, principal: Principal, candidate_id: int) -> CandidateOut:
    found = _candidate(session, principal, candidate_id, "linkage.read")
    (out,) = _sides(session, principal, [found])
    audit.record(
        session,
        principal,
        "linkage.read",
        object_type="link_candidate",
        object_id=found.id,
        detail={"residents": _ids([out])},
    )
    return out


def decide(
    session: Session,
    *,
    principal: Principal,
    candidate_id: int,
    decision: str,
    survivor_id: int | None = None,
    reason: str | None = None,
) -> CandidateOut:
    """同一人: merge the pair (the suggested survivor unless another is named); 不是同一人: close it."""
    found = _candidate(session, principal, candidate_id, "linkage.decide")
    if found.status != "open":
        raise Conflict("error.linkage.decided", id=found.id, status=found.status)
    detail: dict[str, object] = {"decision": decision}
    if decision == "same":
        residents = repository.residents_by_id(session, principal, {found.left_id, found.right_id})
        left, right = residents[found.left_id], residents[found.right_id]
        survivor = suggested_survivor(left, right).id if survivor_id is None else survivor_id
        if survivor not in (found.left_id, found.right_id):
            raise InvalidInput("error.linkage.survivor_not_in_pair", field="survivor_id", id=survivor)
        merged = found.right_id if survivor == found.left_id else found.left_id
        row = people.merge(
            session,
            principal=principal,
            survivor_id=survivor,
            merged_id=merged,
            reason=reason or f"疑似重复档案 #{found.id}: 同一人",
        )
        found.merge_id = row.id
        detail |= {"survivor": survivor, "merged": merged, "merge": row.id}
    elif decision != "not_same":
        raise InvalidInput("error.linkage.decision", field="decision", value=decision)
    found.status = decision
    found.reviewed_at = utcnow()
    found.reviewed_by_id = principal.user_id or None
    session.flush()
    audit.record(session, principal, "linkage.decide", object_type="link_candidate", object_id=found.id, detail=detail)
    (out,) = _sides(session, principal, [found])
    return out


def unmerge(session: Session, *, principal: Principal, candidate_id: int, reason: str) -> CandidateOut:
    """Undo the merge a 同一人 decision made: both records are active again and the pair is
    closed as not the same person (a later run does not reopen it)."""
    if len(reason.strip()) < 2:
        raise InvalidInput("error.linkage.reason", field="reason")
    found = _candidate(session, principal, candidate_id, "linkage.unmerge")
    if found.status != "same" or found.merge_id is None:
        raise Conflict("error.linkage.not_merged", id=found.id)
    people.unmerge(session, principal=principal, merge_id=found.merge_id, reason=reason)
    found.status = "not_same"
    found.reviewed_at = utcnow()
    found.reviewed_by_id = principal.user_id or None
    session.flush()
    audit.record(
        session,
        principal,
        "linkage.unmerge",
        object_type="link_candidate",
        object_id=found.id,
        detail={"merge": found.merge_id},
    )
    (out,) = _sides(session, principal, [found])
    return out


def latest_run(session: Session) -> LinkRun | None:
    return repository.latest_run(session)
