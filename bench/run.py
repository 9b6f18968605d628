"""healthbrain benchmarks — one command runs them all (or the ones named):

    .venv/bin/python bench/run.py                 # every benchmark
    .venv/bin/python bench/run.py simulate        # one
    .venv/bin/python bench/run.py simulate --residents 1650000 --postgres postgresql://postgres@127.0.0.1/test

Each benchmark prints a Markdown table row and appends a JSON line to bench/out/results.jsonl
with the command, the machine and the figures; docs/benchmarks.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
HEALTHBRAIN = [sys.executable, "-m", "healthbrain"]


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def record(name: str, command: str, figures: dict[str, object]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    entry = {
        "benchmark": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        **figures,
    }
    with (OUT / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    print(json.dumps(entry, ensure_ascii=False, indent=2))


def _reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from healthbrain.db import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def bench_simulate(args: argparse.Namespace) -> None:
    """Generate and load a synthetic district (target: 1.65 M residents in under 10 minutes)."""
    workdir = Path(tempfile.mkdtemp(prefix="hb-bench-"))
    try:
        if args.postgres:
            url = args.postgres
            _reset_postgres(url)
        else:
            url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        command = [
            *HEALTHBRAIN,
            "simulate",
            "--residents",
            str(args.residents),
            "--seed",
            "42",
            "--as-of",
            "2026-11-25",
            "--database-url",
            url,
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size = sum(p.stat().st_size for p in workdir.iterdir()) / 2**20 if not args.postgres else None
        from sqlalchemy import func, select

        from healthbrain.db import make_engine
        from healthbrain.people.models import Resident
        from healthbrain.people.resident_id import ResidentIdError, parse
        from healthbrain.sim.models import SimulationRun

        engine = make_engine(url)
        with engine.connect() as connection:
            counts = connection.execute(select(SimulationRun.counts).order_by(SimulationRun.id.desc())).scalar_one()
            runs = connection.execute(select(func.count()).select_from(SimulationRun)).scalar_one()
            invalid = 0
            for (number,) in connection.execute(select(Resident.id_number)).yield_per(100_000):
                try:
                    parse(number)
                except ResidentIdError:
                    invalid += 1
        engine.dispose()
        assert runs == 1
        record(
            "simulate",
            "python bench/run.py simulate --residents {}{}".format(
                args.residents, " --postgres URL" if args.postgres else ""
            ),
            {
                "database": "postgresql" if args.postgres else "sqlite",
                "residents": args.residents,
                "wall_seconds": round(seconds, 1),
                "peak_rss_mib": round(peak_mib),
                "database_mib": round(size) if size is not None else None,
                "rows": counts,
                "invalid_resident_ids": invalid,
                "target": "< 600 s for 1,650,000 residents",
            },
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_demo(args: argparse.Namespace) -> None:
    """`healthbrain demo` on an empty data folder: seconds until the login page answers (target < 90 s)."""
    import urllib.request

    workdir = Path(tempfile.mkdtemp(prefix="hb-demo-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "HEALTHBRAIN_DATABASE_URL"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*HEALTHBRAIN, "demo", "--port", str(port), "--data-dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        ready = None
        while time.perf_counter() - started < 300 and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    if response.status == 200:
                        ready = time.perf_counter() - started
                        break
            except OSError:
                time.sleep(0.25)
        if ready is None:
            raise RuntimeError("the demo did not come up within 300 s")
        record(
            "demo",
            "python bench/run.py demo",
            {"residents": 50_000, "seconds_to_login_page": round(ready, 1), "target": "< 90 s after install"},
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def bench_bulk(args: argparse.Namespace) -> None:
    """The bulk observation path (validation, resident lookup, set-based insert, rejects kept):
    rows per second through ``records.service.bulk_observations`` in batches of 5,000."""
    from datetime import UTC, date, datetime, timedelta

    from sqlalchemy import select

    from healthbrain.auth.roles import Role
    from healthbrain.auth.scope import Principal
    from healthbrain.db import Database
    from healthbrain.migrations.runner import upgrade
    from healthbrain.people.models import Resident
    from healthbrain.records.schemas import BulkObservationBatch
    from healthbrain.records.service import bulk_observations
    from healthbrain.sim.service import simulate

    workdir = Path(tempfile.mkdtemp(prefix="hb-bulk-"))
    try:
        if args.postgres:
            _reset_postgres(args.postgres)
        database = Database(args.postgres or f"sqlite:///{workdir / 'bulk.sqlite3'}")
        upgrade(database.engine)
        simulate(database, residents=20_000, seed=1, as_of=date(2026, 11, 25))
        with database.sessionmaker() as session:
            residents = list(session.scalars(select(Resident.id).limit(5_000)))
        device = Principal(user_id=0, username="bench", display_name="bench", role=Role.DEVICE)
        start = datetime(2026, 11, 1, tzinfo=UTC)
        total, batch_size = 100_000, 5_000
        started = time.perf_counter()
        for b in range(total // batch_size):
            rows = [
                {
                    "resident_id": residents[i % len(residents)],
                    "code": "8480-6",
                    "value_num": 120 + i % 40,
                    "unit": "mm[Hg]",
                    "effective_at": (start + timedelta(minutes=b * batch_size + i)).isoformat(),
                    "device_id": f"BP-{i % len(residents)}",
                }
                for i in range(batch_size)
            ]
            with database.unit_of_work() as session:
                result = bulk_observations(session, principal=device, batch=BulkObservationBatch(observations=rows))
                assert result.inserted == batch_size, result
        seconds = time.perf_counter() - started
        database.dispose()
        record(
            "bulk",
            "python bench/run.py bulk{}".format(" --postgres URL" if args.postgres else ""),
            {
                "database": "postgresql" if args.postgres else "sqlite",
                "observations": total,
                "batch": batch_size,
                "seconds": round(seconds, 1),
                "rows_per_second": round(total / seconds),
            },
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bench_detectors(args: argparse.Namespace) -> None:
    """R surveillance's farringtonFlexible and earsC against healthbrain's, on every reference series."""
    import detectors_vs_r

    record("detectors", "python bench/run.py detectors", detectors_vs_r.run())


def bench_parity(args: argparse.Namespace) -> None:
    """`healthbrain detect` on every R reference series, compared with R's output file row by row."""
    import detect_parity

    record("parity", "python bench/run.py parity", detect_parity.run())


def bench_alerts(args: argparse.Namespace) -> None:
    """Data in → alert out through a real server (target < 1 s), on a district of --residents
    (default here 50,000: the latency does not depend on the district's size but on the path)."""
    import surveillance

    residents = args.residents if args.residents != DEFAULT_RESIDENTS else 50_000
    figures = surveillance.alert_latency(
        residents=residents, trials=args.trials, postgres=args.postgres, port=_free_port()
    )
    record(
        "alerts",
        f"python bench/run.py alerts --residents {residents}{' --postgres URL' if args.postgres else ''}",
        figures,
    )


def bench_pass(args: argparse.Namespace) -> None:
    """One full detection pass (every detector, every place, the scans) over the district (target < 5 s)."""
    import surveillance

    figures = surveillance.detection_pass(residents=args.residents, postgres=args.postgres)
    record(
        "pass",
        f"python bench/run.py pass --residents {args.residents}{' --postgres URL' if args.postgres else ''}",
        figures,
    )


def _pg(args: argparse.Namespace) -> str:
    return " --postgres URL" if args.postgres else ""


def bench_readings(args: argparse.Namespace) -> None:
    """Home readings in: readings per second in process and through the gateway API (target ≥ 30,000/s)."""
    import chronic

    figures = chronic.readings(postgres=args.postgres, total=args.readings, batch=args.batch)
    record(
        "readings", f"python bench/run.py readings --readings {args.readings} --batch {args.batch}{_pg(args)}", figures
    )


def bench_critical(args: argparse.Namespace) -> None:
    """A critical reading over MQTT → on the family doctor's worklist (target < 1 s at p99)."""
    import chronic

    residents = args.residents if args.residents != DEFAULT_RESIDENTS else 20_000
    trials = min(args.trials, 100)
    figures = chronic.critical(postgres=args.postgres, residents=residents, trials=trials, broker=args.broker)
    record("critical", f"python bench/run.py critical --residents {residents} --trials {trials}{_pg(args)}", figures)


def bench_worklist(args: argparse.Namespace) -> None:
    """The worklist API under --clients concurrent family doctors (target p99 < 100 ms on 1.65 M)."""
    import chronic

    figures = chronic.worklist(
        postgres=args.postgres,
        residents=args.residents,
        clients=args.clients,
        seconds=args.seconds,
        think=args.think,
        url=args.database_url,
    )
    command = (
        f"python bench/run.py worklist --residents {args.residents} --clients {args.clients} "
        f"--seconds {args.seconds:g} --think {args.think:g}{_pg(args)}"
    )
    record("worklist", command, figures)


def bench_fhir_import(args: argparse.Namespace) -> None:
    """Bulk FHIR NDJSON import through `healthbrain import fhir`: Observations/s into SQLite (target ≥ 30,000/s)."""
    import fhir_import

    figures = fhir_import.fhir_import(observations=args.observations)
    record("fhir-import", f"python bench/run.py fhir-import --observations {args.observations}", figures)


def bench_table_import(args: argparse.Namespace) -> None:
    """CSV / Excel import through `healthbrain import table`: rows/s into SQLite, then the same file again."""
    import tabular

    figures = tabular.table_import(observations=args.table_rows, residents=args.table_residents)
    command = (
        f"python bench/run.py table-import --table-rows {args.table_rows} --table-residents {args.table_residents}"
    )
    record("table-import", command, figures)


BENCHMARKS: dict[str, Callable[[argparse.Namespace], None]] = {
    "simulate": bench_simulate,
    "demo": bench_demo,
    "bulk": bench_bulk,
    "detectors": bench_detectors,
    "parity": bench_parity,
    "alerts": bench_alerts,
    "pass": bench_pass,
    "readings": bench_readings,
    "critical": bench_critical,
    "worklist": bench_worklist,
    "fhir-import": bench_fhir_import,
    "table-import": bench_table_import,
}
DEFAULT_RESIDENTS = 1_650_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--residents", type=int, default=DEFAULT_RESIDENTS)
    parser.add_argument("--trials", type=int, default=200, help="alerts: rows sent, one alert each")
    parser.add_argument("--postgres", help="run against this PostgreSQL database (it is emptied)")
    parser.add_argument("--readings", type=int, default=300_000, help="readings: how many readings to send")
    parser.add_argument("--batch", type=int, default=10_000, help="readings: readings per batch")
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="critical: the MQTT broker")
    parser.add_argument("--clients", type=int, default=50, help="worklist: concurrent family doctors")
    parser.add_argument("--seconds", type=float, default=30.0, help="worklist: measured seconds")
    parser.add_argument("--think", type=float, default=1.0, help="worklist: mean think time (0: closed loop)")
    parser.add_argument("--database-url", help="worklist: use this already simulated database (not emptied)")
    parser.add_argument("--observations", type=int, default=1_000_000, help="fhir-import: Observations in the file")
    parser.add_argument("--table-rows", type=int, default=50_000, help="table-import: observation rows per file")
    parser.add_argument("--table-residents", type=int, default=10_000, help="table-import: rows of the residents file")
    args = parser.parse_args()
    for name in args.names or list(BENCHMARKS):
        BENCHMARKS[name](args)


if __name__ == "__main__":
    main()
