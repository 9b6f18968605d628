"""Home readings over MQTT: the pure helpers (broker URL, topic, payload → rows), the store step in
a rolled-back transaction, and the listener end to end against the real broker at 127.0.0.1:1883
(skipped if none answers; CI runs Mosquitto there).

The listener writes through its own connections from its own thread, so the end-to-end tests use a
committed database of their own (a temporary SQLite file, or a new PostgreSQL database next to
``HEALTHBRAIN_TEST_DATABASE_URL``) with the usual small world, and read it back through a plain
engine. Every run uses its own topic prefix and client id, and clears its persistent sessions from
the broker afterwards.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, create_engine, func, make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import healthbrain.chronic.mqtt as mqtt_module
from healthbrain.app import create_app
from healthbrain.chronic.models import ChronicAlert, HomeDevice, HomeReading
from healthbrain.chronic.mqtt import (
    BatchReport,
    Broker,
    Message,
    MqttListener,
    device_level,
    device_of,
    is_transient,
    parse_broker_url,
    rows_of,
    store_rows,
)
from healthbrain.chronic.readings import ingest_readings
from healthbrain.config import Settings, normalise_database_url
from healthbrain.core.i18n import translate
from healthbrain.core.time import utcnow
from healthbrain.db import Database, make_engine
from healthbrain.migrations.runner import upgrade
from healthbrain.records.models import IngestBatch, IngestRejection
from tests.factories import World, build_world

BROKER_HOST, BROKER_PORT = "127.0.0.1", 1883
BROKER_URL = f"mqtt://{BROKER_HOST}:{BROKER_PORT}"
CST = timezone(timedelta(hours=8))
T = TypeVar("T")


def _broker_answers() -> bool:
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=1):
            return True
    except OSError:
        return False


needs_broker = pytest.mark.skipif(
    not _broker_answers(), reason=f"no MQTT broker at {BROKER_URL} (CI runs Mosquitto there)"
)


def bp(
    device: str | None, sbp: float = 150, dbp: float = 95, *, minutes_ago: float = 5, **extra: Any
) -> dict[str, Any]:
    at = (utcnow() - timedelta(minutes=minutes_ago)).astimezone(CST).replace(microsecond=0)
    reading: dict[str, Any] = {"kind": "bp", "measured_at": at.isoformat(), "sbp": sbp, "dbp": dbp, "heart_rate": 72}
    if device is not None:
        reading["device_id"] = device
    return {**reading, **extra}


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("url", "broker"),
    [
        ("mqtt://127.0.0.1:1883", Broker("127.0.0.1", 1883, tls=False)),
        ("mqtt://broker.local", Broker("broker.local", 1883, tls=False)),
        ("mqtts://broker.local", Broker("broker.local", 8883, tls=True)),
        ("MQTTS://hb:s%40cret@broker.local:8884/", Broker("broker.local", 8884, True, "hb", "s@cret")),
        ("mqtt://device-gw@10.0.0.5", Broker("10.0.0.5", 1883, False, "device-gw", None)),
    ],
)
def test_broker_url(url: str, broker: Broker) -> None:
    assert parse_broker_url(url) == broker


@pytest.mark.parametrize(
    "url", ["http://broker:1883", "broker:1883", "mqtt://", "mqtt://h:99999", "mqtt://h:1883/x", "mqtt://h?tls=1"]
)
def test_broker_url_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_broker_url(url)


def test_broker_display_hides_the_password() -> None:
    broker = parse_broker_url("mqtts://hb:secret@broker.local")
    assert broker.display == "mqtts://hb@broker.local:8883"
    assert "secret" not in repr(broker)


@pytest.mark.parametrize(
    ("topic_filter", "level"),
    [
        ("healthbrain/devices/+/readings", 2),
        ("healthbrain-test-1/devices/+/readings", 2),
        ("$share/hb/healthbrain/devices/+/readings", 2),
        ("+", 0),
        ("a/+/#", 1),
    ],
)
def test_device_level(topic_filter: str, level: int) -> None:
    assert device_level(topic_filter) == level


@pytest.mark.parametrize("topic_filter", ["a/b", "a/+/+/b", "a/#/+", "a/dev+/x", "a/+/r#", "$share//a/+", "$share/g"])
def test_device_level_refused(topic_filter: str) -> None:
    with pytest.raises(ValueError):
        device_level(topic_filter)


def test_device_of() -> None:
    f = "healthbrain/devices/+/readings"
    assert device_of("healthbrain/devices/BP-0001/readings", f) == "BP-0001"
    assert device_of("healthbrain/devices/BP-0001/status", f) is None
    assert device_of("other/devices/BP-0001/readings", f) is None
    assert device_of("healthbrain/devices/BP-0001/readings", f"$share/hb/{f}") == "BP-0001"


def _messages(*items: tuple[str, Any]) -> list[Message]:
    """Messages from (device id or whole topic, payload: bytes and text as they are, else JSON)."""
    out = []
    for where, payload in items:
        topic = where if "/" in where else f"healthbrain/devices/{where}/readings"
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        out.append(Message(topic, body.encode() if isinstance(body, str) else body))
    return out


def test_rows_of_fills_the_device_and_numbers_the_rows() -> None:
    a, b = bp(None, minutes_ago=1), bp("BP-2", minutes_ago=2)
    rows = rows_of(
        _messages(("BP-1", a), ("BP-2", [b, bp(None, minutes_ago=3)]), ("BP-3", [])),
        topic_filter="healthbrain/devices/+/readings",
    )
    assert [n for n, _raw in rows.rows] == [1, 2, 3]
    assert [raw["device_id"] for _n, raw in rows.rows] == ["BP-1", "BP-2", "BP-2"]
    assert rows.rows[0][1] == {**a, "device_id": "BP-1"}
    assert "device_id" not in a  # the message's own object is left alone
    assert rows.rejects.rows == []


def test_rows_of_rejects_what_it_can_decide_alone() -> None:
    language = "en"
    rows = rows_of(
        _messages(
            ("BP-1", "{not json"),
            ("BP-1", b"\xff\xfe{}"),
            ("BP-1", bp("BP-9")),  # another device's reading on BP-1's topic
            ("healthbrain/other/BP-1/readings", bp(None)),  # a topic the filter does not match
            ("BP-1", [42, "x", bp(None)]),  # not objects: left to ingest_readings, which says why
        ),
        topic_filter="healthbrain/devices/+/readings",
        language=language,
    )
    by_row = {n: (raw, errs) for n, raw, errs in rows.rejects.rows}
    assert sorted(by_row) == [1, 2, 3, 4]
    assert by_row[1][0] == "{not json"
    assert (by_row[1][1][0]["message"] or "").startswith("not valid JSON")
    assert by_row[2][0] == "\udcff\udcfe{}"  # kept byte for byte, as escapes
    assert "utf-8" in (by_row[2][1][0]["message"] or "")
    assert by_row[3][1] == [{"field": "device_id", "message": translate("chronic.reading.other_device", language)}]
    assert by_row[4][1] == [{"field": "device_id", "message": translate("chronic.reading.unknown_device", language)}]
    assert [(n, raw if not isinstance(raw, dict) else "reading") for n, raw in rows.rows] == [
        (5, 42),
        (6, "x"),
        (7, "reading"),
    ]


def test_transient_errors() -> None:
    locked = OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
    assert is_transient(locked)
    assert not is_transient(ValueError("a bug"))


# --------------------------------------------------------------------------- store, in the suite's transaction


def _device(
    session: Session, world: World, *, resident: str = "a1_elder", team: str = "team_a1", kind: str = "bp"
) -> HomeDevice:
    device = HomeDevice(
        device_id=f"T-{uuid.uuid4().hex[:12]}",
        kind=kind,
        model="test",
        resident_id=world.residents[resident],
        team_id=world.teams[team],
        token_hash="0" * 64,
        bound_at=utcnow(),
    )
    session.add(device)
    session.flush()
    return device


def test_store_rows_keeps_its_own_rejections_in_the_batch(session: Session, world: World) -> None:
    device = _device(session, world)
    rows = rows_of(
        _messages((device.device_id, bp(None)), (device.device_id, "oops"), (device.device_id, bp("T-other", sbp=160))),
        topic_filter="healthbrain/devices/+/readings",
    )
    result = store_rows(session, rows, batch_key=uuid.uuid4().hex)
    assert (result.received, result.inserted, result.rejected) == (3, 1, 2)
    assert [e.row for e in result.errors] == [2, 3]
    batch = session.get(IngestBatch, result.batch_id)
    assert batch is not None
    assert (batch.channel, batch.received, batch.inserted, batch.rejected) == ("mqtt.readings", 3, 1, 2)
    kept = session.scalars(select(IngestRejection).where(IngestRejection.batch_id == batch.id)).all()
    assert sorted((r.row_number, r.payload[:6]) for r in kept) == [(2, '"oops"'), (3, '{"kind')]


def test_store_rows_replays_a_retried_batch(session: Session, world: World) -> None:
    device = _device(session, world)
    rows = rows_of(
        _messages((device.device_id, bp(None)), (device.device_id, "oops")),
        topic_filter="healthbrain/devices/+/readings",
    )
    key = uuid.uuid4().hex
    first = store_rows(session, rows, batch_key=key)
    again = store_rows(session, rows, batch_key=key)
    assert again.replayed and again.batch_id == first.batch_id
    assert (again.received, again.inserted, again.rejected) == (2, 1, 1)
    assert (
        session.scalar(
            select(func.count()).select_from(IngestRejection).where(IngestRejection.batch_id == first.batch_id)
        )
        == 1
    )


# --------------------------------------------------------------------------- end to end, with the broker


@dataclass
class Live:
    url: str
    database: Database
    reader: Engine  # plain engine: reads without SQLite's BEGIN IMMEDIATE, so polling never blocks the listener
    world: World

    def scalar(self, statement: Any) -> Any:
        with self.reader.connect() as connection:
            return connection.execute(statement).scalar()

    def all(self, statement: Any) -> list[Any]:
        with self.reader.connect() as connection:
            return list(connection.execute(statement).all())

    def device(self, *, resident: str = "a1_elder", team: str = "team_a1", kind: str = "bp") -> HomeDevice:
        with self.database.unit_of_work() as session:
            return _device(session, self.world, resident=resident, team=team, kind=kind)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    base = os.environ.get("HEALTHBRAIN_TEST_DATABASE_URL")
    admin: Engine | None = None
    name = f"hb_mqtt_{uuid.uuid4().hex[:12]}"
    if base:
        pg = make_url(normalise_database_url(base))
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = pg.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('mqtt') / 'mqtt.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        world = build_world(session)
        session.commit()
    engine.dispose()
    database = Database(url)
    reader = create_engine(normalise_database_url(url))
    yield Live(url, database, reader, world)
    reader.dispose()
    database.dispose()
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _connected_client(client_id: str = "", *, clean_session: bool = True) -> Client:
    client = Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect(BROKER_HOST, BROKER_PORT)
    client.loop_start()
    assert connected.wait(5), "the broker did not answer"
    return client


def forget_session(client_id: str) -> None:
    """Connect once with a clean session: the broker drops the persistent one and its queue."""
    client = _connected_client(client_id, clean_session=True)
    client.disconnect()
    client.loop_stop()


@dataclass
class Harness:
    live: Live
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    reports: list[BatchReport] = field(default_factory=list)
    listeners: list[MqttListener] = field(default_factory=list)
    _publisher: Client | None = None

    @property
    def prefix(self) -> str:
        return f"healthbrain-test-{self.run}"

    @property
    def topic_filter(self) -> str:
        return f"{self.prefix}/devices/+/readings"

    @property
    def client_id(self) -> str:
        return f"hb-test-{self.run}"

    def topic(self, device: str) -> str:
        return f"{self.prefix}/devices/{device}/readings"

    def listener(self, **options: Any) -> MqttListener:
        listener = MqttListener(
            self.live.database,
            url=BROKER_URL,
            topic=options.pop("topic", self.topic_filter),
            client_id=self.client_id,
            on_batch=self.reports.append,
            **options,
        )
        self.listeners.append(listener)
        listener.start()
        assert listener.wait_ready(5), "not subscribed within 5 s"
        return listener

    def publish(self, device: str, payload: Any) -> None:
        if self._publisher is None:
            self._publisher = _connected_client()
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload, ensure_ascii=False)
        info = self._publisher.publish(self.topic(device), body, qos=1)
        info.wait_for_publish(5)

    def close(self) -> None:
        for listener in self.listeners:
            listener.stop()
        if self._publisher is not None:
            self._publisher.disconnect()
            self._publisher.loop_stop()
        forget_session(self.client_id)


@pytest.fixture
def harness(live: Live) -> Iterator[Harness]:
    h = Harness(live)
    yield h
    h.close()


def eventually(check: Callable[[], T], *, timeout: float = 5.0, interval: float = 0.005) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(interval)


def readings_of(live: Live, device: HomeDevice) -> list[Any]:
    return live.all(select(HomeReading).where(HomeReading.device_pk == device.id).order_by(HomeReading.measured_at))


@needs_broker
def test_a_reading_is_stored_and_the_device_seen(live: Live, harness: Harness) -> None:
    device = live.device()
    harness.listener()
    reading = bp(None)  # no device_id: the topic names the device
    harness.publish(device.device_id, reading)
    (row,) = eventually(lambda: readings_of(live, device))
    assert (row.resident_id, row.kind, row.sbp, row.dbp, row.heart_rate, row.critical) == (
        live.world.residents["a1_elder"],
        "bp",
        150,
        95,
        72,
        False,
    )
    assert row.measured_at == datetime.fromisoformat(reading["measured_at"])
    seen = live.all(select(HomeDevice.last_seen_at, HomeDevice.last_reading_at).where(HomeDevice.id == device.id))[0]
    assert seen.last_seen_at is not None and utcnow() - seen.last_seen_at < timedelta(seconds=30)
    assert seen.last_reading_at == row.measured_at
    batch = live.all(select(IngestBatch).where(IngestBatch.id == row.batch_id))[0]
    assert (batch.channel, batch.received, batch.inserted) == ("mqtt.readings", 1, 1)


@needs_broker
def test_the_same_message_twice_is_one_row(live: Live, harness: Harness) -> None:
    device = live.device()
    listener = harness.listener()
    reading = bp(device.device_id)
    harness.publish(device.device_id, reading)
    harness.publish(device.device_id, reading)
    eventually(lambda: listener.messages >= 2)
    assert listener.wait_idle(5)
    assert len(readings_of(live, device)) == 1
    assert sum(r.result.inserted for r in harness.reports) == 1
    assert sum(r.result.duplicates for r in harness.reports) == 1


@needs_broker
def test_a_critical_reading_is_on_the_worklist_within_a_second(
    live: Live, harness: Harness, record_property: Callable[[str, object], None]
) -> None:
    device = live.device(resident="b1_adult", team="team_b")
    harness.listener()
    alert_of_device = (
        select(ChronicAlert)
        .join(HomeReading, HomeReading.id == ChronicAlert.last_reading_id)
        .where(HomeReading.device_pk == device.id, ChronicAlert.status == "open")
    )
    started = time.perf_counter()
    harness.publish(device.device_id, bp(None, 185, 100, minutes_ago=1))
    (alert,) = eventually(lambda: live.all(alert_of_device), timeout=5, interval=0.002)
    latency = time.perf_counter() - started
    record_property("publish_to_alert_ms", round(latency * 1000, 1))
    print(f"publish → open alert: {latency * 1000:.1f} ms")  # shown with -s
    assert latency < 1.0
    assert (alert.resident_id, alert.team_id) == (live.world.residents["b1_adult"], live.world.teams["team_b"])
    assert alert.reasons
    (report,) = eventually(lambda: [r for r in harness.reports if r.result.alerts])
    assert report.result.critical == 1 and report.result.alerts == [alert.id]


@needs_broker
def test_an_array_is_one_row_per_reading(live: Live, harness: Harness) -> None:
    device = live.device()
    listener = harness.listener()
    harness.publish(device.device_id, [bp(None, 130 + i, 85, minutes_ago=60 * (i + 1)) for i in range(3)])
    eventually(lambda: listener.messages >= 1)
    rows = readings_of(live, device)
    assert [r.sbp for r in rows] == [132, 131, 130]  # oldest first
    assert len({r.batch_id for r in rows}) == 1


@needs_broker
def test_bad_payloads_are_kept_with_their_reasons(live: Live, harness: Harness) -> None:
    device = live.device()
    listener = harness.listener(language="en")
    marker = uuid.uuid4().hex
    harness.publish(device.device_id, f"not json {marker}")
    harness.publish(device.device_id, bp(None, 400, 95, note=marker))  # implausible
    harness.publish(device.device_id, bp(f"T-{marker[:8]}", note=marker))  # another device's reading
    harness.publish(device.device_id, b"\xff" + marker.encode())  # not UTF-8
    harness.publish(device.device_id, [marker, 7])  # not objects
    eventually(lambda: listener.messages >= 5)
    kept = live.all(select(IngestRejection).where(IngestRejection.payload.contains(marker)))
    reasons = {r.payload: r.errors for r in kept}
    assert len(kept) == 5
    assert reasons[json.dumps(f"not json {marker}")][0]["message"].startswith("not valid JSON")
    implausible = next(errs for payload, errs in reasons.items() if '"sbp": 400' in payload)
    assert [e["field"] for e in implausible] == ["sbp"]
    other = next(errs for payload, errs in reasons.items() if f'"device_id": "T-{marker[:8]}"' in payload)
    assert other == [{"field": "device_id", "message": translate("chronic.reading.other_device", "en")}]
    not_utf8 = next(errs for payload, errs in reasons.items() if payload.startswith('"\\udcff'))
    assert "utf-8" in not_utf8[0]["message"]
    assert reasons[json.dumps(marker)] == [{"field": None, "message": translate("chronic.reading.not_object", "en")}]
    assert readings_of(live, device) == []
    batches = live.all(select(IngestBatch).where(IngestBatch.id.in_({r.batch_id for r in kept})))
    assert {b.channel for b in batches} == {"mqtt.readings"}
    assert sum(b.rejected for b in batches) >= 6  # the array's 7 too (its row holds no marker)


@needs_broker
def test_a_message_sent_while_stopped_arrives_after_the_restart(live: Live, harness: Harness) -> None:
    device = live.device()
    harness.listener().stop()  # the broker now holds our session and its subscription
    harness.publish(device.device_id, bp(None))
    time.sleep(0.2)
    assert readings_of(live, device) == []
    harness.listener()
    assert len(eventually(lambda: readings_of(live, device))) == 1


@needs_broker
def test_a_database_outage_is_retried_without_losing_the_batch(
    live: Live, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingest_readings
    calls = 0

    def down_twice(session: Session, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
        return real(session, **kwargs)

    monkeypatch.setattr(mqtt_module, "ingest_readings", down_twice)
    device = live.device()
    harness.listener(retry_delays=(0.05,))
    harness.publish(device.device_id, bp(None))
    assert len(eventually(lambda: readings_of(live, device))) == 1
    (report,) = eventually(lambda: harness.reports)
    assert report.attempts == 3 and report.result.inserted == 1


@needs_broker
def test_a_message_that_breaks_ingestion_is_kept_and_the_others_stored(
    live: Live, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingest_readings
    marker = uuid.uuid4().hex

    def breaks_on_marker(session: Session, **kwargs: Any) -> Any:
        if any(isinstance(raw, dict) and raw.get("note") == marker for _n, raw in kwargs["rows"]):
            raise ValueError("a bug")
        return real(session, **kwargs)

    monkeypatch.setattr(mqtt_module, "ingest_readings", breaks_on_marker)
    device = live.device()
    listener = harness.listener(linger=0.2)  # both messages in one batch, most likely
    harness.publish(device.device_id, bp(None, note=marker))
    harness.publish(device.device_id, bp(None, minutes_ago=9))
    eventually(lambda: listener.messages >= 2)
    assert len(readings_of(live, device)) == 1
    (kept,) = live.all(select(IngestRejection).where(IngestRejection.payload.contains(marker)))
    assert "ValueError" in kept.errors[0]["message"]
    assert json.loads(json.loads(kept.payload))["note"] == marker  # the message as sent


@needs_broker
def test_a_shared_subscription(live: Live, harness: Harness) -> None:
    device = live.device()
    listener = harness.listener(topic=f"$share/hb/{harness.topic_filter}")
    harness.publish(device.device_id, bp(None))
    assert len(eventually(lambda: readings_of(live, device))) == 1
    assert listener.topic.startswith("$share/")


@needs_broker
def test_the_server_listens_when_a_broker_is_configured(live: Live, harness: Harness) -> None:
    settings = Settings(
        mqtt_url=BROKER_URL,
        mqtt_topic=harness.topic_filter,
        mqtt_client_id=harness.client_id,
        detection_pass_minutes=0,
    )
    device = live.device()
    reading = bp(None)

    def sent_and_stored() -> list[Any]:
        # Until the new session's subscription is in place the broker keeps nothing for it, so send
        # again (the same reading: a resend is a no-op) until it is stored.
        harness.publish(device.device_id, reading)
        return readings_of(live, device)

    with TestClient(create_app(live.database, settings, background=True)):
        assert len(eventually(sent_and_stored, interval=0.2)) == 1


@needs_broker
def test_the_command_prints_a_line_per_batch_and_stops_on_ctrl_c(live: Live, harness: Harness, tmp_path: Path) -> None:
    device = live.device()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHBRAIN_")}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="250")
    args = [sys.executable, "-m", "healthbrain", "chronic", "mqtt", "--url", BROKER_URL]
    args += ["--topic", harness.topic_filter, "--client-id", harness.client_id, "--database-url", live.url]
    args += ["--data-dir", str(tmp_path)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or []:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []

    def until(word: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(line)
            if word in line:
                return line
        raise AssertionError(f"no {word!r} in {seen}")

    try:
        until("listening to")
        harness.publish(device.device_id, bp(None))
        line = until(" batch ")
        assert "1 messages, 1 readings: inserted 1" in line
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
        until("stopped after 1 messages")
    finally:
        if process.poll() is None:
            process.kill()


@needs_broker
def test_a_batch_the_database_never_took_comes_back_after_a_restart(
    live: Live, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Acknowledged only after the commit: a message still unstored when the listener stops stays
    # with the broker, which sends it again to the next listener of the session.
    calls = 0

    def down(session: Session, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(mqtt_module, "ingest_readings", down)
    device = live.device()
    first = harness.listener(retry_delays=(0.05,))
    harness.publish(device.device_id, bp(None))
    eventually(lambda: calls >= 2)
    started = time.monotonic()
    first.stop(timeout=0.3)
    assert time.monotonic() - started < 3
    assert readings_of(live, device) == []
    monkeypatch.setattr(mqtt_module, "ingest_readings", ingest_readings)
    harness.listener()
    assert len(eventually(lambda: readings_of(live, device))) == 1


def test_start_and_stop_without_a_broker() -> None:
    listener = MqttListener(Database("sqlite://"), url="mqtt://127.0.0.1:1", client_id=f"hb-test-{uuid.uuid4().hex}")
    started = time.monotonic()
    listener.start()  # the client keeps trying in the background
    assert time.monotonic() - started < 1
    assert not listener.wait_ready(0.3)
    assert not listener.connected
    started = time.monotonic()
    listener.stop()
    assert time.monotonic() - started < 3


def test_listener_refuses_bad_settings() -> None:
    database = Database("sqlite://")
    with pytest.raises(ValueError, match="mqtt://"):
        MqttListener(database, url="tcp://broker:1883")
    with pytest.raises(ValueError, match="'\\+' level"):
        MqttListener(database, url=BROKER_URL, topic="healthbrain/devices/readings")
    with pytest.raises(ValueError, match="client id"):
        MqttListener(database, url=BROKER_URL, client_id="")
    with pytest.raises(ValueError, match="no MQTT broker"):
        MqttListener.from_settings(database, Settings(mqtt_url=None))
