from __future__ import annotations

import pytest

from healthbrain.core.masking import mask_id_number, mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [("11010519491231002X", "110105********002X"), (None, None), ("", ""), ("E12345678", "E1*******")],
)
def test_id_first_six_last_four(value: str | None, masked: str | None) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(("value", "masked"), [("13812345678", "138****5678"), (None, None), ("12345", "*****")])
def test_phone_three_and_four(value: str | None, masked: str | None) -> None:
    assert mask_phone(value) == masked
