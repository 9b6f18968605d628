"""Notifications of alerts through pluggable channels: the log (default) and HTTP webhooks.

A transactional outbox: the alert's unit of work writes one ``surv_notification`` row per channel,
so a notification exists if and only if the alert does; after the commit a dispatcher thread sends
the pending ones, retrying with back-off, and records each outcome. Nothing is sent for a unit of
work that rolls back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from healthbrain.core.time import utcnow
from healthbrain.db import Database
from healthbrain.surveillance import repository
from healthbrain.surveillance.definitions import SIGNALS, grade_rank
from healthbrain.surveillance.models import Alert, Notification, NotificationChannel

log = logging.getLogger("healthbrain.surveillance.notify")

RETRY_AFTER = (timedelta(seconds=30), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
WEBHOOK_TIMEOUT_S = 5.0
_WAKE = threading.Event()
_PENDING_KEY = "healthbrain.surveillance.notify"


def payload(alert: Alert, event_name: str) -> dict[str, Any]:
    signal = SIGNALS.get(alert.signal)
    return {
        "event": event_name,
        "alert_id": alert.id,
        "signal": alert.signal,
        "signal_name": signal.name_zh if signal else alert.signal,
        "place_kind": alert.place_kind,
        "place_id": alert.place_id,
        "grade": alert.grade,
        "status": alert.status,
        "first_day": alert.first_day.isoformat(),
        "last_day": alert.last_day.isoformat(),
        "observed": alert.observed,
        "threshold": alert.threshold,
        "methods": list(alert.methods),
        "created_at": alert.created_at.isoformat(),
        "response_due_at": alert.response_due_at.isoformat(),
        "report_due_at": alert.report_due_at.isoformat() if alert.report_due_at else None,
        "link": f"/surveillance/alerts/{alert.id}",
    }


def enqueue(session: Session, alert: Alert, *, event: str, now: datetime) -> None:
    """Write the alert's notifications to the outbox, one per channel that takes its grade."""
    body = payload(alert, event)
    for channel in repository.channels(session, enabled_only=True):
        if grade_rank(alert.grade) <= grade_rank(channel.min_grade):
            session.add(
                Notification(
                    channel_id=channel.id,
                    alert_id=alert.id,
                    event=event,
                    payload=body,
                    status="pending",
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    session.info[_PENDING_KEY] = True


@event.listens_for(Session, "after_commit")
def _wake_dispatcher(session: Session) -> None:
    if session.info.pop(_PENDING_KEY, False):
        _WAKE.set()


class Sender(Protocol):
    def __call__(self, channel: NotificationChannel, body: dict[str, Any]) -> None: ...


def send_log(channel: NotificationChannel, body: dict[str, Any]) -> None:
    log.warning("alert notification", extra={"channel": channel.name, **{f"alert_{k}": v for k, v in body.items()}})


def send_webhook(channel: NotificationChannel, body: dict[str, Any]) -> None:
    """POST the alert as JSON; a 2xx answer is a delivery, anything else raises."""
    if not channel.url:
        raise ValueError("webhook without a url")
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(channel.url, data=data, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    request.add_header("User-Agent", "healthbrain-alerts")
    if channel.secret:
        signature = hmac.new(channel.secret.encode(), data, hashlib.sha256).hexdigest()
        request.add_header("X-Healthbrain-Signature", f"sha256={signature}")
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"HTTP {response.status}")


SENDERS: dict[str, Sender] = {"log": send_log, "webhook": send_webhook}


def dispatch_pending(database: Database, *, now: Callable[[], datetime] = utcnow, limit: int = 50) -> int:
    """Send the notifications that are due; returns how many were attempted."""
    with database.unit_of_work() as session:
        due = [
            (n.id, n.channel_id, dict(n.payload), n.attempts)
            for n in repository.due_notifications(session, now=now(), limit=limit)
        ]
        channels = {c.id: c for c in repository.channels(session)}
    for notification_id, channel_id, body, attempts in due:
        channel = channels.get(channel_id)
        error: str | None = None
        try:
            if channel is None or not channel.enabled:
                raise RuntimeError("channel removed or disabled")
            SENDERS[channel.kind](channel, body)
        except (urllib.error.URLError, OSError, RuntimeError, ValueError, KeyError) as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:500]
        with database.unit_of_work() as session:
            if error is None:
                repository.mark_notification(
                    session, notification_id, status="sent", attempts=attempts + 1, sent_at=now(), last_error=None
                )
            else:
                gave_up = attempts >= len(RETRY_AFTER)
                repository.mark_notification(
                    session,
                    notification_id,
                    status="failed" if gave_up else "pending",
                    attempts=attempts + 1,
                    last_error=error,
                    next_attempt_at=now() + RETRY_AFTER[min(attempts, len(RETRY_AFTER) - 1)],
                )
                log.warning(
                    "notification failed", extra={"notification": notification_id, "error": error, "gave_up": gave_up}
                )
    return len(due)


class Dispatcher:
    """A daemon thread that sends notifications as soon as an alert commits (and polls for retries)."""

    def __init__(self, database: Database, *, poll_seconds: float = 10.0) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        _WAKE.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            _WAKE.wait(self.poll_seconds)
            _WAKE.clear()
            if self._stop.is_set():
                break
            try:
                while dispatch_pending(self.database) > 0:
                    pass
            except Exception:  # a broken database must not kill the thread: log and retry later
                log.exception("alert dispatcher failed")
