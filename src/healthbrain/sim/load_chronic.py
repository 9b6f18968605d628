"""Loading the simulated chronic-disease management: enrolments, follow-up forms, referral tasks,
home devices, readings and alerts, set-based (``core.bulk``) with the tables' secondary indexes
dropped for the load and rebuilt after it, as :mod:`healthbrain.sim.load` does for the record."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from healthbrain.chronic.models import (
    ChronicAlert,
    ChronicEnrolment,
    ChronicFollowUp,
    ChronicTask,
    HomeDevice,
    HomeReading,
)
from healthbrain.core.bulk import reset_sequences
from healthbrain.sim.chronic import Management
from healthbrain.sim.load import _insert, _table, indexes_dropped

Progress = Callable[[str, int, int], None]
TABLES: tuple[Any, ...] = (ChronicEnrolment, ChronicFollowUp, ChronicTask, HomeDevice, HomeReading, ChronicAlert)
# SQLite page cache for the load (KiB, as PRAGMA cache_size takes it negative): the foreign-key
# checks and index builds against a district of 1.65 M residents ran about 15 % faster with 1 GiB
# than with the connection's 64 MiB.
LOAD_CACHE_KIB = 1 << 20


@contextmanager
def _large_cache(session: Session) -> Iterator[None]:
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{LOAD_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before or 0)}")


class _Lazy:
    """A column converted to storage form a chunk at a time (millions of timestamps as text would
    cost hundreds of megabytes at once)."""

    def __init__(self, values: np.ndarray, convert: Callable[[np.ndarray], list[Any]]) -> None:
        self.values, self.convert = values, convert

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, part: slice) -> list[Any]:
        return self.convert(self.values[part])


def _instant_text(values: np.ndarray) -> list[Any]:
    text = np.datetime_as_string(values.astype("datetime64[us]"), unit="us").tolist()
    return [None if t == "NaT" else t.replace("T", " ") for t in text]


def _day_text(values: np.ndarray) -> list[Any]:
    text = np.datetime_as_string(values.astype("datetime64[D]"), unit="D").tolist()
    return [None if t == "NaT" else t for t in text]


def _float_or_none(values: np.ndarray) -> list[Any]:
    return [None if v != v else v for v in np.asarray(values, dtype=float).tolist()]


def _int_or_none(values: np.ndarray) -> list[Any]:
    """Integers, with the simulator's -1 for "not recorded" as NULL."""
    return [None if v < 0 else v for v in np.asarray(values, dtype=np.int64).tolist()]


def _instants(values: np.ndarray) -> _Lazy:
    return _Lazy(values, _instant_text)


def _days(values: np.ndarray) -> _Lazy:
    return _Lazy(values, _day_text)


def _floats(values: np.ndarray) -> _Lazy:
    return _Lazy(values, _float_or_none)


def _ids(values: np.ndarray) -> _Lazy:
    """0-based positions → ids (1-based), -1 → NULL."""
    return _Lazy(values, lambda part: _int_or_none(np.where(part >= 0, part + 1, -1)))


def _constant(value: Any, n: int) -> Sequence[Any]:
    return [value] * n


def load_chronic(session: Session, management: Management, *, progress: Progress) -> dict[str, int]:
    """Insert the management tables (ids are the arrays' positions + 1); returns rows per table."""
    counts: dict[str, int] = {}
    with _large_cache(session), indexes_dropped(session, TABLES):
        e = management.enrolments.data
        n = len(management.enrolments)
        counts["chronic_enrolment"] = _insert(
            session,
            ChronicEnrolment,
            (
                "id",
                "resident_id",
                "disease",
                "status",
                "team_id",
                "proposed_at",
                "proposed_reason",
                "enrolled_on",
                "ended_on",
                "end_reason",
                "last_followup_date",
                "last_visit_class",
                "next_followup_date",
                "next_screening_date",
                "risk_tier",
                "version",
            ),
            [
                range(1, n + 1),
                e["resident"] + 1,
                e["disease"],
                e["status"],
                e["team"],
                _instants(e["proposed_at"]),
                e["proposed_reason"],
                _days(e["enrolled_on"]),
                _days(e["ended_on"]),
                e["end_reason"],
                _days(e["last_followup_date"]),
                e["last_visit_class"],
                _days(e["next_followup_date"]),
                _days(e["next_screening_date"]),
                e["risk_tier"],
                _constant(1, n),
            ],
            progress,
            "chronic_enrolment",
        )
        f = management.followups.data
        n = len(management.followups)
        plain = (
            "disease",
            "method",
            "symptoms",
            "dorsalis_pedis",
            "smoking",
            "drinking",
            "exercise",
            "salt",
            "adherence",
            "adverse_reaction",
            "adverse_reaction_uncontrollable",
            "adverse_reaction_text",
            "hypoglycaemia",
            "new_or_worse_complication",
            "complication_text",
            "pregnant_or_lactating",
            "education",
            "medications",
            "visit_class",
            "refer",
            "urgent",
            "reasons",
            "referral_to",
        )
        measured = ("sbp", "dbp", "heart_rate", "weight_kg", "fasting_glucose", "alcohol_g_per_day")
        counted = ("cigarettes_per_day", "exercise_minutes_per_week", "staple_food_g")
        counts["chronic_followup"] = _insert(
            session,
            ChronicFollowUp,
            (
                "id",
                "enrolment_id",
                "resident_id",
                "encounter_id",
                "visit_date",
                "practitioner_id",
                "institution_id",
                "next_date",
                "created_at",
                *plain,
                *measured,
                *counted,
            ),
            [
                range(1, n + 1),
                f["enrolment"] + 1,
                f["resident"] + 1,
                f["encounter"] + 1,
                _days(f["visit_date"]),
                f["practitioner"],
                f["institution"],
                _days(f["next_date"]),
                _instants(f["created_at"]),
                *(f[name] for name in plain),
                *(_floats(f[name]) for name in measured),
                *(_Lazy(f[name], _int_or_none) for name in counted),
            ],
            progress,
            "chronic_followup",
        )
        t = management.tasks.data
        n = len(management.tasks)
        counts["chronic_task"] = _insert(
            session,
            ChronicTask,
            (
                "id",
                "resident_id",
                "enrolment_id",
                "team_id",
                "kind",
                "due_date",
                "status",
                "followup_id",
                "urgent",
                "done_followup_id",
                "done_at",
            ),
            [
                range(1, n + 1),
                t["resident"] + 1,
                t["enrolment"] + 1,
                t["team"],
                _constant("referral_followup", n),
                _days(t["due_date"]),
                t["status"],
                t["followup"] + 1,
                t["urgent"],
                _ids(t["done_followup"]),
                _instants(t["done_at"]),
            ],
            progress,
            "chronic_task",
        )
        d = management.devices.data
        n = len(management.devices)
        counts["home_device"] = _insert(
            session,
            HomeDevice,
            (
                "id",
                "device_id",
                "kind",
                "model",
                "resident_id",
                "team_id",
                "token_hash",
                "bound_at",
                "last_reading_at",
                "last_seen_at",
            ),
            [
                range(1, n + 1),
                d["device_id"],
                d["kind"],
                d["model"],
                d["resident"] + 1,
                d["team"],
                d["token_hash"],
                _instants(d["bound_at"]),
                _instants(d["last_reading_at"]),
                _instants(d["last_seen_at"]),
            ],
            progress,
            "home_device",
        )
        r = management.readings.data
        n = len(management.readings)
        counts["home_reading"] = _insert(
            session,
            HomeReading,
            (
                "id",
                "reading_key",
                "device_pk",
                "resident_id",
                "kind",
                "measured_at",
                "sbp",
                "dbp",
                "heart_rate",
                "glucose",
                "critical",
            ),
            [
                range(1, n + 1),
                r["key"],
                r["device"] + 1,
                r["resident"] + 1,
                r["kind"],
                _instants(r["at"]),
                _floats(r["sbp"]),
                _floats(r["dbp"]),
                _floats(r["heart_rate"]),
                _floats(r["glucose"]),
                r["critical"],
            ],
            progress,
            "home_reading",
        )
        a = management.alerts.data
        n = len(management.alerts)
        counts["chronic_alert"] = _insert(
            session,
            ChronicAlert,
            (
                "id",
                "resident_id",
                "team_id",
                "status",
                "opened_at",
                "first_reading_id",
                "last_reading_id",
                "readings",
                "reasons",
                "handled_at",
                "action",
            ),
            [
                range(1, n + 1),
                a["resident"] + 1,
                a["team"],
                a["status"],
                _instants(a["opened_at"]),
                a["first_reading"] + 1,
                a["last_reading"] + 1,
                a["readings"],
                a["reasons"],
                _instants(a["handled_at"]),
                a["action"],
            ],
            progress,
            "chronic_alert",
        )
    progress("chronic index", 1, 1)
    reset_sequences(session, [_table(m) for m in TABLES])
    return counts
