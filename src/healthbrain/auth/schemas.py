"""Shapes of the auth API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from healthbrain.auth.roles import Role
from healthbrain.core.params import DbId
from healthbrain.core.schemas import InputModel


class TokenRequest(InputModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    label: str | None = Field(default=None, max_length=64)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    role: Role


class Me(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: Role
    institution_id: int | None
    practitioner_id: int | None
    team_ids: list[int]
    permissions: list[str]


class UserCreate(InputModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: Role
    institution_id: DbId | None = None
    practitioner_id: DbId | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    role: str
    institution_id: int | None
    practitioner_id: int | None
    active: bool
    last_login_at: datetime | None
    created_at: datetime


class DeviceTokenRequest(InputModel):
    label: str = Field(min_length=1, max_length=64)
    days: int = Field(default=365, ge=1, le=3650)


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    role: str | None
    action: str
    resident_id: int | None
    object_type: str | None
    object_id: str | None
    outcome: str
    ip: str | None
    request_id: str | None
    detail: dict[str, Any] | None
