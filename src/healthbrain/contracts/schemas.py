"""Contracts over HTTP: what comes in (sign, renew, end, the signature) and goes out (a contract, the
team's worklists)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from healthbrain.contracts.signature import MAX_DATA_URL_CHARS, SignatureError, check_signature
from healthbrain.core.params import DbId
from healthbrain.core.schemas import InputModel

Relation = Literal["self", "spouse", "child", "parent", "guardian", "other"]
Method = Literal["handwritten", "paper", "electronic", "fingerprint"]
UserEndReason = Literal["moved", "died", "withdrew", "other"]
SourceKey = Annotated[str, Field(min_length=1, max_length=128)]
PackageCode = Annotated[str, Field(min_length=1, max_length=32)]
ContractDate = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]


class ConsentIn(InputModel):
    """The signature (FHIR Consent): who signed, as what, how, and the drawn or scanned image."""

    signer_name: Annotated[str, Field(min_length=1, max_length=64)]
    signer_relation: Relation = "self"
    method: Method = "handwritten"
    signature: Annotated[str | None, Field(max_length=MAX_DATA_URL_CHARS)] = Field(
        default=None, description="data:image/png;base64,… (required when the method is handwritten or paper)"
    )

    @field_validator("signer_name")
    @classmethod
    def _signer(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("contract.signer_blank", "the signer's name is blank")
        return value.strip()

    @field_validator("signature")
    @classmethod
    def _png(cls, value: str | None) -> str | None:
        if value:
            try:
                check_signature(value)
            except SignatureError as exc:
                raise PydanticCustomError(
                    f"contract.signature.{exc.reason}", _SIGNATURE_MESSAGES[exc.reason], dict(exc.params)
                ) from None
        return value or None

    @model_validator(mode="after")
    def _signed(self) -> ConsentIn:
        if self.signature is None and self.method in ("handwritten", "paper"):
            raise PydanticCustomError(
                "contract.signature.missing", "a handwritten or paper consent needs the signature image"
            )
        return self


_SIGNATURE_MESSAGES = {
    "not_png_data_url": "the signature must be a data:image/png;base64 URL",
    "too_large": "the signature image is larger than {max_kb} KB",
    "bad_base64": "the signature is not valid base64",
    "not_png": "the signature is not a PNG image",
    "bad_dimensions": "the signature image must be between 1 and {max_side} pixels on each side",
}


class ContractCreate(InputModel):
    resident_id: DbId
    team_id: DbId
    package_code: PackageCode = "basic"
    start_date: ContractDate
    end_date: ContractDate | None = Field(default=None, description="default: one year from the start")
    practitioner_id: DbId | None = Field(default=None, description="the signing doctor (default: the team leader)")
    consent: ConsentIn | None = None
    source_key: SourceKey | None = Field(
        default=None, description="the sender's id: a resend returns the same contract"
    )
    change_team: bool = Field(
        default=False, description="the resident leaves another team's contract for this one (ends the old one)"
    )


class ContractRenew(InputModel):
    start_date: ContractDate | None = Field(default=None, description="default: the day after the old end date")
    end_date: ContractDate | None = None
    package_code: PackageCode | None = Field(default=None, description="default: the old contract's package")
    practitioner_id: DbId | None = None
    consent: ConsentIn | None = None
    source_key: SourceKey | None = None


class ContractEnd(InputModel):
    reason: UserEndReason
    ended_on: ContractDate | None = Field(default=None, description="the first day not covered (default: today)")


class PackageOut(BaseModel):
    code: str
    name: str
    description: str | None
    population: str | None
    annual_fee_yuan: float


class Ref(BaseModel):
    id: int
    code: str | None = None
    name: str


class ConsentOut(BaseModel):
    id: int
    signer_name: str
    signer_relation: str
    method: str
    signature: str | None
    signed_at: datetime
    status: str


class ContractOut(BaseModel):
    id: int
    resident_id: int
    resident_name: str
    team: Ref
    practitioner: Ref | None
    package: PackageOut
    status: str  # stored (EpisodeOfCare.status)
    status_today: str  # planned / active / expired / finished / cancelled / entered-in-error
    start_date: date
    end_date: date
    signed_at: datetime
    renewed_from_id: int | None
    renewed_by_id: int | None
    ended_on: date | None
    end_reason: str | None
    source_key: str | None
    consents: list[ConsentOut]
    link: str


class TeamOut(BaseModel):
    id: int
    code: str
    name: str
    institution: str
    communities: list[str]


class UncontractedRow(BaseModel):
    resident_id: int
    name: str
    sex: str
    age: int
    division: str
    phone_masked: str | None
    key_populations: list[str]
    last_contract_id: int | None  # an expired or ended contract to renew, if any
    last_end_date: date | None


class ExpiringRow(BaseModel):
    contract_id: int
    resident_id: int
    name: str
    sex: str
    age: int
    division: str
    package: str
    end_date: date
    days_left: int
    key_populations: list[str]


class RecentRow(BaseModel):
    contract_id: int
    resident_id: int
    name: str
    package: str
    start_date: date
    end_date: date
    signed_at: datetime
    renewal: bool
    signer_name: str | None


class UncontractedPage(BaseModel):
    items: list[UncontractedRow]
    total: int
    offset: int
    limit: int


class ExpiringPage(BaseModel):
    items: list[ExpiringRow]
    total: int
    offset: int
    limit: int


class TeamWorklists(BaseModel):
    team: TeamOut
    on: date
    within_days: int
    population: str | None
    contracted: int  # residents of the team's communities with a contract in force today
    uncontracted_by_population: dict[str, int]  # key population → residents without a contract in force
    uncontracted: UncontractedPage
    expiring: ExpiringPage
    recent: list[RecentRow]
