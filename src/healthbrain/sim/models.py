"""A record of each simulation loaded into the database (seed, size, what was made)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK, JSONType, UTCDateTime
from healthbrain.db import Base


class SimulationRun(Base):
    __tablename__ = "sim_run"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    seed: Mapped[int] = mapped_column(Integer)
    residents: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    district_code: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seconds: Mapped[float] = mapped_column()
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType)
