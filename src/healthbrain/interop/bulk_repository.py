"""Every query of the bulk NDJSON importer: its checkpoints, and the set-based lookups that resolve
a chunk's references (one query per chunk, not per line)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from healthbrain.geo.models import Institution
from healthbrain.interop.models import BulkImport
from healthbrain.records.models import Encounter, IngestBatch, IngestRejection

_IN_SIZE = 5_000  # values per IN (…) list: well under SQLite's and PostgreSQL's parameter limits


def _slices(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _IN_SIZE):
        yield values[start : start + _IN_SIZE]


def import_by_digest(session: Session, sha256: str) -> BulkImport | None:
    return session.scalar(select(BulkImport).where(BulkImport.file_sha256 == sha256))


def import_for_update(session: Session, import_id: int) -> BulkImport | None:
    """The import's row, locked for the chunk's transaction (PostgreSQL; SQLite's write lock is
    already the database's), so that two runs of the same file cannot both take a chunk."""
    return session.scalar(select(BulkImport).where(BulkImport.id == import_id).with_for_update())


def institution(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def institution_code(session: Session, institution_id: int) -> str | None:
    return session.scalar(select(Institution.code).where(Institution.id == institution_id))


# Plain text statements with one expanding parameter: a chunk looks up thousands of values, and
# building an ORM IN (…) of 20,000 literals costs more than the query.
_ALIASES = text("SELECT value, resident_id FROM resident_identifier WHERE system = :system AND value IN :values")
_ALIASES = _ALIASES.bindparams(bindparam("values", expanding=True))
_ALL_ALIASES = text("SELECT value, resident_id FROM resident_identifier WHERE system = :system")
_STATES = text("SELECT id, merged_into_id, status FROM resident WHERE id IN :ids")
_STATES = _STATES.bindparams(bindparam("ids", expanding=True))
_WHOLE_SYSTEM_ABOVE = 2_000  # more ids wanted than this: read the sender's whole alias system once


def alias_owners(session: Session, system: str, values: Sequence[str]) -> dict[str, int]:
    """{sender's Patient id: resident id} for the ids kept as identifiers in ``system``."""
    if len(values) > _WHOLE_SYSTEM_ABOVE:
        return {value: rid for value, rid in session.execute(_ALL_ALIASES, {"system": system})}
    out: dict[str, int] = {}
    for part in _slices(values):
        rows = session.execute(_ALIASES, {"system": system, "values": list(part)})
        out.update({value: rid for value, rid in rows})
    return out


def residents_state(session: Session, ids: Iterable[int]) -> dict[int, tuple[int | None, str]]:
    """{resident id: (merged into, status)} of the residents that exist."""
    out: dict[int, tuple[int | None, str]] = {}
    for part in _slices(sorted(set(ids))):
        rows = session.execute(_STATES, {"ids": list(part)})
        out.update({rid: (merged, status) for rid, merged, status in rows})
    return out


def encounters_by_key(session: Session, source_keys: Sequence[str]) -> dict[str, tuple[int, int]]:
    """{source_key: (encounter id, resident id)}."""
    out: dict[str, tuple[int, int]] = {}
    for part in _slices(source_keys):
        rows = session.execute(
            select(Encounter.source_key, Encounter.id, Encounter.resident_id).where(Encounter.source_key.in_(part))
        )
        out.update({key: (eid, rid) for key, eid, rid in rows if key is not None})
    return out


def encounters_by_id(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """{encounter id: resident id}."""
    out: dict[int, int] = {}
    for part in _slices(ids):
        rows = session.execute(select(Encounter.id, Encounter.resident_id).where(Encounter.id.in_(part)))
        out.update(dict(rows))
    return out


def advance(session: Session, import_id: int, *, lines: int, nbytes: int, counts: dict[str, int]) -> None:
    """Move the checkpoint past a chunk (in the chunk's own transaction)."""
    session.execute(
        update(BulkImport)
        .where(BulkImport.id == import_id)
        .values(
            lines_done=BulkImport.lines_done + lines,
            bytes_done=BulkImport.bytes_done + nbytes,
            inserted=BulkImport.inserted + counts["inserted"],
            duplicates=BulkImport.duplicates + counts["duplicates"],
            rejected=BulkImport.rejected + counts["rejected"],
        )
        .execution_options(synchronize_session=False)
    )


def add_to_batch(session: Session, batch_id: int, *, received: int, counts: dict[str, int]) -> None:
    session.execute(
        update(IngestBatch)
        .where(IngestBatch.id == batch_id)
        .values(
            received=IngestBatch.received + received,
            inserted=IngestBatch.inserted + counts["inserted"],
            duplicates=IngestBatch.duplicates + counts["duplicates"],
            rejected=IngestBatch.rejected + counts["rejected"],
        )
        .execution_options(synchronize_session=False)
    )


def rejections(session: Session, batch_id: int) -> Iterator[IngestRejection]:
    """The batch's rejected lines, in file order, streamed."""
    yield from session.scalars(
        select(IngestRejection)
        .where(IngestRejection.batch_id == batch_id)
        .order_by(IngestRejection.row_number, IngestRejection.id)
        .execution_options(yield_per=2_000)
    )


def batch(session: Session, batch_id: int) -> IngestBatch | None:
    return session.get(IngestBatch, batch_id)
