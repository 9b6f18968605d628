"""Pydantic shapes of the review queue (疑似重复档案). Identity data is masked, as in every list."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, StringConstraints

from healthbrain.core.params import DbId
from healthbrain.core.schemas import InputModel

Decision = Literal["same", "not_same"]
CandidateStatus = Literal["open", "same", "not_same"]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]


class PairSide(BaseModel):
    id: int
    name: str
    sex: str
    birth_date: date
    id_number_masked: str | None
    phone_masked: str | None
    address: str | None
    division: str | None
    registered_institution: str | None
    record_created_on: date | None
    status: str
    link: str


class FieldEvidence(BaseModel):
    level: str  # exact, pinyin, one_typo, null, else …
    weight: float  # the field's match weight (log2 Bayes factor): > 0 for, < 0 against


class CandidateOut(BaseModel):
    id: int
    status: CandidateStatus
    probability: float
    match_weight: float
    evidence: dict[str, FieldEvidence]
    left: PairSide
    right: PairSide
    suggested_survivor_id: int
    created_at: datetime
    reviewed_at: datetime | None
    merge_id: int | None


class CandidatePage(BaseModel):
    items: list[CandidateOut]
    offset: int
    limit: int
    has_more: bool
    total: int


class DecisionIn(InputModel):
    decision: Decision
    survivor_id: DbId | None = None  # for "same": which record stays (default: the suggested one)
    reason: Reason | None = None


class UnmergeIn(InputModel):
    reason: Reason


class RunOut(BaseModel):
    id: int
    started_at: datetime
    finished_at: datetime | None
    method: str
    records: int
    pairs_scored: int
    candidates: int
    params: dict[str, Any] | None
