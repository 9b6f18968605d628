"""Contracts through the HTTP API against the real database: sign, the rules of one open contract and
of the team, idempotency, renew, end, the team's worklists, merge and unmerge, access."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth.models import AuditEvent
from healthbrain.contracts import repository
from healthbrain.contracts.definitions import default_end
from healthbrain.contracts.models import Contract, ContractConsent
from healthbrain.contracts.service import ensure_default_packages
from healthbrain.core.time import local_today
from healthbrain.geo.models import CareTeam, CareTeamCommunity
from healthbrain.people.models import Resident
from tests.conftest import bearer
from tests.contracts.pngs import SIGNATURE, data_url, png
from tests.factories import World, add_resident

URL = "/api/v1/contracts"


def consent(name: str = "王大爷", **extra: Any) -> dict[str, Any]:
    return {"signer_name": name, "signer_relation": "self", "method": "handwritten", "signature": SIGNATURE, **extra}


def sign(client: TestClient, world: World, user: str, resident: int, team: str, **extra: Any) -> Any:
    body = {
        "resident_id": resident,
        "team_id": world.teams[team],
        "package_code": "elderly",
        "start_date": local_today().isoformat(),
        "consent": consent(),
        **extra,
    }
    return client.post(URL, json=body, headers=bearer(world, user))


def make_contract(
    session: Session, status: str, start: date, end: date, ended: date | None, *, resident_id: int | None = None
) -> Contract:
    """A contract row as stored (for rules that read the table); on a fresh resident unless given."""
    package = ensure_default_packages(session)[0]
    team = session.scalars(select(CareTeam).order_by(CareTeam.id)).first()
    assert team is not None
    if resident_id is None:
        community = session.scalars(select(CareTeamCommunity.division_id).where(CareTeamCommunity.team_id == team.id))
        resident_id = add_resident(session, community_id=community.first() or 0, name="合同测试").id
    now = datetime.now(UTC)
    contract = Contract(
        resident_id=resident_id,
        team_id=team.id,
        package_id=package.id,
        status=status,
        start_date=start,
        end_date=end,
        ended_on=ended,
        signed_at=now,
        created_at=now,
    )
    session.add(contract)
    session.flush()
    return contract


def test_packages_are_listed(client: TestClient, world: World) -> None:
    response = client.get(f"{URL}/packages", headers=bearer(world, "doctor_a1"))
    assert response.status_code == 200
    codes = {p["code"]: p for p in response.json()}
    assert {"basic", "elderly", "child", "chronic", "maternal", "disabled"} <= set(codes)
    assert codes["elderly"]["population"] == "elderly" and codes["basic"]["annual_fee_yuan"] == 0


def test_ensure_default_packages_is_idempotent(session: Session) -> None:
    first = ensure_default_packages(session)
    again = ensure_default_packages(session)
    assert [p.id for p in first] == [p.id for p in again]


def test_a_doctor_signs_for_a_resident_of_the_team(client: TestClient, world: World, session: Session) -> None:
    response = sign(client, world, "doctor_a1", world.residents["a1_elder"], "team_a1")
    assert response.status_code == 201, response.text
    body = response.json()
    today = local_today()
    assert body["start_date"] == today.isoformat()
    assert body["end_date"] == default_end(today).isoformat()
    assert body["status"] == "active" and body["status_today"] == "active"
    assert body["practitioner"]["id"] == world.practitioners["gp_a1"]  # the team leader by default
    assert body["package"]["code"] == "elderly"
    [signed] = body["consents"]
    assert signed["signature"] == SIGNATURE and signed["signer_name"] == "王大爷"
    events = session.scalars(
        select(AuditEvent.action).where(AuditEvent.resident_id == world.residents["a1_elder"])
    ).all()
    assert "contract.sign" in events
    history = client.get(f"{URL}/residents/{world.residents['a1_elder']}", headers=bearer(world, "doctor_a1"))
    assert [c["id"] for c in history.json()] == [body["id"]]
    got = client.get(f"{URL}/{body['id']}", headers=bearer(world, "centre_a"))
    assert got.status_code == 200 and got.json()["id"] == body["id"]


def test_one_open_contract_per_resident(client: TestClient, world: World) -> None:
    first = sign(client, world, "doctor_a1", world.residents["a1_elder"], "team_a1")
    assert first.status_code == 201
    again = sign(client, world, "doctor_a1", world.residents["a1_elder"], "team_a1", package_code="basic")
    assert again.status_code == 409
    assert again.json()["code"] == "error.contract.already_active"
    assert again.json()["link"] == f"{URL}/{first.json()['id']}"
    # A contract that starts after the first one ends is a renewal's business, but does not overlap.
    later = sign(
        client,
        world,
        "doctor_a1",
        world.residents["a1_elder"],
        "team_a1",
        start_date=(date.fromisoformat(first.json()["end_date"]) + timedelta(days=1)).isoformat(),
    )
    assert later.status_code == 201


def test_source_key_makes_a_resend_return_the_same_contract(client: TestClient, world: World, session: Session) -> None:
    a = sign(client, world, "doctor_a1", world.residents["a1_wife"], "team_a1", source_key="EoC/HIS-1/42")
    b = sign(client, world, "doctor_a1", world.residents["a1_wife"], "team_a1", source_key="EoC/HIS-1/42")
    assert a.status_code == 201 and b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    rows = session.scalars(select(Contract).where(Contract.resident_id == world.residents["a1_wife"])).all()
    assert len(rows) == 1
    other = sign(client, world, "doctor_a1", world.residents["a1_elder"], "team_a1", source_key="EoC/HIS-1/42")
    assert other.status_code == 409 and other.json()["field"] == "source_key"


def test_the_team_must_serve_the_residents_community(client: TestClient, world: World) -> None:
    response = sign(client, world, "centre_a", world.residents["a2_adult"], "team_a1")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "team_id"]
    assert "team_a1团队" in response.json()["detail"][0]["msg"]


def test_a_doctor_cannot_sign_for_another_team(client: TestClient, world: World) -> None:
    response = sign(client, world, "doctor_b", world.residents["b1_adult"], "team_a1")
    assert response.status_code == 403
    assert response.json()["code"] == "error.contract.team_not_yours"


def test_out_of_scope_resident_is_not_found(client: TestClient, world: World) -> None:
    response = sign(client, world, "doctor_a1", world.residents["b1_adult"], "team_a1")
    assert response.status_code == 404


def test_roles_without_contract_permissions_are_refused(client: TestClient, world: World) -> None:
    for user in ("bureau", "submitter", "cdc"):
        response = client.get(f"{URL}/teams/{world.teams['team_a1']}/worklists", headers=bearer(world, user))
        assert response.status_code == 403, user
        assert sign(client, world, user, world.residents["a1_elder"], "team_a1").status_code == 403


def test_change_of_team_ends_the_old_contract(client: TestClient, world: World, session: Session) -> None:
    session.add(CareTeamCommunity(team_id=world.teams["team_a2"], division_id=world.divisions["a1"]))
    session.flush()
    resident = world.residents["a1_elder"]
    old = sign(client, world, "centre_a", resident, "team_a1").json()
    refused = sign(client, world, "centre_a", resident, "team_a2")
    assert refused.status_code == 409
    assert refused.json()["code"] == "error.contract.active_with_other_team"
    assert "team_a1团队" in refused.json()["detail"]
    moved = sign(client, world, "centre_a", resident, "team_a2", change_team=True)
    assert moved.status_code == 201, moved.text
    ended = client.get(f"{URL}/{old['id']}", headers=bearer(world, "centre_a")).json()
    assert ended["end_reason"] == "changed_team"
    assert ended["ended_on"] == local_today().isoformat()
    assert ended["status"] == "cancelled"  # it started today: ended on its first day
    open_ = repository.open_contracts(session, resident)
    assert [c.id for c in open_] == [moved.json()["id"]]


def test_dates_and_doctor_are_checked(client: TestClient, world: World) -> None:
    today = local_today()
    bad_end = sign(
        client,
        world,
        "doctor_a1",
        world.residents["a1_elder"],
        "team_a1",
        end_date=(today - timedelta(days=1)).isoformat(),
    )
    assert bad_end.status_code == 422 and bad_end.json()["detail"][0]["loc"] == ["body", "end_date"]
    far = sign(
        client,
        world,
        "doctor_a1",
        world.residents["a1_elder"],
        "team_a1",
        start_date=(today + timedelta(days=400)).isoformat(),
    )
    assert far.status_code == 422 and far.json()["field"] == "start_date"
    stranger = sign(
        client, world, "doctor_a1", world.residents["a1_elder"], "team_a1", practitioner_id=world.practitioners["gp_b"]
    )
    assert stranger.status_code == 422 and stranger.json()["field"] == "practitioner_id"
    unknown = sign(client, world, "doctor_a1", world.residents["a1_elder"], "team_a1", package_code="gold")
    assert unknown.status_code == 422 and unknown.json()["field"] == "package_code"


def test_signature_must_be_a_bounded_png(client: TestClient, world: World) -> None:
    cases = {
        "data:image/svg+xml;base64,PHN2Zz4=": "contract.signature.not_png_data_url",
        data_url(
            b"not a png at all, just some text bytes to pass the minimum length of a png"
        ): "contract.signature.not_png",
        data_url(png(5000, 2)): "contract.signature.bad_dimensions",
    }
    for value, kind in cases.items():
        response = sign(
            client, world, "doctor_a1", world.residents["a1_elder"], "team_a1", consent=consent(signature=value)
        )
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "consent", "signature"] and error["type"] == kind
    missing = sign(client, world, "doctor_a1", world.residents["a1_elder"], "team_a1", consent=consent(signature=None))
    assert missing.status_code == 422 and missing.json()["detail"][0]["type"] == "contract.signature.missing"
    huge = "data:image/png;base64," + "A" * 400_000
    too_big = sign(client, world, "doctor_a1", world.residents["a1_elder"], "team_a1", consent=consent(signature=huge))
    assert too_big.status_code == 422
    electronic = sign(
        client,
        world,
        "doctor_a1",
        world.residents["a1_elder"],
        "team_a1",
        consent=consent(signature=None, method="electronic"),
    )
    assert electronic.status_code == 201


def test_expiring_contract_is_listed_and_renewed(client: TestClient, world: World, session: Session) -> None:
    today = local_today()
    resident = world.residents["a1_wife"]
    start = today - timedelta(days=360)
    old = sign(client, world, "doctor_a1", resident, "team_a1", start_date=start.isoformat()).json()
    days_left = (date.fromisoformat(old["end_date"]) - today).days
    lists = client.get(f"{URL}/teams/{world.teams['team_a1']}/worklists", headers=bearer(world, "doctor_a1")).json()
    [row] = [r for r in lists["expiring"]["items"] if r["contract_id"] == old["id"]]
    assert row["days_left"] == days_left and row["package"] == "老年人包"
    short = client.get(
        f"{URL}/teams/{world.teams['team_a1']}/worklists?within_days={days_left - 1}",
        headers=bearer(world, "doctor_a1"),
    ).json()
    assert old["id"] not in [r["contract_id"] for r in short["expiring"]["items"]]

    renewed = client.post(
        f"{URL}/{old['id']}/renew", json={"consent": consent("李阿姨")}, headers=bearer(world, "doctor_a1")
    )
    assert renewed.status_code == 201, renewed.text
    new = renewed.json()
    assert new["renewed_from_id"] == old["id"]
    assert new["start_date"] == (date.fromisoformat(old["end_date"]) + timedelta(days=1)).isoformat()
    assert new["status_today"] == "planned" and new["team"]["id"] == world.teams["team_a1"]
    assert new["package"]["code"] == "elderly"
    after = client.get(f"{URL}/teams/{world.teams['team_a1']}/worklists", headers=bearer(world, "doctor_a1")).json()
    assert old["id"] not in [r["contract_id"] for r in after["expiring"]["items"]]
    again = client.post(f"{URL}/{old['id']}/renew", json={}, headers=bearer(world, "doctor_a1"))
    assert again.status_code == 409 and again.json()["code"] == "error.contract.already_renewed"
    history = client.get(f"{URL}/residents/{resident}", headers=bearer(world, "doctor_a1")).json()
    assert [c["id"] for c in history] == [new["id"], old["id"]]  # newest first
    assert history[1]["renewed_by_id"] == new["id"]
    assert [c.id for c in repository.contracts_of(session, resident)] == [new["id"], old["id"]]


def test_a_lapsed_contract_is_renewed_from_today(client: TestClient, world: World) -> None:
    today = local_today()
    start = today - timedelta(days=500)
    old = sign(
        client,
        world,
        "doctor_a1",
        world.residents["a1_wife"],
        "team_a1",
        start_date=start.isoformat(),
        end_date=(today - timedelta(days=100)).isoformat(),
    ).json()
    assert old["status_today"] == "expired"
    new = client.post(f"{URL}/{old['id']}/renew", json={"consent": consent()}, headers=bearer(world, "doctor_a1"))
    assert new.status_code == 201 and new.json()["start_date"] == today.isoformat()
    early = client.post(
        f"{URL}/{new.json()['id']}/renew", json={"start_date": today.isoformat()}, headers=bearer(world, "doctor_a1")
    )
    assert early.status_code == 422 and early.json()["field"] == "start_date"


def test_end_a_contract(client: TestClient, world: World, session: Session) -> None:
    made = sign(
        client,
        world,
        "doctor_a1",
        world.residents["a1_elder"],
        "team_a1",
        start_date=(local_today() - timedelta(days=30)).isoformat(),
    ).json()
    ended = client.post(f"{URL}/{made['id']}/end", json={"reason": "moved"}, headers=bearer(world, "doctor_a1"))
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body["status"] == "finished" and body["end_reason"] == "moved"
    assert body["consents"][0]["status"] == "inactive"
    again = client.post(f"{URL}/{made['id']}/end", json={"reason": "moved"}, headers=bearer(world, "doctor_a1"))
    assert again.status_code == 409
    bad = client.post(f"{URL}/{made['id']}/end", json={"reason": "changed_team"}, headers=bearer(world, "doctor_a1"))
    assert bad.status_code == 422
    renew = client.post(f"{URL}/{made['id']}/renew", json={}, headers=bearer(world, "doctor_a1"))
    assert renew.status_code == 409 and renew.json()["code"] == "error.contract.not_renewable"
    # Ended: the resident is free to sign again.
    assert sign(client, world, "doctor_a1", world.residents["a1_elder"], "team_a1").status_code == 201


def test_uncontracted_key_population_worklist(client: TestClient, world: World, session: Session) -> None:
    team = world.teams["team_a1"]
    url = f"{URL}/teams/{team}/worklists"
    before = client.get(url, headers=bearer(world, "centre_a")).json()
    names = {r["resident_id"] for r in before["uncontracted"]["items"]}
    assert {world.residents["a1_elder"], world.residents["a1_wife"], world.residents["a1_child"]} <= names
    assert before["uncontracted_by_population"]["elderly"] == 2
    assert before["uncontracted_by_population"]["child"] == 1
    assert before["uncontracted_by_population"]["chronic"] == 1
    elder = next(r for r in before["uncontracted"]["items"] if r["resident_id"] == world.residents["a1_elder"])
    assert set(elder["key_populations"]) == {"elderly", "chronic"} and elder["phone_masked"].count("*") >= 4
    assert before["team"]["communities"] == ["青山社区"]
    assert sign(client, world, "centre_a", world.residents["a1_elder"], "team_a1").status_code == 201
    after = client.get(url, headers=bearer(world, "centre_a")).json()
    assert world.residents["a1_elder"] not in {r["resident_id"] for r in after["uncontracted"]["items"]}
    assert after["uncontracted_by_population"]["elderly"] == 1 and after["contracted"] == before["contracted"] + 1
    assert after["recent"][0]["resident_id"] == world.residents["a1_elder"]
    children = client.get(f"{url}?population=child", headers=bearer(world, "centre_a")).json()
    assert [r["resident_id"] for r in children["uncontracted"]["items"]] == [world.residents["a1_child"]]
    # Paging: one row per page, every resident once.
    seen = []
    for offset in range(after["uncontracted"]["total"]):
        page = client.get(f"{url}?limit=1&offset={offset}", headers=bearer(world, "centre_a")).json()
        seen += [r["resident_id"] for r in page["uncontracted"]["items"]]
    assert len(seen) == len(set(seen)) == after["uncontracted"]["total"]


def test_teams_of_the_caller(client: TestClient, world: World) -> None:
    centre = client.get(f"{URL}/teams", headers=bearer(world, "centre_a")).json()
    assert {t["id"] for t in centre} == {world.teams["team_a1"], world.teams["team_a2"]}
    doctor = client.get(f"{URL}/teams", headers=bearer(world, "doctor_a1")).json()
    assert [t["id"] for t in doctor] == [world.teams["team_a1"]]


def test_merge_ends_the_duplicates_overlapping_contract_and_unmerge_reopens_it(
    client: TestClient, world: World, session: Session
) -> None:
    duplicate = add_resident(session, community_id=world.divisions["a1"], name="王大爷", birth=date(1950, 3, 2))
    survivor = world.residents["a1_elder"]
    kept = sign(client, world, "centre_a", survivor, "team_a1").json()
    dup = sign(client, world, "centre_a", duplicate.id, "team_a1", package_code="basic").json()
    merged = client.post(
        f"/api/v1/residents/{survivor}/merge",
        json={"merged_id": duplicate.id, "reason": "同一人"},
        headers=bearer(world, "centre_a"),
    )
    assert merged.status_code == 200, merged.text
    assert set(merged.json()["moved"]["contract"]) == {dup["id"]}
    assert merged.json()["moved"]["contract_consent"]
    open_ = repository.open_contracts(session, survivor)
    assert [c.id for c in open_] == [kept["id"]]
    ended = session.get(Contract, dup["id"])
    assert ended is not None and ended.end_reason == "merged" and ended.resident_id == survivor
    consents = session.scalars(select(ContractConsent).where(ContractConsent.contract_id == dup["id"])).all()
    assert all(c.resident_id == survivor for c in consents)

    undone = client.post(
        f"/api/v1/residents/merges/{merged.json()['id']}/unmerge",
        json={"reason": "不是同一人"},
        headers=bearer(world, "centre_a"),
    )
    assert undone.status_code == 200, undone.text
    session.expire_all()
    back = session.get(Contract, dup["id"])
    assert back is not None and back.resident_id == duplicate.id
    assert back.status == "active" and back.ended_on is None and back.end_reason is None
    assert session.get(Resident, duplicate.id) is not None


def test_an_administrator_signs_across_teams_but_reads_no_worklist(client: TestClient, world: World) -> None:
    across = sign(client, world, "admin", world.residents["a2_adult"], "team_a1")
    assert across.status_code == 201, across.text
    lists = client.get(f"{URL}/teams/{world.teams['team_a1']}/worklists", headers=bearer(world, "admin"))
    assert lists.status_code == 403
