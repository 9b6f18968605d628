"""The bulk FHIR importer: an NDJSON file (plain or gzip) of resources of any type into the record.

One engine for the command line (``healthbrain import fhir``) and the HTTP endpoint
(``POST /api/v1/import/fhir``):

* Plain Observations take the fast path (``bulk_parse``): read as columns, their patients and
  encounters resolved for the whole chunk in a few queries, inserted set-based with
  ``core.bulk.bulk_insert``, a resend skipped by ``observation.source_hash`` (the rows carry the
  hash only, ``source_key`` NULL: see ``keys.key_hash``). Every other line goes
  through the single-resource writer (``interop.fhir.store.write_resource``), in file order, before
  the chunk's Observations (so an Observation finds a Patient sent earlier in the same chunk).
* Idempotent: the import is named by the file's SHA-256; a file already done is answered from its
  row; a different file with the same resources adds nothing (the resources' keys).
* Resumable: each chunk's rows, its rejected lines and the checkpoint (lines and bytes done,
  counts) are one transaction. A run killed at any moment resumes at the last committed chunk.
* Rejected lines are kept (``ingest_rejection``: the line verbatim, its reasons, its number) and
  listed in a rejects file of NDJSON ``{"line", "errors", "resource"}``.

Reading and sorting lines (``bulk_parse``) runs in a thread of its own, ahead of the writes: Arrow
and SQLite both release the GIL for their heavy part, so the two overlap on two cores.
"""

from __future__ import annotations

import gzip
import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Scope
from healthbrain.auth.scope import Principal
from healthbrain.core.bulk import bulk_insert
from healthbrain.core.errors import Conflict, InvalidInput, NotFound
from healthbrain.core.i18n import translate
from healthbrain.core.time import utcnow
from healthbrain.interop import bulk_repository as repository
from healthbrain.interop.bulk_parse import Chunk, Reason, read_chunk
from healthbrain.interop.fhir import keys, store
from healthbrain.interop.models import BulkImport
from healthbrain.people import service as people
from healthbrain.people.models import ResidentStatus
from healthbrain.records.models import IngestBatch, IngestRejection, Observation

CHANNEL = "fhir.ndjson"
DEFAULT_SENDER = "bulk"  # the sender of a command-line import that names none
CHUNK_LINES = 100_000  # lines per transaction (and per checkpoint); fewer commits of the random-key index pages
_OBSERVATION_COLUMNS = (
    "resident_id",
    "encounter_id",
    "code",
    "value_num",
    "value_text",
    "unit",
    "effective_at",
    "institution_id",
    "status",
    "source_key",
    "source_hash",
)
_REJECTION_COLUMNS = ("batch_id", "row_number", "payload", "errors")
_GZIP_MAGIC = b"\x1f\x8b"

Units = Callable[[], AbstractContextManager[Session]]
Progress = Callable[[int, int, int], None]  # (bytes read of the file, file size, lines done)


@dataclass
class ImportResult:
    import_id: int
    batch_id: int
    file_name: str
    sha256: str
    sender: str
    status: str
    lines: int
    inserted: int
    duplicates: int
    rejected: int
    already_done: bool  # the same file was imported before: nothing was read
    resumed_at_line: int  # 0: started at the beginning
    seconds: float
    fast_path: int  # lines of this run that took the fast path
    writer: int  # lines of this run written by the single-resource writer
    rejects_path: Path | None = None


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def _open(path: Path, offset: int) -> tuple[IO[bytes], IO[bytes]]:
    """(the uncompressed stream positioned at ``offset``, the file underneath, for progress)."""
    raw: IO[bytes] = path.open("rb")
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip(path) else raw  # type: ignore[assignment]
    if offset:
        stream.seek(offset)
    return stream, raw


# --- the pipeline: lines read and sorted ahead of the writes --------------------------------------


class _Reader(threading.Thread):
    def __init__(self, stream: IO[bytes], raw: IO[bytes], first_line: int, chunk_lines: int, sender: str) -> None:
        super().__init__(daemon=True, name="bulk-reader")
        self.stream, self.raw, self.sender = stream, raw, sender
        self.first_line, self.chunk_lines = first_line, chunk_lines
        self.out: queue.Queue[tuple[Chunk, int] | BaseException | None] = queue.Queue(maxsize=1)
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            line = self.first_line
            while not self.stopping.is_set():
                lines = list(islice(self.stream, self.chunk_lines))
                if not lines:
                    break
                chunk = read_chunk(lines, line)
                chunk.fast.source_hash = source_hashes(
                    self.sender, chunk.fast.sid
                )  # here: the writer is the busier thread
                line += len(lines)
                self._put((chunk, self.raw.tell()))
            self._put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def _put(self, item: tuple[Chunk, int] | BaseException | None) -> None:
        while not self.stopping.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def chunks(self) -> Iterator[tuple[Chunk, int]]:
        self.start()
        try:
            while True:
                item = self.out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stopping.set()
            self.join(timeout=10)


# --- one chunk: one transaction -------------------------------------------------------------------


@dataclass
class _Run:
    """What a run knows across chunks."""

    import_id: int
    batch_id: int
    sender: str
    institution_id: int | None
    principal: Principal | None
    language: str
    patients: dict[str, int]  # sender's Patient id → resident id (found ones only)
    fast_path: int = 0
    writer: int = 0


def source_hashes(sender: str, sids: list[str]) -> list[int]:
    """``keys.source_hash`` of a sender's Observation ids, inlined for the hot path (a sender's id is
    ≤ 64 characters and a sender ≤ 32, so the key is never cut)."""
    prefix, sha, from_bytes = f"fhir|{sender}|Observation|".encode(), hashlib.sha256, int.from_bytes
    if len(prefix) + 64 > 128:
        return [keys.source_hash(sender, "Observation", sid) for sid in sids]
    return [from_bytes(sha(prefix + sid.encode()).digest()[:8], "big", signed=True) for sid in sids]


def _payload(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    return text.replace("\x00", "\\u0000")  # PostgreSQL text holds no NUL; the line stays readable


def _messages(reasons: list[Reason], language: str) -> list[dict[str, str | None]]:
    return [{"field": r.field, "message": translate(r.key, language, **r.params)} for r in reasons]


def _resolve_patients(session: Session, run: _Run, wanted: set[str]) -> dict[str, int]:
    """The residents the sender's Patient ids name (alias, else our id; a merged record answers its
    survivor), as :func:`interop.fhir.refs.patient_by_logical_id`: {id: resident}. Active residents
    are remembered for the rest of the run (``run.patients``); the others are looked up again."""
    missing = sorted(wanted - run.patients.keys())
    if not missing:
        return {}
    found: dict[str, int] = repository.alias_owners(session, keys.alias_system(run.sender), missing)
    for logical in missing:
        if logical not in found and logical.isdigit() and len(logical) < 19:
            found[logical] = int(logical)
    state = repository.residents_state(session, found.values())
    for _ in range(8):  # follow merges to the survivor
        onward = {m for m, _s in state.values() if m is not None and m not in state}
        if not onward:
            break
        state.update(repository.residents_state(session, onward))
    inactive: dict[str, int] = {}
    for logical, rid in found.items():
        seen: set[int] = set()
        while rid in state and state[rid][0] is not None and rid not in seen:
            seen.add(rid)
            rid = state[rid][0]  # type: ignore[assignment]
        if rid not in state:
            continue
        if state[rid][1] == ResidentStatus.ACTIVE:
            run.patients[logical] = rid
        else:
            inactive[logical] = rid
    return inactive


def _fast_rows(
    session: Session, run: _Run, chunk: Chunk
) -> tuple[list[tuple[Any, ...]], list[tuple[int, bytes, list[Reason]]]]:
    """The chunk's plain Observations as observation rows, and the lines whose references do not
    resolve (with the writer's own reasons)."""
    fast = chunk.fast
    refused: list[tuple[int, bytes, list[Reason]]] = []
    if not len(fast):
        return [], refused
    inactive = _resolve_patients(session, run, set(fast.patient))
    patients = run.patients
    residents = [patients.get(p) for p in fast.patient]
    known = {r for r in residents if r is not None}
    outside: set[int] = set()
    if run.principal is not None and run.principal.scope not in (Scope.ALL, Scope.INSTITUTION):
        outside = known - people.ids_in_scope(session, run.principal, known)
    encounter_ids: list[int | None] = [None] * len(fast)
    bad: dict[int, Reason] = {}
    sent_encounters = {e for e in fast.encounter if e is not None}
    if sent_encounters:
        encounter_keys = {e: keys.source_key(run.sender, "Encounter", e) for e in sent_encounters}
        by_key = repository.encounters_by_key(session, sorted(encounter_keys.values()))
        numeric = sorted({int(e) for e in sent_encounters if e.isdigit() and len(e) < 19})
        by_id = repository.encounters_by_id(session, numeric) if numeric else {}
        for i, sent in enumerate(fast.encounter):
            if sent is None:
                continue
            hit = by_key.get(encounter_keys[sent])
            if hit is None and sent.isdigit() and len(sent) < 19 and int(sent) in by_id:
                hit = (int(sent), by_id[int(sent)])
            if hit is None:
                bad[i] = Reason("Observation.encounter", "fhir.error.unresolved", {"value": f"Encounter/{sent}"})
            elif hit[1] != residents[i]:
                bad[i] = Reason("Observation.encounter", "fhir.error.other_patient")
            else:
                encounter_ids[i] = hit[0]
    if len(known) < len(residents) or outside or inactive:
        for i, resident in enumerate(residents):
            if resident is None:
                sent_patient = fast.patient[i]
                bad[i] = (
                    Reason("Observation.subject", "error.resident.not_active")
                    if sent_patient in inactive
                    else Reason("Observation.subject", "fhir.error.unresolved", {"value": f"Patient/{sent_patient}"})
                )
            elif resident in outside:
                bad[i] = Reason("Observation.subject", "bulk.error.out_of_scope")
    # The row keeps only the hash: ``source_key`` stays NULL, which spares the unique TEXT index on
    # it (~7 µs of a ~25 µs insert); every path finds an Observation by the hash (``refs.named_by``).
    hashes = fast.source_hash if len(fast.source_hash) == len(fast) else source_hashes(run.sender, fast.sid)
    institution = [run.institution_id] * len(fast)
    no_keys = [None] * len(fast)
    rows = list(
        zip(
            residents,
            encounter_ids,
            fast.code,
            fast.value_num,
            fast.value_text,
            fast.unit,
            fast.effective,
            institution,
            fast.status,
            no_keys,
            hashes,
            strict=True,
        )
    )
    if bad:
        refused = [(fast.line[i], fast.raw[i], [reason]) for i, reason in sorted(bad.items())]
        rows = [row for i, row in enumerate(rows) if i not in bad]
    return rows, refused


def _apply(session: Session, run: _Run, chunk: Chunk) -> dict[str, int]:
    """Write one chunk and move the checkpoint past it, in the caller's transaction."""
    row = repository.import_for_update(session, run.import_id)
    assert row is not None
    if row.lines_done != chunk.first_line - 1:
        raise Conflict("bulk.error.busy", expected=chunk.first_line - 1, found=row.lines_done)
    counts = {"inserted": 0, "duplicates": 0, "rejected": 0}
    rejected: list[tuple[int, bytes, list[dict[str, str | None]]]] = [
        (n, raw, _messages(reasons, run.language)) for n, raw, reasons in chunk.refused
    ]
    for number, raw, resource in chunk.slow:
        written = store.write_resource(
            session, sender=run.sender, resource=resource, principal=run.principal, language=run.language
        )
        if written.errors:
            rejected.append((number, raw, list(written.errors)))  # type: ignore[arg-type]
        elif written.created:
            counts["inserted"] += 1
        else:
            counts["duplicates"] += 1
    rows, refused = _fast_rows(session, run, chunk)
    if rows:
        inserted = bulk_insert(session, Observation.__table__, _OBSERVATION_COLUMNS, rows, skip_conflicts=True)  # type: ignore[arg-type]
        counts["inserted"] += inserted
        counts["duplicates"] += len(rows) - inserted
    rejected.extend((n, raw, _messages(reasons, run.language)) for n, raw, reasons in refused)
    if rejected:
        rejected.sort(key=lambda r: r[0])
        bulk_insert(
            session,
            IngestRejection.__table__,  # type: ignore[arg-type]
            _REJECTION_COLUMNS,
            [(run.batch_id, n, _payload(raw), orjson.dumps(errors).decode()) for n, raw, errors in rejected],
        )
    counts["rejected"] = len(rejected)
    run.fast_path += len(chunk.fast)
    run.writer += len(chunk.slow)
    repository.advance(session, run.import_id, lines=chunk.line_count, nbytes=chunk.nbytes, counts=counts)
    received = len(chunk.fast) + len(chunk.slow) + len(chunk.refused)
    repository.add_to_batch(session, run.batch_id, received=received, counts=counts)
    session.flush()
    return counts


# --- the import -----------------------------------------------------------------------------------


def _begin(
    session: Session,
    *,
    sha256: str,
    file_name: str,
    sender: str,
    institution_id: int | None,
    principal: Principal | None,
) -> BulkImport:
    """The import's row: the one of an earlier run of this file, or a new one with its batch."""
    found = repository.import_by_digest(session, sha256)
    if found is not None:
        if found.sender != sender:  # the same content from another sender is another import
            raise Conflict("bulk.error.sender_mismatch", started=found.sender)
        return found
    batch = IngestBatch(
        channel=CHANNEL,
        batch_key=f"{CHANNEL}:{sha256}",
        user_id=principal.user_id if principal and principal.user_id else None,
        institution_id=institution_id,
        received_at=utcnow(),
    )
    session.add(batch)
    session.flush()
    row = BulkImport(
        file_sha256=sha256,
        file_name=file_name[:256],
        sender=sender,
        batch_id=batch.id,
        status="running",
        started_at=utcnow(),
        lines_done=0,
        bytes_done=0,
        inserted=0,
        duplicates=0,
        rejected=0,
    )
    session.add(row)
    session.flush()
    return row


def import_file(
    units: Units,
    path: Path,
    *,
    sender: str = DEFAULT_SENDER,
    principal: Principal | None = None,
    language: str = "zh-CN",
    file_name: str | None = None,
    chunk_lines: int = CHUNK_LINES,
    progress: Progress | None = None,
    sqlite_cache_mib: int | None = None,
) -> ImportResult:
    """Import an NDJSON file (plain or gzip). ``units`` opens one unit of work (a transaction):
    each chunk runs in its own, so a crash loses at most the chunk in flight. ``principal`` None:
    a trusted import (the command line); else the caller's permission and scope apply.
    ``sqlite_cache_mib``: a larger page cache for the import's SQLite connection (the command line:
    a big file's random-key indexes outgrow the default 64 MiB and every insert becomes a miss)."""
    if principal is not None:
        principal.require(Permission.RECORD_IMPORT)
    started = time.perf_counter()
    sha256 = file_digest(path)
    size = path.stat().st_size
    with units() as session:
        institution = repository.institution(session, sender)
        row = _begin(
            session,
            sha256=sha256,
            file_name=file_name or path.name,
            sender=sender,
            institution_id=institution.id if institution else None,
            principal=principal,
        )
        import_id, batch_id, status = row.id, row.batch_id, row.status
        lines_done, bytes_done = row.lines_done, row.bytes_done
    assert batch_id is not None
    run = _Run(
        import_id=import_id,
        batch_id=batch_id,
        sender=sender,
        institution_id=institution.id if institution else None,
        principal=principal,
        language=language,
        patients={},
    )
    if status != "done":
        stream, raw = _open(path, bytes_done)
        try:
            if progress:
                progress(raw.tell(), size, lines_done)
            for chunk, position in _Reader(stream, raw, lines_done + 1, chunk_lines, sender).chunks():
                with units() as session:
                    if sqlite_cache_mib and session.connection().dialect.name == "sqlite":
                        session.connection().exec_driver_sql(f"PRAGMA cache_size=-{int(sqlite_cache_mib) * 1024}")
                    _apply(session, run, chunk)
                if progress:
                    progress(position, size, chunk.first_line + chunk.line_count - 1)
        finally:
            stream.close()
            raw.close()
    with units() as session:
        final = repository.import_for_update(session, import_id)
        assert final is not None
        row = final
        if row.status != "done":
            row.status, row.finished_at = "done", utcnow()
            audit.record(
                session,
                principal,
                "record.import_fhir",
                object_type="bulk_import",
                object_id=row.id,
                detail={
                    "file": row.file_name,
                    "lines": row.lines_done,
                    "inserted": row.inserted,
                    "duplicates": row.duplicates,
                    "rejected": row.rejected,
                },
            )
        session.flush()
        result = ImportResult(
            import_id=row.id,
            batch_id=batch_id,
            file_name=row.file_name,
            sha256=sha256,
            sender=row.sender or sender,
            status=row.status,
            lines=row.lines_done,
            inserted=row.inserted,
            duplicates=row.duplicates,
            rejected=row.rejected,
            already_done=status == "done",
            resumed_at_line=lines_done if status != "done" else 0,
            seconds=time.perf_counter() - started,
            fast_path=run.fast_path,
            writer=run.writer,
        )
    return result


# --- rejects --------------------------------------------------------------------------------------


def reject_lines(session: Session, batch_id: int) -> Iterator[bytes]:
    """The rejects of an import as NDJSON lines: ``{"line", "errors", "resource"}`` (the resource
    as sent when it was JSON, else the line's text)."""
    for r in repository.rejections(session, batch_id):
        try:
            resource: Any = orjson.loads(r.payload)
        except orjson.JSONDecodeError:
            resource = r.payload
        yield orjson.dumps({"line": r.row_number, "errors": r.errors, "resource": resource}) + b"\n"


def default_rejects_path(path: Path) -> Path:
    """``Observation.ndjson.gz`` → ``Observation.rejects.ndjson``, next to the input."""
    name = path.name
    for suffix in (".gz", ".ndjson", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return path.with_name(f"{name}.rejects.ndjson")


def write_rejects(units: Units, batch_id: int, target: Path) -> int:
    """Write the rejects file from the kept rejections (exact after any crash and resume)."""
    count = 0
    tmp = target.with_name(target.name + ".tmp")
    with units() as session, tmp.open("wb") as fh:
        for line in reject_lines(session, batch_id):
            fh.write(line)
            count += 1
    tmp.replace(target)
    return count


# --- for the HTTP endpoint ------------------------------------------------------------------------


def sender_of(session: Session, principal: Principal) -> str:
    """An HTTP import's sender: the caller's institution code."""
    code = repository.institution_code(session, principal.institution_id) if principal.institution_id else None
    if code is None:
        raise InvalidInput("bulk.error.no_sender")
    return code


def import_of(session: Session, *, principal: Principal, import_id: int) -> BulkImport:
    """An import the caller may see: one of their institution's (the whole district for ALL scope)."""
    principal.require(Permission.RECORD_IMPORT)
    row = session.get(BulkImport, import_id)
    if row is None:
        raise NotFound("bulk.error.not_found", id=import_id)
    if principal.scope != Scope.ALL:
        batch = repository.batch(session, row.batch_id) if row.batch_id else None
        if batch is None or batch.institution_id is None or batch.institution_id != principal.institution_id:
            raise NotFound("bulk.error.not_found", id=import_id)
    return row
