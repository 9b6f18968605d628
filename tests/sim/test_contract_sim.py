"""The simulated family-doctor contracts: key populations contracted at district rates, everyone
else far less, current contracts in force today, renewals chained to last year's, deterministic."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from healthbrain.sim import history, institutions
from healthbrain.sim.contracts import GENERAL_RATE, KEY_POPULATION_RATE, SimContracts
from healthbrain.sim.service import District, build_district

AS_OF = date(2026, 11, 25)


def _contracts(seed: int, residents: int = 6_000) -> tuple[District, history.History, SimContracts]:
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
    return district, care, district.contracts(care, as_of=AS_OF)


@pytest.fixture(scope="module")
def generated() -> tuple[District, history.History, SimContracts]:
    return _contracts(3)


def test_current_contracts_are_in_force_and_one_per_resident(
    generated: tuple[District, history.History, SimContracts],
) -> None:
    _district, _care, sim = generated
    today = np.datetime64(AS_OF, "D")
    current = (sim.start <= today) & (sim.end >= today)
    assert len(np.unique(sim.resident[current])) == int(current.sum())
    # A year each: the end is the day before the anniversary.
    assert np.all((sim.end - sim.start).astype(int) >= 364)
    assert np.all((sim.end - sim.start).astype(int) <= 365)
    # Some expire within 30 days (the renewal worklist has work), not most.
    soon = current & (sim.end <= today + 30)
    assert 0.03 < soon.sum() / current.sum() < 0.15


def test_renewals_follow_last_years_contract(generated: tuple[District, history.History, SimContracts]) -> None:
    _district, _care, sim = generated
    renewed = np.flatnonzero(sim.renewed_from >= 0)
    assert len(renewed) > 0
    previous = sim.renewed_from[renewed]
    assert np.all(previous < renewed)
    assert np.array_equal(sim.resident[previous], sim.resident[renewed])
    assert np.array_equal(sim.end[previous] + 1, sim.start[renewed])
    assert np.array_equal(sim.team[previous], sim.team[renewed])


def test_key_populations_are_contracted_far_more_often(
    generated: tuple[District, history.History, SimContracts],
) -> None:
    district, care, sim = generated
    today = np.datetime64(AS_OF, "D")
    current = (sim.start <= today) & (sim.end >= today)
    holds = np.zeros(len(district.ages), dtype=bool)
    holds[sim.resident[current]] = True
    elderly = district.ages >= 65
    others = ~elderly & (district.ages > 6) & ~care.hypertension & ~care.diabetes
    assert abs(holds[elderly].mean() - KEY_POPULATION_RATE) < 0.08
    assert abs(holds[others].mean() - GENERAL_RATE) < 0.06
    # Packages: a hypertensive resident signs the chronic package, a child the child package.
    package = dict(zip(sim.resident[current].tolist(), sim.package[current].tolist(), strict=True))
    htn = [r for r in np.flatnonzero(care.hypertension).tolist() if r in package]
    assert htn and all(package[r] == "chronic" for r in htn)
    kids = [r for r in np.flatnonzero(district.ages <= 6).tolist() if r in package]
    assert kids and all(package[r] == "child" for r in kids)
    # A child's consent is signed by a parent.
    assert set(sim.relation[np.isin(sim.resident, kids)].tolist()) == {"parent"}


def test_same_seed_same_contracts() -> None:
    _d1, _c1, a = _contracts(11, 2_000)
    _d2, _c2, b = _contracts(11, 2_000)
    _d3, _c3, c = _contracts(12, 2_000)
    for name in ("resident", "team", "package", "start", "end", "renewed_from", "relation", "method"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.start[:50], c.start[:50])
