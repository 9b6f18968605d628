"""Browser-test fixtures: a real demo district served by the real ``healthbrain serve`` process,
driven by Debian's Chromium through Playwright.

Per pytest session (so per xdist worker): one database (a temporary SQLite file, or a new
PostgreSQL database ``hb_browser_<random>`` next to ``HEALTHBRAIN_TEST_DATABASE_URL``, never that
database itself), built by ``healthbrain demo --no-serve``; one server subprocess on a free port;
one Chromium. Per test: a fresh browser context (no cookies), so every test logs in itself.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Response, ViewportSize, sync_playwright
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.exc import OperationalError

from healthbrain.config import normalise_database_url
from healthbrain.db import make_engine
from healthbrain.geo.models import Division, InstitutionCatchment

DEMO_PASSWORD = "healthbrain-demo"
DEMO_RESIDENTS = 3000
DEMO_SEED = 7
CHROMIUM = os.environ.get("HEALTHBRAIN_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TEST_DATABASE_URL = os.environ.get("HEALTHBRAIN_TEST_DATABASE_URL")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

# GB 11643 check character (ISO 7064 MOD 11-2), written out here so the tests do not borrow the
# code under test.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"


def check_character(first17: str) -> str:
    return CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


# --------------------------------------------------------------------------- database and server


def _run(args: list[str], *, log: Path, timeout: float) -> None:
    with log.open("ab") as out:
        done = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, env=_server_env(), timeout=timeout)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{' '.join(args[2:5])} … failed with exit code {done.returncode}:\n{tail}")


def _server_env() -> dict[str, str]:
    """The caller's environment, minus settings that would point the CLI somewhere else."""
    env = {k: v for k, v in os.environ.items() if k not in ("HEALTHBRAIN_DATABASE_URL", "HEALTHBRAIN_DATA_DIR")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _admin_engine(base_url: str) -> Any:
    """An AUTOCOMMIT engine on the maintenance database of the test server (falling back to the
    configured database only to issue CREATE/DROP DATABASE if ``postgres`` is not reachable)."""
    base = make_url(normalise_database_url(base_url))
    for candidate in (base.set(database="postgres"), base):
        engine = create_engine(candidate, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect():
                return engine
        except OperationalError:
            engine.dispose()
    raise RuntimeError(f"cannot connect to the PostgreSQL server of {base.render_as_string(hide_password=True)}")


@pytest.fixture(scope="session")
def browser_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new, empty database for this worker's server."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'healthbrain.sqlite3'}"
        return
    base = make_url(normalise_database_url(TEST_DATABASE_URL))
    name = f"hb_browser_{uuid.uuid4().hex[:12]}"
    assert name != base.database
    admin = _admin_engine(TEST_DATABASE_URL)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str
    data_dir: Path
    log: Path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, browser_database_url: str) -> Iterator[LiveServer]:
    """``healthbrain demo --no-serve`` then ``healthbrain serve`` on a free port, as a user runs them."""
    data_dir = tmp_path_factory.mktemp("browser-data")
    log = data_dir / "server.log"
    cli = [sys.executable, "-m", "healthbrain"]
    location = ["--database-url", browser_database_url, "--data-dir", str(data_dir)]
    demo = [*cli, "demo", "--residents", str(DEMO_RESIDENTS), "--seed", str(DEMO_SEED), "--no-serve", *location]
    _run(demo, log=log, timeout=300)

    process: subprocess.Popen[bytes] | None = None
    url = ""
    for _attempt in range(3):  # another process may grab the free port before the server binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), *location],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_server_env(),
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and not _healthy(url):
            time.sleep(0.2)
        if process.poll() is None and _healthy(url):
            break
        _stop(process)
        process = None
    if process is None:
        raise RuntimeError(f"healthbrain serve did not answer /healthz within 60 s:\n{log.read_text()[-4000:]}")
    try:
        yield LiveServer(url=url, database_url=browser_database_url, data_dir=data_dir, log=log)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --------------------------------------------------------------------------- the HTTP API


class ApiError(AssertionError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Api:
    """The platform's JSON API, for set-up and for facts the pages are checked against."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            body = self.request("POST", "/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            self._tokens[username] = body["access_token"]
        return self._tokens[username]

    def request(
        self, method: str, path: str, *, user: str | None = None, json: Any = None, token: str | None = None
    ) -> Any:
        """``user`` sends as that demo login; ``token`` with a bearer token of its own (a device's)."""
        headers = {"Accept": "application/json"}
        data = None
        if json is not None:
            data = _json_bytes(json)
            headers["Content-Type"] = "application/json"
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return _json_loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            raise ApiError(exc.code, _json_loads(raw) if raw else None) from None

    def get(self, path: str, *, user: str) -> Any:
        return self.request("GET", path, user=user)

    def post(self, path: str, body: Any, *, user: str) -> Any:
        return self.request("POST", path, user=user, json=body)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _json_loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@pytest.fixture(scope="session")
def api(live_server: LiveServer) -> Api:
    return Api(live_server.url)


# --------------------------------------------------------------------------- the demo district's facts


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    division_code: str


@dataclass
class Cast:
    """Who is who in the demo district, read through the admin's API (and, for catchments, the
    database, which no API exposes)."""

    team_codes: set[str]  # communities the family doctor's team serves
    centre_code: str  # the centre manager's institution
    centre_catchment: set[str]
    other_centre_catchment: set[str]  # another centre's catchment, in another town
    hospital_code: str  # the data submitter's institution
    hospital_name: str
    towns: list[dict[str, Any]]
    home: Person  # in the doctor's team and the centre's catchment; chronic; registered by a centre
    elsewhere: Person  # another centre's catchment, another town; registered by that centre
    submitted: Person  # registered by the data submitter's hospital, outside team and catchment


def _catchments(database_url: str) -> dict[int, set[str]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(InstitutionCatchment.institution_id, Division.code).join(
                    Division, Division.id == InstitutionCatchment.division_id
                )
            ).all()
    finally:
        engine.dispose()
    catchments: dict[int, set[str]] = {}
    for institution_id, code in rows:
        catchments.setdefault(institution_id, set()).add(code)
    return catchments


def town_of(community_code: str) -> str:
    return community_code[:9] + "000"


def _registered_elsewhere(api: Api, resident_id: int, cast_hospital: tuple[str, str]) -> bool:
    code, name = cast_hospital
    detail = api.get(f"/api/v1/residents/{resident_id}", user="admin")
    return detail["registered_institution"] != name and all(i["system"] != code for i in detail["identifiers"])


def _pick(api: Api, codes: set[str], hospital: tuple[str, str], *, key_population: str | None = None) -> Person | None:
    for code in sorted(codes):
        query = f"/api/v1/residents?division_code={code}&limit=50"
        if key_population:
            query += f"&key_population={key_population}"
        for item in api.get(query, user="admin")["items"]:
            if item["status"] == "active" and _registered_elsewhere(api, item["id"], hospital):
                return Person(item["id"], item["name"], item["division"]["code"])
    return None


def valid_id_number(rng: random.Random, *, address: str = "110101", male: bool | None = None) -> str:
    """A random, valid 18-character ID number (Beijing address code: the demo district is in 3301)."""
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 60))
    seq = rng.randrange(0, 1000)
    if male is not None and seq % 2 != (1 if male else 0):
        seq = (seq + 1) % 1000
    first17 = f"{address}{born:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)


def unused_id_number(api: Api, rng: random.Random, **kwargs: Any) -> str:
    for _ in range(50):
        number = valid_id_number(rng, **kwargs)
        if not api.get(f"/api/v1/residents?q={number}&include_inactive=true", user="admin")["items"]:
            return number
    raise AssertionError("no unused ID number found")


def random_mobile(rng: random.Random) -> str:
    return f"139{rng.randrange(10**8):08d}"


@pytest.fixture(scope="session")
def rng() -> random.Random:
    return random.Random()  # test data, not secrets


@pytest.fixture(scope="session")
def cast(api: Api, live_server: LiveServer, rng: random.Random) -> Cast:
    users = {u["username"]: u for u in api.get("/api/v1/users", user="admin")}
    institutions = {i["id"]: i for i in api.get("/api/v1/institutions?limit=1000", user="admin")}
    me = api.get("/api/v1/auth/me", user="doctor")
    teams = api.get("/api/v1/teams?limit=1000", user="admin")
    team_codes = {c for t in teams if t["id"] in me["team_ids"] for c in t["community_codes"]}
    assert team_codes, "the demo family doctor serves no community"

    centre = institutions[users["centre"]["institution_id"]]
    hospital = institutions[users["submitter"]["institution_id"]]
    catchments = _catchments(live_server.database_url)
    centre_catchment = catchments[centre["id"]]
    team_towns = {town_of(c) for c in team_codes | centre_catchment}
    others = [
        codes
        for iid, codes in sorted(catchments.items())
        if institutions[iid]["kind"] == "chc"
        and iid != centre["id"]
        and not codes & (team_codes | centre_catchment)
        and not {town_of(c) for c in codes} & team_towns
    ]
    assert others, "the demo district has no second centre in another town"
    other_catchment = others[0]
    hospital_key = (hospital["code"], hospital["name"])

    home = _pick(api, team_codes & centre_catchment, hospital_key, key_population="chronic")
    elsewhere = _pick(api, other_catchment, hospital_key)
    assert home is not None and elsewhere is not None

    # A resident registered by the hospital (the demo has none): registered through the API by
    # the submitter, in a community that neither the team nor the two centres serve.
    outside = sorted(
        c
        for t in api.get("/api/v1/divisions?level=community", user="admin")
        if (c := t["code"]) not in team_codes | centre_catchment | other_catchment
    )
    assert outside, "every community is served by the team or the two centres"
    body = {
        "id_number": unused_id_number(api, rng),
        "name": "门诊新患者",
        "phone": random_mobile(rng),
        "division_code": outside[0],
        "address": "浏览器测试 1 号",
    }
    created = api.post("/api/v1/residents", body, user="submitter")
    submitted = Person(created["id"], created["name"], created["division"]["code"])

    return Cast(
        team_codes=team_codes,
        centre_code=centre["code"],
        centre_catchment=centre_catchment,
        other_centre_catchment=other_catchment,
        hospital_code=hospital["code"],
        hospital_name=hospital["name"],
        towns=api.get("/api/v1/divisions?level=town", user="admin"),
        home=home,
        elsewhere=elsewhere,
        submitted=submitted,
    )


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (install Debian's chromium or set HEALTHBRAIN_CHROMIUM)"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class Pages:
    """Fresh browser contexts for one test; every page's server errors and script errors are
    collected and fail the test at the end."""

    def __init__(self, browser: Browser, server: LiveServer, sessions: dict[str, Any]) -> None:
        self.browser = browser
        self.server = server
        self.sessions = sessions
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []

    def new(self, storage_state: Any = None) -> Page:
        context = self.browser.new_context(base_url=self.server.url, viewport=VIEWPORT, storage_state=storage_state)
        context.set_default_timeout(15_000)
        context.on("response", self._on_response)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.problems.append(f"script error on {page.url}: {exc}"))
        return page

    def _on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.problems.append(f"{response.request.method} {response.url} answered {response.status}")

    def logged_in(self, username: str) -> Page:
        """A page logged in as ``username``: through the form the first time in this session,
        then with that login's cookie in a new context (a password check costs half a second)."""
        if username in self.sessions:
            page = self.new(self.sessions[username])
            page.goto("/")
        else:
            page = self.new()
            response = login(page, username)
            assert response.status == 303, f"login as {username} failed"
            self.sessions[username] = page.context.storage_state()
        assert page.url == f"{self.server.url}/", f"not logged in as {username}: at {page.url}"
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def login(page: Page, username: str, password: str = DEMO_PASSWORD) -> Response:
    """Log in through the form; returns the response to the form's POST."""
    page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as posted:
        page.locator("form[action='/login'] button[type=submit]").click()
    response = posted.value
    if response.status == 303:  # wait until the browser has followed the redirect
        page.wait_for_url(re.compile(re.escape(response.headers["location"]) + "$"))
    page.wait_for_load_state()
    return response


@pytest.fixture(scope="session")
def login_sessions() -> dict[str, Any]:
    """Storage states (session cookies) of this worker's logins, by username."""
    return {}


@pytest.fixture
def pages(chromium: Browser, live_server: LiveServer, login_sessions: dict[str, Any]) -> Iterator[Pages]:
    opened = Pages(chromium, live_server, login_sessions)
    yield opened
    opened.close()
    assert not opened.problems, "\n".join(opened.problems)


@pytest.fixture
def page(pages: Pages) -> Page:
    return pages.new()


@pytest.fixture
def as_user(pages: Pages) -> Callable[[str], Page]:
    """``as_user("doctor")``: a page in a new browser context, logged in through the form."""
    return pages.logged_in


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if configured := os.environ.get("HEALTHBRAIN_SCREENSHOT_DIR"):
        path = Path(configured) / WORKER
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")
