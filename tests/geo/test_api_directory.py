"""The directory through the API: divisions with their maps, institutions, practitioners, teams."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import bearer
from tests.factories import World

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[120.2, 30.2], [120.3, 30.2], [120.3, 30.3], [120.2, 30.3], [120.2, 30.2]]],
}


def test_read_divisions_and_their_geojson(client: TestClient, world: World) -> None:
    headers = bearer(world, "bureau")
    towns = client.get("/api/v1/divisions", headers=headers, params={"level": "town"}).json()
    assert [t["code"] for t in towns] == [world.codes["town_a"], world.codes["town_b"]]
    children = client.get("/api/v1/divisions", headers=headers, params={"parent_code": world.codes["town_a"]}).json()
    assert {c["code"] for c in children} == {world.codes["a1"], world.codes["a2"]}
    geo = client.get(f"/api/v1/divisions/{world.codes['town_a']}/geojson", headers=headers).json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 3
    assert geo["features"][0]["geometry"]["type"] == "Polygon"
    assert client.get("/api/v1/divisions/330199009000", headers=headers).status_code == 404
    assert client.get("/api/v1/divisions", headers=bearer(world, "device")).status_code == 403


def test_institution_detail_lists_its_catchment(client: TestClient, world: World) -> None:
    response = client.get(f"/api/v1/institutions/{world.institution_codes['chc_a']}", headers=bearer(world, "cdc"))
    assert response.status_code == 200
    assert response.json()["catchment_codes"] == [world.codes["a1"], world.codes["a2"]]
    classes = client.get(
        f"/api/v1/institutions/{world.institution_codes['school']}/classes", headers=bearer(world, "cdc")
    )
    assert [{k: v for k, v in c.items() if k != "id"} for c in classes.json()] == [
        {"grade": 1, "name": "一年级1班", "enrolled": 42},
        {"grade": 1, "name": "一年级2班", "enrolled": 40},
    ]
    schools = client.get("/api/v1/institutions", headers=bearer(world, "cdc"), params={"kind": "school"}).json()
    assert [s["code"] for s in schools] == [world.institution_codes["school"]]


def test_admin_builds_a_new_community_with_a_centre_and_a_team(client: TestClient, world: World) -> None:
    headers = bearer(world, "admin")
    division = client.post(
        "/api/v1/divisions", headers=headers, json={"code": "330199100202", "name": "新村", "polygon": SQUARE}
    )
    assert division.status_code == 201, division.text
    assert division.json()["level"] == "community" and division.json()["kind"] == "village"
    assert abs(division.json()["centroid_lon"] - 120.25) < 1e-6
    clinic = client.post(
        "/api/v1/institutions",
        headers=headers,
        json={
            "code": "V330199100202",
            "name": "新村卫生室",
            "kind": "village_clinic",
            "division_code": "330199100202",
            "parent_code": world.institution_codes["chc_b"],
            "catchment_codes": ["330199100202"],
        },
    )
    assert clinic.status_code == 201, clinic.text
    doctor = client.post(
        "/api/v1/practitioners",
        headers=headers,
        json={"code": "D-new", "name": "何医生", "sex": "F", "profession": "gp", "institution_code": "V330199100202"},
    )
    assert doctor.status_code == 201, doctor.text
    team = client.post(
        "/api/v1/teams",
        headers=headers,
        json={
            "code": "T-new",
            "name": "新村团队",
            "home_institution_code": world.institution_codes["chc_b"],
            "members": [{"practitioner_code": "D-new", "role": "lead_gp"}],
            "community_codes": ["330199100202"],
        },
    )
    assert team.status_code == 201, team.text
    assert team.json()["members"][0]["name"] == "何医生" and team.json()["community_codes"] == ["330199100202"]


def test_directory_writes_name_the_bad_field(client: TestClient, world: World) -> None:
    headers = bearer(world, "admin")
    cases = [
        ("/api/v1/divisions", {"code": "330199900000", "name": "x"}, "code"),  # township part out of range
        ("/api/v1/divisions", {"code": "330199005001", "name": "x"}, "code"),  # its town does not exist
        (
            "/api/v1/divisions",
            {"code": "330199100203", "name": "x", "polygon": {"type": "Polygon", "coordinates": []}},
            "polygon",
        ),
        (
            "/api/v1/institutions",
            {"code": "X1", "name": "x", "kind": "chc", "division_code": "330199999999"},
            "division_code",
        ),
        (
            "/api/v1/institutions",
            {
                "code": "X1",
                "name": "x",
                "kind": "chc",
                "division_code": world.codes["a1"],
                "catchment_codes": [world.codes["town_a"]],
            },
            "catchment_codes[0]",
        ),
        (
            "/api/v1/practitioners",
            {"code": "P1", "name": "x", "sex": "M", "profession": "gp", "institution_code": "NOPE"},
            "institution_code",
        ),
        (
            "/api/v1/teams",
            {
                "code": "T1",
                "name": "x",
                "home_institution_code": world.institution_codes["chc_a"],
                "members": [{"practitioner_code": "NOPE", "role": "gp"}],
                "community_codes": [world.codes["a1"]],
            },
            "members[0].practitioner_code",
        ),
    ]
    for url, body, field in cases:
        response = client.post(url, headers=headers, json=body)
        assert response.status_code == 422, (url, body, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", *field.split(".")], response.json()
    duplicate = client.post(
        "/api/v1/institutions",
        headers=headers,
        json={"code": world.institution_codes["chc_a"], "name": "x", "kind": "chc", "division_code": world.codes["a1"]},
    )
    assert duplicate.status_code == 409


def test_only_the_administrator_writes_the_directory(client: TestClient, world: World) -> None:
    body = {"code": "330199100299", "name": "x"}
    for username in ("bureau", "cdc", "centre_a", "doctor_a1", "submitter"):
        assert client.post("/api/v1/divisions", headers=bearer(world, username), json=body).status_code == 403, username
