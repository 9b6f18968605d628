"""Home readings over MQTT (家庭监测设备 MQTT 接入): devices publish, the platform subscribes and
stores each message through :func:`healthbrain.chronic.readings.ingest_readings`, the function the
HTTP path uses, so a critical reading opens its alert on the family doctor's worklist as soon as
its micro-batch commits (well under a second).

Topic and payload
    ``healthbrain/devices/{device_id}/readings`` (the filter is configurable; its single ``+``
    level is the device id; ``$share/{group}/…`` shares the load between listeners with their own
    client ids). The payload is UTF-8 JSON: one reading object, or an array of them
    (a device flushing its memory). A reading without ``device_id`` takes the topic's; a reading
    whose ``device_id`` differs from the topic's is rejected here ("not the sending device"), so a
    topic can never write for another device. A payload that is not UTF-8 JSON, a topic that does
    not match the filter, and every row ``ingest_readings`` turns away are kept in
    ``ingest_rejection`` with their reasons, in the batch's ``ingest_batch`` row: nothing is
    dropped silently. Kept rows hold the reading as received with the topic's device id filled in
    when it was absent (so a rejection names its device); a non-JSON payload is kept as its text.

Delivery (at least once, end to end)
    QoS 1, a fixed client id and a persistent session (MQTT 3.1.1 ``clean_session=False``): while
    the platform is down the broker keeps the subscription and queues the devices' messages, and
    delivers them on reconnect. Messages are acknowledged by hand, only after the unit of work that
    stores them has committed, so a crash between receipt and commit loses nothing either (the
    broker sends the unacknowledged messages again; the deterministic reading key makes the resend
    a no-op). Two processes must not share a client id: the broker would hand the session back and
    forth between them. Broker settings that matter (Mosquitto): ``max_queued_messages`` (default
    1000 per client: what a longer outage may queue), ``persistent_client_expiration`` (how long a
    session outlives the platform) and ``max_inflight_messages`` (default 20: unacknowledged
    messages in flight, which caps a micro-batch; raise it for throughput). A message published
    before the platform first ever subscribed is not kept (no session exists yet).

Threads
    paho's network thread connects, reconnects with back-off (1 s doubling to 60 s) and only
    enqueues (``on_message`` never touches the database). One worker thread drains the queue in
    micro-batches: everything waiting, up to ``max_batch`` messages, waiting at most ``linger``
    seconds after the first message arrived for more; one ``ingest_readings`` call in one unit of
    work per batch, channel ``mqtt.readings``. If the database is unavailable (locked, down) the
    batch is retried with back-off, under the same batch key, so a commit whose answer was lost
    replays instead of storing twice. A batch that fails for another reason is stored message by
    message; a message that still fails is kept as a rejection with the error. One structured log
    line per batch.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage, topic_matches_sub
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from healthbrain.chronic.readings import ingest_readings
from healthbrain.chronic.schemas import ReadingsResult
from healthbrain.config import Settings
from healthbrain.core.i18n import translate
from healthbrain.core.ingest import Rejects, RowError, verbatim_json
from healthbrain.core.time import utcnow
from healthbrain.db import Database
from healthbrain.records.models import IngestBatch, IngestRejection

log = logging.getLogger(__name__)

CHANNEL = "mqtt.readings"
DEFAULT_TOPIC = "healthbrain/devices/+/readings"
MAX_BATCH = 5000  # messages per micro-batch (the broker's in-flight window may cap it lower)
LINGER_SECONDS = 0.02  # how long after the first message a batch waits for more
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds, then 30 s for ever
KEEPALIVE_SECONDS = 30
RECONNECT_DELAY = (1, 60)  # seconds: paho doubles from the first to the second

T = TypeVar("T")


# --------------------------------------------------------------------------- pure helpers


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker is, from ``mqtt://[user:password@]host[:port]`` or ``mqtts://…`` (TLS)."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The address without the password, for logs and the console."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> Broker:
    """The broker of an ``mqtt://`` or ``mqtts://`` URL (default ports 1883 and 8883); ValueError otherwise."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts:// (got {scheme or 'no scheme'!r})")
    if not parts.hostname:
        raise ValueError("MQTT URL has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("MQTT URL takes no path, query or fragment")
    port = parts.port  # raises ValueError for a port out of range
    tls = scheme == "mqtts"
    return Broker(
        host=parts.hostname,
        port=port if port is not None else (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _message_filter(topic_filter: str) -> str:
    """The filter messages are matched against: a shared subscription (``$share/{group}/{filter}``,
    several listeners with their own client ids sharing the load) delivers the plain topics."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        if len(parts) < 3 or not parts[1]:
            raise ValueError(f"not a valid shared subscription: {topic_filter!r}")
        return parts[2]
    return topic_filter


@lru_cache(maxsize=16)
def device_level(topic_filter: str) -> int:
    """The index of the filter's one ``+`` level, which carries the device id."""
    levels = _message_filter(topic_filter).split("/")
    for i, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and (level != "#" or i != len(levels) - 1)):
            raise ValueError(f"not a valid MQTT topic filter: {topic_filter!r}")
    plus = [i for i, level in enumerate(levels) if level == "+"]
    if len(plus) != 1:
        raise ValueError(f"topic filter must have exactly one '+' level (the device id): {topic_filter!r}")
    return plus[0]


def device_of(topic: str, topic_filter: str) -> str | None:
    """The device id a topic names, or None if the topic does not match the filter."""
    if not topic_matches_sub(_message_filter(topic_filter), topic):
        return None
    return topic.split("/")[device_level(topic_filter)]


@dataclass(frozen=True, slots=True)
class Message:
    """A received message as the network thread enqueued it."""

    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0
    generation: int = 0  # which connection delivered it (an acknowledgement only means something there)
    received: float = field(default_factory=time.monotonic)


@dataclass
class Rows:
    """A micro-batch as rows for ``ingest_readings``, and the rows turned away before it."""

    rows: list[tuple[int, Any]] = field(default_factory=list)
    rejects: Rejects = field(default_factory=Rejects)


def rows_of(messages: Sequence[Message], *, topic_filter: str, language: str = "zh-CN") -> Rows:
    """Number the readings of the messages 1… in order of arrival (an array gives one row per
    element) and decide what can be decided without the database: the payload's encoding and JSON,
    the topic, and whether a reading names another device than its topic."""
    out = Rows()
    number = 0
    for message in messages:
        device = device_of(message.topic, topic_filter)
        try:
            text = message.payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            number += 1
            raw = message.payload.decode("utf-8", "surrogateescape")  # kept byte for byte (as escapes)
            out.rejects.add(number, raw, [(None, translate("validation.json_invalid", language, error=str(exc)))])
            continue
        if device is None:
            number += 1
            out.rejects.add(number, text, [("device_id", translate("chronic.reading.unknown_device", language))])
            continue
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            number += 1
            out.rejects.add(number, text, [(None, translate("validation.json_invalid", language, error=str(exc)))])
            continue
        for item in value if isinstance(value, list) else [value]:
            number += 1
            if isinstance(item, dict):
                own = item.get("device_id")
                if own is None:
                    item = {**item, "device_id": device}
                elif own != device:
                    out.rejects.add(number, item, [("device_id", translate("chronic.reading.other_device", language))])
                    continue
            out.rows.append((number, item))  # not an object: ingest_readings rejects it with its reason
    return out


def store_rows(session: Session, rows: Rows, *, batch_key: str | None, language: str = "zh-CN") -> ReadingsResult:
    """Store a micro-batch in the caller's unit of work: ``ingest_readings`` for the rows, then the
    rows turned away here, in the same batch (its counts include them)."""
    result = ingest_readings(session, rows=rows.rows, channel=CHANNEL, batch_key=batch_key, language=language)
    if result.replayed or not rows.rejects.rows or result.batch_id is None:
        return result
    batch = session.get(IngestBatch, result.batch_id)
    assert batch is not None
    own = len(rows.rejects.rows)
    batch.received += own
    batch.rejected += own
    session.add_all(
        IngestRejection(batch_id=batch.id, row_number=n, payload=verbatim_json(raw), errors=errs)
        for n, raw, errs in rows.rejects.rows
    )
    session.flush()
    return result.model_copy(
        update={
            "received": result.received + own,
            "rejected": result.rejected + own,
            "errors": sorted([*result.errors, *rows.rejects.errors], key=lambda e: e.row),
        }
    )


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is worth retrying as is: the database locked, down or unreachable."""
    # OperationalError covers SQLite's "database is locked", a PostgreSQL server gone, a
    # serialization failure or deadlock; InterfaceError a connection closed under us.
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


# --------------------------------------------------------------------------- the listener


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What one micro-batch did (passed to ``on_batch`` after its commit)."""

    messages: int
    result: ReadingsResult
    ms: float  # the unit of work, retries included
    lag_ms: float  # from the oldest message's receipt to the commit
    attempts: int
    quarantined: bool = False  # stored as a rejection after an unexpected error


class MqttListener:
    """Subscribes to the devices' topic and stores their readings; see the module docstring.

    ``start()`` returns at once (the broker may be down: the client keeps trying); ``stop()``
    stops taking messages, stores what was received, then disconnects (the session stays on the
    broker). Not shared between processes: give each its own ``client_id``.
    """

    def __init__(
        self,
        database: Database,
        *,
        url: str,
        topic: str = DEFAULT_TOPIC,
        client_id: str = "healthbrain",
        language: str = "zh-CN",
        max_batch: int = MAX_BATCH,
        linger: float = LINGER_SECONDS,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> None:
        if not client_id:
            raise ValueError("a persistent session needs a client id")
        if max_batch < 1 or linger < 0 or not retry_delays:
            raise ValueError("max_batch ≥ 1, linger ≥ 0 and at least one retry delay")
        device_level(topic)  # refuse a bad filter now, not in the network thread
        self.database = database
        self.broker = parse_broker_url(url)
        self.topic = topic
        self.client_id = client_id
        self.language = language
        self.max_batch = max_batch
        self.linger = linger
        self.retry_delays = tuple(retry_delays)
        self.on_batch = on_batch
        self.messages = 0  # messages stored (or kept as rejections) by this listener
        self._queue: queue.Queue[Message] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0  # received, not yet stored
        self._generation = 0
        self._accepting = False
        self._subscribed = False
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._abort = threading.Event()
        self._client: Client | None = None
        self._worker: threading.Thread | None = None

    @classmethod
    def from_settings(cls, database: Database, settings: Settings, **options: Any) -> MqttListener:
        if not settings.mqtt_url:
            raise ValueError("no MQTT broker configured (HEALTHBRAIN_MQTT_URL)")
        return cls(
            database, url=settings.mqtt_url, topic=settings.mqtt_topic, client_id=settings.mqtt_client_id, **options
        )

    # ---------------------------------------------------------------- life cycle

    def start(self) -> None:
        if self._worker is not None:
            raise RuntimeError("listener already started")
        self._stopping.clear()
        self._abort.clear()
        self._ready.clear()
        self._subscribed = False
        self._accepting = True
        with self._idle:
            self._pending = 0
        self._worker = threading.Thread(target=self._run, name="mqtt-readings", daemon=True)
        self._worker.start()
        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
            reconnect_on_failure=True,
        )
        client.reconnect_delay_set(*RECONNECT_DELAY)
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_SECONDS)
        client.loop_start()
        self._client = client
        log.info("mqtt listener started", extra={"broker": self.broker.display, "topic": self.topic})

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, store the ones received (for up to ``timeout`` seconds: what is left
        stays unacknowledged and the broker sends it again next time), then disconnect."""
        self._accepting = False  # later deliveries stay unacknowledged: the session keeps them
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.warning("mqtt listener stopped before storing everything; the broker will send it again")
                self._abort.set()
                self._worker.join(5)
            self._worker = None
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        self._ready.clear()
        log.info("mqtt listener stopped", extra={"messages": self.messages})

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the subscription is in place (connected and subscribed)."""
        return self._ready.wait(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every message received so far is stored (or kept as a rejection)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    # ---------------------------------------------------------------- paho's network thread

    def _on_connect(
        self,
        client: Client,
        _userdata: Any,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error(
                "mqtt broker refused the connection", extra={"broker": self.broker.display, "reason": str(reason_code)}
            )
            return
        self._generation += 1
        log.info(
            "mqtt connected",
            extra={
                "broker": self.broker.display,
                "session_present": flags.session_present,
                "client_id": self.client_id,
            },
        )
        if flags.session_present and self._subscribed:
            self._ready.set()  # the broker kept our subscription; subscribing again would resend retained messages
        else:
            client.subscribe(self.topic, qos=1)

    def _on_connect_fail(self, _client: Client, _userdata: Any) -> None:
        log.warning("mqtt broker unreachable; retrying", extra={"broker": self.broker.display})

    def _on_disconnect(
        self,
        _client: Client,
        _userdata: Any,
        _flags: DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not self._stopping.is_set():
            log.warning("mqtt connection lost; reconnecting", extra={"reason": str(reason_code)})

    def _on_subscribe(
        self,
        _client: Client,
        _userdata: Any,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error(
                "mqtt subscription refused", extra={"topic": self.topic, "reason": [str(rc) for rc in reason_codes]}
            )
            return
        self._subscribed = True
        self._ready.set()
        log.info("mqtt subscribed", extra={"topic": self.topic, "qos": [rc.value for rc in reason_codes]})

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        # Never the database here; and never raise (it would end paho's loop).
        if not self._accepting:
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "backslashreplace")
        with self._idle:
            self._pending += 1
        self._queue.put(Message(topic, bytes(message.payload), message.mid, message.qos, self._generation))

    # ---------------------------------------------------------------- the worker thread

    def _run(self) -> None:
        while True:
            batch = self._collect()
            if batch:
                try:
                    self._handle(batch)
                except Exception:  # a bug must not end the thread: the broker sends these again later
                    log.exception("mqtt batch failed unexpectedly; left unacknowledged", extra={"messages": len(batch)})
                    self._done(len(batch))
            elif self._stopping.is_set() or self._abort.is_set():
                return
            if self._abort.is_set():
                return

    def _collect(self) -> list[Message]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = first.received + self.linger
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[Message]) -> None:
        started = time.perf_counter()
        rows = rows_of(batch, topic_filter=self.topic, language=self.language)
        key = uuid.uuid4().hex  # the same key for every attempt: a commit whose answer was lost replays
        quarantined = False
        outcome: tuple[ReadingsResult, int] | None
        try:
            outcome = self._with_retry(lambda session: store_rows(session, rows, batch_key=key, language=self.language))
        except Exception as exc:
            if len(batch) > 1:
                log.exception("mqtt batch failed; storing its messages one by one", extra={"messages": len(batch)})
                for message in batch:
                    self._handle([message])
                return
            outcome, quarantined = self._keep_apart(batch[0], exc), True
        if outcome is None:  # aborted or lost: leave it unacknowledged
            self._done(len(batch))
            return
        result, attempts = outcome
        self._ack(batch)
        ms = (time.perf_counter() - started) * 1000
        lag_ms = (time.monotonic() - min(m.received for m in batch)) * 1000
        log.info(
            "mqtt batch",
            extra={
                "messages": len(batch),
                "batch_id": result.batch_id,
                "readings": result.received,
                "inserted": result.inserted,
                "duplicates": result.duplicates,
                "rejected": result.rejected,
                "critical": result.critical,
                "alerts": result.alerts,
                "attempts": attempts,
                "ms": round(ms, 1),
                "lag_ms": round(lag_ms, 1),
            },
        )
        if self.on_batch is not None:
            try:
                self.on_batch(BatchReport(len(batch), result, ms, lag_ms, attempts, quarantined))
            except Exception:
                log.exception("mqtt on_batch callback failed")
        self.messages += len(batch)  # counted once reported, so a test that sees the count sees the report
        self._done(len(batch))

    def _with_retry(self, work: Callable[[Session], T]) -> tuple[T, int] | None:
        """Run ``work`` in a unit of work, retrying while the database is unavailable; None if the
        listener is aborted meanwhile. Other errors are raised."""
        for attempt in itertools.count(1):
            try:
                with self.database.unit_of_work() as session:
                    value = work(session)
                return value, attempt
            except Exception as exc:
                if not is_transient(exc):
                    raise
                delay = self.retry_delays[min(attempt - 1, len(self.retry_delays) - 1)]
                log.warning(
                    "mqtt batch not stored: database unavailable; retrying",
                    extra={"attempt": attempt, "retry_in_s": delay, "error": f"{type(exc).__name__}: {exc}"[:300]},
                )
            if self._abort.wait(delay):
                return None
        raise AssertionError("unreachable")

    def _keep_apart(self, message: Message, exc: BaseException) -> tuple[ReadingsResult, int] | None:
        """A message that cannot be stored even alone: keep it as a rejection naming the error."""
        log.error(
            "mqtt message could not be stored; keeping it as a rejection",
            exc_info=exc,
            extra={"topic": message.topic},
        )
        try:
            return self._with_retry(lambda session: self._quarantine(session, message, exc))
        except Exception:
            log.exception(
                "mqtt message could not be kept; the broker will send it again", extra={"topic": message.topic}
            )
            return None

    def _quarantine(self, session: Session, message: Message, exc: BaseException) -> ReadingsResult:
        raw = message.payload.decode("utf-8", "surrogateescape")
        reason = f"{translate('error.internal', self.language)} ({type(exc).__name__})"
        batch = IngestBatch(channel=CHANNEL, received_at=utcnow(), received=1, rejected=1)
        session.add(batch)
        session.flush()
        session.add(
            IngestRejection(
                batch_id=batch.id, row_number=1, payload=verbatim_json(raw), errors=[{"field": None, "message": reason}]
            )
        )
        session.flush()
        return ReadingsResult(
            batch_id=batch.id,
            received=1,
            inserted=0,
            duplicates=0,
            rejected=1,
            critical=0,
            errors=[RowError(row=1, field=None, message=reason)],
            alerts=[],
        )

    def _ack(self, batch: list[Message]) -> None:
        client = self._client
        if client is None:
            return
        for message in batch:
            # A message of an earlier connection is sent again by the broker; that copy gets the ack.
            if message.qos > 0 and message.generation == self._generation:
                client.ack(message.mid, message.qos)

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            self._idle.notify_all()
