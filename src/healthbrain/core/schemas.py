"""The base of every input schema: text the database cannot store is refused at the edge, with
the field named (PostgreSQL text holds no NUL character and no unpaired surrogate)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator


def storable_text_problem(value: str) -> str | None:
    """Why a string cannot be stored as text, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode text)"
    return None


class InputModel(BaseModel):
    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any, info: ValidationInfo) -> Any:
        texts = (
            [value]
            if isinstance(value, str)
            else [v for v in value if isinstance(v, str)]
            if isinstance(value, list)
            else []
        )
        for text in texts:
            if (problem := storable_text_problem(text)) is not None:
                raise ValueError(problem)
        return value
