"""Directory shapes: divisions, institutions, practitioners, family-doctor teams."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from healthbrain.core.schemas import InputModel

InstitutionKindName = Literal[
    "hospital", "chc", "chs", "village_clinic", "school", "pharmacy", "cdc", "emergency_station"
]


class DivisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    gb2260: str
    name: str
    level: str
    kind: str
    parent_id: int | None
    centroid_lon: float | None
    centroid_lat: float | None


class DivisionIn(InputModel):
    code: str = Field(pattern=r"^\d{12}$", description="12-digit statistical division code")
    name: str = Field(min_length=1, max_length=64)
    polygon: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon, WGS84")


class InstitutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    kind: str
    subtype: str | None
    division_id: int
    parent_id: int | None
    address: str | None
    lon: float | None
    lat: float | None
    active: bool


class InstitutionDetail(InstitutionOut):
    catchment_codes: list[str]


class InstitutionIn(InputModel):
    code: str = Field(min_length=2, max_length=32)
    name: str = Field(min_length=1, max_length=128)
    kind: InstitutionKindName
    subtype: str | None = Field(default=None, max_length=32)
    division_code: str = Field(pattern=r"^\d{12}$")
    parent_code: str | None = None
    address: str | None = Field(default=None, max_length=256)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    catchment_codes: list[str] = Field(default_factory=list, description="Communities served (centres, stations)")


class SchoolClassOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    grade: int
    name: str
    enrolled: int


class PractitionerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    sex: str
    profession: str
    institution_id: int
    active: bool


class PractitionerIn(InputModel):
    code: str = Field(min_length=2, max_length=32)
    name: str = Field(min_length=1, max_length=64)
    sex: Literal["M", "F"]
    profession: Literal["gp", "physician", "nurse", "public_health", "pharmacist", "specialist"]
    institution_code: str
    phone: str | None = Field(default=None, max_length=20)


class TeamMemberIn(InputModel):
    practitioner_code: str
    role: Literal["lead_gp", "gp", "nurse", "public_health", "specialist"]


class CareTeamIn(InputModel):
    code: str = Field(min_length=2, max_length=32)
    name: str = Field(min_length=1, max_length=128)
    home_institution_code: str
    members: list[TeamMemberIn] = Field(min_length=1)
    community_codes: list[str] = Field(min_length=1)


class TeamMemberOut(BaseModel):
    practitioner_id: int
    name: str
    role: str


class CareTeamOut(BaseModel):
    id: int
    code: str
    name: str
    home_institution_id: int
    leader_id: int | None
    members: list[TeamMemberOut]
    community_codes: list[str]
