"""Set-based inserts for hot paths (simulator, bulk observations): no per-row ORM objects.

SQLite: ``executemany`` on the driver cursor, one prepared statement for the whole batch.
PostgreSQL: ``COPY … FROM STDIN`` (into a temporary table, then ``INSERT … SELECT … ON CONFLICT
DO NOTHING``, when conflicts must be skipped). Both run inside the caller's transaction, on the session's own connection.

Values must already be in storage form: datetimes as UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``
(see :func:`db_datetime`), dates as ISO text, JSON as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from healthbrain.core.types import SQLITE_DATETIME_FORMAT


def db_datetime(value: datetime) -> str:
    """An aware instant in the text form both databases accept for UTCDateTime columns."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}")
    return value.astimezone(UTC).strftime(SQLITE_DATETIME_FORMAT)


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterable[list[Sequence[Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def bulk_insert(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    skip_conflicts: bool = False,
    chunk_size: int = 50_000,
) -> int:
    """Insert rows (tuples in ``columns`` order); returns how many were inserted.

    With ``skip_conflicts`` a row that collides with a unique key (``source_key``) is skipped,
    which is what makes a resent batch change nothing.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    raw = connection.connection.driver_connection
    names = ", ".join(columns)
    inserted = 0
    if dialect == "sqlite":
        verb = "INSERT OR IGNORE" if skip_conflicts else "INSERT"
        sql = f"{verb} INTO {table.name} ({names}) VALUES ({', '.join('?' for _ in columns)})"
        cursor = raw.cursor()  # type: ignore[union-attr]
        try:
            for chunk in _chunks(rows, chunk_size):
                before = raw.total_changes  # type: ignore[union-attr]
                cursor.executemany(sql, chunk)
                inserted += raw.total_changes - before  # type: ignore[union-attr]
        finally:
            cursor.close()
        return inserted
    if dialect == "postgresql":
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            if skip_conflicts:
                # COPY into a temporary table shaped like the target's columns, then one
                # INSERT … SELECT … ON CONFLICT DO NOTHING: server-side, a resend skipped by the
                # unique keys. Row-by-row executemany was round-trip bound (~5,000 rows/s).
                stage = f"_hb_stage_{table.name}"
                cursor.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "  # noqa: S608 - our own names
                    f"SELECT {names} FROM {table.name} WITH NO DATA"
                )
                cursor.execute(f"TRUNCATE {stage}")
                with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(
                    f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING"  # noqa: S608
                )
                inserted = max(cursor.rowcount, 0)
            else:
                with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        inserted += 1
        return inserted
    raise RuntimeError(f"bulk insert is not supported on {dialect}")


def reset_sequences(session: Session, tables: Iterable[Table]) -> None:
    """After inserting explicit ids on PostgreSQL, move each id sequence past the largest id."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        name = table.name  # our own metadata, never user input
        sql = f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"  # noqa: S608
        connection.exec_driver_sql(sql)
