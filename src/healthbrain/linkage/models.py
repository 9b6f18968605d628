"""Record linkage without an ID: runs of the matcher and the candidate pairs it leaves for review
(疑似重复档案), in the DHIS2 manner: open → same person (merged) / not the same."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK, JSONType, UTCDateTime
from healthbrain.db import Base


class LinkRun(Base):
    __tablename__ = "link_run"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(32))  # splink-duckdb …
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # thresholds, blocking rules, m/u
    records: Mapped[int] = mapped_column(Integer, default=0)
    pairs_scored: Mapped[int] = mapped_column(Integer, default=0)
    candidates: Mapped[int] = mapped_column(Integer, default=0)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class LinkCandidate(Base):
    """A pair of records the matcher thinks may be one person; ``left_id`` < ``right_id``."""

    __tablename__ = "link_candidate"
    __table_args__ = (
        UniqueConstraint("left_id", "right_id"),
        Index("ix_link_candidate_status_probability", "status", "probability"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("link_run.id"), index=True)
    left_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    right_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)  # per field: comparison level, weight
    status: Mapped[str] = mapped_column(String(12), default="open")  # open / same / not_same
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    merge_id: Mapped[int | None] = mapped_column(ForeignKey("resident_merge.id"))
