"""Home readings in: HTTP batches (a device's own token, or a gateway's), MQTT messages, the simulator.

One function for every path. Rows are checked one by one for shape (Pydantic), then as arrays for
plausibility (NumPy, ``home.check_arrays``); the good ones are inserted set-based with their
deterministic key, so a resend changes nothing; a rejected row is kept verbatim with its reasons.
A critical reading opens (or extends) the patient's alert on the family doctor's worklist in the
same transaction, so the alert is visible the moment the batch commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.chronic import home, repository
from healthbrain.chronic.definitions import ReadingKind
from healthbrain.chronic.models import HomeDevice, HomeReading
from healthbrain.chronic.schemas import ReadingIn, ReadingsResult
from healthbrain.core.bulk import db_datetime
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
    item: ReadingIn
    device_id: str


def _parse(
    rows: Sequence[tuple[int, Any]], *, device: HomeDevice | None, rejects: Rejects, language: str
) -> list[_Row]:
    out: list[_Row] = []
    for number, raw in rows:
        if not isinstance(raw, dict):
            rejects.add(number, raw, [(None, translate("chronic.reading.not_object", language))])
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
            device_id = device.device_id
        elif item.device_id is None:
            rejects.add(number, raw, [("device_id", translate("validation.missing", language))])
            continue
        else:
            device_id = item.device_id
        out.append(_Row(number, raw, item, device_id))
    return out


def _plausible(rows: list[_Row], *, now: datetime, rejects: Rejects, language: str) -> tuple[list[_Row], np.ndarray]:
    """Rows that pass the plausibility rules, and for each whether it is critical."""
    if not rows:
        return [], np.zeros(0, dtype=bool)

    def column(name: str) -> np.ndarray:
        return np.array([getattr(r.item, name) for r in rows], dtype=float)  # None → nan

    kinds = np.array([r.item.kind.value for r in rows], dtype=object)
    epoch = np.array([r.item.measured_at.timestamp() for r in rows], dtype=float)
    ok, critical = home.check_arrays(
        kinds, column("sbp"), column("dbp"), column("heart_rate"), column("glucose"), epoch, now.timestamp()
    )
    for index in np.flatnonzero(~ok):
        r = rows[int(index)]
        errors = home.plausibility_errors(_values(r), now=now)
        rejects.add(r.number, r.raw, [(f, translate(k, language, **home.MESSAGE_PARAMS.get(k, {}))) for f, k in errors])
    keep = np.flatnonzero(ok)
    kept = [rows[int(i)] for i in keep]
    return kept, critical[keep]


def _values(r: _Row) -> home.ReadingValues:
    i = r.item
    return home.ReadingValues(
        kind=ReadingKind(i.kind),
        measured_at=i.measured_at,
        sbp=i.sbp,
        dbp=i.dbp,
        heart_rate=i.heart_rate,
        glucose=i.glucose,
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
    good, critical = _plausible(parsed, now=now, rejects=rejects, language=language)

    # Devices: bound ones only. A reading from an unknown or unbound device is kept as a rejection.
    devices = repository.devices_by_serial(session, {r.device_id for r in good})
    new_rows: list[tuple[Any, ...]] = []
    new_critical: list[tuple[str, int, int | None, tuple[str, ...]]] = []  # key, resident, team, reasons
    seen: set[str] = set()
    duplicates = 0
    keyed: list[tuple[_Row, bool, str, HomeDevice]] = []
    for r, is_critical in zip(good, critical.tolist(), strict=True):
        d = devices.get(r.device_id)
        if d is None or d.resident_id is None or d.unbound_at is not None:
            rejects.add(r.number, r.raw, [("device_id", translate("chronic.reading.unknown_device", language))])
            continue
        if d.kind != r.item.kind.value:
            rejects.add(r.number, r.raw, [("kind", translate("chronic.reading.kind_mismatch", language, kind=d.kind))])
            continue
        key = home.reading_key(r.device_id, _values(r))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        keyed.append((r, bool(is_critical), key, d))
    existing = repository.existing_reading_keys(session, [k for _r, _c, k, _d in keyed])
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
    received_text = db_datetime(now)
    latest: dict[int, datetime] = {}
    for r, is_critical, key, d in keyed:
        if key in existing:
            duplicates += 1
            continue
        i = r.item
        assert d.resident_id is not None
        new_rows.append(
            (
                key,
                d.id,
                d.resident_id,
                i.kind.value,
                db_datetime(i.measured_at),
                i.sbp,
                i.dbp,
                i.heart_rate,
                i.glucose,
                is_critical,
                received_text,
                batch.id,
            )
        )
        at = i.measured_at.astimezone(UTC)
        if d.id not in latest or at > latest[d.id]:
            latest[d.id] = at
        if is_critical:
            new_critical.append((key, d.resident_id, d.team_id, home.critical_reasons(_values(r))))
    inserted = repository.insert_readings(session, new_rows)
    duplicates += len(new_rows) - inserted  # a concurrent batch stored the same reading first
    repository.touch_devices(session, {d.id for _r, _c, _k, d in keyed}, latest, now)
    alert_ids = _raise_alerts(session, new_critical, now) if new_critical else []

    batch.inserted = inserted
    batch.duplicates = duplicates
    batch.rejected = len(rejects.rows)
    rejects.rows.sort(key=lambda x: x[0])
    session.add_all(
        IngestRejection(batch_id=batch.id, row_number=n, payload=verbatim_json(raw), errors=errs)
        for n, raw, errs in rejects.rows
    )
    session.flush()
    if principal is not None:
        audit.record(
            session,
            principal,
            "chronic.readings",
            object_type="ingest_batch",
            object_id=batch.id,
            detail={"received": batch.received, "inserted": inserted, "rejected": batch.rejected},
        )
    return ReadingsResult(
        batch_id=batch.id,
        received=batch.received,
        inserted=inserted,
        duplicates=duplicates,
        rejected=batch.rejected,
        critical=len(new_critical),
        errors=sorted(rejects.errors, key=lambda e: e.row),
        alerts=alert_ids,
    )


def _raise_alerts(
    session: Session, critical: list[tuple[str, int, int | None, tuple[str, ...]]], now: datetime
) -> list[int]:
    ids_by_key = repository.reading_ids(session, [k for k, _res, _team, _r in critical])
    touched: list[int] = []
    for key, resident_id, team_id, reasons in critical:
        reading_id = ids_by_key.get(key)
        if reading_id is None:  # stored by a concurrent batch, which raised the alert itself
            continue
        alert = repository.open_alert(session, resident_id, lock=True)
        if alert is None:
            alert = repository.open_alert_created(
                session,
                resident_id=resident_id,
                team_id=team_id,
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


def readings_of(
    session: Session, *, resident_id: int, since: datetime, until: datetime | None = None
) -> Sequence[HomeReading]:
    return repository.readings_of(session, resident_id, since=since, until=until)
