"""The simulated chronic-disease management: plausible, consistent with the record and with the
domain's own rules (classification, risk tier, reading keys, alerts), reproducible."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from sqlalchemy import select, text

from healthbrain.chronic import facts, home
from healthbrain.chronic.classify import VisitFacts, classify
from healthbrain.chronic.definitions import Disease, ReadingKind, Symptom, VisitClass
from healthbrain.chronic.models import ChronicAlert, ChronicEnrolment, ChronicFollowUp, ChronicTask, HomeDevice
from healthbrain.chronic.readings import ingest_readings, token_hash
from healthbrain.chronic.risk import RiskFacts, risk_tier
from healthbrain.chronic.schemas import ReadingIn
from healthbrain.core.time import SHANGHAI, age_on
from healthbrain.db import Database
from healthbrain.migrations.runner import upgrade
from healthbrain.people.models import Resident
from healthbrain.records import codes
from healthbrain.records.models import MedicationStatement
from healthbrain.sim import chronic_rules, history, home_monitoring, institutions, population
from healthbrain.sim.chronic import Management
from healthbrain.sim.demo import demo_devices
from healthbrain.sim.service import District, build_district, simulate

AS_OF = date(2026, 11, 25)
RESIDENTS = 8_000
SEED = 5
START_OF_DAY = datetime.combine(AS_OF, time.min, tzinfo=SHANGHAI)


def _management(seed: int, residents: int = RESIDENTS) -> tuple[District, history.History, Management]:
    district = build_district(seed=seed, residents=residents, as_of=AS_OF)
    _district_id, _towns, community_ids = institutions.division_ids(district.geo)
    care = history.build(
        district.streams[3],
        ages=district.ages,
        male=district.population.male,
        birth=district.population.birth,
        community=district.population.community,
        directory=district.directory,
        community_division_ids=community_ids,
        as_of=AS_OF,
        history_days=365,
    )
    return district, care, district.management(care, as_of=AS_OF, history_days=365, reading_days=30)


@pytest.fixture(scope="module")
def generated() -> tuple[District, history.History, Management]:
    return _management(SEED)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('chronic') / 'sim.sqlite3'}")
    upgrade(db.engine)
    # The set-based load alone (the recent feeds through the ingestion paths: test_record_feeds.py).
    simulate(db, residents=RESIDENTS, seed=SEED, as_of=AS_OF, feed_days=0, record_feed_days=0)
    return db


# --- the arrays ---------------------------------------------------------------------------------------
def test_counts_and_shares_are_plausible(generated: tuple[District, history.History, Management]) -> None:
    district, care, m = generated
    managed_age = district.ages >= 35
    e = m.enrolments.data
    assert len(m.enrolments) == int((care.hypertension & managed_age).sum() + (care.diabetes & managed_age).sum())
    status = Counter(e["status"].tolist())
    assert status["proposed"] / len(m.enrolments) == pytest.approx(0.03, abs=0.015)
    assert status["ended"] / len(m.enrolments) == pytest.approx(0.02, abs=0.012)
    # About four forms a year per enrolment on a path (BPHS quarterly, 85 % done).
    on_path = status["enrolled"] + status["ended"]
    assert 3.0 < len(m.followups) / on_path < 3.8
    htn_enrolled = int(((e["disease"] == "htn") & (e["status"] == "enrolled")).sum())
    dm_enrolled = int(((e["disease"] == "t2dm") & (e["status"] == "enrolled")).sum())
    kinds = Counter(m.devices.data["kind"].tolist())
    assert kinds["bp"] / htn_enrolled == pytest.approx(0.15, abs=0.03)
    assert kinds["glucose"] / dm_enrolled == pytest.approx(0.10, abs=0.04)
    screening = e["next_screening_date"][e["status"] == "enrolled"]
    assert (screening < np.datetime64(AS_OF)).mean() == pytest.approx(0.2, abs=0.04)
    tiers = Counter(e["risk_tier"][(e["disease"] == "htn") & (e["status"] != "proposed")].tolist())
    assert all(tiers[t] > 0 for t in ("low", "medium", "high", "very_high"))
    readings = Counter(m.readings.data["kind"].tolist())
    assert 25 < readings["bp"] / kinds["bp"] < 60  # about 1.4 a day over 30 days, less for silent devices
    assert 8 < readings["glucose"] / kinds["glucose"] < 25  # 3–7 a week
    assert len(m.device_tokens) == 3


def test_same_seed_same_management_other_seed_other() -> None:
    _d1, _c1, a = _management(9, 3_000)
    _d2, _c2, b = _management(9, 3_000)
    _d3, _c3, c = _management(10, 3_000)
    for table in ("enrolments", "followups", "tasks", "devices", "readings", "alerts"):
        ta, tb = getattr(a, table).data, getattr(b, table).data
        assert ta.keys() == tb.keys()
        for name in ta:
            assert np.array_equal(ta[name], tb[name], equal_nan=ta[name].dtype.kind in "fM"), (table, name)
    assert a.device_tokens == b.device_tokens
    assert not np.array_equal(a.readings.data["key"], c.readings.data["key"])


def test_the_new_stream_leaves_the_others_as_they_were() -> None:
    """The chronic stream is a ninth child of the seed (and contracts a tenth): the population and
    the history come out of the first eight exactly as they did when there were eight."""
    district = build_district(seed=SEED, residents=1_500, as_of=AS_OF)
    assert len(district.streams) == 10
    eight = [np.random.default_rng(s) for s in np.random.SeedSequence(SEED).spawn(8)]
    weights = np.array([c.weight for c in district.geo.communities])
    before = population.build(eight[1], 1_500, weights, AS_OF)
    assert np.array_equal(before.id_number, district.population.id_number)
    _district_id, _towns, community_ids = institutions.division_ids(district.geo)

    def care(rng: np.random.Generator) -> history.History:
        return history.build(
            rng,
            ages=district.ages,
            male=district.population.male,
            birth=district.population.birth,
            community=district.population.community,
            directory=district.directory,
            community_division_ids=community_ids,
            as_of=AS_OF,
            history_days=365,
        )

    ours, theirs = care(district.streams[3]), care(eight[3])
    for name in ("resident", "code", "value", "at"):
        assert np.array_equal(ours.observations.data[name], theirs.observations.data[name]), name


def test_age_on_over_arrays() -> None:
    rng = np.random.default_rng(1)
    birth = np.datetime64("1930-01-01") + rng.integers(0, 30_000, 3_000).astype("timedelta64[D]")
    on = np.datetime64("2020-01-01") + rng.integers(0, 2_500, 3_000).astype("timedelta64[D]")
    birth[:3] = np.datetime64("1952-02-29")
    on[:3] = [np.datetime64("2025-02-28"), np.datetime64("2025-03-01"), np.datetime64("2024-02-29")]
    got = chronic_rules.age_on(birth, on)
    for b, o, a in zip(birth.tolist(), on.tolist(), got.tolist(), strict=True):
        assert a == age_on(b, o)


def test_classification_over_arrays_is_classify() -> None:
    rng = np.random.default_rng(2)
    n = 4_000
    hypertension = rng.random(n) < 0.5
    sbp = np.round(rng.uniform(100, 200, n))
    dbp = np.round(rng.uniform(55, 120, n))
    hr = np.round(rng.uniform(50, 120, n))
    glucose = np.round(rng.uniform(2.5, 20, n), 1)
    for values in (sbp, dbp, hr, glucose):
        values[rng.random(n) < 0.1] = np.nan
    sbp[:4], dbp[:4], glucose[:4] = [180, 179, 140, 150], [110, 90, 89, 89], [16.7, 3.9, 7.0, 6.9]
    age = rng.integers(35, 95, n)
    symptom = rng.choice([s.value for s in Symptom], n)
    from healthbrain.chronic.definitions import URGENT_SYMPTOMS

    urgent_symptom = np.array(
        [
            Symptom(s) in URGENT_SYMPTOMS[Disease.HYPERTENSION if h else Disease.DIABETES]
            for s, h in zip(symptom, hypertension, strict=True)
        ]
    )
    adverse, uncontrollable, complication = (rng.random(n) < p for p in (0.2, 0.5, 0.1))
    pregnant = rng.random(n) < 0.05
    previous = rng.choice([None, *VisitClass], n)
    day = np.datetime64("2026-06-01") + rng.integers(0, 100, n).astype("timedelta64[D]")
    got = chronic_rules.classify_arrays(
        hypertension=hypertension,
        visit_date=day,
        age=age,
        sbp=sbp,
        dbp=dbp,
        heart_rate=hr,
        glucose=glucose,
        urgent_symptom=urgent_symptom,
        adverse=adverse,
        uncontrollable=uncontrollable,
        complication=complication,
        pregnant=pregnant,
        previous_uncontrolled=previous == VisitClass.UNCONTROLLED,
    )

    def maybe(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    for i in range(n):
        want = classify(
            VisitFacts(
                disease=Disease.HYPERTENSION if hypertension[i] else Disease.DIABETES,
                visit_date=day[i].item(),
                age=int(age[i]),
                sbp=maybe(sbp[i]),
                dbp=maybe(dbp[i]),
                heart_rate=maybe(hr[i]),
                fasting_glucose=maybe(glucose[i]),
                symptoms=frozenset({Symptom(symptom[i])}) - {Symptom.NONE},
                adverse_reaction=bool(adverse[i]),
                adverse_reaction_uncontrollable=bool(uncontrollable[i]),
                new_or_worse_complication=bool(complication[i]),
                pregnant_or_lactating=bool(pregnant[i]),
                previous_class=previous[i],
            )
        )
        assert chronic_rules.VISIT_CLASSES[got.visit_class[i]] == want.visit_class, i
        assert (bool(got.refer[i]), bool(got.urgent[i])) == (want.refer, want.urgent), i
        assert got.next_date[i].item() == want.next_date, i
        # A symptom that is not urgent for the form's disease gives no reason; the bit says so.
        reasons = chronic_rules.reason_list(int(got.reasons[i]), str(symptom[i]), bool(hypertension[i]))
        assert tuple(reasons) == want.reasons, i


def test_risk_tiers_over_arrays_are_risk_tier() -> None:
    rng = np.random.default_rng(3)
    n = 4_000
    sbp = np.round(rng.uniform(110, 200, n))
    dbp = np.round(rng.uniform(60, 120, n))
    sbp[rng.random(n) < 0.1] = np.nan
    dbp[rng.random(n) < 0.1] = np.nan
    flags = {k: rng.random(n) < p for k, p in [
        ("male", 0.5), ("smoking", 0.3), ("impaired_glucose", 0.1), ("dyslipidaemia", 0.2),
        ("abdominal_obesity", 0.3), ("diabetes", 0.2), ("diabetes_with_complications", 0.05), ("clinical_cvd", 0.05),
        ("family_history", 0.1), ("high_homocysteine", 0.1), ("target_organ_damage", 0.1),
    ]}  # fmt: skip
    age = rng.integers(35, 95, n)
    ckd = rng.choice([0, 0, 0, 1, 2, 3, 4, 5], n)
    got = chronic_rules.risk_tiers(sbp=sbp, dbp=dbp, age=age, ckd_stage=ckd, **flags)
    for i in range(n):
        tier, _reasons = risk_tier(
            RiskFacts(
                sbp=None if np.isnan(sbp[i]) else float(sbp[i]),
                dbp=None if np.isnan(dbp[i]) else float(dbp[i]),
                age=int(age[i]),
                male=bool(flags["male"][i]),
                smoking=bool(flags["smoking"][i]),
                impaired_glucose=bool(flags["impaired_glucose"][i]),
                dyslipidaemia=bool(flags["dyslipidaemia"][i]),
                family_history_premature_cvd=bool(flags["family_history"][i]),
                abdominal_obesity=bool(flags["abdominal_obesity"][i]),
                high_homocysteine=bool(flags["high_homocysteine"][i]),
                target_organ_damage=bool(flags["target_organ_damage"][i]),
                ckd_stage=int(ckd[i]) or None,
                diabetes=bool(flags["diabetes"][i]),
                diabetes_with_complications=bool(flags["diabetes_with_complications"][i]),
                clinical_cvd=bool(flags["clinical_cvd"][i]),
            )
        )
        assert got[i] == (tier.value if tier is not None else None), i


def test_reading_payloads_are_what_the_api_takes() -> None:
    devices = home_monitoring.payload_devices(50, glucose_share=0.2)
    first = list(home_monitoring.reading_payloads(devices, days=7, end=AS_OF, seed=4, block=20))
    again = list(home_monitoring.reading_payloads(devices, days=7, end=AS_OF, seed=4, block=20))
    assert first == again
    kinds = Counter(p["kind"] for p in first)
    assert 40 * 7 * 0.9 < kinds["bp"] < 40 * 7 * 3 and 10 * 3 <= kinds["glucose"] <= 10 * 7
    known = dict(devices)
    now = START_OF_DAY
    for payload in first:
        item = ReadingIn.model_validate(payload)
        assert payload["measured_at"].endswith("+08:00")
        assert item.device_id is not None and known[item.device_id] == item.kind.value
        values = home.ReadingValues(item.kind, item.measured_at, item.sbp, item.dbp, item.heart_rate, item.glucose)
        assert home.plausibility_errors(values, now=now) == []
        assert AS_OF - timedelta(days=7) <= item.measured_at.date() < AS_OF


# --- the database --------------------------------------------------------------------------------------
def test_forms_equal_the_observations_of_their_visit(database: Database) -> None:
    pairs = {
        "sbp": codes.SYSTOLIC_BP,
        "dbp": codes.DIASTOLIC_BP,
        "heart_rate": codes.HEART_RATE,
        "weight_kg": codes.BODY_WEIGHT,
        "fasting_glucose": codes.GLUCOSE_FASTING,
    }
    with database.sessionmaker() as session:
        for column, code in pairs.items():
            mismatches = session.scalar(
                text(
                    f"SELECT COUNT(*) FROM chronic_followup f LEFT JOIN observation o"  # noqa: S608 — fixed names
                    f" ON o.encounter_id = f.encounter_id AND o.code = :code"
                    f" WHERE f.{column} IS NOT o.value_num AND NOT (f.disease = 'htn' AND :column = 'fasting_glucose')"
                ),
                {"code": code, "column": column},
            )
            assert mismatches == 0, column
        # Every form sits on a follow-up encounter of its resident, on the encounter's local day.
        wrong = session.scalar(
            text(
                "SELECT COUNT(*) FROM chronic_followup f JOIN encounter e ON e.id = f.encounter_id"
                " WHERE e.resident_id != f.resident_id OR e.encounter_class != 'followup'"
                " OR date(e.start_at, '+8 hours') != f.visit_date OR e.practitioner_id IS NOT f.practitioner_id"
            )
        )
        assert wrong == 0
        # Every follow-up encounter of a patient on a path has its form(s).
        orphans = session.scalar(
            text(
                "SELECT COUNT(*) FROM encounter e WHERE e.encounter_class = 'followup' AND NOT EXISTS"
                " (SELECT 1 FROM chronic_followup f WHERE f.encounter_id = e.id) AND EXISTS"
                " (SELECT 1 FROM chronic_enrolment c WHERE c.resident_id = e.resident_id AND c.status != 'proposed')"
            )
        )
        assert orphans == 0
        fasting = session.scalar(
            text("SELECT COUNT(*) FROM observation WHERE code = :code"), {"code": codes.GLUCOSE_CAPILLARY}
        )
        assert fasting == 0  # the follow-ups record fasting glucose, as the form does
        # The form's medication list is the record's medications for that disease.
        drugs: dict[tuple[int, str], list[dict[str, str | None]]] = defaultdict(list)
        for resident_id, atc, name, dose, frequency in session.execute(
            select(MedicationStatement.resident_id, MedicationStatement.code, MedicationStatement.name,
                   MedicationStatement.dose, MedicationStatement.frequency).order_by(MedicationStatement.id)
        ):  # fmt: skip
            disease = "htn" if atc.startswith("C") else "t2dm"
            drugs[(resident_id, disease)].append({"name": name, "dose": dose, "frequency": frequency})
        for resident_id, disease, listed in session.execute(
            select(ChronicFollowUp.resident_id, ChronicFollowUp.disease, ChronicFollowUp.medications)
        ):
            assert listed == drugs.get((resident_id, disease), [])


def test_stored_forms_classify_as_classify_does(database: Database) -> None:
    with database.sessionmaker() as session:
        forms = session.scalars(
            select(ChronicFollowUp).order_by(
                ChronicFollowUp.enrolment_id, ChronicFollowUp.visit_date, ChronicFollowUp.id
            )
        ).all()
        births = dict(session.execute(select(Resident.id, Resident.birth_date)).all())
    previous: dict[int, ChronicFollowUp] = {}
    checked = 0
    rng = random.Random(1)
    for f in forms:
        before = previous.get(f.enrolment_id)
        previous[f.enrolment_id] = f
        if rng.random() > 0.1 and not f.refer:
            continue
        want = classify(
            VisitFacts(
                disease=Disease(f.disease),
                visit_date=f.visit_date,
                age=age_on(births[f.resident_id], f.visit_date),
                sbp=f.sbp,
                dbp=f.dbp,
                heart_rate=f.heart_rate,
                fasting_glucose=f.fasting_glucose,
                symptoms=frozenset(Symptom(s) for s in f.symptoms),
                adverse_reaction=f.adverse_reaction,
                adverse_reaction_uncontrollable=f.adverse_reaction_uncontrollable,
                new_or_worse_complication=f.new_or_worse_complication,
                pregnant_or_lactating=f.pregnant_or_lactating,
                previous_class=VisitClass(before.visit_class) if before else None,
            )
        )
        got = (f.visit_class, f.next_date, f.refer, f.urgent, tuple(f.reasons))
        assert got == (want.visit_class.value, want.next_date, want.refer, want.urgent, want.reasons), f.id
        checked += 1
    assert checked > 500


def test_enrolment_schedule_tasks_and_risk_follow_the_forms(database: Database) -> None:
    with database.sessionmaker() as session:
        enrolments = session.scalars(select(ChronicEnrolment)).all()
        forms: dict[int, list[ChronicFollowUp]] = defaultdict(list)
        for f in session.scalars(select(ChronicFollowUp).order_by(ChronicFollowUp.visit_date, ChronicFollowUp.id)):
            forms[f.enrolment_id].append(f)
        tasks = session.scalars(select(ChronicTask)).all()
        for e in enrolments:
            mine = forms.get(e.id, [])
            if e.status == "proposed":
                assert not mine and e.enrolled_on is None and e.next_followup_date is None and e.risk_tier is None
                continue
            assert e.enrolled_on is not None and e.team_id is not None
            assert all(f.visit_date > e.enrolled_on for f in mine)
            if mine:
                last = mine[-1]
                assert (e.last_followup_date, e.last_visit_class) == (last.visit_date, last.visit_class)
            if e.status == "enrolled":
                assert e.next_followup_date == (mine[-1].next_date if mine else e.enrolled_on)
                assert e.next_screening_date is not None and e.ended_on is None
            else:
                assert e.ended_on is not None and e.end_reason in ("died", "moved", "lost", "refused")
                assert e.next_followup_date is None and (not mine or e.ended_on >= mine[-1].visit_date)
        by_id = {f.id: f for fs in forms.values() for f in fs}
        status_of = {e.id: e.status for e in enrolments}
        assert tasks
        for t in tasks:
            referred = by_id[t.followup_id]
            assert referred.refer and t.due_date == referred.next_date and t.urgent == referred.urgent
            later = [f for f in forms[t.enrolment_id] if f.visit_date > referred.visit_date]
            if later:
                assert (t.status, t.done_followup_id) == ("done", later[0].id)
            else:
                assert t.status == ("cancelled" if status_of[t.enrolment_id] == "ended" else "open")
        # The stored risk tier is what the record gives (chronic.facts, as the daily refresh computes it).
        sample = [e for e in enrolments if e.disease == "htn" and e.status == "enrolled"][:120]
        for e in sample:
            resident = session.get(Resident, e.resident_id)
            assert resident is not None
            record = facts.gather(session, resident, today=AS_OF)
            tier = facts.tier_of(record)
            assert e.risk_tier == (tier.value if tier else None), e.id


def test_reading_keys_are_the_ingestion_keys_and_a_resend_is_a_duplicate(database: Database) -> None:
    with database.sessionmaker() as session:
        rows = session.execute(
            text(
                "SELECT r.reading_key, d.device_id, r.kind, r.measured_at, r.sbp, r.dbp, r.heart_rate, r.glucose, d.id"
                " FROM home_reading r JOIN home_device d ON d.id = r.device_pk ORDER BY r.id"
            )
        ).all()
        assert rows
        sample = random.Random(2).sample(rows, 300)
        for key, device_id, kind, measured, sbp, dbp, hr, glucose, _pk in sample:
            at = datetime.fromisoformat(measured).replace(tzinfo=UTC)
            values = home.ReadingValues(ReadingKind(kind), at, sbp, dbp, hr, glucose)
            assert key == home.storage_key(home.reading_key(device_id, values))
        # A device sending its last readings again changes nothing.
        pk = rows[-1][8]
        device = session.get(HomeDevice, pk)
        assert device is not None
        mine = [r for r in rows if r[8] == pk][-10:]
        payloads = [
            {
                "kind": kind,
                "measured_at": datetime.fromisoformat(measured).replace(tzinfo=UTC).astimezone(SHANGHAI).isoformat(),
                **({"sbp": sbp, "dbp": dbp, "heart_rate": hr} if kind == "bp" else {"glucose": glucose}),
            }
            for _key, _id, kind, measured, sbp, dbp, hr, glucose, _pk in mine
        ]
        result = ingest_readings(
            session, rows=list(enumerate(payloads, 1)), channel="test", device=device, now=START_OF_DAY
        )
        assert (result.inserted, result.duplicates, result.rejected) == (0, len(payloads), 0)
        session.rollback()


def test_devices_readings_and_alerts_agree(database: Database) -> None:
    with database.sessionmaker() as session:
        devices = session.scalars(select(HomeDevice)).all()
        seen = dict(
            session.execute(text("SELECT device_pk, MAX(measured_at) FROM home_reading GROUP BY device_pk")).all()
        )
        first = dict(
            session.execute(text("SELECT device_pk, MIN(measured_at) FROM home_reading GROUP BY device_pk")).all()
        )
        teams = {
            (r, d): t
            for r, d, t in session.execute(
                select(ChronicEnrolment.resident_id, ChronicEnrolment.disease, ChronicEnrolment.team_id)
            )
        }
        for d in devices:
            disease = "htn" if d.kind == "bp" else "t2dm"
            assert d.resident_id is not None and teams[(d.resident_id, disease)] == d.team_id
            assert d.last_reading_at is not None and d.last_seen_at is not None
            assert d.last_reading_at.strftime("%Y-%m-%d %H:%M:%S") == seen[d.id][:19]
            assert d.bound_at.strftime("%Y-%m-%d %H:%M:%S") < first[d.id][:19]
            assert d.last_reading_at <= d.last_seen_at < START_OF_DAY
            assert d.token_hash and len(d.token_hash) == 64
        silent = [home.silent(d.last_seen_at, d.bound_at, now=START_OF_DAY) for d in devices]
        assert sum(silent) / len(devices) == pytest.approx(0.08, abs=0.04)

        alerts = session.scalars(select(ChronicAlert).order_by(ChronicAlert.id)).all()
        assert alerts
        open_by_resident = Counter(a.resident_id for a in alerts if a.status == "open")
        assert open_by_resident and max(open_by_resident.values()) == 1
        critical = session.execute(
            text(
                "SELECT r.id, r.resident_id, d.team_id FROM home_reading r JOIN home_device d ON d.id = r.device_pk"
                " WHERE r.critical ORDER BY r.measured_at, r.id"
            )
        ).all()
        assert sum(a.readings for a in alerts) == len(critical)
        # Each alert holds a run of the resident's critical readings, in order of time.
        in_order: dict[int, list[int]] = defaultdict(list)
        for reading_id, resident_id, _team in critical:
            in_order[resident_id].append(reading_id)
        team_of = {r: t for _i, r, t in critical}
        for a in alerts:
            ids = in_order[a.resident_id]
            first, last = ids.index(a.first_reading_id), ids.index(a.last_reading_id)
            assert last - first + 1 == a.readings
            assert a.team_id == team_of[a.resident_id] and a.reasons == sorted(a.reasons)
            if a.status == "open":
                assert a.handled_at is None and START_OF_DAY - a.opened_at < timedelta(days=2)
            else:
                assert a.handled_at is not None and a.opened_at < a.handled_at <= START_OF_DAY and a.action


def test_the_demo_can_print_device_tokens(database: Database) -> None:
    shown = demo_devices(database)
    assert len(shown) == 3
    with database.sessionmaker() as session:
        for d in shown:
            device = session.scalar(select(HomeDevice).where(HomeDevice.device_id == d.device_id))
            assert device is not None and device.token_hash == token_hash(d.token)
            assert device.team_id == session.scalar(text("SELECT MIN(id) FROM care_team"))
