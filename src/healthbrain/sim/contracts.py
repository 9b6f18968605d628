"""Simulated family-doctor contracts (家庭医生签约): who signed with their team, under which
package, when, and who signed the consent.

Key populations are contracted at the rates districts report (≥ 90 % is the target; teams differ),
everybody else far less often. Contracts run one year from a start spread over the last year, so
that some expire in the coming weeks (the renewal worklist) and part of the contracted residents
renewed a contract of the year before (``renewed_from``). Arrays, positions 0-based; ids are
positions + 1 when loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from healthbrain.people.populations import CHILD_MAX_AGE, ELDERLY_MIN_AGE
from healthbrain.sim.history import History
from healthbrain.sim.institutions import Directory

# Contract rates (probability a resident holds a contract in force), before a team's own factor.
KEY_POPULATION_RATE = 0.88  # district reports of 85–95 % for key populations
GENERAL_RATE = 0.15  # others: overall 签约率 then lands near the 35–45 % districts report
TEAM_FACTOR = (0.85, 1.08)  # uniform per team: some teams sign more than others
RENEWED_SHARE = 0.55  # of today's contracts, the share that renewed last year's
HANDWRITTEN_SHARE = 0.35  # signed on the pad (the rest on paper, scanned)

PACKAGE_ORDER = ("chronic", "elderly", "child", "disabled", "basic")  # first that applies


@dataclass
class SimContracts:
    resident: np.ndarray  # int, 0-based
    team: np.ndarray  # team id
    practitioner: np.ndarray  # practitioner id, -1 for none
    package: np.ndarray  # object: package code (contracts.definitions.DEFAULT_PACKAGES)
    start: np.ndarray  # datetime64[D]
    end: np.ndarray  # datetime64[D]
    renewed_from: np.ndarray  # int, position of the previous contract, -1 for none
    relation: np.ndarray  # object: the signer's relation to the resident
    method: np.ndarray  # object

    def __len__(self) -> int:
        return len(self.resident)


def _add_years(days: np.ndarray, years: int) -> np.ndarray:
    """Dates shifted by whole years (29 February → 28 February), vectorised."""
    y = days.astype("datetime64[Y]").astype(int) + 1970 + years
    m = days.astype("datetime64[M]").astype(int) % 12 + 1
    d = (days - days.astype("datetime64[M]")).astype(int) + 1
    d = np.where((m == 2) & (d == 29) & ~((y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))), 28, d)
    months = ((y - 1970) * 12 + m - 1).astype("datetime64[M]")
    shifted: np.ndarray = months.astype("datetime64[D]") + (d - 1)
    return shifted


def generate(
    rng: np.random.Generator,
    *,
    ages: np.ndarray,
    history: History,
    disability: np.ndarray,
    directory: Directory,
    as_of: date,
) -> SimContracts:
    n = len(ages)
    today = np.datetime64(as_of, "D")
    chronic = np.asarray(history.hypertension, dtype=bool) | np.asarray(history.diabetes, dtype=bool)
    elderly = ages >= ELDERLY_MIN_AGE
    child = ages <= CHILD_MAX_AGE
    disabled = np.array([d is not None for d in disability], dtype=bool)
    key = chronic | elderly | child | disabled

    team_index = np.asarray(history.team, dtype=np.int64)
    factor = rng.uniform(*TEAM_FACTOR, size=len(directory.teams))[team_index]
    rate = np.where(key, KEY_POPULATION_RATE, GENERAL_RATE) * factor
    signed = np.flatnonzero(rng.random(n) < np.clip(rate, 0, 0.99))

    package = np.full(len(signed), "basic", dtype=object)
    for code, member in reversed(
        (("chronic", chronic), ("elderly", elderly), ("child", child), ("disabled", disabled), ("basic", None))
    ):
        if member is not None:
            package[member[signed]] = code

    team_ids = np.array([t.id for t in directory.teams], dtype=np.int64)
    leads = np.array([t.members[0][0] if t.members else -1 for t in directory.teams], dtype=np.int64)
    # Current contracts started within the last year, so each is in force today.
    start = today - rng.integers(0, 365, size=len(signed))
    end = _add_years(start, 1) - 1
    renewed = rng.random(len(signed)) < RENEWED_SHARE
    previous = np.flatnonzero(renewed)
    prev_start = _add_years(start[previous], -1)

    # Previous contracts first (positions 0 … p-1), then today's, so renewed_from points backwards.
    p = len(previous)
    resident = np.r_[signed[previous], signed]
    teams = team_index[resident]
    renewed_from = np.r_[np.full(p, -1), np.full(len(signed), -1)]
    renewed_from[p + previous] = np.arange(p)

    relation = np.full(len(resident), "self", dtype=object)
    young = ages[resident] < 18
    relation[young] = "parent"
    old = ages[resident] >= 80
    relation[old & (rng.random(len(resident)) < 0.4)] = "child"
    method = np.where(rng.random(len(resident)) < HANDWRITTEN_SHARE, "handwritten", "paper").astype(object)
    return SimContracts(
        resident=resident,
        team=team_ids[teams],
        practitioner=leads[teams],
        package=np.r_[package[previous], package],
        start=np.r_[prev_start, start],
        end=np.r_[start[previous] - 1, end],
        renewed_from=renewed_from,
        relation=relation,
        method=method,
    )
