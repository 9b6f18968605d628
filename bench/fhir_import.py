"""The bulk FHIR NDJSON importer (issue #5): Observations per second into SQLite (target ≥ 30,000/s on
2 cores) through the real command line, ``healthbrain import fhir``.

A 20,000-resident district is simulated into a fresh, migrated SQLite file; each resident gets the
sender's Patient id (a UUID alias, as a hospital's Patient.ndjson would leave); a Synthea-shaped
Observation.ndjson (UUID ids, a category, one LOINC coding with a display, a UCUM quantity,
``effectiveDateTime`` with +08:00, an ``issued``) is generated; then the CLI imports it in a
subprocess. Figures: wall seconds of the import command (Python start-up and the file's SHA-256
included), Observations per second, peak RSS; then the same file again (already done) and the same
resources in another (gzip) file (every line a duplicate).
"""

from __future__ import annotations

import gzip
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import orjson

SENDER_INDEX = 0  # the district's first institution sends the file
CODES = (
    ("8480-6", "mm[Hg]", 110, 60),
    ("8462-4", "mm[Hg]", 70, 30),
    ("29463-7", "kg", 45, 50),
    ("2339-0", "mmol/L", 4, 6),
)


def _observations(path: Path, count: int, patients: list[str]) -> None:
    rng = random.Random(7)
    category = [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}
    ]
    with path.open("wb") as fh:
        for i in range(count):
            code, unit, low, span = CODES[i % len(CODES)]
            day, second = divmod(i // 4, 86_400)
            stamp = f"2025-{1 + day % 12:02d}-{1 + day % 28:02d}T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}+08:00"
            value = round(low + rng.random() * span, 1)
            doc: dict[str, Any] = {
                "resourceType": "Observation",
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
                "status": "final",
                "category": category,
                "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": code}], "text": code},
                "subject": {"reference": f"Patient/{patients[rng.randrange(len(patients))]}"},
                "effectiveDateTime": stamp,
                "issued": stamp,
                "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            }
            fh.write(orjson.dumps(doc) + b"\n")


def _run(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout


def fhir_import(*, observations: int = 1_000_000, residents: int = 20_000) -> dict[str, Any]:
    from sqlalchemy import func, select

    from healthbrain.core.bulk import bulk_insert
    from healthbrain.db import Database
    from healthbrain.geo.models import Institution
    from healthbrain.interop.fhir import keys
    from healthbrain.migrations.runner import upgrade
    from healthbrain.people.models import Resident, ResidentIdentifier
    from healthbrain.records.models import Observation
    from healthbrain.sim.service import simulate

    workdir = Path(tempfile.mkdtemp(prefix="hb-fhir-import-"))
    try:
        url = f"sqlite:///{workdir / 'import.sqlite3'}"
        database = Database(url)
        upgrade(database.engine)
        simulate(database, residents=residents, seed=1, as_of=date(2026, 11, 25), feed_days=0)
        rng = random.Random(3)
        with database.unit_of_work() as session:
            sender = session.scalars(select(Institution.code).order_by(Institution.id)).all()[SENDER_INDEX]
            ids = session.scalars(select(Resident.id).order_by(Resident.id)).all()
            patients = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in ids]
            bulk_insert(
                session,
                ResidentIdentifier.__table__,  # type: ignore[arg-type]
                ("resident_id", "kind", "system", "value"),
                [
                    (rid, keys.FHIR_ALIAS_KIND, keys.alias_system(sender), p)
                    for rid, p in zip(ids, patients, strict=True)
                ],
            )
            before = session.scalar(select(func.count()).select_from(Observation)) or 0
        database.dispose()
        path = workdir / "Observation.ndjson"
        _observations(path, observations, patients)
        size_mib = path.stat().st_size / 2**20
        command = [sys.executable, "-m", "healthbrain", "import", "fhir", str(path), "--sender", sender]
        command += ["--database-url", url, "--no-progress"]
        load_before = os.getloadavg()
        seconds, output = _run(command)
        load_after = os.getloadavg()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mib = usage.ru_maxrss / 1024
        print(
            f"first import: {seconds:.1f} s, {observations / seconds:,.0f}/s, peak {peak_mib:.0f} MiB", file=sys.stderr
        )
        again_seconds, again_output = _run(command)
        gz = workdir / "Observation-resent.ndjson.gz"
        with path.open("rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst)
        resent_seconds, resent_output = _run([*command[:5], str(gz), *command[6:]])
        database = Database(url)
        with database.unit_of_work(read_only=True) as session:
            after = session.scalar(select(func.count()).select_from(Observation)) or 0
            distinct = session.scalar(select(func.count(func.distinct(Observation.source_hash)))) or 0
        database.dispose()
        assert after - before == observations, (before, after, output)
        assert "already imported" in again_output, again_output
        assert f"unchanged {observations:,}" in resent_output, resent_output
        return {
            "database": "sqlite",
            "residents": residents,
            "observations": observations,
            "file_mib": round(size_mib),
            "wall_seconds": round(seconds, 1),
            "observations_per_second": round(observations / seconds),
            "peak_rss_mib": round(peak_mib),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),  # user + sys of the import process
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "distinct_source_hash": distinct,
            "same_file_again_seconds": round(again_seconds, 1),
            "same_resources_gzip_seconds": round(resent_seconds, 1),
            "cli_output": " ".join(output.split()),  # rich wraps at the terminal width
            "target": ">= 30,000 Observations/s into SQLite on 2 cores",
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
