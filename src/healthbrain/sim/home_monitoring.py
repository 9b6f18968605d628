"""Home monitoring for the synthetic district (家庭自测), generated as arrays: monitors bound to
managed patients, their reading streams (BP morning and evening, capillary glucose a few times a
week), silent devices, critical episodes and the worklist alerts those raise; and a stream of
reading payloads for the ingestion benchmark.

Readings cover the local days before the reference date (never the reference day itself, so that
a district built in the morning has no reading from the future). Each reading carries the key the
ingestion path stores (``home.storage_key(home.reading_key(...))``), so a device resending a
simulated reading is a duplicate.
Alerts follow ``chronic.readings``: one open alert per resident, a critical reading extends it
while it is open; the family doctor handles an alert within two days, so only alerts of the last
day or two are still open when the district is loaded.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np

from healthbrain.chronic import home
from healthbrain.chronic.definitions import (
    CRITICAL_DBP,
    CRITICAL_GLUCOSE_HIGH,
    CRITICAL_GLUCOSE_LOW,
    CRITICAL_SBP,
    ReadingKind,
)
from healthbrain.chronic.readings import token_hash
from healthbrain.sim.history import LOCAL_OFFSET_S, Columns

# House choices for a plausible district.
BP_DEVICE_SHARE: Final = 0.15  # of enrolled hypertension patients
GLUCOSE_DEVICE_SHARE: Final = 0.10  # of enrolled diabetes patients
SILENT_SHARE: Final = 0.08  # devices that stopped sending
SILENT_LAST_READING_DAYS: Final = (4, 20)  # their last reading, days before the reference date
BP_EPISODE_SHARE: Final = 0.015  # BP devices with a critical episode (SBP ≥ 180) in the last days
GLUCOSE_EPISODE_SHARE: Final = 0.02  # glucometers with one (≥ 16.7, or ≤ 3.9 for a third of them)
GLUCOSE_LOW_EPISODE_SHARE: Final = 0.3
EPISODE_DAYS: Final = (1, 3)  # an episode covers the last 1–3 days
# Per patient, drawn uniformly in these ranges: the share of days they measure BP, of morning and
# evening sessions on such a day, and of sessions with a second reading (≈ 1.4 readings a day).
BP_DAY_SHARE: Final = (0.3, 0.95)
BP_SESSION_SHARE: Final = (0.7, 1.0)
BP_SECOND_READING_SHARE: Final = (0.1, 0.7)
HOME_BP_OFFSET: Final = -4.0  # home BP runs below office BP (white-coat effect, CHG 2018: 135/85 vs 140/90)
BP_MODELS: Final = ("Omron HEM-7136", "Yuwell YE680A", "Omron U30")
GLUCOSE_MODELS: Final = ("Sinocare GA-3", "Yuwell 580", "Accu-Chek Active")
ALERT_HANDLED_HOURS: Final = (2.0, 48.0)  # the family doctor answers an alert within this
ALERT_ACTIONS: Final = (("phoned", 0.6), ("visit", 0.2), ("referred", 0.05), ("no_action", 0.15))
DEMO_TOKENS: Final = 3  # devices whose token the demo can print

_BP, _GLUCOSE = 0, 1
KINDS: Final = np.array([ReadingKind.BP.value, ReadingKind.GLUCOSE.value], dtype=object)
_MORNING_S: Final = (6 * 3600, 9 * 3600)  # a BP session starts in 06:00–09:00 …
_EVENING_S: Final = (19 * 3600, 22 * 3600)  # … or 19:00–22:00 local
_FASTING_S: Final = (6 * 3600, 8 * 3600)
_AFTER_MEAL_S: Final = np.array([9 * 3600, 12 * 3600 + 1800, 19 * 3600 + 1800])  # 2 h after a meal, within an hour
_CRITICAL_REASONS: Final = (home.SBP_HIGH, home.DBP_HIGH, home.GLUCOSE_HIGH, home.GLUCOSE_LOW)


@dataclass(frozen=True)
class DeviceToken:
    device_id: str
    kind: str
    token: str
    resident: int  # 0-based index of the resident


@dataclass
class Home:
    devices: Columns
    readings: Columns
    alerts: Columns
    tokens: list[DeviceToken]


def device_token(seed: int, device_id: str) -> str:
    """The bearer token of a simulated device, derived from the seed so the demo can print it
    again later (the database keeps only its hash)."""
    digest = hashlib.sha256(f"healthbrain-sim-device:{seed}:{device_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def _instants(days: np.ndarray, local_seconds: np.ndarray) -> np.ndarray:
    instants: np.ndarray = days.astype("datetime64[D]").astype("datetime64[s]") + (
        np.asarray(local_seconds, dtype=np.int64) - LOCAL_OFFSET_S
    ).astype("timedelta64[s]")
    return instants


def _tenths(values: np.ndarray) -> list[str]:
    """The text ``reading_key`` gives a value (one decimal, "" when missing). The values must lie on
    the one-decimal grid already (the simulator rounds them), where rint(10 v) is exact."""
    present = ~np.isnan(values)
    if np.any(present & ((values < 0) | (np.round(values, 1) != values))):
        raise ValueError("reading values must be non-negative and rounded to one decimal")
    tenths = np.rint(np.where(present, values, 0) * 10).astype(np.int64)
    table = np.array([f"{t // 10}.{t % 10}" for t in range(int(tenths.max(initial=0)) + 1)], dtype=object)
    texts = table[tenths]
    texts[~present] = ""
    listed: list[str] = texts.tolist()
    return listed


def reading_keys(
    device_ids: np.ndarray,
    kinds: np.ndarray,
    sbp: np.ndarray,
    dbp: np.ndarray,
    heart_rate: np.ndarray,
    glucose: np.ndarray,
    at: np.ndarray,
) -> np.ndarray:
    """The stored keys (``home.storage_key(home.reading_key(...))``, signed 64-bit) of arrays of
    readings: times as UTC datetime64; values non-negative, rounded to one decimal, NaN when
    missing; plain device ids (``[A-Za-z0-9_.:-]``, which JSON does not escape)."""
    instants = np.datetime_as_string(at.astype("datetime64[s]"), unit="s")
    sha = hashlib.sha256
    # The key is the first 64 bits of the SHA-256 of the parts' JSON text, read big-endian.
    digests = b"".join(
        sha(f'["{d}","{k}","{s}","{p}","{h}","{g}","{t}+00:00"]'.encode()).digest()[:8]
        for d, k, s, p, h, g, t in zip(
            device_ids.tolist(),
            kinds.tolist(),
            _tenths(sbp),
            _tenths(dbp),
            _tenths(heart_rate),
            _tenths(glucose),
            instants.tolist(),
            strict=True,
        )
    )
    keys: np.ndarray = np.frombuffer(digests, dtype=">i8").astype(np.int64)
    return keys


# --- reading streams -----------------------------------------------------------------------------------
def bp_stream(
    rng: np.random.Generator,
    *,
    days: np.ndarray,
    active: np.ndarray,
    sbp_level: np.ndarray,
    dbp_level: np.ndarray,
    hr_level: np.ndarray,
    day_p: np.ndarray,
    session_p: np.ndarray,
    second_p: np.ndarray,
    episode_from: np.ndarray,
    keep_recent: np.ndarray,
) -> dict[str, np.ndarray]:
    """BP readings of devices (rows of ``active``, a device × day grid of local days ``days``):
    the patient measures on a day with probability ``day_p``, then in the morning and in the
    evening session each with ``session_p``, one reading or two (``second_p``) a minute or three
    apart; values around the patient's office level, a little lower at home and higher in the
    morning. From day index ``episode_from`` on, SBP is 181–205 (a critical episode) and every
    session is taken. A ``keep_recent`` device has a reading in the last two days (an evening one
    yesterday if chance gave none)."""
    nd, k = active.shape
    measuring = (rng.random((nd, k)) < day_p[:, None]) | (np.arange(k)[None, :] >= episode_from[:, None])
    taken = (rng.random((nd, k, 2)) < session_p[:, None, None]) & (active & measuring)[:, :, None]
    if k:
        recent = taken[:, -2:, :].reshape(nd, -1).any(axis=1)
        taken[keep_recent & ~recent & active[:, -1], -1, 1] = True
    second = rng.random((nd, k, 2)) < second_p[:, None, None]
    day_effect = rng.normal(0, 4, (nd, k))
    flat = np.flatnonzero(taken)
    device, day, session = np.unravel_index(flat, taken.shape)
    reps = 1 + second.reshape(-1)[flat].astype(np.int64)
    total = int(reps.sum())
    start = np.where(
        session == 0,
        rng.integers(*_MORNING_S, len(flat)),
        rng.integers(*_EVENING_S, len(flat)),
    )
    r_device, r_day, r_session = np.repeat(device, reps), np.repeat(day, reps), np.repeat(session, reps)
    nth = np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps)
    local_s = np.repeat(start, reps) + nth * rng.integers(60, 181, total)
    morning = r_session == 0
    home_level = sbp_level[r_device] + HOME_BP_OFFSET
    sbp = home_level + 3.0 * morning + day_effect[r_device, r_day] + rng.normal(0, 6, total) - 2.0 * nth
    episode = r_day >= episode_from[r_device]
    sbp = np.clip(np.round(np.where(episode, rng.uniform(181, 206, total), sbp)), 85, 230)
    dbp = dbp_level[r_device] - 2 + 0.45 * (sbp - home_level) + rng.normal(0, 4, total)
    dbp = np.minimum(np.clip(np.round(dbp), 45, 125), sbp - 15)
    hr = np.clip(np.round(hr_level[r_device] + 2.0 * morning + rng.normal(0, 5, total)), 45, 130)
    return {
        "device": r_device,
        "at": _instants(days[r_day], local_s),
        "sbp": sbp,
        "dbp": dbp,
        "heart_rate": hr,
        "glucose": np.full(total, np.nan),
    }


def glucose_stream(
    rng: np.random.Generator,
    *,
    days: np.ndarray,
    active: np.ndarray,
    level: np.ndarray,
    per_week: np.ndarray,
    episode_from: np.ndarray,
    episode_low: np.ndarray,
    keep_recent: np.ndarray,
) -> dict[str, np.ndarray]:
    """Capillary glucose: about ``per_week`` readings a week, three in four fasting in the early
    morning (around the patient's fasting level), the rest two hours after a meal (higher). From
    day index ``episode_from`` on, readings are ≥ 16.7 (or ≤ 3.9 where ``episode_low``)."""
    nd, k = active.shape
    taken = (rng.random((nd, k)) < (per_week / 7.0)[:, None]) & active
    if k:
        recent = taken[:, -2:].any(axis=1)
        taken[keep_recent & ~recent & active[:, -1], -1] = True
    device, day = np.nonzero(taken)
    m = len(device)
    fasting = rng.random(m) < 0.75
    local_s = np.where(
        fasting, rng.integers(*_FASTING_S, m), _AFTER_MEAL_S[rng.integers(0, 3, m)] + rng.integers(0, 3600, m)
    )
    value = np.where(fasting, level[device] - 0.3 + rng.normal(0, 0.55, m), level[device] + 2.5 + rng.normal(0, 1.1, m))
    episode = day >= episode_from[device]
    spike = np.where(episode_low[device], rng.uniform(2.6, 3.85, m), rng.uniform(17.0, 23.0, m))
    value = np.round(np.clip(np.where(episode, spike, value), 2.2, 30.0), 1)
    nan = np.full(m, np.nan)
    return {
        "device": device,
        "at": _instants(days[day], local_s),
        "sbp": nan,
        "dbp": nan,
        "heart_rate": nan,
        "glucose": value,
    }


def _critical_bits(sbp: np.ndarray, dbp: np.ndarray, glucose: np.ndarray) -> np.ndarray:
    """``home.critical_reasons`` as a bit mask per reading (bit i: _CRITICAL_REASONS[i])."""
    with np.errstate(invalid="ignore"):
        bits = [
            sbp >= CRITICAL_SBP,
            dbp >= CRITICAL_DBP,
            glucose >= CRITICAL_GLUCOSE_HIGH,
            glucose <= CRITICAL_GLUCOSE_LOW,
        ]
    mask = np.zeros(len(sbp), dtype=np.int64)
    for i, bit in enumerate(bits):
        mask |= bit.astype(np.int64) << i
    return mask


def _mean_by(resident: np.ndarray, values: np.ndarray, n: int, default: float) -> np.ndarray:
    present = ~np.isnan(values)
    counts = np.bincount(resident[present], minlength=n)
    sums = np.bincount(resident[present], weights=values[present], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: np.ndarray = np.where(counts > 0, sums / np.maximum(counts, 1), default)
    return means


# --- the district's devices ------------------------------------------------------------------------------
def generate(
    rng: np.random.Generator,
    *,
    residents: np.ndarray,
    is_htn: np.ndarray,
    enrolled: np.ndarray,
    enrolled_on: np.ndarray,
    team: np.ndarray,
    visit_resident: np.ndarray,
    visit_sbp: np.ndarray,
    visit_dbp: np.ndarray,
    visit_heart_rate: np.ndarray,
    visit_glucose: np.ndarray,
    n: int,
    as_of: date,
    history_days: int,
    reading_days: int,
    seed: int,
) -> Home:
    """Devices for a share of the enrolled patients (per enrolment: ``residents``, ``is_htn`` …),
    with ``reading_days`` days of readings and the alerts they raised."""
    today = np.datetime64(as_of, "D")
    bp_picks = np.flatnonzero(is_htn & enrolled)
    bp_picks = bp_picks[rng.random(len(bp_picks)) < BP_DEVICE_SHARE]
    glucose_picks = np.flatnonzero(~is_htn & enrolled)
    glucose_picks = glucose_picks[rng.random(len(glucose_picks)) < GLUCOSE_DEVICE_SHARE]
    picks = np.concatenate([bp_picks, glucose_picks])
    kind = np.r_[np.full(len(bp_picks), _BP), np.full(len(glucose_picks), _GLUCOSE)]
    d_resident = residents[picks]
    d_team = team[d_resident]
    # Device ids run by team, so the first devices belong to the first team (the demo doctor's).
    order = np.lexsort((d_resident, kind, d_team))
    picks, kind, d_resident, d_team = picks[order], kind[order], d_resident[order], d_team[order]
    nd = len(picks)
    serial = np.array(
        [f"SIM-{'GLU' if g else 'BP'}-{i:06d}" for i, g in enumerate(kind.tolist(), start=1)], dtype=object
    )
    model = np.where(
        kind == _BP,
        np.array(BP_MODELS, dtype=object)[rng.integers(0, len(BP_MODELS), nd)],
        np.array(GLUCOSE_MODELS, dtype=object)[rng.integers(0, len(GLUCOSE_MODELS), nd)],
    )
    tokens = [device_token(seed, s) for s in serial.tolist()]
    hashes = np.array([token_hash(t) for t in tokens], dtype=object)
    bound_day = today - rng.integers(reading_days + 7, max(reading_days + 8, history_days), nd).astype("timedelta64[D]")
    bound_day = np.maximum(bound_day, enrolled_on[picks] + np.timedelta64(1, "D"))
    bound_at = _instants(bound_day, rng.integers(9 * 3600, 17 * 3600, nd))

    days = today - np.arange(reading_days, 0, -1).astype("timedelta64[D]")  # the local days before today
    silent = rng.random(nd) < SILENT_SHARE
    last_day = np.where(
        silent,
        today - rng.integers(SILENT_LAST_READING_DAYS[0], SILENT_LAST_READING_DAYS[1] + 1, nd).astype("timedelta64[D]"),
        today,
    )
    active = (days[None, :] > bound_day[:, None]) & (days[None, :] <= last_day[:, None])
    episode_share = np.where(kind == _BP, BP_EPISODE_SHARE, GLUCOSE_EPISODE_SHARE)
    episode = ~silent & (rng.random(nd) < episode_share)
    episode_from = np.where(
        episode, reading_days - rng.integers(EPISODE_DAYS[0], EPISODE_DAYS[1] + 1, nd), reading_days
    )
    episode_low = rng.random(nd) < GLUCOSE_LOW_EPISODE_SHARE

    sbp_level = _mean_by(visit_resident, visit_sbp, n, 140.0)[d_resident]
    dbp_level = _mean_by(visit_resident, visit_dbp, n, 85.0)[d_resident]
    hr_level = _mean_by(visit_resident, visit_heart_rate, n, 75.0)[d_resident]
    glucose_level = np.clip(_mean_by(visit_resident, visit_glucose, n, 7.5)[d_resident], 5.4, 14.0)
    is_bp = np.flatnonzero(kind == _BP)
    is_glucose = np.flatnonzero(kind == _GLUCOSE)
    bp = bp_stream(
        rng,
        days=days,
        active=active[is_bp],
        sbp_level=sbp_level[is_bp],
        dbp_level=dbp_level[is_bp],
        hr_level=hr_level[is_bp],
        day_p=rng.uniform(*BP_DAY_SHARE, len(is_bp)),
        session_p=rng.uniform(*BP_SESSION_SHARE, len(is_bp)),
        second_p=rng.uniform(*BP_SECOND_READING_SHARE, len(is_bp)),
        episode_from=episode_from[is_bp],
        keep_recent=~silent[is_bp],
    )
    gl = glucose_stream(
        rng,
        days=days,
        active=active[is_glucose],
        level=glucose_level[is_glucose],
        per_week=rng.integers(3, 8, len(is_glucose)).astype(float),
        episode_from=episode_from[is_glucose],
        episode_low=episode_low[is_glucose],
        keep_recent=~silent[is_glucose],
    )
    device = np.concatenate([is_bp[bp["device"]], is_glucose[gl["device"]]])
    columns = {name: np.concatenate([bp[name], gl[name]]) for name in ("at", "sbp", "dbp", "heart_rate", "glucose")}
    # Ids run by device, then time (as a device uploads its memory): the load then inserts into the
    # (device, key) index and checks the resident key in order.
    order = np.lexsort((columns["at"].astype(np.int64), device))
    device = device[order]
    columns = {name: values[order] for name, values in columns.items()}
    # The phone syncs a few minutes later, in order: arrival never goes back in time on a device.
    synced = columns["at"].astype(np.int64) + rng.integers(20, 900, len(device))
    base = device.astype(np.int64) << 34  # above any instant in seconds, so the running maximum stays per device
    received = (np.maximum.accumulate(synced + base) - base).astype("datetime64[s]")
    critical = _critical_bits(columns["sbp"], columns["dbp"], columns["glucose"])
    r_kind = KINDS[kind[device]]
    keys = reading_keys(
        serial[device], r_kind, columns["sbp"], columns["dbp"], columns["heart_rate"], columns["glucose"], columns["at"]
    )
    readings = Columns(
        {
            "key": keys,
            "device": device,
            "resident": d_resident[device],
            "kind": r_kind,
            **columns,
            "critical": critical > 0,
            "received_at": received,
        }
    )
    last_reading = np.full(nd, np.iinfo(np.int64).min)
    np.maximum.at(last_reading, device, columns["at"].astype(np.int64))
    last_seen = np.full(nd, np.iinfo(np.int64).min)
    np.maximum.at(last_seen, device, received.astype(np.int64))
    devices = Columns(
        {
            "device_id": serial,
            "kind": KINDS[kind],
            "model": model,
            "resident": d_resident,
            "team": d_team,
            "token_hash": hashes,
            "bound_at": bound_at,
            "last_reading_at": last_reading.astype("datetime64[s]"),  # int64 min is NaT
            "last_seen_at": last_seen.astype("datetime64[s]"),
        }
    )
    alerts = _alerts(rng, readings, critical, d_team, today)
    shown = [
        DeviceToken(str(serial[i]), str(KINDS[kind[i]]), tokens[i], int(d_resident[i]))
        for i in range(min(DEMO_TOKENS, nd))
    ]
    return Home(devices, readings, alerts, shown)


def _alerts(
    rng: np.random.Generator, readings: Columns, critical: np.ndarray, device_team: np.ndarray, today: np.datetime64
) -> Columns:
    """Replay ``chronic.readings._raise_alerts`` over the critical readings in order of arrival,
    with the doctor handling each alert some hours after it opened; alerts not yet handled at the
    start of the reference day are open."""
    r = readings.data
    positions = np.flatnonzero(critical)
    now = int(_instants(np.array([today]), np.array([0]))[0].astype(np.int64))
    received_at = r["received_at"][positions].astype(np.int64)
    order = np.lexsort((positions, received_at, r["resident"][positions]))  # by resident, then arrival
    positions = positions[order]
    residents = r["resident"][positions].tolist()
    received = received_at[order].tolist()
    bits = critical[positions].tolist()
    teams = device_team[r["device"][positions]].tolist()
    delays = (rng.uniform(*ALERT_HANDLED_HOURS, len(positions)) * 3600).astype(np.int64).tolist()
    actions = np.array([a for a, _ in ALERT_ACTIONS], dtype=object)[
        rng.choice(len(ALERT_ACTIONS), len(positions), p=[p for _, p in ALERT_ACTIONS])
    ].tolist()
    rows: list[tuple[int, int | None, int, int, int, int, list[str], int | None, str | None]] = []
    current: list[Any] | None = None  # resident, team, opened, first, last, count, reasons, handled, action
    for k, (resident, at, mask, team, position) in enumerate(
        zip(residents, received, bits, teams, positions.tolist(), strict=True)
    ):
        reasons = {name for i, name in enumerate(_CRITICAL_REASONS) if mask >> i & 1}
        if current is not None and current[0] == resident and at < current[7]:
            current[4] = position
            current[5] += 1
            current[6] = current[6] | reasons
            continue
        if current is not None:
            rows.append(_alert_row(current, now))
        current = [resident, team, at, position, position, 1, reasons, at + delays[k], actions[k]]
    if current is not None:
        rows.append(_alert_row(current, now))
    rows.sort(key=lambda row: (row[2], row[3]))
    nat = np.iinfo(np.int64).min
    return Columns(
        {
            "resident": np.array([row[0] for row in rows], dtype=np.int64),
            "team": np.array([row[1] for row in rows], dtype=np.int64),
            "opened_at": np.array([row[2] for row in rows], dtype=np.int64).astype("datetime64[s]"),
            "first_reading": np.array([row[3] for row in rows], dtype=np.int64),
            "last_reading": np.array([row[4] for row in rows], dtype=np.int64),
            "readings": np.array([row[5] for row in rows], dtype=np.int64),
            "reasons": np.array([json.dumps(row[6]) for row in rows], dtype=object),
            "status": np.array(["open" if row[7] is None else "handled" for row in rows], dtype=object),
            "handled_at": np.array([nat if row[7] is None else row[7] for row in rows], dtype=np.int64).astype(
                "datetime64[s]"
            ),
            "action": np.array([row[8] for row in rows], dtype=object),
        }
    )


def _alert_row(
    alert: list[Any], now: int
) -> tuple[int, int | None, int, int, int, int, list[str], int | None, str | None]:
    resident, team, opened, first, last, count, reasons, handled, action = alert
    if handled > now:  # not answered yet
        return resident, team, opened, first, last, count, sorted(reasons), None, None
    return resident, team, opened, first, last, count, sorted(reasons), handled, action


# --- payloads for the ingestion benchmark ------------------------------------------------------------------
def payload_devices(count: int, *, glucose_share: float = 0.2, prefix: str = "BENCH") -> list[tuple[str, str]]:
    """``count`` (device id, kind) pairs to bind before a benchmark sends :func:`reading_payloads`."""
    glucose = round(count * glucose_share)
    return [
        (f"{prefix}-{'GLU' if i < glucose else 'BP'}-{i + 1:07d}", "glucose" if i < glucose else "bp")
        for i in range(count)
    ]


def reading_payloads(
    devices: Sequence[tuple[str, str]], *, days: int, end: date, seed: int = 0, block: int = 2_000
) -> Iterator[dict[str, Any]]:
    """Reading payloads as the API takes them (``device_id``, ``kind``, ``measured_at`` in ISO 8601
    with +08:00, and ``sbp``/``dbp``/``heart_rate`` or ``glucose``) for these devices over the
    ``days`` local days before ``end``: the same streams as the district's devices, for patients
    with levels drawn at random. Devices are taken ``block`` at a time, each block's readings in
    order of time; the same arguments give the same payloads."""
    rng = np.random.default_rng(seed)
    today = np.datetime64(end, "D")
    grid_days = today - np.arange(days, 0, -1).astype("timedelta64[D]")
    for first in range(0, len(devices), block):
        part = devices[first : first + block]
        ids = np.array([d for d, _ in part], dtype=object)
        glucose = np.array([k == ReadingKind.GLUCOSE.value for _, k in part])
        nb = len(part)
        active = np.ones((nb, days), dtype=bool)
        never = np.full(nb, days)
        controlled = rng.random(nb) < 0.55
        sbp_level = np.where(controlled, rng.normal(128, 7, nb), rng.normal(151, 11, nb))
        bp_rows = np.flatnonzero(~glucose)
        glucose_rows = np.flatnonzero(glucose)
        bp = bp_stream(
            rng,
            days=grid_days,
            active=active[bp_rows],
            sbp_level=sbp_level[bp_rows],
            dbp_level=0.5 * sbp_level[bp_rows] + 12 + rng.normal(0, 4, len(bp_rows)),
            hr_level=rng.normal(76, 7, len(bp_rows)),
            day_p=rng.uniform(*BP_DAY_SHARE, len(bp_rows)),
            session_p=rng.uniform(*BP_SESSION_SHARE, len(bp_rows)),
            second_p=rng.uniform(*BP_SECOND_READING_SHARE, len(bp_rows)),
            episode_from=never[bp_rows],
            keep_recent=np.zeros(len(bp_rows), dtype=bool),
        )
        gl = glucose_stream(
            rng,
            days=grid_days,
            active=active[glucose_rows],
            level=np.clip(
                np.where(
                    controlled[glucose_rows],
                    rng.normal(6.3, 0.6, len(glucose_rows)),
                    rng.normal(8.9, 1.6, len(glucose_rows)),
                ),
                5.4,
                14,
            ),
            per_week=rng.integers(3, 8, len(glucose_rows)).astype(float),
            episode_from=never[glucose_rows],
            episode_low=np.zeros(len(glucose_rows), dtype=bool),
            keep_recent=np.zeros(len(glucose_rows), dtype=bool),
        )
        device = np.concatenate([bp_rows[bp["device"]], glucose_rows[gl["device"]]])
        at = np.concatenate([bp["at"], gl["at"]])
        values = {name: np.concatenate([bp[name], gl[name]]) for name in ("sbp", "dbp", "heart_rate", "glucose")}
        order = np.lexsort((device, at.astype(np.int64)))
        local = np.datetime_as_string(
            (at[order] + np.timedelta64(LOCAL_OFFSET_S, "s")).astype("datetime64[s]"), unit="s"
        )
        sbp, dbp, hr, gv = (values[name][order].tolist() for name in ("sbp", "dbp", "heart_rate", "glucose"))
        for d, t, s, p, h, g in zip(ids[device[order]].tolist(), local.tolist(), sbp, dbp, hr, gv, strict=True):
            if g == g:  # a glucose reading (NaN elsewhere)
                yield {"device_id": d, "kind": "glucose", "measured_at": f"{t}+08:00", "glucose": g}
            else:
                yield {"device_id": d, "kind": "bp", "measured_at": f"{t}+08:00", "sbp": s, "dbp": p, "heart_rate": h}
