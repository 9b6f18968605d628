"""The pure rules of contracting, table-driven: when a contract is in force, its default term, what a
page shows, how it ends; and the signature check."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.contracts.definitions import (
    ContractFact,
    default_end,
    end_status,
    in_force,
    in_force_clause,
    renewal_start,
    status_on,
)
from healthbrain.contracts.models import Contract
from healthbrain.contracts.signature import MAX_BYTES, SignatureError, check_signature
from tests.contracts.pngs import data_url, png

D = date


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (D(2026, 3, 1), D(2027, 2, 28)),
        (D(2026, 1, 1), D(2026, 12, 31)),
        (D(2024, 2, 29), D(2025, 2, 27)),  # no 29 Feb next year: the year ends on the 28th, minus a day
        (D(2027, 3, 1), D(2028, 2, 29)),  # a leap year's 29 Feb is the last day
    ],
)
def test_default_term_is_one_year(start: date, end: date) -> None:
    assert default_end(start) == end
    assert renewal_start(end) > end


FACTS = [
    # status, start, end, ended_on, day, in force, shown as
    ("active", D(2026, 1, 1), D(2026, 12, 31), None, D(2026, 6, 1), True, "active"),
    ("active", D(2026, 1, 1), D(2026, 12, 31), None, D(2026, 1, 1), True, "active"),
    ("active", D(2026, 1, 1), D(2026, 12, 31), None, D(2026, 12, 31), True, "active"),
    ("active", D(2026, 1, 1), D(2026, 12, 31), None, D(2027, 1, 1), False, "expired"),
    ("active", D(2026, 1, 1), D(2026, 12, 31), None, D(2025, 12, 31), False, "planned"),
    ("finished", D(2026, 1, 1), D(2026, 12, 31), D(2026, 6, 1), D(2026, 5, 31), True, "finished"),
    ("finished", D(2026, 1, 1), D(2026, 12, 31), D(2026, 6, 1), D(2026, 6, 1), False, "finished"),
    ("cancelled", D(2026, 1, 1), D(2026, 12, 31), D(2026, 1, 1), D(2026, 1, 1), False, "cancelled"),
    ("entered-in-error", D(2026, 1, 1), D(2026, 12, 31), None, D(2026, 6, 1), False, "entered-in-error"),
]


@pytest.mark.parametrize(("status", "start", "end", "ended", "on", "covered", "shown"), FACTS)
def test_in_force_and_status(
    status: str, start: date, end: date, ended: date | None, on: date, covered: bool, shown: str
) -> None:
    fact = ContractFact(status, start, end, ended)
    assert in_force(fact, on) is covered
    assert status_on(fact, on) == shown


def test_in_force_clause_agrees_with_the_rule(session: Session, world: object) -> None:
    """The SQL form selects exactly the contracts the pure rule says are in force."""
    from tests.contracts.test_api import make_contract

    made = [make_contract(session, status, start, end, ended) for status, start, end, ended, *_ in FACTS]
    for on in sorted({row[4] for row in FACTS}):
        expected = {c.id for c, row in zip(made, FACTS, strict=True) if in_force(ContractFact(*row[:4]), on)}
        ids = [c.id for c in made]
        found = set(session.scalars(select(Contract.id).where(Contract.id.in_(ids), in_force_clause(on))))
        assert found == expected, on


@pytest.mark.parametrize(
    ("start", "ended", "status"),
    [
        (D(2026, 1, 1), D(2026, 1, 1), "cancelled"),
        (D(2026, 1, 1), D(2025, 12, 1), "cancelled"),
        (D(2026, 1, 1), D(2026, 1, 2), "finished"),
    ],
)
def test_ending_before_the_start_cancels(start: date, ended: date, status: str) -> None:
    assert end_status(start, ended).value == status


def test_a_drawn_png_is_accepted() -> None:
    image = check_signature(data_url(png(600, 200)))
    assert (image.width, image.height) == (600, 200)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("data:image/jpeg;base64,/9j/4AAQ", "not_png_data_url"),
        ("https://example.org/signature.png", "not_png_data_url"),
        ("data:image/png;base64,@@@not base64@@@", "bad_base64"),
        (data_url(b"GIF89a" + b"\x00" * 100), "not_png"),
        (data_url(png()[:40]), "not_png"),
        (data_url(png(5000, 1)), "bad_dimensions"),
        (
            "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_BYTES + 10)).decode(),
            "too_large",
        ),
    ],
)
def test_a_signature_that_is_not_a_small_png_is_refused(value: str, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        check_signature(value)
    assert caught.value.reason == reason
