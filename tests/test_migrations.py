"""Migrations: the models and the Alembic history describe the same schema, and it round-trips."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from healthbrain.db import make_engine
from healthbrain.migrations.runner import current_revision, downgrade, upgrade
from healthbrain.models import Base

HEAD = "0005_records"


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_naming_convention_applies(engine: Engine) -> None:
    indexes = {i["name"] for i in inspect(engine).get_indexes("observation")}
    assert "ix_observation_resident_code_time" in indexes
    fks = {fk["name"] for fk in inspect(engine).get_foreign_keys("observation")}
    assert "fk_observation_resident_id_resident" in fks


def test_upgrade_downgrade_round_trip(scratch_url: str) -> None:
    scratch = make_engine(scratch_url)
    upgrade(scratch)
    assert current_revision(scratch) == HEAD
    downgrade(scratch, "base")
    assert current_revision(scratch) is None
    assert inspect(scratch).get_table_names() == ["alembic_version"]
    scratch.dispose()
