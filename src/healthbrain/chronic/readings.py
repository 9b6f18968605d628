"""Home readings in: HTTP batches (a device's own token, or a gateway's), MQTT messages, the simulator.

One function for every path. Rows are checked one by one for shape (Pydantic), then as arrays for
plausibility (NumPy, ``home.check_arrays``); the good ones are inserted set-based with their
deterministic key, so a resend changes nothing; a rejected row is kept verbatim with its reasons.
A critical reading opens (or extends) the patient's alert on the family doctor's worklist in the
same transaction, so the alert is visible the moment the batch commits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.chronic import home, repository
from healthbrain.chronic.definitions import ALERT_WINDOW_HOURS, ReadingKind
from healthbrain.chronic.models import HomeDevice
from healthbrain.chronic.schemas import ReadingIn, ReadingsResult
from healthbrain.core.i18n import translate
from healthbrain.core.ingest import Rejects, stored_errors, validation_messages, verbatim_json
from healthbrain.core.time import utcnow
from healthbrain.records.models import IngestBatch, IngestRejection


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class _Row:
    number: int
    raw: Any
    device_id: str
    kind: str
    measured_at: datetime  # aware
    sbp: float | None
    dbp: float | None
    heart_rate: float | None
    glucose: float | None


# The fast path takes only what Pydantic would surely accept the same way: an ISO 8601 time with
# an offset, numbers as JSON numbers, known kinds. Anything else goes through ReadingIn, so a bad
# row gets exactly the validation message the schema gives.
_ISO_AWARE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
_KINDS = frozenset(k.value for k in ReadingKind)
_VALUES = ("sbp", "dbp", "heart_rate", "glucose")


def _number(value: Any) -> float | bool | None:
    """A JSON number as float, None when absent; False when the fast path must not decide."""
    if value is None:
        return None
    if type(value) is float:
        return value
    if type(value) is int and -(10**9) < value < 10**9:  # a huge integer is the schema's to refuse
        return float(value)
    return False


def _fast(number: int, raw: dict[str, Any], device: HomeDevice | None) -> _Row | None:
    kind = raw.get("kind")
    at = raw.get("measured_at")
    serial = raw.get("device_id")
    if kind not in _KINDS or type(at) is not str or not _ISO_AWARE.match(at):
        return None
    if serial is not None and (type(serial) is not str or not 3 <= len(serial) <= 64 or "\x00" in serial):
        return None
    values = [_number(raw.get(name)) for name in _VALUES]
    if any(v is False for v in values):
        return None
    if device is not None:
        if serial is not None and serial != device.device_id:
            return None  # the general path words the error
        serial = device.device_id
    elif serial is None:
        return None
    try:
        measured_at = datetime.fromisoformat(at)
    except ValueError:  # shaped like a time but not one (month 13): the schema words the error
        return None
    sbp, dbp, hr, glucose = (v if v is not False else None for v in values)
    return _Row(number, raw, serial, kind, measured_at, sbp, dbp, hr, glucose)


def _parse(
    rows: Sequence[tuple[int, Any]], *, device: HomeDevice | None, rejects: Rejects, language: str
) -> list[_Row]:
    out: list[_Row] = []
    for number, raw in rows:
        if not isinstance(raw, dict):
            rejects.add(number, raw, [(None, translate("chronic.reading.not_object", language))])
            continue
        if (fast := _fast(number, raw, device)) is not None:
            out.append(fast)
            continue
        try:
            item = ReadingIn.model_validate(raw)
        except ValidationError as exc:
            rejects.add(number, raw, validation_messages(exc, language))
            continue
        if device is not None:
            if item.device_id is not None and item.device_id != device.device_id:
                rejects.add(number, raw, [("device_id", translate("chronic.reading.other_device", language))])
                continue
            serial = device.device_id
        elif item.device_id is None:
            rejects.add(number, raw, [("device_id", translate("validation.missing", language))])
            continue
        else:
            serial = item.device_id
        out.append(
            _Row(
                number,
                raw,
                serial,
                item.kind.value,
                item.measured_at,
                item.sbp,
                item.dbp,
                item.heart_rate,
                item.glucose,
            )
        )
    return out


def _plausible(
    rows: list[_Row], *, now: datetime, rejects: Rejects, language: str
) -> tuple[list[_Row], np.ndarray, list[str]]:
    """Rows that pass the plausibility rules; for each whether it is critical, and its instant in
    UTC as ISO text to the microsecond (formatted by NumPy for the whole batch at once: formatting
    datetimes one by one was the costliest step of the bulk path)."""
    if not rows:
        return [], np.zeros(0, dtype=bool), []
    nan = float("nan")

    def column(name: str) -> np.ndarray:
        return np.fromiter(
            ((v if (v := getattr(r, name)) is not None else nan) for r in rows), dtype=float, count=len(rows)
        )

    kinds = np.array([r.kind for r in rows], dtype=object)
    epoch = np.fromiter((r.measured_at.timestamp() for r in rows), dtype=float, count=len(rows))
    ok, critical = home.check_arrays(
        kinds, column("sbp"), column("dbp"), column("heart_rate"), column("glucose"), epoch, now.timestamp()
    )
    for index in np.flatnonzero(~ok):
        r = rows[int(index)]
        errors = home.plausibility_errors(_values(r), now=now)
        rejects.add(r.number, r.raw, [(f, translate(k, language, **home.MESSAGE_PARAMS.get(k, {}))) for f, k in errors])
    keep = np.flatnonzero(ok)
    # Microseconds since the epoch: exact, a float64 timestamp of this era carries ~0.25 µs.
    micros = np.rint(epoch[keep] * 1e6).astype(np.int64).astype("datetime64[us]")
    return [rows[int(i)] for i in keep], critical[keep], np.datetime_as_string(micros, unit="us").tolist()


def _values(r: _Row) -> home.ReadingValues:
    return home.ReadingValues(
        kind=ReadingKind(r.kind),
        measured_at=r.measured_at,
        sbp=r.sbp,
        dbp=r.dbp,
        heart_rate=r.heart_rate,
        glucose=r.glucose,
    )


def ingest_readings(
    session: Session,
    *,
    rows: Sequence[tuple[int, Any]],
    channel: str,
    principal: Principal | None = None,
    device: HomeDevice | None = None,
    batch_key: str | None = None,
    language: str = "zh-CN",
    now: datetime | None = None,
) -> ReadingsResult:
    """Store a batch of home readings; see the module docstring. ``device`` is the authenticated
    device (token path); otherwise each row names its device (gateway, MQTT topic)."""
    if principal is not None and device is None:
        principal.require(Permission.OBSERVATION_SUBMIT)
    now = now or utcnow()
    sender = f"device:{device.id}" if device is not None else f"user:{principal.user_id if principal else 0}"
    full_key = f"{channel}:{sender}:{batch_key}" if batch_key else None
    if full_key and (previous := repository.batch_by_key(session, full_key)) is not None:
        return _stored_result(session, previous)

    rejects = Rejects()
    parsed = _parse(rows, device=device, rejects=rejects, language=language)
    good, critical, instants = _plausible(parsed, now=now, rejects=rejects, language=language)

    # Devices: bound ones only. A reading from an unknown or unbound device is kept as a rejection.
    known = repository.bound_devices(session, {r.device_id for r in parsed})
    batch = IngestBatch(
        channel=channel,
        batch_key=full_key,
        user_id=principal.user_id if principal and principal.user_id else None,
        institution_id=principal.institution_id if principal else None,
        received_at=now,
        received=len(rows),
    )
    session.add(batch)
    session.flush()
    new_rows: list[tuple[Any, ...]] = []
    critical_rows: list[tuple[tuple[Any, ...], int, datetime, tuple[str, ...]]] = []  # row, resident, when, why
    seen: set[tuple[int, int]] = set()
    latest: dict[int, str] = {}  # device → its newest measurement, UTC ISO text (compares as time)
    duplicates = 0
    for r, is_critical, iso in zip(good, critical.tolist(), instants, strict=True):
        d = known.get(r.device_id)
        if d is None:
            rejects.add(r.number, r.raw, [("device_id", translate("chronic.reading.unknown_device", language))])
            continue
        pk, resident_id, device_kind = d
        if device_kind != r.kind:
            rejects.add(
                r.number, r.raw, [("kind", translate("chronic.reading.kind_mismatch", language, kind=device_kind))]
            )
            continue
        key = (
            pk,
            home.stored_key_fast(r.device_id, r.kind, r.sbp, r.dbp, r.heart_rate, r.glucose, iso[:19] + "+00:00"),
        )
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        row = (
            key[1],
            pk,
            resident_id,
            r.kind,
            iso[:10] + " " + iso[11:],  # the storage text of core.bulk.db_datetime
            r.sbp,
            r.dbp,
            r.heart_rate,
            r.glucose,
            is_critical,
            batch.id,
        )
        if pk not in latest or iso > latest[pk]:
            latest[pk] = iso
        if is_critical:
            critical_rows.append((row, resident_id, r.measured_at, home.critical_reasons(_values(r))))
        else:
            new_rows.append(row)
    # Ordinary readings go in set-based, a resend skipped by the unique key. The few critical ones
    # go in one by one, each answering whether this batch stored it: only a reading stored now may
    # open or extend an alert (a resend, or a concurrent batch that stored it first, must not).
    inserted = repository.insert_readings(session, new_rows)
    fresh_critical: list[tuple[int, int, datetime, tuple[str, ...]]] = []
    for row, resident_id, at, reasons in critical_rows:
        reading_id = repository.insert_reading_returning(session, row)
        if reading_id is not None:
            inserted += 1
            fresh_critical.append((reading_id, resident_id, at, reasons))
    duplicates += len(new_rows) + len(critical_rows) - inserted
    # Any upload from a bound device, even one of implausible readings, shows the device is alive.
    repository.touch_devices(session, {known[r.device_id][0] for r in parsed if r.device_id in known}, latest, now)
    alert_ids = _raise_alerts(session, fresh_critical, now) if fresh_critical else []

    batch.inserted = inserted
    batch.duplicates = duplicates
    batch.rejected = len(rejects.rows)
    rejects.rows.sort(key=lambda x: x[0])
    session.add_all(
        IngestRejection(batch_id=batch.id, row_number=n, payload=verbatim_json(raw), errors=errs)
        for n, raw, errs in rejects.rows
    )
    session.flush()
    # Every batch is audited, whoever sent it: a user (gateway), a device's own token, or MQTT.
    audit.record(
        session,
        principal,
        "chronic.readings",
        object_type="ingest_batch",
        object_id=batch.id,
        detail={"channel": channel, "received": batch.received, "inserted": inserted, "rejected": batch.rejected},
        username=None if principal is not None else (f"device:{device.device_id}" if device else channel),
    )
    return ReadingsResult(
        batch_id=batch.id,
        received=batch.received,
        inserted=inserted,
        duplicates=duplicates,
        rejected=batch.rejected,
        critical=len(fresh_critical),
        errors=sorted(rejects.errors, key=lambda e: e.row),
        alerts=alert_ids,
    )


def _raise_alerts(
    session: Session, critical: list[tuple[int, int, datetime, tuple[str, ...]]], now: datetime
) -> list[int]:
    """Open or extend each patient's alert for critical readings this batch stored. The alert goes to
    the team that manages the patient now (the enrolment), else the device's team at binding. A
    reading older than ALERT_WINDOW_HOURS (a device emptying its memory) is stored as critical but
    opens nothing: the chart shows it, the worklist is for what needs acting on now."""
    teams = repository.managing_teams(session, {resident for _id, resident, _at, _why in critical})
    touched: list[int] = []
    for reading_id, resident_id, at, reasons in critical:
        if now - at > timedelta(hours=ALERT_WINDOW_HOURS):
            continue
        alert = repository.open_alert(session, resident_id, lock=True)
        if alert is None:
            alert = repository.open_alert_created(
                session,
                resident_id=resident_id,
                team_id=teams.get(resident_id),
                reading_id=reading_id,
                reasons=list(reasons),
                now=now,
            )
        else:
            alert.last_reading_id = reading_id
            alert.readings += 1
            alert.reasons = sorted(set(alert.reasons) | set(reasons))
        if alert.id not in touched:
            touched.append(alert.id)
    session.flush()
    return touched


def _stored_result(session: Session, batch: IngestBatch) -> ReadingsResult:
    return ReadingsResult(
        batch_id=batch.id,
        received=batch.received,
        inserted=batch.inserted,
        duplicates=batch.duplicates,
        rejected=batch.rejected,
        critical=0,
        errors=stored_errors(repository.rejections_of(session, batch.id)),
        alerts=[],
        replayed=True,
    )
