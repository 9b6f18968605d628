"""What every ingestion path shares: the row-level error a sender reads, and the list of rejected
rows that is answered to the sender and kept, verbatim, in the database."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from healthbrain.core.i18n import translate
from healthbrain.core.schemas import storable_text_problem


class RowError(BaseModel):
    row: int
    field: str | None
    message: str


def stored_errors(rejections: Iterable[Any]) -> list[RowError]:
    """The row errors of a batch as they were answered, from its kept rejections (a replay)."""
    return [
        RowError(row=r.row_number, field=e.get("field"), message=e.get("message", ""))
        for r in rejections
        for e in r.errors
    ]


def verbatim_json(value: Any) -> str:
    """JSON text of a value as received; unpaired surrogates are kept as escapes."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if storable_text_problem(text) is None else json.dumps(value, ensure_ascii=True, default=str)


def validation_reasons(exc: ValidationError) -> list[tuple[str | None, str]]:
    """(field path, message) for each error of a row's validation."""
    return [(".".join(str(p) for p in err["loc"]) or None, err["msg"]) for err in exc.errors()]


@dataclass
class Rejects:
    """Rows turned away, with their reasons: answered to the sender and kept in the database."""

    errors: list[RowError] = field(default_factory=list)
    rows: list[tuple[int, Any, list[dict[str, str | None]]]] = field(default_factory=list)

    def add(self, number: int, raw: Any, reasons: list[tuple[str | None, str]]) -> None:
        # A field path can carry a sender's odd key: keep it storable.
        reasons = [(f if f is None or storable_text_problem(f) is None else repr(f), m) for f, m in reasons]
        self.errors.extend(RowError(row=number, field=f, message=m) for f, m in reasons)
        self.rows.append((number, raw, [{"field": f, "message": m} for f, m in reasons]))

    @property
    def numbers(self) -> set[int]:
        return {n for n, _raw, _errs in self.rows}


def validation_messages(exc: ValidationError, language: str) -> list[tuple[str | None, str]]:
    """(field path, message in the reader's language) for each error of a row's validation: the
    error's type names a message (``validation.<type>``, or a domain's own key for custom errors),
    Pydantic's English text is the fallback."""
    out: list[tuple[str | None, str]] = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or None
        params = {k: v for k, v in (err.get("ctx") or {}).items()}
        params.setdefault("input", err.get("input"))
        key = err["type"] if "." in err["type"] else f"validation.{err['type']}"
        message = translate(key, language, **params)
        out.append((where, err["msg"] if message == key else message))
    return out
