"""Key populations: the pure rule table-driven, and the SQL form agreeing with it row by row."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.core.time import local_today
from healthbrain.people.models import Resident
from healthbrain.people.populations import ConditionFact, KeyPopulation, key_population_clause, key_populations
from healthbrain.people.repository import condition_facts
from tests.factories import World, add_resident, hypertensive, pregnant

ON = date(2026, 11, 25)
E, C, P, D, H = (
    KeyPopulation.ELDERLY,
    KeyPopulation.CHILD,
    KeyPopulation.PREGNANT,
    KeyPopulation.DISABLED,
    KeyPopulation.CHRONIC,
)


@pytest.mark.parametrize(
    ("birth", "sex", "disability", "conditions", "expected"),
    [
        (date(1961, 11, 25), "M", None, [], {E}),  # 65 today
        (date(1961, 11, 26), "M", None, [], set()),  # 65 tomorrow
        (date(2019, 11, 26), "F", None, [], {C}),  # 6 years 364 days
        (date(2019, 11, 25), "F", None, [], set()),  # 7 today
        (date(2026, 11, 25), "F", None, [], {C}),  # born today
        (date(1990, 1, 1), "F", "visual", [], {D}),
        (date(1970, 1, 1), "M", None, [ConditionFact("I10", onset_date=date(2010, 1, 1))], {H}),
        (date(1970, 1, 1), "M", None, [ConditionFact("E11.9")], {H}),
        (date(1970, 1, 1), "M", None, [ConditionFact("E10.9")], set()),  # type-1 diabetes is not in the programme
        (date(1970, 1, 1), "M", None, [ConditionFact("I10", clinical_status="resolved")], set()),
        (date(1970, 1, 1), "M", None, [ConditionFact("I10", abatement_date=date(2020, 1, 1))], set()),
        (date(1970, 1, 1), "M", None, [ConditionFact("I10", onset_date=date(2027, 1, 1))], set()),  # not yet
        (date(1995, 1, 1), "F", None, [ConditionFact("Z34.9", onset_date=ON - timedelta(days=100))], {P}),
        (date(1995, 1, 1), "F", None, [ConditionFact("O24.4", onset_date=ON - timedelta(days=200))], {P}),
        (date(1995, 1, 1), "F", None, [ConditionFact("Z34.9", onset_date=ON - timedelta(days=301))], set()),
        (date(1995, 1, 1), "F", None, [ConditionFact("Z34.9")], set()),  # no onset: cannot place it
        (date(1995, 1, 1), "M", None, [ConditionFact("Z34.9", onset_date=ON - timedelta(days=10))], set()),
        (date(1950, 1, 1), "M", "physical", [ConditionFact("I10")], {E, D, H}),
    ],
)
def test_key_populations(
    birth: date, sex: str, disability: str | None, conditions: list[ConditionFact], expected: set[KeyPopulation]
) -> None:
    assert key_populations(birth_date=birth, sex=sex, disability=disability, conditions=conditions, on=ON) == expected


def test_sql_clause_agrees_with_the_rule(session: Session, world: World) -> None:
    community = world.divisions["a2"]
    made = [
        add_resident(session, community_id=community, name="甲", birth=date(1961, 11, 25)),
        add_resident(session, community_id=community, name="乙", birth=date(1961, 11, 26)),
        add_resident(session, community_id=community, name="丙", birth=date(2019, 11, 26), male=False),
        add_resident(session, community_id=community, name="丁", birth=date(2019, 11, 25), male=False),
        add_resident(
            session, community_id=community, name="戊", birth=date(1990, 1, 1), male=False, disability="hearing"
        ),
    ]
    hypertensive(session, made[1])
    pregnant(session, made[4], weeks=10)
    ids = [r.id for r in made]
    facts = condition_facts(session, ids)
    for population, many in [(p, m) for p in KeyPopulation for m in (False, True)]:
        clause = key_population_clause(population, local_today(), many=many)
        in_sql = set(session.scalars(select(Resident.id).where(Resident.id.in_(ids), clause)))
        by_rule = {
            r.id
            for r in made
            if population
            in key_populations(
                birth_date=r.birth_date,
                sex=r.sex,
                disability=r.disability,
                conditions=facts.get(r.id, []),
                on=local_today(),
            )
        }
        assert in_sql == by_rule, (population, many)
