"""Chronic-disease benchmarks (issue #4):

- ``readings``: batch ingestion of home readings, readings per second (target ≥ 30,000 on 2 cores),
  in process through ``chronic.readings.ingest_readings`` (validation, plausibility, deterministic
  key, set-based insert, rejects kept) and through a real server's gateway API.
- ``critical``: a critical reading published over MQTT to the real broker → on the right family
  doctor's worklist through the API (target < 1 s at p99). A real ``healthbrain serve`` with its
  MQTT listener; each trial publishes, then polls the doctor's worklist until the alert is there,
  then marks it handled.
- ``worklist``: the worklist API under 50 concurrent clients on a simulated district (target
  p99 < 100 ms on 1.65 M residents). Each client is a different family doctor with its own token.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from surveillance import HEALTHBRAIN, _percentile, _simulate  # the same district build and percentile


def _database(postgres: str | None, workdir: Path, name: str) -> str:
    if postgres:
        from sqlalchemy import text

        from healthbrain.db import make_engine

        engine = make_engine(postgres)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return postgres
    return f"sqlite:///{workdir / f'{name}.sqlite3'}"


def _bind_devices(url: str, count: int, *, prefix: str) -> list[tuple[str, int, int | None]]:
    """Bind ``count`` new blood-pressure monitors to enrolled patients (serial, resident, team)."""
    from sqlalchemy import select

    import healthbrain.models  # noqa: F401 - every table, for the foreign keys
    from healthbrain.chronic.models import ChronicEnrolment, HomeDevice
    from healthbrain.db import Database

    database = Database(url)
    now = datetime.now(UTC)
    out: list[tuple[str, int, int | None]] = []
    with database.unit_of_work() as session:
        patients = session.execute(
            select(ChronicEnrolment.resident_id, ChronicEnrolment.team_id)
            .where(ChronicEnrolment.status == "enrolled", ChronicEnrolment.disease == "htn")
            .order_by(ChronicEnrolment.id)
            .limit(count)
        ).all()
        for n, (resident_id, team_id) in enumerate(patients):
            serial = f"{prefix}-{n:06d}"
            session.add(
                HomeDevice(
                    device_id=serial,
                    kind="bp",
                    resident_id=resident_id,
                    team_id=team_id,
                    token_hash="bench",
                    bound_at=now - timedelta(days=60),
                )
            )
            out.append((serial, resident_id, team_id))
    database.dispose()
    return out


def _payloads(devices: list[tuple[str, int, int | None]], total: int, seed: int) -> list[dict[str, Any]]:
    """Morning and evening BP readings of each device, going back in time, realistic noise."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    rows: list[dict[str, Any]] = []
    per_device = -(-total // len(devices))
    for serial, _resident, _team in devices:
        level = rng.gauss(138, 12)
        for k in range(per_device):
            at = now - timedelta(hours=12 * k + 1, minutes=rng.randrange(60))
            sbp = round(min(max(level + rng.gauss(0, 9), 90), 175))
            rows.append(
                {
                    "device_id": serial,
                    "kind": "bp",
                    "measured_at": at.astimezone().isoformat(),
                    "sbp": sbp,
                    "dbp": round(sbp * 0.62 + rng.gauss(0, 4)),
                    "heart_rate": round(rng.gauss(74, 8)),
                }
            )
    rng.shuffle(rows)
    return rows[:total]


def readings(*, postgres: str | None, total: int, batch: int) -> dict[str, Any]:
    """Readings per second: in process, and through the server's gateway API."""
    from healthbrain.chronic.readings import ingest_readings
    from healthbrain.db import Database

    workdir = Path(tempfile.mkdtemp(prefix="hb-readings-"))
    server = None
    try:
        url = _database(postgres, workdir, "readings")
        _simulate(url, 20_000)
        devices = _bind_devices(url, 2_000, prefix="BENCH")
        rows = _payloads(devices, total, seed=1)
        database = Database(url)
        started = time.perf_counter()
        inserted = 0
        for start in range(0, total, batch):
            with database.unit_of_work() as session:
                chunk = rows[start : start + batch]
                result = ingest_readings(session, rows=list(enumerate(chunk, 1)), channel="bench")
                inserted += result.inserted
        in_process = time.perf_counter() - started
        # The same rows again: every one is a duplicate, nothing changes.
        started = time.perf_counter()
        with database.unit_of_work() as session:
            again = ingest_readings(session, rows=list(enumerate(rows[:batch], 1)), channel="bench")
        resend = time.perf_counter() - started
        assert again.inserted == 0 and again.duplicates == len(rows[:batch]), again
        database.dispose()

        # Through HTTP: a gateway token, fresh devices, JSON batches of `batch` rows.
        token = _user_token(url, "bench-gateway", "device", institution=True)
        http_devices = _bind_devices(url, 2_000, prefix="HTTP")
        http_rows = _payloads(http_devices, total, seed=2)
        port = _free_port()
        server = _serve(url, port, {})
        bodies = [json.dumps({"readings": http_rows[s : s + batch]}).encode() for s in range(0, total, batch)]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        started = time.perf_counter()
        http_inserted = 0
        for body in bodies:
            connection.request(
                "POST",
                "/api/v1/chronic/readings",
                body=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200, answer
            http_inserted += answer["inserted"]
        over_http = time.perf_counter() - started
        return {
            "database": "postgresql" if postgres else "sqlite",
            "readings": total,
            "batch": batch,
            "in_process_readings_per_second": round(inserted / in_process),
            "resend_batch_ms": round(resend * 1000),
            "http_readings_per_second": round(http_inserted / over_http),
            "target": ">= 30,000 readings/s",
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [*HEALTHBRAIN, "serve", "--port", str(port), "--database-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HEALTHBRAIN_DETECTION_PASS_MINUTES": "0", "HEALTHBRAIN_LOG_LEVEL": "WARNING", **env},
    )
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _user_token(
    url: str, username: str, role: str, *, practitioner_id: int | None = None, institution: bool = False
) -> str:
    from sqlalchemy import select

    from healthbrain.auth.models import AppUser
    from healthbrain.auth.roles import Role
    from healthbrain.auth.schemas import UserCreate
    from healthbrain.auth.service import create_user, issue_token
    from healthbrain.db import Database
    from healthbrain.geo.models import Institution

    database = Database(url)
    with database.unit_of_work() as session:
        user = session.scalar(select(AppUser).where(AppUser.username == username))
        if user is None:
            institution_id = session.scalar(select(Institution.id).limit(1)) if institution else None
            user = create_user(
                session,
                actor=None,
                data=UserCreate(
                    username=username,
                    display_name=username,
                    password="bench-password-1",
                    role=Role(role),
                    practitioner_id=practitioner_id,
                    institution_id=institution_id,
                ),
            )
        token = issue_token(session, actor=None, user=user, label="bench", days=1).token
    database.dispose()
    return token


def _get(connection: http.client.HTTPConnection, path: str, token: str) -> tuple[int, Any]:
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def critical(*, postgres: str | None, residents: int, trials: int, broker: str) -> dict[str, Any]:
    """MQTT publish of a critical reading → visible on the doctor's worklist (API)."""
    import paho.mqtt.client as mqtt
    from sqlalchemy import select

    from healthbrain.db import Database
    from healthbrain.geo.models import CareTeam

    workdir = Path(tempfile.mkdtemp(prefix="hb-critical-"))
    server = None
    try:
        url = _database(postgres, workdir, "critical")
        _simulate(url, residents)
        (serial, _resident, team_id), *_ = _bind_devices(url, 1, prefix="CRIT")
        database = Database(url)
        with database.sessionmaker() as session:
            leader = session.scalar(select(CareTeam.leader_id).where(CareTeam.id == team_id))
        database.dispose()
        token = _user_token(url, "bench-doctor", "family_doctor", practitioner_id=leader)
        prefix = f"hb-bench-{uuid.uuid4().hex[:8]}"
        port = _free_port()
        server = _serve(
            url,
            port,
            {
                "HEALTHBRAIN_MQTT_URL": broker,
                "HEALTHBRAIN_MQTT_TOPIC": f"{prefix}/devices/+/readings",
                "HEALTHBRAIN_MQTT_CLIENT_ID": prefix,
            },
        )
        host, mqtt_port = broker.removeprefix("mqtt://").split(":")
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub")
        publisher.connect(host, int(mqtt_port))
        publisher.loop_start()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        time.sleep(1.0)  # the listener subscribes
        latencies: list[float] = []
        for k in range(trials):
            at = datetime.now(UTC) - timedelta(seconds=trials - k)
            payload = json.dumps({"kind": "bp", "measured_at": at.isoformat(), "sbp": 185 + k % 10, "dbp": 112})
            started = time.perf_counter()
            publisher.publish(f"{prefix}/devices/{serial}/readings", payload, qos=1).wait_for_publish(5)
            found = None
            while found is None:
                status, worklist = _get(connection, "/api/v1/chronic/worklist?limit=5", token)
                assert status == 200, worklist
                critical_items = worklist["sections"][0]["items"]
                found = next((i for i in critical_items if i["detail"]["sbp"] == 185 + k % 10), None)
                if found is None:
                    if time.perf_counter() - started > 10:
                        raise RuntimeError(f"trial {k}: no alert after 10 s")
                    time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            connection.request(
                "POST",
                f"/api/v1/chronic/alerts/{found['ref_id']}/handle",
                body=json.dumps({"action": "phoned"}),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            connection.getresponse().read()
        publisher.loop_stop()
        return {
            "database": "postgresql" if postgres else "sqlite",
            "residents": residents,
            "trials": trials,
            "latency_ms_p50": round(1000 * statistics.median(latencies), 1),
            "latency_ms_p99": round(1000 * _percentile(latencies, 0.99), 1),
            "latency_ms_max": round(1000 * max(latencies), 1),
            "target": "< 1 s (p99)",
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def worklist(
    *, postgres: str | None, residents: int, clients: int, seconds: float, think: float, url: str | None = None
) -> dict[str, Any]:
    """``clients`` family doctors of the busiest teams, each its own token and connection, ask for
    their worklist in a loop (with an exponential think time of mean ``think`` seconds; 0 = a
    closed loop, the saturation figure)."""
    from sqlalchemy import func, select

    from healthbrain.chronic.models import ChronicEnrolment
    from healthbrain.db import Database
    from healthbrain.geo.models import CareTeam

    workdir = Path(tempfile.mkdtemp(prefix="hb-worklist-"))
    server = None
    try:
        build = None
        if url is None:
            url = _database(postgres, workdir, "worklist")
            build = _simulate(url, residents)
        database = Database(url)
        with database.sessionmaker() as session:
            busiest = session.execute(
                select(CareTeam.id, CareTeam.leader_id, func.count(ChronicEnrolment.id).label("n"))
                .join(ChronicEnrolment, ChronicEnrolment.team_id == CareTeam.id)
                .where(ChronicEnrolment.status == "enrolled")
                .group_by(CareTeam.id, CareTeam.leader_id)
                .order_by(func.count(ChronicEnrolment.id).desc())
                .limit(clients)
            ).all()
        database.dispose()
        tokens = [
            _user_token(url, f"bench-doctor-{team}", "family_doctor", practitioner_id=leader)
            for team, leader, _n in busiest
        ]
        port = _free_port()
        server = _serve(url, port, {})
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        stop_at = time.perf_counter() + seconds + 5  # 5 s warm-up, not counted
        warm_until = time.perf_counter() + 5

        def client(token: str, seed: int) -> None:
            rng = random.Random(seed)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    status, body = _get(connection, "/api/v1/chronic/worklist", token)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # The server closed an idle keep-alive connection (uvicorn: after 5 s), as any
                    # browser would see it: reconnect and ask again; the time includes the reconnect.
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    try:
                        status, body = _get(connection, "/api/v1/chronic/worklist", token)
                    except OSError as exc:
                        with lock:
                            errors.append(repr(exc))
                        continue
                except OSError as exc:
                    with lock:
                        errors.append(repr(exc))
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    continue
                elapsed = time.perf_counter() - started
                if status != 200:
                    with lock:
                        errors.append(f"{status}: {body}")
                elif started > warm_until:
                    with lock:
                        latencies.append(elapsed)
                if think > 0:
                    time.sleep(rng.expovariate(1 / think))

        threads = [threading.Thread(target=client, args=(t, n)) for n, t in enumerate(tokens)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sizes = [n for _t, _l, n in busiest]
        if not latencies:
            raise RuntimeError(f"no request answered: {sorted(set(errors))[:3]}")
        return {
            "database": "postgresql" if postgres else "sqlite",
            "residents": residents,
            "district_build_seconds": round(build, 1) if build else None,
            "clients": len(tokens),
            "patients_per_team_max": max(sizes),
            "patients_per_team_median": statistics.median(sizes),
            "think_time_s": think,
            "requests": len(latencies),
            "requests_per_second": round(len(latencies) / seconds, 1),
            "latency_ms_p50": round(1000 * statistics.median(latencies), 1),
            "latency_ms_p95": round(1000 * _percentile(latencies, 0.95), 1),
            "latency_ms_p99": round(1000 * _percentile(latencies, 0.99), 1),
            "errors": len(errors),
            "error_examples": sorted(set(errors))[:3],
            "target": "p99 < 100 ms",
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
