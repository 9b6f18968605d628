"""Foundation: divisions, institutions, practitioners, teams, residents, the clinical record, auth, audit, simulation runs.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-25 06:49:50.536690
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "division",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("gb2260", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("polygon", sa.Text(), nullable=True),
        sa.Column("centroid_lon", sa.Float(), nullable=True),
        sa.Column("centroid_lat", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["division.id"], name=op.f("fk_division_parent_id_division")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_division")),
        sa.UniqueConstraint("code", name=op.f("uq_division_code")),
    )
    with op.batch_alter_table("division", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_division_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "sim_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("district_code", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column(
            "counts", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_run")),
    )
    op.create_table(
        "household",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("division_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(["division_id"], ["division.id"], name=op.f("fk_household_division_id_division")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
        sa.UniqueConstraint("code", name=op.f("uq_household_code")),
    )
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_household_division_id"), ["division_id"], unique=False)

    op.create_table(
        "institution",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subtype", sa.String(length=32), nullable=True),
        sa.Column("division_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("address", sa.String(length=256), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["division_id"], ["division.id"], name=op.f("fk_institution_division_id_division")),
        sa.ForeignKeyConstraint(["parent_id"], ["institution.id"], name=op.f("fk_institution_parent_id_institution")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institution")),
        sa.UniqueConstraint("code", name=op.f("uq_institution_code")),
    )
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_institution_division_id"), ["division_id"], unique=False)
        batch_op.create_index("ix_institution_kind_division", ["kind", "division_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_institution_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "institution_catchment",
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("division_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["division_id"], ["division.id"], name=op.f("fk_institution_catchment_division_id_division")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_institution_catchment_institution_id_institution")
        ),
        sa.PrimaryKeyConstraint("institution_id", "division_id", name=op.f("pk_institution_catchment")),
    )
    with op.batch_alter_table("institution_catchment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_institution_catchment_division_id"), ["division_id"], unique=False)

    op.create_table(
        "practitioner",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("profession", sa.String(length=24), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_practitioner_institution_id_institution")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioner")),
        sa.UniqueConstraint("code", name=op.f("uq_practitioner_code")),
    )
    with op.batch_alter_table("practitioner", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioner_institution_id"), ["institution_id"], unique=False)

    op.create_table(
        "resident",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("division_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=True),
        sa.Column("household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("relation_to_head", sa.String(length=16), nullable=True),
        sa.Column("disability", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("deceased_date", sa.Date(), nullable=True),
        sa.Column("registered_institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("record_created_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["division_id"], ["division.id"], name=op.f("fk_resident_division_id_division")),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"], name=op.f("fk_resident_household_id_household")),
        sa.ForeignKeyConstraint(["merged_into_id"], ["resident.id"], name=op.f("fk_resident_merged_into_id_resident")),
        sa.ForeignKeyConstraint(
            ["registered_institution_id"],
            ["institution.id"],
            name=op.f("fk_resident_registered_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident")),
    )
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resident_division_status_birth", ["division_id", "status", "birth_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_resident_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resident_id_number"), ["id_number"], unique=True)
        batch_op.create_index(batch_op.f("ix_resident_merged_into_id"), ["merged_into_id"], unique=False)
        batch_op.create_index("ix_resident_name", ["name"], unique=False)
        batch_op.create_index("ix_resident_phone", ["phone"], unique=False)

    op.create_table(
        "school_class",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("school_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["institution.id"], name=op.f("fk_school_class_school_id_institution")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_class")),
        sa.UniqueConstraint("school_id", "grade", "name", name=op.f("uq_school_class_school_id_grade_name")),
    )
    with op.batch_alter_table("school_class", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_school_class_school_id"), ["school_id"], unique=False)

    op.create_table(
        "app_user",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("practitioner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_app_user_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["practitioner.id"], name=op.f("fk_app_user_practitioner_id_practitioner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "care_team",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("home_institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("leader_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["home_institution_id"], ["institution.id"], name=op.f("fk_care_team_home_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["leader_id"], ["practitioner.id"], name=op.f("fk_care_team_leader_id_practitioner")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_team")),
        sa.UniqueConstraint("code", name=op.f("uq_care_team_code")),
    )
    with op.batch_alter_table("care_team", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_team_home_institution_id"), ["home_institution_id"], unique=False)

    op.create_table(
        "encounter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("practitioner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("encounter_class", sa.String(length=16), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason_code", sa.String(length=16), nullable=True),
        sa.Column("reason_text", sa.String(length=256), nullable=True),
        sa.Column("source_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_encounter_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["practitioner.id"], name=op.f("fk_encounter_practitioner_id_practitioner")
        ),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"], name=op.f("fk_encounter_resident_id_resident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encounter")),
    )
    with op.batch_alter_table("encounter", schema=None) as batch_op:
        batch_op.create_index("ix_encounter_institution_start", ["institution_id", "start_at"], unique=False)
        batch_op.create_index("ix_encounter_resident_start", ["resident_id", "start_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_encounter_source_key"), ["source_key"], unique=True)

    op.create_table(
        "medication_statement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("dose", sa.String(length=64), nullable=True),
        sa.Column("frequency", sa.String(length=32), nullable=True),
        sa.Column("route", sa.String(length=32), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_medication_statement_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_medication_statement_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_statement")),
    )
    with op.batch_alter_table("medication_statement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medication_statement_resident_id"), ["resident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_medication_statement_source_key"), ["source_key"], unique=True)

    op.create_table(
        "resident_identifier",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_resident_identifier_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_resident_identifier_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_identifier")),
        sa.UniqueConstraint("system", "value", name=op.f("uq_resident_identifier_system_value")),
    )
    with op.batch_alter_table("resident_identifier", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resident_identifier_institution_id"), ["institution_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resident_identifier_resident_id"), ["resident_id"], unique=False)

    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=24), nullable=True),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("resident_id", sa.BigInteger(), nullable=True),
        sa.Column("object_type", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column(
            "detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_audit_event_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_event_resident_at", ["resident_id", "at"], unique=False)
        batch_op.create_index("ix_audit_event_user_at", ["user_id", "at"], unique=False)

    op.create_table(
        "auth_session",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_auth_session_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_session_token_hash")),
    )
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "care_team_community",
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("division_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["division_id"], ["division.id"], name=op.f("fk_care_team_community_division_id_division")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["care_team.id"], name=op.f("fk_care_team_community_team_id_care_team")),
        sa.PrimaryKeyConstraint("team_id", "division_id", name=op.f("pk_care_team_community")),
    )
    with op.batch_alter_table("care_team_community", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_team_community_division_id"), ["division_id"], unique=False)

    op.create_table(
        "care_team_member",
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("practitioner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["practitioner.id"], name=op.f("fk_care_team_member_practitioner_id_practitioner")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["care_team.id"], name=op.f("fk_care_team_member_team_id_care_team")),
        sa.PrimaryKeyConstraint("team_id", "practitioner_id", name=op.f("pk_care_team_member")),
    )
    with op.batch_alter_table("care_team_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_team_member_practitioner_id"), ["practitioner_id"], unique=False)

    op.create_table(
        "condition",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("display", sa.String(length=128), nullable=True),
        sa.Column("clinical_status", sa.String(length=16), nullable=False),
        sa.Column("onset_date", sa.Date(), nullable=True),
        sa.Column("abatement_date", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("encounter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("source_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["encounter_id"], ["encounter.id"], name=op.f("fk_condition_encounter_id_encounter")),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_condition_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"], name=op.f("fk_condition_resident_id_resident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_condition")),
    )
    with op.batch_alter_table("condition", schema=None) as batch_op:
        batch_op.create_index("ix_condition_code_resident", ["code", "resident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_condition_resident_id"), ["resident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_condition_source_key"), ["source_key"], unique=True)

    op.create_table(
        "ingest_batch",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("batch_key", sa.String(length=160), nullable=True),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_ingest_batch_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_ingest_batch_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batch")),
        sa.UniqueConstraint("batch_key", name=op.f("uq_ingest_batch_batch_key")),
    )
    op.create_table(
        "observation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("encounter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(length=256), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["encounter_id"], ["encounter.id"], name=op.f("fk_observation_encounter_id_encounter")),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_observation_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"], name=op.f("fk_observation_resident_id_resident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation")),
    )
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observation_encounter_id"), ["encounter_id"], unique=False)
        batch_op.create_index(
            "ix_observation_resident_code_time", ["resident_id", "code", "effective_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_observation_source_key"), ["source_key"], unique=True)

    op.create_table(
        "physical_exam",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("encounter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("exam_date", sa.Date(), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("practitioner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("symptoms", sa.Text(), nullable=True),
        sa.Column("smoking", sa.String(length=16), nullable=True),
        sa.Column("drinking", sa.String(length=16), nullable=True),
        sa.Column("exercise", sa.String(length=16), nullable=True),
        sa.Column("diet", sa.String(length=32), nullable=True),
        sa.Column("conclusion", sa.String(length=16), nullable=True),
        sa.Column(
            "abnormalities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "guidance", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("source_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"], ["encounter.id"], name=op.f("fk_physical_exam_encounter_id_encounter")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_physical_exam_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["practitioner.id"], name=op.f("fk_physical_exam_practitioner_id_practitioner")
        ),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"], name=op.f("fk_physical_exam_resident_id_resident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_physical_exam")),
        sa.UniqueConstraint("encounter_id", name=op.f("uq_physical_exam_encounter_id")),
    )
    with op.batch_alter_table("physical_exam", schema=None) as batch_op:
        batch_op.create_index("ix_physical_exam_resident_date", ["resident_id", "exam_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_physical_exam_source_key"), ["source_key"], unique=True)

    op.create_table(
        "resident_merge",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("survivor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merged_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "moved", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unmerged_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("unmerge_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_by_id"], ["app_user.id"], name=op.f("fk_resident_merge_merged_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(["merged_id"], ["resident.id"], name=op.f("fk_resident_merge_merged_id_resident")),
        sa.ForeignKeyConstraint(["survivor_id"], ["resident.id"], name=op.f("fk_resident_merge_survivor_id_resident")),
        sa.ForeignKeyConstraint(
            ["unmerged_by_id"], ["app_user.id"], name=op.f("fk_resident_merge_unmerged_by_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_merge")),
    )
    with op.batch_alter_table("resident_merge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resident_merge_merged_id"), ["merged_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resident_merge_survivor_id"), ["survivor_id"], unique=False)

    op.create_table(
        "ingest_rejection",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "errors", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batch.id"], name=op.f("fk_ingest_rejection_batch_id_ingest_batch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_rejection")),
    )
    with op.batch_alter_table("ingest_rejection", schema=None) as batch_op:
        batch_op.create_index("ix_ingest_rejection_batch_row", ["batch_id", "row_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingest_rejection", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_rejection_batch_row")

    op.drop_table("ingest_rejection")
    with op.batch_alter_table("resident_merge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_merge_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_resident_merge_merged_id"))

    op.drop_table("resident_merge")
    with op.batch_alter_table("physical_exam", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_physical_exam_source_key"))
        batch_op.drop_index("ix_physical_exam_resident_date")

    op.drop_table("physical_exam")
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observation_source_key"))
        batch_op.drop_index("ix_observation_resident_code_time")
        batch_op.drop_index(batch_op.f("ix_observation_encounter_id"))

    op.drop_table("observation")
    op.drop_table("ingest_batch")
    with op.batch_alter_table("condition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_condition_source_key"))
        batch_op.drop_index(batch_op.f("ix_condition_resident_id"))
        batch_op.drop_index("ix_condition_code_resident")

    op.drop_table("condition")
    with op.batch_alter_table("care_team_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_team_member_practitioner_id"))

    op.drop_table("care_team_member")
    with op.batch_alter_table("care_team_community", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_team_community_division_id"))

    op.drop_table("care_team_community")
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_session_user_id"))

    op.drop_table("auth_session")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_user_at")
        batch_op.drop_index("ix_audit_event_resident_at")
        batch_op.drop_index("ix_audit_event_at")

    op.drop_table("audit_event")
    with op.batch_alter_table("resident_identifier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_identifier_resident_id"))
        batch_op.drop_index(batch_op.f("ix_resident_identifier_institution_id"))

    op.drop_table("resident_identifier")
    with op.batch_alter_table("medication_statement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medication_statement_source_key"))
        batch_op.drop_index(batch_op.f("ix_medication_statement_resident_id"))

    op.drop_table("medication_statement")
    with op.batch_alter_table("encounter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_encounter_source_key"))
        batch_op.drop_index("ix_encounter_resident_start")
        batch_op.drop_index("ix_encounter_institution_start")

    op.drop_table("encounter")
    with op.batch_alter_table("care_team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_team_home_institution_id"))

    op.drop_table("care_team")
    op.drop_table("app_user")
    with op.batch_alter_table("school_class", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_school_class_school_id"))

    op.drop_table("school_class")
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_index("ix_resident_phone")
        batch_op.drop_index("ix_resident_name")
        batch_op.drop_index(batch_op.f("ix_resident_merged_into_id"))
        batch_op.drop_index(batch_op.f("ix_resident_id_number"))
        batch_op.drop_index(batch_op.f("ix_resident_household_id"))
        batch_op.drop_index("ix_resident_division_status_birth")

    op.drop_table("resident")
    with op.batch_alter_table("practitioner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioner_institution_id"))

    op.drop_table("practitioner")
    with op.batch_alter_table("institution_catchment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_institution_catchment_division_id"))

    op.drop_table("institution_catchment")
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_institution_parent_id"))
        batch_op.drop_index("ix_institution_kind_division")
        batch_op.drop_index(batch_op.f("ix_institution_division_id"))

    op.drop_table("institution")
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_division_id"))

    op.drop_table("household")
    op.drop_table("sim_run")
    with op.batch_alter_table("division", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_division_parent_id"))

    op.drop_table("division")
