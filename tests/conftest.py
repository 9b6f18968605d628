"""Test fixtures: a real database (SQLite by default; PostgreSQL when HEALTHBRAIN_TEST_DATABASE_URL
points at one), migrated by Alembic, with a small committed world; each test runs inside a
transaction that is rolled back."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from healthbrain.app import create_app
from healthbrain.config import normalise_database_url
from healthbrain.db import Database, make_engine
from healthbrain.migrations.runner import upgrade
from tests.factories import World, build_world

TEST_DATABASE_URL = os.environ.get("HEALTHBRAIN_TEST_DATABASE_URL")


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    """The suite's database. On PostgreSQL the first worker uses the given database and each
    further xdist worker a sibling database of its own (``test_gw1`` …), created here."""
    if not TEST_DATABASE_URL:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    base = make_url(normalise_database_url(TEST_DATABASE_URL))
    if worker_id not in ("master", "gw0"):
        name = f"{base.database}_{worker_id}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        base = base.set(database=name)
    url = base.render_as_string(hide_password=False)
    reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def world(engine: Engine) -> World:
    with Session(engine) as session:
        built = build_world(session)
        session.commit()
    return built


@pytest.fixture
def connection(engine: Engine, world: World) -> Iterator[Connection]:
    connection = engine.connect()
    transaction = connection.begin()
    yield connection
    transaction.rollback()
    connection.close()


@pytest.fixture
def db(connection: Connection) -> Database:
    return Database.bound_to(connection)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.sessionmaker() as session:
        yield session


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db)) as test_client:
        yield test_client


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, on the same kind of server as the suite runs on."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    base = make_url(normalise_database_url(TEST_DATABASE_URL))
    name = f"hb_scratch_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def bearer(world: World, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[username]}"}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
