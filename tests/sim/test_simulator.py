"""The synthetic district: valid, realistic, reproducible."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date

import numpy as np
import pytest
from shapely.geometry import shape
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from healthbrain.contracts.models import Contract, ContractConsent
from healthbrain.core.errors import Conflict
from healthbrain.db import Database
from healthbrain.geo.models import CareTeamCommunity, Division, Institution, SchoolClass
from healthbrain.migrations.runner import upgrade
from healthbrain.people.models import Resident
from healthbrain.people.resident_id import parse
from healthbrain.sim import geography, population
from healthbrain.sim.service import simulate

AS_OF = date(2026, 11, 25)
RESIDENTS = 6_000


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Database:
    url = f"sqlite:///{tmp_path_factory.mktemp('sim') / 'sim.sqlite3'}"
    database = Database(url)
    upgrade(database.engine)
    # The set-based load alone (the recent feeds through the ingestion paths: test_record_feeds.py).
    simulate(database, residents=RESIDENTS, seed=11, as_of=AS_OF, record_feed_days=0)
    return database


def test_every_resident_has_a_valid_id_matching_sex_and_birth(district: Database) -> None:
    with district.sessionmaker() as session:
        rows = session.execute(select(Resident.id_number, Resident.sex, Resident.birth_date)).all()
    assert len(rows) == RESIDENTS
    assert len({r[0] for r in rows}) == RESIDENTS
    for number, sex, birth in rows:
        decoded = parse(number, today=AS_OF)
        assert (decoded.sex, decoded.birth_date) == (sex, birth)


def test_age_and_sex_structure_of_an_eastern_district() -> None:
    rng = np.random.default_rng(3)
    pop = population.build(rng, 200_000, np.ones(50), AS_OF)
    age = (np.datetime64(AS_OF) - pop.birth).astype(int) / 365.25
    share = {
        "0-14": (age < 15).mean(),
        "15-59": ((age >= 15) & (age < 60)).mean(),
        "60+": (age >= 60).mean(),
        "65+": (age >= 65).mean(),
    }
    # Zhejiang, 7th census (2020): 13.45 %, 67.86 %, 18.70 %, 13.27 %.
    assert share["0-14"] == pytest.approx(0.1345, abs=0.02)
    assert share["15-59"] == pytest.approx(0.6786, abs=0.02)
    assert share["60+"] == pytest.approx(0.187, abs=0.02)
    assert share["65+"] == pytest.approx(0.1327, abs=0.02)
    assert pop.male.mean() == pytest.approx(0.51, abs=0.015)
    households = len(pop.household_community)
    assert 2.3 <= pop.size / households <= 2.8
    assert len(set(pop.name)) > pop.size * 0.05  # names repeat, as Chinese names do, but not too much
    assert any(len(n) >= 4 and n[:2] in ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫") for n in pop.name)


def test_prevalence_of_hypertension_and_diabetes(district: Database) -> None:
    with district.sessionmaker() as session:
        adults = session.scalar(
            select(func.count()).select_from(Resident).where(Resident.birth_date <= date(2008, 11, 25))
        )
        htn = session.scalar(text("SELECT COUNT(DISTINCT resident_id) FROM condition WHERE code = 'I10'"))
        dm = session.scalar(text("SELECT COUNT(DISTINCT resident_id) FROM condition WHERE code = 'E11.9'"))
    assert htn / adults == pytest.approx(0.27, abs=0.02)
    assert dm / adults == pytest.approx(0.11, abs=0.015)


def test_geography_is_a_hierarchy_of_valid_polygons(district: Database) -> None:
    with district.sessionmaker() as session:
        divisions = session.scalars(select(Division)).all()
    by_level = Counter(d.level for d in divisions)
    towns, communities = geography.sizes_for(RESIDENTS)
    assert by_level == {"district": 1, "town": towns, "community": communities}
    by_id = {d.id: d for d in divisions}
    for d in divisions:
        geometry = shape(json.loads(d.polygon or "{}"))
        assert geometry.is_valid and not geometry.is_empty, d.code
        if d.parent_id is not None:
            parent = by_id[d.parent_id]
            assert d.code.startswith(parent.code[: 6 if parent.level == "district" else 9])
            assert shape(json.loads(parent.polygon or "{}")).buffer(1e-4).contains(geometry), d.code


def test_full_size_geography_matches_the_reference() -> None:
    assert geography.sizes_for(1_650_000) == (20, 500)
    geo = geography.build(np.random.default_rng(1), 1_650_000)
    sizes = Counter(c.parent for c in geo.communities)
    assert len(geo.towns) == 20 and len(geo.communities) == 500
    assert max(sizes.values()) <= 2 * min(sizes.values())


def test_institutions_teams_and_schools(district: Database) -> None:
    with district.sessionmaker() as session:
        kinds = dict(session.execute(select(Institution.kind, func.count()).group_by(Institution.kind)).all())
        communities = session.scalar(select(func.count()).select_from(Division).where(Division.level == "community"))
        served = session.scalar(select(func.count(func.distinct(CareTeamCommunity.division_id))))
        classes = session.scalars(select(SchoolClass)).all()
    for kind in ("hospital", "chc", "chs", "village_clinic", "school", "pharmacy", "cdc", "emergency_station"):
        assert kinds.get(kind, 0) >= 1, kind
    assert served == communities  # every community has a family-doctor team
    assert classes and all(0 < c.enrolled <= 50 for c in classes)


FINGERPRINT_QUERIES = [
    f"SELECT * FROM {table} ORDER BY id"  # noqa: S608 — fixed table names
    for table in ("division", "institution", "practitioner", "resident", "condition", "observation")
] + ["SELECT * FROM care_team_community ORDER BY team_id, division_id"]


def _fingerprint(session: Session) -> str:
    digest = hashlib.sha256()
    for query in FINGERPRINT_QUERIES:
        for row in session.execute(text(query)):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_same_seed_same_district(tmp_path: object, district: Database) -> None:
    twin = Database(f"sqlite:///{tmp_path}/twin.sqlite3")
    upgrade(twin.engine)
    simulate(twin, residents=RESIDENTS, seed=11, as_of=AS_OF, record_feed_days=0)
    other = Database(f"sqlite:///{tmp_path}/other.sqlite3")
    upgrade(other.engine)
    simulate(other, residents=RESIDENTS, seed=12, as_of=AS_OF, record_feed_days=0)
    with district.sessionmaker() as a, twin.sessionmaker() as b, other.sessionmaker() as c:
        assert _fingerprint(a) == _fingerprint(b)
        assert _fingerprint(a) != _fingerprint(c)


def test_refuses_a_database_that_has_a_district(district: Database) -> None:
    with pytest.raises(Conflict):
        simulate(district, residents=1_000, seed=1, as_of=AS_OF)


def test_loads_into_postgresql_too(scratch_url: str) -> None:
    """On the PostgreSQL run the scratch database is PostgreSQL (COPY path); on SQLite, SQLite."""
    database = Database(scratch_url)
    upgrade(database.engine)
    result = simulate(database, residents=1_000, seed=5, as_of=AS_OF, record_feed_days=0)
    assert result.counts["resident"] == 1_000
    with database.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(Resident)) == 1_000
        # ids continue after the loaded ones (sequences reset on PostgreSQL)
        session.add(Division(code="330199399000", gb2260="330199", name="x", level="town", kind="township"))
        session.flush()
        assert session.scalar(select(func.max(Division.id))) > result.counts["division"]
        # … and so do the contracts' and their signatures' (a doctor signs one more).
        first = session.scalar(select(Contract).order_by(Contract.id).limit(1))
        assert first is not None and result.counts["contract"] > 0
        signed = Contract(
            resident_id=first.resident_id,
            team_id=first.team_id,
            package_id=first.package_id,
            status="active",
            start_date=first.end_date,
            end_date=first.end_date,
            signed_at=first.signed_at,
            created_at=first.created_at,
        )
        session.add(signed)
        session.flush()
        session.add(
            ContractConsent(
                contract_id=signed.id,
                resident_id=signed.resident_id,
                signer_name="x",
                signer_relation="self",
                method="paper",
                signed_at=first.signed_at,
            )
        )
        session.flush()
        assert signed.id > result.counts["contract"]
    database.dispose()
