"""Interchange tables: FHIR resources kept verbatim, and the checkpoints of bulk imports.

Resources of the types the platform models (Patient, Encounter, Observation …) live in their
domain's tables and are rendered back to FHIR on read. Every other type a sender includes
(Claim, Procedure, DiagnosticReport, CarePlan, AllergyIntolerance …) is kept here exactly as
sent, readable back, and linked to the resident it is about.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK, UTCDateTime
from healthbrain.db import Base


class FhirResource(Base):
    __tablename__ = "fhir_resource"
    __table_args__ = (
        UniqueConstraint("resource_type", "logical_id"),
        Index("ix_fhir_resource_resident_type", "resident_id", "resource_type"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    logical_id: Mapped[str] = mapped_column(String(64))  # the id the server gave (FHIR id: ≤ 64 chars)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)
    source_key: Mapped[str | None] = mapped_column(String(160), unique=True)  # sender + its own id
    content: Mapped[str] = mapped_column(Text)  # the resource as JSON text, as sent (plus id/meta)


class BulkImport(Base):
    """A bulk NDJSON import: the file's digest names it, and the checkpoint (lines and bytes done)
    is committed with each chunk's rows, so that a run killed mid-file resumes where the last
    commit left it and no row is written twice."""

    __tablename__ = "bulk_import"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(256))
    sender: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id"))
    status: Mapped[str] = mapped_column(String(12))  # running / done
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lines_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)  # offset in the uncompressed stream
    inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
