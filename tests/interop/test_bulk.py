"""The bulk FHIR importer against the real database: the engine, the command line, the HTTP
endpoint, idempotency, rejects, a mixed Synthea-style file, and a run killed with SIGKILL."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from healthbrain.cli import app as cli_app
from healthbrain.db import Database, make_engine
from healthbrain.geo.models import Institution
from healthbrain.interop import bulk
from healthbrain.interop.fhir import keys
from healthbrain.interop.fhir.store import write_resource
from healthbrain.interop.models import BulkImport, FhirResource
from healthbrain.migrations.runner import upgrade
from healthbrain.people.models import Resident, ResidentIdentifier
from healthbrain.records.models import Encounter, IngestBatch, IngestRejection, Observation
from tests.conftest import bearer
from tests.factories import World, build_world

HOSPITAL = "H33019901"  # world.institution_codes["hospital"]
PATIENTS = ("a1_elder", "a1_wife", "a2_adult", "b1_adult")


def observation(i: int, patient: str = "p-a1_elder", **changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{i}",
        "status": "final",
        "code": {"coding": [{"system": keys.LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": f"2024-0{1 + i % 9}-{1 + i % 28:02d}T08:{i % 60:02d}:00+08:00",
        "valueQuantity": {"value": 100 + i % 80, "unit": "mmHg", "system": keys.UCUM, "code": "mm[Hg]"},
    }
    resource.update(changes)
    return resource


def ndjson(resources: list[Any]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in resources)


def add_aliases(session: Session, world: World, sender: str = HOSPITAL) -> None:
    """The sender's Patient ids of the world's residents (as its Patient lines would have left)."""
    for key in PATIENTS:
        session.add(
            ResidentIdentifier(
                resident_id=world.residents[key],
                kind=keys.FHIR_ALIAS_KIND,
                system=keys.alias_system(sender),
                value=f"p-{key}",
            )
        )
    session.flush()


def count(session: Session, model: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def mine(sender: str = HOSPITAL) -> Any:
    """A sender's FHIR Observations: its institution's rows that carry a sender's key (bulk rows keep
    only ``source_hash``, their ``source_key`` is NULL)."""
    return Observation.source_hash.is_not(None) & Observation.institution_id.in_(
        select(Institution.id).where(Institution.code == sender)
    )


def sent(sender: str, sid: str) -> Any:
    """The Observation a sender sent as ``sid`` (every path finds it by the key's hash)."""
    return Observation.source_hash == keys.source_hash(sender, "Observation", sid)


# --- the engine ----------------------------------------------------------------------------------


def test_observations_idempotent_and_rejects_kept(db: Database, session: Session, world: World, tmp_path: Path) -> None:
    add_aliases(session, world)
    session.commit()
    good = [observation(i, f"p-{PATIENTS[i % 4]}") for i in range(1, 301)]
    bad = [
        b"{oops",
        orjson.dumps(observation(900, "p-nobody")),
        orjson.dumps(observation(901, encounter={"reference": "Encounter/none"})),
        orjson.dumps({"resourceType": "Observation", "id": "obs-902", "status": "final"}),  # no code: the writer's
    ]
    path = tmp_path / "obs.ndjson"
    path.write_bytes(ndjson([*good[:100], *bad, *good[100:]]))
    first = bulk.import_file(db.unit_of_work, path, sender=HOSPITAL, chunk_lines=64, language="en")
    assert (first.lines, first.inserted, first.duplicates, first.rejected) == (304, 300, 0, 4)
    assert count(session, Observation, mine()) == 300
    row = session.scalar(select(Observation).where(sent(HOSPITAL, "obs-5")))
    assert row is not None and row.resident_id == world.residents[PATIENTS[1]] and row.value_num == 105.0
    assert row.source_key is None  # the fast path keeps the hash only
    assert row.unit == "mm[Hg]" and row.source_hash == keys.source_hash(HOSPITAL, "Observation", "obs-5")
    assert row.institution_id == world.institutions["hospital"] and row.status == "final"
    assert row.effective_at.isoformat() == "2024-06-06T00:05:00+00:00"  # 08:05 in Shanghai
    # The rejected lines: kept verbatim, with their line and the element at fault.
    batch = session.get(IngestBatch, first.batch_id)
    assert batch is not None and (batch.received, batch.inserted, batch.rejected) == (304, 300, 4)
    kept = session.scalars(
        select(IngestRejection).where(IngestRejection.batch_id == first.batch_id).order_by(IngestRejection.row_number)
    ).all()
    assert [r.row_number for r in kept] == [101, 102, 103, 104]
    assert kept[0].payload == "{oops" and kept[0].errors[0]["field"] is None
    assert "not valid JSON" in kept[0].errors[0]["message"]
    assert kept[1].errors == [
        {"field": "Observation.subject", "message": "the reference 'Patient/p-nobody' names no resource known here"}
    ]
    assert kept[2].errors[0]["field"] == "Observation.encounter"
    assert kept[3].errors and kept[3].errors[0]["field"].startswith("Observation")
    rejects = tmp_path / "rejects.ndjson"
    assert bulk.write_rejects(db.unit_of_work, first.batch_id, rejects) == 4
    lines = [orjson.loads(x) for x in rejects.read_bytes().splitlines()]
    assert [x["line"] for x in lines] == [101, 102, 103, 104]
    assert lines[0]["resource"] == "{oops" and lines[1]["resource"]["id"] == "obs-900"
    assert lines[1]["errors"][0]["field"] == "Observation.subject"
    # The same file again: answered from its row, nothing read.
    again = bulk.import_file(db.unit_of_work, path, sender=HOSPITAL)
    assert again.already_done and again.import_id == first.import_id and again.inserted == 300
    # Another file with the same resources (gzip, another order): nothing new.
    other = tmp_path / "obs-again.ndjson.gz"
    other.write_bytes(gzip.compress(ndjson(list(reversed(good)))))
    third = bulk.import_file(db.unit_of_work, other, sender=HOSPITAL, chunk_lines=50)
    assert (third.inserted, third.duplicates, third.rejected, third.already_done) == (0, 300, 0, False)
    assert count(session, Observation, mine()) == 300
    assert count(session, BulkImport) >= 2


def test_fast_path_row_is_the_writers_row(db: Database, session: Session, world: World, tmp_path: Path) -> None:
    """The same Observation, through the writer (one sender) and the fast path (another), lands the same."""
    add_aliases(session, world, "H-REST")
    add_aliases(session, world)
    session.commit()
    resources = [
        observation(1),
        observation(2, valueQuantity={"value": 5.6, "unit": "mmol/L"}, effectiveDateTime="2024-01-01T00:00:00.5Z"),
        observation(3, valueQuantity=None, valueString="阴性", status="amended"),
    ]
    for r in resources:
        written = write_resource(session, sender="H-REST", resource=r)
        assert written.errors == [] and written.created
    session.commit()
    path = tmp_path / "o.ndjson"
    path.write_bytes(ndjson([{k: v for k, v in r.items() if v is not None} for r in resources]))
    result = bulk.import_file(db.unit_of_work, path, sender=HOSPITAL)
    assert result.fast_path == 3 and result.writer == 0 and result.inserted == 3
    columns = (
        "resident_id",
        "encounter_id",
        "code",
        "value_num",
        "value_text",
        "unit",
        "effective_at",
        "status",
        "device_id",
    )
    for r in resources:
        rest = session.scalar(select(Observation).where(sent("H-REST", r["id"])))
        fast = session.scalar(select(Observation).where(sent(HOSPITAL, r["id"])))
        assert rest is not None and fast is not None
        assert {c: getattr(fast, c) for c in columns} == {c: getattr(rest, c) for c in columns}
        # The identity differs only in form: the writer keeps the text key as well, the fast path
        # only its hash; both are found by the hash.
        assert rest.source_key == keys.source_key("H-REST", "Observation", r["id"]) and fast.source_key is None
        assert fast.source_hash == keys.source_hash(HOSPITAL, "Observation", r["id"])


def test_mixed_synthea_style_file(db: Database, session: Session, world: World, tmp_path: Path) -> None:
    """Patients, Encounters, Observations (plain and panels) and other types in one file, in file
    order: an Observation finds the Patient and Encounter sent earlier in the same chunk."""
    patient = {
        "resourceType": "Patient",
        "id": "syn-1",
        "name": [{"family": "Doe", "given": ["Jane"]}],
        "gender": "female",
        "birthDate": "1980-02-03",
    }
    known = {
        "resourceType": "Patient",
        "id": "syn-2",
        "identifier": [{"system": keys.RESIDENT_ID_SYSTEM, "value": world.id_numbers["b1_adult"]}],
        "name": [{"text": "孙先生"}],
    }
    encounter = {
        "resourceType": "Encounter",
        "id": "enc-1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/syn-1"},
        "period": {"start": "2024-05-01T08:00:00+08:00", "end": "2024-05-01T08:30:00+08:00"},
    }
    panel = observation(
        50,
        "syn-1",
        code={"coding": [{"system": keys.LOINC, "code": "85354-9"}]},
        valueQuantity=None,
        component=[
            {
                "code": {"coding": [{"system": keys.LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 141, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": keys.LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 91, "code": "mm[Hg]"},
            },
        ],
    )
    claim = {"resourceType": "Claim", "id": "claim-1", "status": "active", "patient": {"reference": "Patient/syn-1"}}
    lines = [
        patient,
        known,
        encounter,
        observation(1, "syn-1", encounter={"reference": "Encounter/enc-1"}),
        observation(2, "syn-2"),
        panel,
        claim,
        observation(
            3, "syn-1", encounter={"reference": "Encounter/enc-1"}, valueQuantity={"value": 61.5, "code": "kg"}
        ),
    ]
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(ndjson(lines))
    result = bulk.import_file(db.unit_of_work, path, sender=HOSPITAL, chunk_lines=1000)
    assert result.rejected == 0, list(bulk.reject_lines(session, result.batch_id))
    assert (result.fast_path, result.writer) == (3, 5)
    new_resident = session.scalar(
        select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system == keys.alias_system(HOSPITAL), ResidentIdentifier.value == "syn-1"
        )
    )
    assert new_resident is not None and session.get(Resident, new_resident) is not None
    enc = session.scalar(
        select(Encounter).where(Encounter.source_key == keys.source_key(HOSPITAL, "Encounter", "enc-1"))
    )
    assert enc is not None and enc.resident_id == new_resident
    by_sid = {
        sid: session.scalar(select(Observation).where(sent(HOSPITAL, sid)))
        for sid in ("obs-1", "obs-2", "obs-3", "obs-50#8480-6", "obs-50#8462-4")
    }
    assert by_sid["obs-1"].encounter_id == enc.id and by_sid["obs-1"].resident_id == new_resident
    assert by_sid["obs-2"].resident_id == world.residents["b1_adult"]  # landed on the known resident
    assert by_sid["obs-3"].value_num == 61.5 and by_sid["obs-3"].encounter_id == enc.id
    assert {by_sid["obs-50#8480-6"].value_num, by_sid["obs-50#8462-4"].value_num} == {141.0, 91.0}
    kept = session.scalar(
        select(FhirResource).where(FhirResource.source_key == keys.source_key(HOSPITAL, "Claim", "claim-1"))
    )
    assert kept is not None and kept.resident_id == new_resident
    # Sent again as another file: nothing changes, every line a duplicate.
    again = tmp_path / "mixed2.ndjson"
    again.write_bytes(ndjson(lines) + b"\n")
    second = bulk.import_file(db.unit_of_work, again, sender=HOSPITAL)
    assert (second.inserted, second.duplicates, second.rejected) == (0, 8, 0)


def test_an_observation_before_its_patient_in_an_earlier_chunk_is_rejected_with_the_reason(
    db: Database, session: Session, world: World, tmp_path: Path
) -> None:
    patient = {
        "resourceType": "Patient",
        "id": "late",
        "name": [{"text": "李四"}],
        "gender": "male",
        "birthDate": "1970-01-01",
    }
    path = tmp_path / "late.ndjson"
    path.write_bytes(ndjson([observation(1, "late"), patient, observation(2, "late")]))
    result = bulk.import_file(db.unit_of_work, path, sender=HOSPITAL, chunk_lines=1, language="en")
    assert (result.inserted, result.rejected) == (2, 1)
    [line] = [orjson.loads(x) for x in bulk.reject_lines(session, result.batch_id)]
    assert line["line"] == 1 and line["errors"][0]["field"] == "Observation.subject"


def test_a_different_sender_cannot_resume_anothers_file(
    db: Database, session: Session, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "o.ndjson"
    path.write_bytes(ndjson([observation(1)]))
    bulk.import_file(db.unit_of_work, path, sender=HOSPITAL)
    with pytest.raises(Exception, match="sender"):
        bulk.import_file(db.unit_of_work, path, sender="C330199001")


# --- HTTP ----------------------------------------------------------------------------------------


def test_http_import_body_gzip_multipart_and_rejects(client: TestClient, session: Session, world: World) -> None:
    add_aliases(session, world)
    session.commit()
    body = ndjson([observation(i, "p-b1_adult") for i in range(1, 21)] + [observation(99, "p-ghost")])
    headers = {**bearer(world, "submitter"), "Content-Type": "application/fhir+ndjson", "Accept-Language": "en"}
    r = client.post("/api/v1/import/fhir", content=body, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["lines"], out["inserted"], out["rejected"], out["sender"]) == (21, 20, 1, HOSPITAL)
    rejects = client.get(out["rejects_url"], headers=headers)
    assert rejects.status_code == 200 and rejects.headers["content-type"].startswith("application/x-ndjson")
    [line] = [orjson.loads(x) for x in rejects.content.splitlines()]
    assert line["line"] == 21 and line["resource"]["id"] == "obs-99"
    assert line["errors"] == [
        {"field": "Observation.subject", "message": "the reference 'Patient/p-ghost' names no resource known here"}
    ]
    assert client.get(f"/api/v1/import/fhir/{out['id']}", headers=headers).json()["status"] == "done"
    # The same body gzipped (another file, the same resources): nothing new.
    gz = client.post(
        "/api/v1/import/fhir", content=gzip.compress(body), headers={**headers, "Content-Encoding": "gzip"}
    )
    assert gz.status_code == 200 and (gz.json()["inserted"], gz.json()["duplicates"]) == (0, 20)
    # The same body again: the import already done.
    same = client.post("/api/v1/import/fhir", content=body, headers=headers)
    assert same.json()["already_done"] is True and same.json()["id"] == out["id"]
    # A file upload.
    up = client.post(
        "/api/v1/import/fhir",
        files={"file": ("Observation.ndjson", ndjson([observation(500, "p-b1_adult")]), "application/fhir+ndjson")},
        headers=bearer(world, "submitter"),
    )
    assert up.status_code == 200 and up.json()["inserted"] == 1 and up.json()["file_name"] == "Observation.ndjson"
    assert count(session, Observation, mine()) == 21


def test_rest_resend_after_bulk_changes_nothing(client: TestClient, session: Session, world: World) -> None:
    """Bulk rows keep only ``source_hash``; the REST writer finds them by it: a resend and a
    conditional create of the same resources from the same hospital land on the bulk rows, and a
    REST-made row is a duplicate for a later bulk file."""
    add_aliases(session, world)
    session.commit()
    headers = bearer(world, "submitter")  # the hospital's interface: bulk and REST name the same sender
    bulk_headers = {**headers, "Content-Type": "application/fhir+ndjson"}
    body = ndjson([observation(i, "p-b1_adult") for i in (1, 2)])
    r = client.post("/api/v1/import/fhir", content=body, headers=bulk_headers)
    assert r.status_code == 200 and r.json()["inserted"] == 2, r.text
    bulk_row = session.scalar(select(Observation).where(sent(HOSPITAL, "obs-1")))
    assert bulk_row is not None and bulk_row.source_key is None
    before = count(session, Observation)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": observation(1, "p-b1_adult"), "request": {"method": "POST", "url": "Observation"}},
            {
                "resource": observation(2, "p-b1_adult"),
                "request": {"method": "POST", "url": "Observation", "ifNoneExist": "_id=obs-2"},
            },
            {"resource": observation(3, "p-b1_adult"), "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    rest = client.post("/fhir", json=bundle, headers={**headers, "Content-Type": "application/fhir+json"})
    assert rest.status_code == 200, rest.text
    entries = rest.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["200 OK", "200 OK", "201 Created"], entries
    assert entries[0]["response"]["location"].startswith(f"Observation/{bulk_row.id}")
    assert count(session, Observation) == before + 1  # only obs-3 is new
    made = session.scalar(select(Observation).where(sent(HOSPITAL, "obs-3")))
    assert made is not None and made.source_key == keys.source_key(HOSPITAL, "Observation", "obs-3")
    again = client.post(
        "/api/v1/import/fhir", content=ndjson([observation(i, "p-b1_adult") for i in (1, 2, 3)]), headers=bulk_headers
    )
    assert (again.json()["inserted"], again.json()["duplicates"]) == (0, 3)
    assert count(session, Observation) == before + 1


def test_http_access_and_errors(client: TestClient, session: Session, world: World) -> None:
    add_aliases(session, world, "C330199001")
    session.commit()
    body = ndjson([observation(1, "p-a1_elder"), observation(2, "p-b1_adult")])
    nd = {"Content-Type": "application/fhir+ndjson", "Accept-Language": "en"}
    assert (
        client.post("/api/v1/import/fhir", content=body, headers={**bearer(world, "doctor_a1"), **nd}).status_code
        == 403
    )
    assert client.post("/api/v1/import/fhir", content=body, headers=nd).status_code == 401
    empty = client.post("/api/v1/import/fhir", content=b"", headers={**bearer(world, "submitter"), **nd})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "body"]
    broken = client.post(
        "/api/v1/import/fhir", content=gzip.compress(body)[:30], headers={**bearer(world, "submitter"), **nd}
    )
    assert broken.status_code == 422 and "gzip" in broken.json()["detail"][0]["msg"]
    # A centre manager imports for the residents it serves (a1, a2): b1's line is refused, with why.
    centre = client.post("/api/v1/import/fhir", content=body, headers={**bearer(world, "centre_a"), **nd})
    assert centre.status_code == 200 and (centre.json()["inserted"], centre.json()["rejected"]) == (1, 1)
    [line] = [
        orjson.loads(x)
        for x in client.get(centre.json()["rejects_url"], headers=bearer(world, "centre_a")).content.splitlines()
    ]
    assert line["line"] == 2 and line["errors"][0]["message"] == "the resident is outside the area you serve"
    # Another institution does not see this import.
    assert client.get(centre.json()["rejects_url"], headers=bearer(world, "submitter")).status_code == 404


# --- the command line, and a run killed with SIGKILL -----------------------------------------------


def _seeded(url: str) -> World:
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        world = build_world(session)
        add_aliases(session, world)
        session.commit()
    engine.dispose()
    return world


def test_cli_import_and_rejects_file(scratch_url: str, tmp_path: Path) -> None:
    _seeded(scratch_url)
    path = tmp_path / "Observation.ndjson.gz"
    path.write_bytes(gzip.compress(ndjson([observation(i, "p-a2_adult") for i in range(1, 51)] + [b"not json"])))
    runner = CliRunner()
    args = ["import", "fhir", str(path), "--sender", HOSPITAL, "--database-url", scratch_url, "--language", "en"]
    first = runner.invoke(cli_app, args)
    assert first.exit_code == 0, first.output
    assert "inserted 50" in first.output and "rejected 1" in first.output
    rejects = tmp_path / "Observation.rejects.ndjson"
    assert str(rejects) in first.output.replace("\n", "")
    [line] = [orjson.loads(x) for x in rejects.read_bytes().splitlines()]
    assert line == {"line": 51, "errors": [line["errors"][0]], "resource": "not json"}
    second = runner.invoke(cli_app, args)
    assert second.exit_code == 0 and "already imported" in second.output
    unknown = runner.invoke(cli_app, ["import", "fhir", str(path), "--sender", "NOPE", "--database-url", scratch_url])
    assert unknown.exit_code == 2 and "NOPE" in unknown.output


def _database_counts(url: str) -> tuple[int, int, int, tuple[int, int, str]]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = count(session, Observation, mine())
        distinct = int(session.scalar(select(func.count(func.distinct(Observation.source_hash))).where(mine())) or 0)
        rejected = count(session, IngestRejection)
        imp = session.scalar(select(BulkImport))
        state = (imp.lines_done, imp.inserted, imp.status) if imp else (0, 0, "")
    engine.dispose()
    return rows, distinct, rejected, state


def test_killed_with_sigkill_then_resumed_exactly(scratch_url: str, tmp_path: Path) -> None:
    _seeded(scratch_url)
    total, bad_every = 120_000, 10_000
    resources: list[Any] = []
    for i in range(1, total + 1):
        resources.append(b"{bad line" if i % bad_every == 0 else orjson.dumps(observation(i, f"p-{PATIENTS[i % 4]}")))
    path = tmp_path / "big.ndjson"
    path.write_bytes(ndjson(resources))
    command = [sys.executable, "-m", "healthbrain", "import", "fhir", str(path), "--sender", HOSPITAL]
    command += ["--database-url", scratch_url, "--chunk-lines", "5000", "--no-progress"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # Kill it once the first checkpoint has been committed, and well before the end.
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and process.poll() is None:
        committed = _database_counts(scratch_url)[3][0]
        if committed > 0:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    rows, distinct, _rejected, (lines_done, inserted, status) = _database_counts(scratch_url)
    assert 0 < lines_done < total and status == "running", "the run must be killed mid-file"
    assert rows == distinct == inserted  # what was committed is exactly its checkpoint
    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after line" in resumed.stdout
    bad = total // bad_every
    rows, distinct, rejected, (lines_done, inserted, status) = _database_counts(scratch_url)
    assert (rows, distinct, rejected) == (total - bad, total - bad, bad)
    assert (lines_done, inserted, status) == (total, total - bad, "done")
    rejects = [orjson.loads(x) for x in (tmp_path / "big.rejects.ndjson").read_bytes().splitlines()]
    assert [x["line"] for x in rejects] == list(range(bad_every, total + 1, bad_every))
