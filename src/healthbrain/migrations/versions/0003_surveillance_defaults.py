"""Data: the default detector settings of the early-warning system and the log channel.

Revision ID: 0003_surveillance_defaults
Revises: 0002_surveillance
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from healthbrain.surveillance.defaults import DEFAULTS_V1

revision: str = "0003_surveillance_defaults"
down_revision: str | None = "0002_surveillance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_detector = sa.table(
    "surv_detector",
    sa.column("code", sa.String),
    sa.column("name_zh", sa.String),
    sa.column("name_en", sa.String),
    sa.column("signal", sa.String),
    sa.column("place_kind", sa.String),
    sa.column("place_id", sa.BigInteger),
    sa.column("method", sa.String),
    sa.column("params", sa.JSON),
    sa.column("interval", sa.String),
    sa.column("grade", sa.String),
    sa.column("response_hours", sa.Float),
    sa.column("report_hours", sa.Float),
    sa.column("source", sa.Text),
    sa.column("enabled", sa.Boolean),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_channel = sa.table(
    "surv_channel",
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("min_grade", sa.String),
    sa.column("enabled", sa.Boolean),
)


def upgrade() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # UTCDateTime stores naive UTC text on SQLite
    op.bulk_insert(
        _detector,
        [
            {
                "code": d.code,
                "name_zh": d.name_zh,
                "name_en": d.name_en,
                "signal": d.signal,
                "place_kind": d.place_kind,
                "place_id": None,
                "method": d.method,
                "params": d.params,
                "interval": d.interval,
                "grade": d.grade,
                "response_hours": d.response_hours,
                "report_hours": d.report_hours,
                "source": d.source,
                "enabled": True,
                "updated_at": now,
            }
            for d in DEFAULTS_V1
        ],
    )
    op.bulk_insert(_channel, [{"name": "log", "kind": "log", "min_grade": "blue", "enabled": True}])


def downgrade() -> None:
    op.execute(_channel.delete().where(_channel.c.name == "log"))
    op.execute(_detector.delete().where(_detector.c.code.in_([d.code for d in DEFAULTS_V1])))
