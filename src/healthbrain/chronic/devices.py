"""Home devices: bound to a resident by the family doctor; each gets its own token (shown once)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.chronic import home, repository
from healthbrain.chronic.definitions import EnrolmentStatus
from healthbrain.chronic.models import HomeDevice
from healthbrain.chronic.readings import token_hash
from healthbrain.chronic.schemas import DeviceIn, DeviceOut
from healthbrain.core.errors import Conflict, NotAuthenticated, NotFound
from healthbrain.core.time import utcnow
from healthbrain.people import service as people


def _team(session: Session, resident_id: int, division_id: int) -> int | None:
    for e in repository.enrolments_of(session, resident_id):
        if e.status == EnrolmentStatus.ENROLLED and e.team_id is not None:
            return e.team_id
    return repository.team_serving(session, division_id)


def bind(session: Session, *, principal: Principal, resident_id: int, data: DeviceIn) -> DeviceOut:
    principal.require(Permission.CHRONIC_MANAGE)
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.device")
    device = repository.device_by_serial(session, data.device_id)
    now = utcnow()
    token = secrets.token_urlsafe(24)
    if device is not None and device.unbound_at is None and device.resident_id is not None:
        raise Conflict("error.chronic.device_bound", field="device_id")
    if device is None:
        device = HomeDevice(device_id=data.device_id, token_hash="", bound_at=now)
        session.add(device)
    device.kind = data.kind.value
    device.model = data.model
    device.resident_id = resident.id
    device.team_id = _team(session, resident.id, resident.division_id)
    device.token_hash = token_hash(token)
    device.bound_at = now
    device.bound_by = principal.user_id or None
    device.unbound_at = None
    device.last_seen_at = None
    device.last_reading_at = None
    session.flush()
    audit.record(session, principal, "chronic.device.bind", resident_id=resident.id, object_id=device.device_id)
    out = device_out(device, now=now)
    out.token = token
    return out


def unbind(session: Session, *, principal: Principal, device_pk: int) -> DeviceOut:
    principal.require(Permission.CHRONIC_MANAGE)
    device = session.get(HomeDevice, device_pk)
    if device is None or device.resident_id is None:
        raise NotFound("error.chronic.device_not_found", id=device_pk)
    people.get_resident(session, principal=principal, resident_id=device.resident_id, action="chronic.device")
    device.unbound_at = utcnow()
    device.token_hash = ""  # the old token stops working at once
    session.flush()
    audit.record(
        session, principal, "chronic.device.unbind", resident_id=device.resident_id, object_id=device.device_id
    )
    return device_out(device)


def authenticated_device(session: Session, serial: str, token: str | None) -> HomeDevice:
    """The device a request comes from, by its serial and its own bearer token."""
    device = repository.device_by_serial(session, serial)
    if token is None or device is None or not device.token_hash:
        raise NotAuthenticated("error.chronic.device_token")
    if not hmac.compare_digest(device.token_hash, token_hash(token)):
        raise NotAuthenticated("error.chronic.device_token")
    return device


def device_out(device: HomeDevice, *, now: datetime | None = None) -> DeviceOut:
    now = now or utcnow()
    return DeviceOut(
        id=device.id,
        device_id=device.device_id,
        kind=device.kind,
        model=device.model,
        resident_id=device.resident_id,
        bound_at=device.bound_at,
        unbound_at=device.unbound_at,
        last_reading_at=device.last_reading_at,
        last_seen_at=device.last_seen_at,
        silent=device.unbound_at is None and home.silent(device.last_seen_at, device.bound_at, now=now),
    )


def devices(session: Session, *, principal: Principal, resident_id: int) -> Sequence[DeviceOut]:
    principal.require(Permission.CHRONIC_READ)
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.read")
    now = utcnow()
    return [device_out(d, now=now) for d in repository.devices_of(session, resident.id)]
