"""The contract pages over HTTP (the browser tests drive the signature pad): worklists, the form and its
errors, signing, the history with the signature, ending."""

from __future__ import annotations

from fastapi.testclient import TestClient

from healthbrain.core.time import local_today
from tests.conftest import bearer
from tests.contracts.pngs import SIGNATURE
from tests.factories import World


def form(world: World, resident: str, **extra: str) -> dict[str, str]:
    return {
        "resident_id": str(world.residents[resident]),
        "team_id": str(world.teams["team_a1"]),
        "package_code": "elderly",
        "start_date": local_today().isoformat(),
        "signer_name": "王大爷",
        "signer_relation": "self",
        "method": "handwritten",
        "signature": SIGNATURE,
        **extra,
    }


def test_worklists_page(client: TestClient, world: World) -> None:
    page = client.get("/contracts", headers=bearer(world, "doctor_a1"))
    assert page.status_code == 200
    assert "王大爷" in page.text and "未签约的重点人群" in page.text and "即将到期的签约" in page.text
    assert f"/contracts/sign?resident_id={world.residents['a1_elder']}" in page.text
    assert client.get("/contracts", headers=bearer(world, "bureau")).status_code == 403


def test_sign_form_then_history_then_end(client: TestClient, world: World) -> None:
    headers = bearer(world, "doctor_a1")
    shown = client.get(f"/contracts/sign?resident_id={world.residents['a1_elder']}", headers=headers)
    assert shown.status_code == 200 and "signature-pad" in shown.text and "老年人包" in shown.text
    posted = client.post("/contracts/sign", data=form(world, "a1_elder"), headers=headers, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"] == f"/contracts/residents/{world.residents['a1_elder']}?notice=signed"
    history = client.get(posted.headers["location"], headers=headers)
    assert history.status_code == 200 and SIGNATURE in history.text and "签约成功" in history.text
    again = client.post("/contracts/sign", data=form(world, "a1_elder"), headers=headers)
    assert again.status_code == 422 and "该居民已与本团队签约" in again.text
    contract_id = history.text.split('data-contract="')[1].split('"')[0]
    ended = client.post(
        f"/contracts/{contract_id}/end", data={"reason": "moved"}, headers=headers, follow_redirects=False
    )
    assert ended.status_code == 303
    assert "迁出" in client.get(ended.headers["location"], headers=headers).text


def test_form_errors_are_shown_with_the_field(client: TestClient, world: World) -> None:
    headers = bearer(world, "doctor_a1")
    missing = client.post("/contracts/sign", data=form(world, "a1_wife", signature=""), headers=headers)
    assert missing.status_code == 422 and "签名板" in missing.text
    bad = client.post(
        "/contracts/sign", data=form(world, "a1_wife", signature="data:text/plain;base64,aGk="), headers=headers
    )
    assert bad.status_code == 422 and "consent.signature" in bad.text and "PNG" in bad.text
    late = client.post("/contracts/sign", data=form(world, "a1_wife", end_date="2000-01-01"), headers=headers)
    assert late.status_code == 422 and "早于开始日期" in late.text
