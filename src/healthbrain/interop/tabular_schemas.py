"""What a CSV / Excel upload answers: the counts and each rejected row's reasons."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from healthbrain.core.ingest import RowError


class TableResult(BaseModel):
    batch_id: int
    kind: str
    received: int = Field(description="Rows under the header (blank lines are not rows)")
    inserted: int = Field(description="New residents / records")
    corrected: int = Field(description="Rows that updated what an earlier upload stored")
    duplicates: int = Field(description="Rows already stored unchanged (a file sent again)")
    rejected: int
    errors: list[RowError] = Field(description="Each rejected row: its line in the file, the column, the reason")
    error_report: str | None = Field(default=None, description="The xlsx of the rejected rows, to correct and resend")


class BatchOut(BaseModel):
    id: int
    kind: str
    received_at: datetime
    received: int
    inserted: int
    corrected: int
    duplicates: int
    rejected: int
    error_report: str | None
