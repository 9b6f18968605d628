"""Loading the simulated family-doctor contracts and their consents, set-based, as the other
loaders do (ids are the arrays' positions + 1)."""

from __future__ import annotations

from datetime import time

import numpy as np
from sqlalchemy.orm import Session

from healthbrain.contracts import service as contracts
from healthbrain.contracts.models import Contract, ContractConsent
from healthbrain.core.bulk import reset_sequences
from healthbrain.sim.contracts import SimContracts
from healthbrain.sim.load import Progress, _insert, _table, indexes_dropped
from healthbrain.sim.load_chronic import _constant, _days, _ids, _Lazy
from healthbrain.sim.population import Population

SIGNING_HOUR = time(9, 30)  # contracts are signed in the morning clinic (local time)
SHANGHAI_UTC_OFFSET_S = 8 * 3600  # Asia/Shanghai has kept UTC+8, without summer time, since 1991


def _signed_at(days: np.ndarray) -> _Lazy:
    """A morning on each start date, in UTC text as the loaders store instants."""
    local = days.astype("datetime64[s]") + (SIGNING_HOUR.hour * 3600 + SIGNING_HOUR.minute * 60)
    utc = local - np.timedelta64(SHANGHAI_UTC_OFFSET_S, "s")
    return _Lazy(utc, lambda part: [t.replace("T", " ") for t in np.datetime_as_string(part, unit="s").tolist()])


def _signers(population: Population, resident: np.ndarray, relation: np.ndarray) -> list[str]:
    """The resident signs for themselves; otherwise the head of their household does, when that
    is someone else (else the resident's own name stands, as on a form a relative filled in)."""
    heads: dict[int, int] = {}
    for i in np.flatnonzero(population.relation == "head").tolist():
        heads[int(population.household[i])] = i
    names = population.name
    out: list[str] = []
    for r, rel in zip(resident.tolist(), relation.tolist(), strict=True):
        head = heads.get(int(population.household[r]), r)
        out.append(names[head] if rel != "self" and head != r else names[r])
    return out


def load_contracts(
    session: Session, sim: SimContracts, population: Population, *, progress: Progress
) -> dict[str, int]:
    package_ids = {p.code: p.id for p in contracts.ensure_default_packages(session)}
    n = len(sim)
    relation = sim.relation.copy()
    signers = _signers(population, sim.resident, relation)
    counts: dict[str, int] = {}
    with indexes_dropped(session, (Contract, ContractConsent)):
        signed_at = _signed_at(sim.start)
        counts["contract"] = _insert(
            session,
            Contract,
            (
                "id",
                "resident_id",
                "team_id",
                "practitioner_id",
                "package_id",
                "status",
                "start_date",
                "end_date",
                "signed_at",
                "renewed_from_id",
                "created_at",
            ),
            [
                range(1, n + 1),
                sim.resident + 1,
                sim.team,
                [None if p < 0 else p for p in sim.practitioner.tolist()],
                [package_ids[c] for c in sim.package.tolist()],
                _constant("active", n),
                _days(sim.start),
                _days(sim.end),
                signed_at,
                _ids(sim.renewed_from),
                signed_at,
            ],
            progress,
            "contracts",
        )
        counts["contract_consent"] = _insert(
            session,
            ContractConsent,
            ("id", "contract_id", "resident_id", "signer_name", "signer_relation", "method", "signed_at", "status"),
            [
                range(1, n + 1),
                range(1, n + 1),
                sim.resident + 1,
                signers,
                relation,
                sim.method,
                signed_at,
                _constant("active", n),
            ],
            progress,
            "consents",
        )
    reset_sequences(session, [_table(Contract), _table(ContractConsent)])
    return counts
