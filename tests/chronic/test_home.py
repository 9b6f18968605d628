"""Home monitoring: plausibility, critical readings, duplicate keys, the 722 protocol, silent devices,
and the bulk check that must agree with the one-reading rules."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from healthbrain.chronic.definitions import ReadingKind
from healthbrain.chronic.home import (
    DBP_RANGE,
    FUTURE,
    GLUCOSE_RANGE,
    HEART_RATE_RANGE,
    MESSAGE_KEYS,
    MESSAGE_PARAMS,
    MISSING_VALUE,
    NAIVE_TIME,
    SBP_NOT_ABOVE_DBP,
    SBP_RANGE,
    TOO_OLD,
    UNEXPECTED_VALUE,
    UNKNOWN_KIND,
    HomeBPSummary,
    ReadingValues,
    check_arrays,
    critical_reasons,
    evaluate_722,
    plausibility_errors,
    reading_key,
    silent,
)

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
SHANGHAI = ZoneInfo("Asia/Shanghai")
NAN = math.nan


def bp(sbp: float | None = 120, dbp: float | None = 80, *, at: datetime = NOW, **extra: Any) -> ReadingValues:
    return ReadingValues(ReadingKind.BP, at, sbp=sbp, dbp=dbp, **extra)


def glucose(value: float | None = 6.0, *, at: datetime = NOW, **extra: Any) -> ReadingValues:
    return ReadingValues(ReadingKind.GLUCOSE, at, glucose=value, **extra)


@pytest.mark.parametrize(
    ("reading", "errors"),
    [
        pytest.param(bp(heart_rate=70), [], id="bp-ok"),
        pytest.param(bp(70, 40), [], id="bp-lower-limits-inclusive"),
        pytest.param(bp(300, 180), [], id="bp-upper-limits-inclusive"),
        pytest.param(bp(69, 40), [("sbp", SBP_RANGE)], id="sbp-69"),
        pytest.param(bp(301, 80), [("sbp", SBP_RANGE)], id="sbp-301"),
        pytest.param(bp(math.inf, 80), [("sbp", SBP_RANGE)], id="sbp-inf"),
        pytest.param(bp(120, 39), [("dbp", DBP_RANGE)], id="dbp-39"),
        pytest.param(bp(200, 181), [("dbp", DBP_RANGE)], id="dbp-181"),
        pytest.param(bp(120, 120), [("sbp", SBP_NOT_ABOVE_DBP)], id="sbp-equals-dbp"),
        pytest.param(bp(80, 120), [("sbp", SBP_NOT_ABOVE_DBP)], id="sbp-below-dbp"),
        pytest.param(bp(60, 100), [("sbp", SBP_RANGE), ("sbp", SBP_NOT_ABOVE_DBP)], id="two-errors"),
        pytest.param(bp(None, 80), [("sbp", MISSING_VALUE)], id="sbp-missing"),
        pytest.param(bp(120, NAN), [("dbp", MISSING_VALUE)], id="dbp-nan-is-missing"),
        pytest.param(bp(None, None), [("sbp", MISSING_VALUE), ("dbp", MISSING_VALUE)], id="bp-empty"),
        pytest.param(bp(heart_rate=25), [], id="hr-25"),
        pytest.param(bp(heart_rate=250), [], id="hr-250"),
        pytest.param(bp(heart_rate=24), [("heart_rate", HEART_RATE_RANGE)], id="hr-24"),
        pytest.param(bp(heart_rate=251), [("heart_rate", HEART_RATE_RANGE)], id="hr-251"),
        pytest.param(bp(glucose=6.0), [("glucose", UNEXPECTED_VALUE)], id="bp-with-glucose"),
        pytest.param(glucose(1.0), [], id="glucose-1.0"),
        pytest.param(glucose(35.0), [], id="glucose-35.0"),
        pytest.param(glucose(0.9), [("glucose", GLUCOSE_RANGE)], id="glucose-0.9"),
        pytest.param(glucose(35.1), [("glucose", GLUCOSE_RANGE)], id="glucose-35.1"),
        pytest.param(glucose(None), [("glucose", MISSING_VALUE)], id="glucose-missing"),
        pytest.param(glucose(sbp=120), [("sbp", UNEXPECTED_VALUE)], id="glucose-with-sbp"),
        pytest.param(glucose(heart_rate=70), [("heart_rate", UNEXPECTED_VALUE)], id="glucose-with-hr"),
        pytest.param(bp(at=NOW + timedelta(minutes=10)), [], id="10-min-ahead-ok"),
        pytest.param(bp(at=NOW + timedelta(minutes=10, seconds=1)), [("measured_at", FUTURE)], id="future"),
        pytest.param(bp(at=(NOW + timedelta(minutes=11)).astimezone(CST)), [("measured_at", FUTURE)], id="future-cst"),
        pytest.param(bp(at=NOW - timedelta(days=365)), [], id="365-days-old-ok"),
        pytest.param(bp(at=NOW - timedelta(days=365, seconds=1)), [("measured_at", TOO_OLD)], id="too-old"),
        pytest.param(bp(at=datetime(2025, 6, 1, 8, 0)), [("measured_at", NAIVE_TIME)], id="naive"),  # noqa: DTZ001
        pytest.param(
            ReadingValues(cast(ReadingKind, "weight"), NOW, sbp=120), [("kind", UNKNOWN_KIND)], id="unknown-kind"
        ),
        pytest.param(
            bp(None, 200, at=NOW + timedelta(days=1), heart_rate=300),
            [("measured_at", FUTURE), ("sbp", MISSING_VALUE), ("dbp", DBP_RANGE), ("heart_rate", HEART_RATE_RANGE)],
            id="many-errors-in-order",
        ),
    ],
)
def test_plausibility(reading: ReadingValues, errors: list[tuple[str, str]]) -> None:
    assert plausibility_errors(reading, now=NOW) == errors


def test_plausibility_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        plausibility_errors(bp(), now=datetime(2025, 6, 1))  # noqa: DTZ001


def test_message_keys_are_listed() -> None:
    assert len(set(MESSAGE_KEYS)) == len(MESSAGE_KEYS)
    assert all(key.startswith("chronic.reading.") for key in MESSAGE_KEYS)
    assert set(MESSAGE_PARAMS) <= set(MESSAGE_KEYS)
    assert MESSAGE_PARAMS[SBP_RANGE] == {"min": 70, "max": 300}


@pytest.mark.parametrize(
    ("reading", "reasons"),
    [
        (bp(179, 109), ()),
        (bp(180, 100), ("sbp_high",)),
        (bp(150, 110), ("dbp_high",)),
        (bp(200, 120), ("sbp_high", "dbp_high")),
        (bp(NAN, NAN), ()),
        (glucose(16.6), ()),
        (glucose(16.7), ("glucose_high",)),
        (glucose(4.0), ()),
        (glucose(3.9), ("glucose_low",)),
        (glucose(None), ()),
    ],
)
def test_critical(reading: ReadingValues, reasons: tuple[str, ...]) -> None:
    assert critical_reasons(reading) == reasons


# --- duplicate keys ------------------------------------------------------------------------------------


def test_reading_key_is_stable() -> None:
    """The key is stored: a change of format would let every resent reading in again."""
    key = reading_key("dev-1", bp(120, 80, heart_rate=70))
    assert key == reading_key("dev-1", bp(120.0, 80.0, heart_rate=70.0))
    # sha256 of ["dev-1","bp","120.0","80.0","70.0","","2025-06-01T08:00:00+00:00"] as compact JSON
    assert key == "09e4bb7e43f1d840b84b4ed49cb13b6ea8f33724"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (bp(at=NOW), bp(at=NOW.astimezone(CST)), True),  # the same instant written with +08:00
        (bp(at=NOW), bp(at=NOW.astimezone(SHANGHAI)), True),
        (bp(at=NOW), bp(at=NOW + timedelta(microseconds=999_999)), True),  # to the second
        (bp(at=NOW), bp(at=NOW + timedelta(seconds=1)), False),
        (bp(120, 80), bp(120.04, 80.0), True),  # rounded to 1 decimal
        (bp(120, 80), bp(120.06, 80.0), False),
        (bp(120, 80), bp(120, 80, heart_rate=NAN), True),  # NaN and None are both missing
        (bp(120, 80), bp(120, 80, heart_rate=70), False),
        (bp(120, 80), bp(80, 120), False),  # values keep their fields
        (glucose(6.0), bp(None, None, glucose=6.0), False),  # kind counts
    ],
)
def test_reading_key_identity(a: ReadingValues, b: ReadingValues, same: bool) -> None:
    assert (reading_key("dev-1", a) == reading_key("dev-1", b)) is same


def test_reading_key_device() -> None:
    assert reading_key("dev-1", bp()) != reading_key("dev-2", bp())
    # The parts are kept apart: no device id can shift characters into the kind.
    assert reading_key("a", glucose(1.0)) != reading_key("a,", glucose(1.0))


def test_reading_key_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        reading_key("dev-1", bp(at=datetime(2025, 6, 1)))  # noqa: DTZ001


# --- the 722 protocol --------------------------------------------------------------------------------------

END = date(2025, 6, 7)  # the window is 1–7 June


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local (Asia/Shanghai) time on ``day`` June 2025."""
    return datetime(2025, 6, day, hour, minute, tzinfo=SHANGHAI)


def full_days(days: range, sbp: float, dbp: float) -> list[tuple[datetime, float, float]]:
    """Two morning and two evening readings a day."""
    return [(at(d, h, m), sbp, dbp) for d in days for h in (7, 20) for m in (0, 2)]


def summary(
    days: int, readings: int, sbp: float | None, dbp: float | None, hypertensive: bool | None, span: tuple[int, int]
) -> HomeBPSummary:
    return HomeBPSummary(
        days_used=days,
        readings_used=readings,
        mean_sbp=sbp,
        mean_dbp=dbp,
        valid=hypertensive is not None,
        hypertensive=hypertensive,
        first_day=date(2025, 6, span[0]),
        last_day=date(2025, 6, span[1]),
    )


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        pytest.param(
            [*full_days(range(1, 2), 170, 100), *full_days(range(2, 8), 130, 80)],
            summary(6, 24, 130, 80, False, (2, 7)),
            id="day-1-dropped",
        ),
        pytest.param(full_days(range(1, 8), 135, 80), summary(6, 24, 135, 80, True, (2, 7)), id="mean-135-is-high"),
        pytest.param(full_days(range(1, 8), 130, 85), summary(6, 24, 130, 85, True, (2, 7)), id="mean-85-is-high"),
        pytest.param(full_days(range(1, 8), 134.9, 84.9), summary(6, 24, 134.9, 84.9, False, (2, 7)), id="just-below"),
        pytest.param(
            full_days(range(3, 8), 140, 90), summary(4, 16, 140, 90, True, (4, 7)), id="4-days-after-drop-valid"
        ),
        pytest.param(full_days(range(4, 8), 140, 90), summary(3, 12, 140, 90, None, (5, 7)), id="3-days-not-valid"),
        pytest.param(
            [
                (at(1, 14), 200, 120),  # day 1 has only an afternoon reading: still day 1
                *full_days(range(2, 6), 130, 80),
                (at(6, 12), 200, 120),  # noon: neither morning nor evening
                (at(6, 16, 59), 200, 120),
                (at(6, 3, 59), 200, 120),
                (at(7, 4), 140, 90),  # 04:00 is morning
                (at(7, 11, 59), 140, 90),
                (at(7, 17), 140, 90),  # 17:00 is evening
                (at(7, 23, 59), 140, 90),
            ],
            summary(5, 20, 132, 82, False, (2, 7)),
            id="hours",
        ),
        pytest.param(
            [
                (datetime(2025, 5, 31, 20, 0, tzinfo=SHANGHAI), 200, 120),  # before the window
                (datetime(2025, 6, 8, 7, 0, tzinfo=SHANGHAI), 200, 120),  # after it
                *full_days(range(2, 7), 130, 80),
            ],
            summary(4, 16, 130, 80, False, (3, 6)),
            id="window",
        ),
        pytest.param(
            [
                *((t.astimezone(UTC), s, d) for t, s, d in full_days(range(1, 7), 130, 80)),
                (datetime(2025, 6, 6, 23, 30, tzinfo=UTC), 150, 90),  # 7 June 07:30 in Shanghai: a morning
            ],
            summary(6, 21, (20 * 130 + 150) / 21, (20 * 80 + 90) / 21, False, (2, 7)),
            id="utc-times-read-locally",
        ),
    ],
)
def test_722(readings: list[tuple[datetime, float, float]], expected: HomeBPSummary) -> None:
    result = evaluate_722(readings, end=END)
    assert result.mean_sbp == pytest.approx(expected.mean_sbp)
    assert result.mean_dbp == pytest.approx(expected.mean_dbp)
    assert replace(result, mean_sbp=expected.mean_sbp, mean_dbp=expected.mean_dbp) == expected


@pytest.mark.parametrize(
    "readings",
    [[], full_days(range(1, 2), 150, 95), [(at(1, 7), 150, 95), (at(2, 14), 150, 95)]],
    ids=["empty", "only-day-1", "nothing-kept-after-day-1"],
)
def test_722_nothing_to_use(readings: list[tuple[datetime, float, float]]) -> None:
    assert evaluate_722(readings, end=END) == HomeBPSummary(0, 0, None, None, False, None, None, None)


def test_722_other_zone() -> None:
    """Morning and evening are read in the patient's zone."""
    readings = full_days(range(2, 8), 130, 80)  # 07:00 and 20:00 in Shanghai are 00:00 and 13:00 in London
    assert evaluate_722(readings, end=END).readings_used == 20
    assert evaluate_722(readings, end=END, tz=ZoneInfo("Europe/London")).readings_used == 0


def test_722_needs_aware_times() -> None:
    with pytest.raises(ValueError):
        evaluate_722([(datetime(2025, 6, 2, 7, 0), 130, 80)], end=END)  # noqa: DTZ001


# --- silent devices ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_seen", "bound_at", "is_silent"),
    [
        (None, NOW - timedelta(days=3), True),  # never seen: counted from the binding
        (None, NOW - timedelta(days=3) + timedelta(seconds=1), False),
        (NOW - timedelta(days=3), NOW - timedelta(days=30), True),
        (NOW - timedelta(days=1), NOW - timedelta(days=30), False),
        (NOW - timedelta(days=10), NOW - timedelta(days=1), False),  # rebound: the old silence does not count
        ((NOW - timedelta(days=4)).astimezone(CST), NOW - timedelta(days=30), True),
    ],
)
def test_silent(last_seen: datetime | None, bound_at: datetime, is_silent: bool) -> None:
    assert silent(last_seen, bound_at, now=NOW) is is_silent


# --- the bulk check ------------------------------------------------------------------------------------------


def _random_readings(n: int, seed: int) -> tuple[list[ReadingValues], dict[str, np.ndarray[Any, Any]]]:
    """Readings with many bad ones: boundary values, NaN, infinities, wrong kinds, wrong times."""
    rng = np.random.default_rng(seed)
    edges: dict[str, list[float]] = {
        "sbp": [69, 70, 179.9, 180, 300, 300.1, math.inf, 90, 100],
        "dbp": [39, 40, 109, 110, 180, 181, 90, 100],
        "hr": [24, 25, 250, 251, 70],
        "glucose": [0.9, 1.0, 3.9, 4.0, 16.6, 16.7, 35.0, 35.1],
    }
    spread = {"sbp": (40, 330), "dbp": (20, 200), "hr": (10, 280), "glucose": (0.0, 40.0)}

    def column(name: str, present: float) -> np.ndarray[Any, Any]:
        values = np.where(rng.random(n) < 0.3, rng.choice(edges[name], n), np.round(rng.uniform(*spread[name], n), 1))
        return np.where(rng.random(n) < present, values, np.nan)

    kinds = rng.choice(np.array(["bp", "glucose", "weight"], dtype=object), n, p=[0.6, 0.35, 0.05])
    is_bp = kinds == "bp"
    sbp = np.where(is_bp | (rng.random(n) < 0.05), column("sbp", 0.95), np.nan)
    dbp = np.where(is_bp | (rng.random(n) < 0.05), column("dbp", 0.95), np.nan)
    hr = np.where(is_bp | (rng.random(n) < 0.05), column("hr", 0.6), np.nan)
    glu = np.where(~is_bp | (rng.random(n) < 0.05), column("glucose", 0.95), np.nan)
    now = NOW.timestamp()
    offsets = np.where(
        rng.random(n) < 0.2,
        rng.choice([600, 601, -365 * 86400, -365 * 86400 - 1, 0], n),
        rng.integers(-400 * 86400, 3600, n),
    )
    measured = now + offsets.astype(np.float64)

    def scalar(x: float) -> float | None:
        # Missing arrives as None or as NaN: both must agree with the arrays.
        return None if math.isnan(x) and rng.random() < 0.5 else float(x)

    readings = [
        ReadingValues(
            cast(ReadingKind, ReadingKind(kinds[i]) if kinds[i] != "weight" else "weight"),
            datetime.fromtimestamp(float(measured[i]), UTC).astimezone(CST if i % 2 else UTC),
            sbp=scalar(sbp[i]),
            dbp=scalar(dbp[i]),
            heart_rate=scalar(hr[i]),
            glucose=scalar(glu[i]),
        )
        for i in range(n)
    ]
    arrays = {"kind": kinds, "sbp": sbp, "dbp": dbp, "hr": hr, "glucose": glu, "measured_epoch_s": measured}
    return readings, arrays


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_check_arrays_agrees_with_one_reading_rules(seed: int) -> None:
    readings, arrays = _random_readings(400, seed)
    ok, critical = check_arrays(**arrays, now_epoch_s=NOW.timestamp())
    expected_ok = [not plausibility_errors(r, now=NOW) for r in readings]
    expected_critical = [bool(critical_reasons(r)) for r in readings]
    assert ok.tolist() == expected_ok
    assert critical.tolist() == expected_critical
    # The sample must exercise both verdicts.
    assert 0.2 < ok.mean() < 0.8 and critical.any() and not critical.all()


def test_check_arrays_is_fast() -> None:
    """The bulk path must take ≥ 30,000 readings a second overall; the check is a small part of it."""
    _, arrays = _random_readings(1000, 4)
    big = {name: np.tile(values, 100) for name, values in arrays.items()}  # 100,000 readings
    started = time.perf_counter()
    check_arrays(**big, now_epoch_s=NOW.timestamp())
    assert time.perf_counter() - started < 1.0


def test_check_arrays_shapes() -> None:
    with pytest.raises(ValueError):
        check_arrays(np.array(["bp"], dtype=object), [120.0], [80.0], [70.0], [np.nan, np.nan], [0.0], 0.0)


# --- the bulk path's key ---------------------------------------------------------------------------
def test_fast_key_equals_the_reference_key() -> None:
    import random

    from healthbrain.chronic.home import reading_key_fast, storage_key

    rng = random.Random(7)
    for n in range(500):
        kind = ReadingKind.BP if n % 3 else ReadingKind.GLUCOSE
        at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 30 * 86400), microseconds=n)
        offset = at.astimezone(ZoneInfo("Asia/Shanghai")) if n % 2 else at
        values: dict[str, float | None] = (
            {"sbp": rng.uniform(80, 200), "dbp": rng.uniform(50, 110), "heart_rate": rng.choice([None, 71.0])}
            if kind == ReadingKind.BP
            else {"glucose": round(rng.uniform(2, 20), rng.choice([0, 1, 2]))}
        )
        values = {"sbp": None, "dbp": None, "heart_rate": None, "glucose": None, **values}
        device = rng.choice(["BP-0001", "GLU:9.a_b-1", "设备-1", 'odd"id'])
        reference = reading_key(device, ReadingValues(kind=kind, measured_at=offset, **values))
        fast = reading_key_fast(
            device, kind.value, values["sbp"], values["dbp"], values["heart_rate"], values["glucose"], offset
        )
        assert fast == reference
        key = storage_key(reference)
        assert -(2**63) <= key < 2**63 and key == int.from_bytes(bytes.fromhex(reference[:16]), "big", signed=True)


@pytest.mark.parametrize(
    "value", [0.0, -0.0, -0.04, 0.05, 0.25, 0.35, 1.05, 2.675, 132.45, 132.55, 99.95, 7.049999, 16.7, 3.9, 1e-9, None]
)
def test_fast_value_text_equals_the_reference(value: float | None) -> None:
    from healthbrain.chronic.home import _fmt, _normalised

    assert _fmt(value) == _normalised(value)


def test_fast_value_text_on_many_values() -> None:
    from healthbrain.chronic.home import _fmt, _normalised

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.uniform(0, 400, 20_000), np.round(rng.uniform(0, 40, 20_000), 2)])
    assert all(_fmt(float(v)) == _normalised(float(v)) for v in values)
