"""Pydantic shapes of residents in and out of the API. Lists are masked; reveal is separate."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from healthbrain.core.params import DbId
from healthbrain.core.schemas import InputModel

Sex = Literal["M", "F"]
Relation = Literal["head", "spouse", "child", "parent", "grandchild", "grandparent", "sibling", "other"]
Disability = Literal["visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"]
KeyPopulationName = Literal["elderly", "child", "pregnant", "disabled", "chronic"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")]
DivisionCode = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]


class IdentifierIn(InputModel):
    kind: Literal["mrn", "health_record", "passport", "insurance"]
    system: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        description="Institution code for an MRN, issuing country for a passport."
    )
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class IdentifierOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: str
    system: str
    value: str


class ResidentCreate(InputModel):
    """A new resident. With an ID number, sex and birth date may be left out (they are derived
    from it) and, when given, must agree with it."""

    id_number: str | None = Field(default=None, description="18-character GB 11643 ID, or a 15-digit legacy ID")
    name: Name
    sex: Sex | None = None
    birth_date: date | None = None
    phone: Phone | None = None
    division_code: DivisionCode = Field(description="12-digit code of the community / village of residence")
    address: str | None = Field(default=None, max_length=256)
    household_code: str | None = Field(default=None, max_length=32)
    relation_to_head: Relation | None = None
    disability: Disability | None = None
    identifiers: list[IdentifierIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _needs_sex_and_birth_without_id(self) -> ResidentCreate:
        if not self.id_number and (self.sex is None or self.birth_date is None):
            raise ValueError("without id_number, sex and birth_date are required")
        return self


class ResidentUpdate(InputModel):
    """Fields to change; absent fields stay as they are."""

    id_number: str | None = None
    name: Name | None = None
    phone: Phone | None = None
    division_code: DivisionCode | None = None
    address: str | None = Field(default=None, max_length=256)
    disability: Disability | None = None
    clear_disability: bool = False
    version: int | None = Field(default=None, description="Expected version (optimistic locking)")


class DivisionRef(BaseModel):
    code: str
    name: str


class ResidentSummary(BaseModel):
    """A resident in a list: identity data masked."""

    id: int
    name: str
    sex: str
    birth_date: date
    age: int
    id_number_masked: str | None
    phone_masked: str | None
    division: DivisionRef
    status: str
    key_populations: list[KeyPopulationName]
    link: str


class ResidentDetail(ResidentSummary):
    address: str | None
    household_code: str | None
    relation_to_head: str | None
    disability: str | None
    merged_into_id: int | None
    registered_institution: str | None
    record_created_on: date | None
    identifiers: list[IdentifierOut]
    created_at: datetime
    updated_at: datetime
    version: int


class ResidentPage(BaseModel):
    items: list[ResidentSummary]
    offset: int
    limit: int
    has_more: bool


class RevealedIdentity(BaseModel):
    id: int
    id_number: str | None
    phone: str | None


class MergeRequest(InputModel):
    merged_id: DbId = Field(description="The duplicate record, folded into the survivor")
    reason: str = Field(min_length=2, max_length=500)


class UnmergeRequest(InputModel):
    reason: str = Field(min_length=2, max_length=500)


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    survivor_id: int
    merged_id: int
    reason: str | None
    moved: dict[str, list[int]]
    merged_at: datetime
    unmerged_at: datetime | None
