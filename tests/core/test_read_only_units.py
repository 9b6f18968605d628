"""Read-only units of work: on SQLite a GET marked read-only reads beside a writer that holds the
write lock (WAL), refuses to write, and leaves its pooled connection writable for the next one."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from healthbrain.app import create_app
from healthbrain.db import Database
from healthbrain.migrations.runner import upgrade
from tests.conftest import TEST_DATABASE_URL, bearer
from tests.factories import build_world


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's write lock; PostgreSQL readers never wait")
def test_a_read_only_request_is_not_queued_behind_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "ro.sqlite3"
    database = Database(f"sqlite:///{path}")
    upgrade(database.engine)
    with database.unit_of_work() as session:
        world = build_world(session)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
    try:
        with TestClient(create_app(database)) as client:
            started = time.perf_counter()
            answer = client.get("/api/v1/chronic/worklist", headers=bearer(world, "doctor_a1"))
            assert answer.status_code == 200, answer.text
            assert time.perf_counter() - started < 5  # a writable unit of work would wait 30 s
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with pytest.raises(OperationalError, match="readonly"), database.unit_of_work(read_only=True) as session:
        session.execute(text("UPDATE app_user SET display_name = display_name"))
    # The same pooled connection serves a writer next, and may write.
    with database.unit_of_work() as session:
        session.execute(text("UPDATE app_user SET display_name = display_name"))
    database.dispose()
