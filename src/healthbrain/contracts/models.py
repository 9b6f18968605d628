"""Family-doctor contracting (家庭医生签约服务): service packages, contracts and their signatures.

A contract is FHIR's EpisodeOfCare: the resident's family-doctor team (CareTeam) takes
responsibility for a period under a service package; the signature is a Consent.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from healthbrain.core.types import BigIntPK, UTCDateTime
from healthbrain.db import Base


class ServicePackage(Base):
    """A service package (服务包): basic, or one for a key population (elderly, children, chronic …)."""

    __tablename__ = "service_package"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    population: Mapped[str | None] = mapped_column(String(24))  # people.populations key; None = everyone
    annual_fee_yuan: Mapped[float] = mapped_column(Float, default=0.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Contract(Base):
    """One signed contract (签约协议) of a resident with a family-doctor team: FHIR EpisodeOfCare.

    ``status`` follows EpisodeOfCare.status: active, finished (ended or expired and not renewed),
    cancelled (withdrawn before its end), entered-in-error. A renewal is a new contract whose
    ``renewed_from_id`` names the previous one.
    """

    __tablename__ = "contract"
    __table_args__ = (
        Index("ix_contract_team_status_end", "team_id", "status", "end_date"),
        Index("ix_contract_resident_status", "resident_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("care_team.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))  # the signing doctor
    package_id: Mapped[int] = mapped_column(ForeignKey("service_package.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed_from_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"), index=True)
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(24))  # moved, died, withdrew, changed_team …
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_key: Mapped[str | None] = mapped_column(String(128), unique=True, index=True)


class ContractConsent(Base):
    """The signature of a contract (FHIR Consent): who signed, how, and the signature itself."""

    __tablename__ = "contract_consent"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    signer_name: Mapped[str] = mapped_column(String(64))
    signer_relation: Mapped[str] = mapped_column(String(16))  # self, spouse, child, parent, guardian, other
    method: Mapped[str] = mapped_column(String(16))  # handwritten (pad), paper (scanned), electronic, fingerprint
    signature: Mapped[str | None] = mapped_column(Text)  # data: URL of the drawn/scanned signature image
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")  # FHIR Consent.status
