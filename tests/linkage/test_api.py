"""The review queue through the service and the HTTP API, on the real database (SQLite or
PostgreSQL): run, list (scoped, masked), decide same → merge, not the same, unmerge, idempotency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthbrain.auth.models import AuditEvent
from healthbrain.linkage import service
from healthbrain.linkage.models import LinkCandidate, LinkRun
from healthbrain.people.models import Resident
from tests.conftest import bearer
from tests.factories import PASSWORD, World, add_resident

API = "/api/v1/linkage/candidates"


@dataclass
class Pairs:
    zeng: Resident  # 曾国藩, with an ID number
    zeng_dup: Resident  # the same man romanised, no ID number, a swapped phone digit
    wang: Resident
    wang_dup: Resident  # 王玮: a homophone, no ID
    sun: Resident  # in another town (out of the a-centre's catchment)
    sun_dup: Resident


def _resident(
    session: Session,
    world: World,
    community: str,
    name: str,
    born: date,
    male: bool,
    phone: str,
    *,
    with_id: bool,
    address: str,
) -> Resident:
    r = add_resident(session, community_id=world.divisions[community], name=name, birth=born, male=male, phone=phone)
    r.address = address
    if not with_id:
        r.id_number = None
    session.flush()
    return r


@pytest.fixture
def pairs(session: Session, world: World) -> Pairs:
    made = Pairs(
        zeng=_resident(
            session,
            world,
            "a1",
            "曾国藩",
            date(1956, 8, 26),
            True,
            "15609624156",
            with_id=True,
            address="青山社区和平路137号",
        ),
        zeng_dup=_resident(
            session,
            world,
            "a1",
            "Zeng Guofan",
            date(1956, 8, 26),
            True,
            "15606924156",
            with_id=False,
            address="青山社区和平路一三七号",
        ),
        wang=_resident(
            session,
            world,
            "a2",
            "王伟",
            date(1981, 4, 2),
            True,
            "13955550001",
            with_id=True,
            address="绿水社区东湖路1号",
        ),
        wang_dup=_resident(
            session,
            world,
            "a2",
            "王玮",
            date(1981, 4, 2),
            True,
            "13955550001",
            with_id=False,
            address="绿水社区东湖路1号",
        ),
        sun=_resident(
            session,
            world,
            "b1",
            "孙红梅",
            date(1969, 7, 20),
            False,
            "13666660002",
            with_id=True,
            address="西山社区解放路8号",
        ),
        sun_dup=_resident(
            session,
            world,
            "b1",
            "孙 红梅",
            date(1969, 7, 20),
            False,
            "13666660002",
            with_id=False,
            address="西山社区解放路8号",
        ),
    )
    session.commit()
    return made


def _run(session: Session) -> service.RunSummary:
    summary = service.run(session, threshold=0.5, train=False)
    session.commit()
    return summary


def _pair_ids(session: Session) -> dict[tuple[int, int], LinkCandidate]:
    return {(c.left_id, c.right_id): c for c in session.scalars(select(LinkCandidate))}


def test_run_fills_the_queue_once(session: Session, pairs: Pairs) -> None:
    first = _run(session)
    found = _pair_ids(session)
    for a, b in ((pairs.zeng, pairs.zeng_dup), (pairs.wang, pairs.wang_dup), (pairs.sun, pairs.sun_dup)):
        key = (min(a.id, b.id), max(a.id, b.id))
        assert key in found, key
        assert found[key].status == "open"
        assert found[key].probability >= 0.5
        assert set(found[key].evidence) == {"name", "sex", "birth_date", "phone", "id_number", "address"}
    assert first.new == len(found) >= 3
    assert first.run.records >= 12  # the world's residents and these
    run_row = session.get(LinkRun, first.run.id)
    assert run_row is not None and run_row.finished_at is not None and run_row.params is not None
    assert run_row.params["threshold"] == 0.5
    # A second run adds nothing and duplicates nothing.
    second = _run(session)
    assert (second.new, second.refreshed) == (0, len(found))
    assert session.scalar(select(func.count()).select_from(LinkCandidate)) == len(found)


def test_queue_is_scoped_masked_and_needs_the_merge_permission(
    client: TestClient, session: Session, world: World, pairs: Pairs
) -> None:
    _run(session)
    admin = client.get(API, headers=bearer(world, "admin"))
    assert admin.status_code == 200, admin.text
    body = admin.json()
    ids = {frozenset((i["left"]["id"], i["right"]["id"])) for i in body["items"]}
    assert frozenset((pairs.zeng.id, pairs.zeng_dup.id)) in ids
    assert frozenset((pairs.sun.id, pairs.sun_dup.id)) in ids
    assert body["total"] == len(body["items"])
    item = next(i for i in body["items"] if {i["left"]["id"], i["right"]["id"]} == {pairs.zeng.id, pairs.zeng_dup.id})
    side = item["left"] if item["left"]["id"] == pairs.zeng.id else item["right"]
    assert pairs.zeng.id_number is not None
    assert side["id_number_masked"] == pairs.zeng.id_number[:6] + "********" + pairs.zeng.id_number[-4:]
    assert pairs.zeng.id_number not in admin.text and "15609624156" not in admin.text
    assert item["suggested_survivor_id"] == pairs.zeng.id  # the record with the ID number
    assert item["evidence"]["name"]["level"] == "pinyin"
    # The a-centre's manager sees the pairs of its catchment only.
    centre = client.get(API, headers=bearer(world, "centre_a")).json()
    centre_ids = {frozenset((i["left"]["id"], i["right"]["id"])) for i in centre["items"]}
    assert frozenset((pairs.wang.id, pairs.wang_dup.id)) in centre_ids
    assert frozenset((pairs.sun.id, pairs.sun_dup.id)) not in centre_ids
    sun_pair = _pair_ids(session)[(min(pairs.sun.id, pairs.sun_dup.id), max(pairs.sun.id, pairs.sun_dup.id))]
    assert client.get(f"{API}/{sun_pair.id}", headers=bearer(world, "centre_a")).status_code == 404
    # Without the merge permission: refused.
    for user in ("doctor_a1", "bureau", "submitter"):
        assert client.get(API, headers=bearer(world, user)).status_code == 403
    # Listing is audited.
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "linkage.list")) >= 2


def test_same_merges_into_the_suggested_survivor_and_unmerge_undoes_it(
    client: TestClient, session: Session, world: World, pairs: Pairs
) -> None:
    _run(session)
    pair = _pair_ids(session)[(pairs.zeng.id, pairs.zeng_dup.id)]
    decided = client.post(f"{API}/{pair.id}/decision", json={"decision": "same"}, headers=bearer(world, "admin"))
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "same"
    assert decided.json()["merge_id"] is not None
    session.expire_all()
    assert session.get(Resident, pairs.zeng_dup.id).status == "merged"  # type: ignore[union-attr]
    assert session.get(Resident, pairs.zeng_dup.id).merged_into_id == pairs.zeng.id  # type: ignore[union-attr]
    # Decided once only.
    again = client.post(f"{API}/{pair.id}/decision", json={"decision": "not_same"}, headers=bearer(world, "admin"))
    assert again.status_code == 409
    # Unmerge: both active again, the pair closed as not the same.
    undone = client.post(f"{API}/{pair.id}/unmerge", json={"reason": "核实为两人"}, headers=bearer(world, "admin"))
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "not_same"
    session.expire_all()
    assert session.get(Resident, pairs.zeng_dup.id).status == "active"  # type: ignore[union-attr]
    assert (
        client.post(f"{API}/{pair.id}/unmerge", json={"reason": "再撤销"}, headers=bearer(world, "admin")).status_code
        == 409
    )
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(pair.id))))
    assert {"linkage.decide", "linkage.unmerge"} <= actions
    # A later run does not reopen a decided pair.
    summary = _run(session)
    assert summary.kept_decided >= 1
    session.expire_all()
    assert session.get(LinkCandidate, pair.id).status == "not_same"  # type: ignore[union-attr]


def test_not_same_closes_the_pair_and_a_named_survivor_is_kept(
    client: TestClient, session: Session, world: World, pairs: Pairs
) -> None:
    _run(session)
    found = _pair_ids(session)
    wang = found[(pairs.wang.id, pairs.wang_dup.id)]
    sun = found[(pairs.sun.id, pairs.sun_dup.id)]
    closed = client.post(f"{API}/{wang.id}/decision", json={"decision": "not_same"}, headers=bearer(world, "centre_a"))
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "not_same" and closed.json()["merge_id"] is None
    open_ids = {i["id"] for i in client.get(API, headers=bearer(world, "centre_a")).json()["items"]}
    assert wang.id not in open_ids
    decided_ids = {
        i["id"] for i in client.get(f"{API}?status=not_same", headers=bearer(world, "centre_a")).json()["items"]
    }
    assert wang.id in decided_ids
    # Keep the record without an ID number, as the reviewer chose.
    kept = client.post(
        f"{API}/{sun.id}/decision",
        json={"decision": "same", "survivor_id": pairs.sun_dup.id},
        headers=bearer(world, "admin"),
    )
    assert kept.status_code == 200, kept.text
    session.expire_all()
    assert session.get(Resident, pairs.sun.id).merged_into_id == pairs.sun_dup.id  # type: ignore[union-attr]


def test_errors_name_what_is_wrong(client: TestClient, session: Session, world: World, pairs: Pairs) -> None:
    _run(session)
    pair = _pair_ids(session)[(pairs.zeng.id, pairs.zeng_dup.id)]
    admin = bearer(world, "admin")
    bad_decision = client.post(f"{API}/{pair.id}/decision", json={"decision": "maybe"}, headers=admin)
    assert bad_decision.status_code == 422
    assert bad_decision.json()["detail"][0]["loc"][-1] == "decision"
    outsider = client.post(
        f"{API}/{pair.id}/decision", json={"decision": "same", "survivor_id": pairs.wang.id}, headers=admin
    )
    assert outsider.status_code == 422
    assert outsider.json()["detail"][0]["loc"][-1] == "survivor_id"
    assert client.post(f"{API}/999999999/decision", json={"decision": "same"}, headers=admin).status_code == 404
    assert client.get(f"{API}/0", headers=admin).status_code == 422
    assert client.get(f"{API}?status=whatever", headers=admin).status_code == 422
    short = client.post(f"{API}/{pair.id}/unmerge", json={"reason": "x"}, headers=admin)
    assert short.status_code == 422
    assert client.post(f"{API}/{pair.id}/unmerge", json={"reason": "没有合并过"}, headers=admin).status_code == 409


def _login(client: TestClient, username: str) -> str:
    response = client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/")
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_queue_page_decides_and_unmerges(client: TestClient, session: Session, world: World, pairs: Pairs) -> None:
    _run(session)
    pair = _pair_ids(session)[(pairs.zeng.id, pairs.zeng_dup.id)]
    csrf = _login(client, "centre_a")
    page = client.get("/linkage")
    assert page.status_code == 200
    assert "疑似重复档案" in page.text and f'data-pair-id="{pair.id}"' in page.text
    assert "拼音相同" in page.text
    assert "15609624156" not in page.text
    done = client.post(
        f"/linkage/{pair.id}/decision",
        data={"csrf_token": csrf, "decision": "same", "survivor_id": str(pairs.zeng.id)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    decided = client.get("/linkage?status=decided")
    assert f'data-pair-id="{pair.id}"' in decided.text and "撤销合并" in decided.text
    undone = client.post(
        f"/linkage/{pair.id}/unmerge", data={"csrf_token": csrf, "reason": "核实为两人"}, follow_redirects=False
    )
    assert undone.status_code == 303
    session.expire_all()
    assert session.get(Resident, pairs.zeng_dup.id).status == "active"  # type: ignore[union-attr]
    english = client.get("/linkage?status=decided", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    # Without the merge permission the page is refused.
    client.post("/logout", data={"csrf_token": csrf})
    _login(client, "doctor_a1")
    assert client.get("/linkage").status_code == 403
