"""Bounded numbers for the HTTP edge: an id or an offset that no database column can hold is a
422 naming the parameter, never an overflow deep in a query."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Form, Path, Query
from pydantic import Field

MAX_ID: Final = 2**63 - 1  # BIGINT
MAX_OFFSET: Final = 10**9

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
IdForm = Annotated[int, Form(ge=1, le=MAX_ID)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


def is_db_id(value: object) -> bool:
    """An int (not a bool) that fits a BIGINT key."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID
