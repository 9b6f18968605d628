"""Early-warning benchmarks (issue #3):

- ``alerts``: data in → alert out. A real ``healthbrain serve`` on a simulated district; each trial
  posts the school-absence row that completes a class cluster and then reads the alert through
  the API. Latency = from sending the row to holding the alert (target < 1 s).
- ``pass``: one full detection pass over a simulated district (every enabled detector, every
  place, the space–time scans included) for its last day (target < 5 s).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

HEALTHBRAIN = [sys.executable, "-m", "healthbrain"]
AS_OF = date(2026, 11, 25)  # a Wednesday in term time: the simulated calendar has school that day


def _simulate(url: str, residents: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            *HEALTHBRAIN,
            "simulate",
            "--residents",
            str(residents),
            "--seed",
            "7",
            "--as-of",
            AS_OF.isoformat(),
            "--database-url",
            url,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def _http(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def alert_latency(*, residents: int, trials: int, postgres: str | None, port: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hb-alerts-"))
    url = postgres or f"sqlite:///{workdir / 'alerts.sqlite3'}"
    env = {**os.environ, "HEALTHBRAIN_DETECTION_PASS_MINUTES": "0", "HEALTHBRAIN_LOG_LEVEL": "WARNING"}
    server = None
    try:
        build_seconds = _simulate(url, residents)
        subprocess.run(
            [
                *HEALTHBRAIN,
                "users",
                "create",
                "--username",
                "bench",
                "--role",
                "cdc",
                "--password",
                "bench-password",
                "--database-url",
                url,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        token = (
            subprocess.run(
                [*HEALTHBRAIN, "users", "token", "--username", "bench", "--label", "bench", "--database-url", url],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        server = subprocess.Popen(
            [*HEALTHBRAIN, "serve", "--port", str(port), "--database-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        _status, schools = _http("GET", f"{base}/api/v1/institutions?kind=school&limit=500", token)
        school = schools[0]["code"]
        day = AS_OF
        latencies: list[float] = []
        for k in range(trials):
            klass = {
                "school_code": school,
                "class_name": f"基准测试{k}班",
                "grade": 3,
                "enrolled": 40,
                "date": day.isoformat(),
            }
            _http(
                "POST",
                f"{base}/api/v1/surveillance/feeds/school_absence",
                token,
                {"rows": [{**klass, "cause": "fever", "absent": 2}]},
            )
            started = time.perf_counter()
            _status, result = _http(
                "POST",
                f"{base}/api/v1/surveillance/feeds/school_absence",
                token,
                {"rows": [{**klass, "cause": "cough", "absent": 1}]},
            )
            if not result["alerts"]:
                raise RuntimeError(f"trial {k}: the completing row raised no alert: {result}")
            status, alert = _http("GET", f"{base}/api/v1/surveillance/alerts/{result['alerts'][-1]}", token)
            latencies.append(time.perf_counter() - started)
            assert status == 200 and alert["observed"] >= 3
        server_side: list[float] = []
        if url.startswith("sqlite"):
            with sqlite3.connect(url.split("///", 1)[1]) as connection:
                for created, received in connection.execute(
                    "SELECT created_at, data_received_at FROM surv_alert WHERE place_kind = 'class' ORDER BY id DESC LIMIT ?",
                    (trials,),
                ):
                    from datetime import datetime

                    server_side.append(
                        (datetime.fromisoformat(created) - datetime.fromisoformat(received)).total_seconds()
                    )
        return {
            "database": "postgresql" if postgres else "sqlite",
            "residents": residents,
            "district_build_seconds": round(build_seconds, 1),
            "trials": trials,
            "latency_ms_p50": round(1000 * statistics.median(latencies), 1),
            "latency_ms_p95": round(1000 * _percentile(latencies, 0.95), 1),
            "latency_ms_p99": round(1000 * _percentile(latencies, 0.99), 1),
            "latency_ms_max": round(1000 * max(latencies), 1),
            "row_arrival_to_alert_ms_max": round(1000 * max(server_side), 1) if server_side else None,
            "target": "< 1 s",
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def detection_pass(*, residents: int, postgres: str | None) -> dict[str, Any]:
    from healthbrain.db import Database
    from healthbrain.surveillance.tasks import run_pass

    workdir = Path(tempfile.mkdtemp(prefix="hb-pass-"))
    url = postgres or f"sqlite:///{workdir / 'pass.sqlite3'}"
    try:
        build_seconds = _simulate(url, residents)
        database = Database(url)
        runs = []
        for _ in range(2):
            with database.unit_of_work() as session:
                result = run_pass(session, day=AS_OF)
                runs.append(result)
                session.rollback()  # measure the pass, not its alerts accumulating between runs
        database.dispose()
        return {
            "database": "postgresql" if postgres else "sqlite",
            "residents": residents,
            "district_build_seconds": round(build_seconds, 1),
            "detectors": runs[0].detectors,
            "series_evaluated": runs[0].evaluations,
            "alarms": runs[0].hits,
            "seconds_first": runs[0].seconds,
            "seconds_second": runs[1].seconds,
            "seconds_by_method": runs[1].by_method,
            "target": "< 5 s",
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
