"""The ``healthbrain`` command line."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from healthbrain import __version__
from healthbrain.chronic.cli import app as chronic_app
from healthbrain.cli_common import DatabaseOpt, DataDirOpt, console
from healthbrain.cli_common import open_database as _database
from healthbrain.cli_common import settings_for as _settings
from healthbrain.config import Settings
from healthbrain.core.time import local_today
from healthbrain.interop.cli import import_app
from healthbrain.linkage.cli import app as link_app
from healthbrain.records.cli import app as records_app
from healthbrain.surveillance.cli import app as surveillance_app
from healthbrain.surveillance.detect_cli import detect

app = typer.Typer(
    help="healthbrain 健康大脑+ — the regional health platform.\n\n"
    "Start here: `healthbrain demo` builds a synthetic district in a local SQLite file and serves it "
    "at http://127.0.0.1:8000 with one login per role.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
users_app = typer.Typer(help="Users and their tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
DEMO_PASSWORD = "healthbrain-demo"
DEMO_BACKFILL_DAYS = 21  # the demo opens with three weeks of detection passes and worked alerts


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"healthbrain {__version__}")


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOpt = None, revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from healthbrain.migrations.runner import current_revision, upgrade

    database = _database(_settings(database_url))
    upgrade(database.engine, revision)
    console.print(f"database at revision [bold]{current_revision(database.engine)}[/]")


@db_app.command("current")
def db_current(database_url: DatabaseOpt = None) -> None:
    """Show the database's migration revision."""
    from healthbrain.migrations.runner import current_revision

    console.print(current_revision(_database(_settings(database_url)).engine) or "(empty database)")


def _run_simulation(  # type: ignore[no-untyped-def]
    database,
    residents: int,
    seed: int,
    as_of: date,
    history_days: int,
    *,
    feed_days: int = 400,
    backfill_days: int = 0,
    feed_dir=None,
) -> dict[str, int]:
    from healthbrain.sim.service import simulate

    columns = (TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done if total else 1, total=max(total, 1))

        result = simulate(
            database,
            residents=residents,
            seed=seed,
            as_of=as_of,
            history_days=history_days,
            feed_days=feed_days,
            backfill_days=backfill_days,
            feed_dir=feed_dir,
            progress=progress,
        )
    console.print(f"synthetic district loaded in [bold]{result.seconds:.1f} s[/]")
    if "record_indicator_rows" not in result.counts:
        console.print("record indicators not stored yet: run healthbrain records indicators refresh --months 12")
    table = Table("table", "rows")
    for name, count in result.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    return result.counts


@app.command()
def simulate(
    residents: Annotated[int, typer.Option(help="Number of residents.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and date give the same district.")] = 42,
    as_of: Annotated[str | None, typer.Option(help="Reference date YYYY-MM-DD (default today).")] = None,
    history_days: Annotated[int, typer.Option(help="Days of care history before the reference date.")] = 365,
    feed_days: Annotated[
        int, typer.Option(help="Days of early-warning feeds (case reports go back six years); 0 for none.")
    ] = 400,
    backfill_days: Annotated[
        int, typer.Option(help="Run the detection pass for each of the last N days and work the alerts (as the demo).")
    ] = 0,
    database_url: DatabaseOpt = None,
) -> None:
    """Build a synthetic district (divisions, institutions, teams, residents, a year of care, early-warning feeds) into an empty database."""
    from healthbrain.migrations.runner import upgrade

    settings = _settings(database_url)
    database = _database(settings)
    upgrade(database.engine)
    day = date.fromisoformat(as_of) if as_of else local_today()
    _run_simulation(
        database,
        residents,
        seed,
        day,
        history_days,
        feed_days=feed_days,
        backfill_days=backfill_days,
        feed_dir=settings.data_dir / "feeds",
    )


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option()],
    role: Annotated[
        str, typer.Option(help="admin, bureau, cdc, centre_manager, family_doctor, data_submitter, device")
    ],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    display_name: Annotated[str | None, typer.Option()] = None,
    institution_code: Annotated[str | None, typer.Option()] = None,
    practitioner_code: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Create a user (bound to an institution or a practitioner where the role needs it)."""
    from pydantic import ValidationError

    from healthbrain.auth.roles import Role
    from healthbrain.auth.schemas import UserCreate
    from healthbrain.auth.service import bindings_by_code, create_user
    from healthbrain.core.errors import DomainError

    database = _database(_settings(database_url))
    try:
        with database.unit_of_work() as session:
            institution_id, practitioner_id = bindings_by_code(
                session, institution_code=institution_code, practitioner_code=practitioner_code
            )
            data = UserCreate(
                username=username,
                display_name=display_name or username,
                password=password,
                role=Role(role),
                institution_id=institution_id,
                practitioner_id=practitioner_id,
            )
            user = create_user(session, actor=None, data=data)
            console.print(f"created user [bold]{user.username}[/] ({user.role})")
    except (DomainError, ValidationError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


@users_app.command("token")
def users_token(
    username: Annotated[str, typer.Option()],
    label: Annotated[str, typer.Option(help="What the token is for (device serial, interface name).")],
    days: Annotated[int, typer.Option()] = 365,
    database_url: DatabaseOpt = None,
) -> None:
    """Issue a long-lived bearer token for a device or interface user (printed once)."""
    from healthbrain.auth import repository
    from healthbrain.auth.service import issue_token

    database = _database(_settings(database_url))
    with database.unit_of_work() as session:
        user = repository.user_by_username(session, username)
        if user is None:
            console.print(f"[red]no user {username}[/]")
            raise typer.Exit(2)
        issued = issue_token(session, actor=None, user=user, label=label, days=days)
        console.print(issued.token)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from healthbrain.app import create_app
    from healthbrain.core.logging import configure_logging

    configure_logging(settings.log_level, json_lines=settings.log_json)
    app_ = create_app(_database(settings), settings, background=True)
    uvicorn.run(app_, host=host, port=port, log_config=None, access_log=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    database_url: DatabaseOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Serve an existing database (its migrations are applied first)."""
    from healthbrain.migrations.runner import upgrade

    settings = _settings(database_url, data_dir)
    upgrade(_database(settings).engine)
    console.print(f"healthbrain on [bold]http://{host}:{port}[/]  ({settings.resolved_database_url.split('://')[0]})")
    _serve(settings, host, port)


def _demo_arrivals(database, counts: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """Say what arrived through the ingestion paths, and queue the duplicates it made for review."""
    from healthbrain.linkage import service as linkage

    console.print(
        f"arrived the way real data arrives: {counts.get('feed_fhir_bundles', 0):,} FHIR bundles from the hospitals "
        f"({counts.get('feed_fhir_resources', 0):,} resources, {counts.get('feed_fhir_new_residents', 0):,} patients "
        f"without a resident ID), {counts.get('feed_ndjson_lines', 0):,} NDJSON lines of laboratory results, "
        f"{counts.get('feed_table_rows', 0):,} Excel rows from the clinics; {counts.get('feed_rejected', 0):,} "
        "refused with their reasons (upload history at /interop/upload)"
    )
    # Default parameters: a district whose records are mostly unique gives EM too few matches to train on.
    with database.unit_of_work() as session:
        summary = linkage.run(session, train=False)
        new = summary.new
    console.print(f"record linkage: {new:,} possible duplicate pairs to review at /linkage")


@app.command()
def demo(
    residents: Annotated[int, typer.Option(help="Residents of the synthetic district.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    database_url: DatabaseOpt = None,
    data_dir: DataDirOpt = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up and exit (for scripts and tests).")] = False,
) -> None:
    """Create a local database if none exists, simulate a district, create one login per role, and serve it."""
    from healthbrain.migrations.runner import upgrade
    from healthbrain.sim.demo import demo_devices, ensure_demo_users
    from healthbrain.sim.service import latest_run

    settings = _settings(database_url, data_dir)
    database = _database(settings)
    upgrade(database.engine)
    if latest_run(database) is None:
        console.print(f"building a synthetic district of {residents:,} residents (seed {seed}) …")
        counts = _run_simulation(
            database,
            residents,
            seed,
            local_today(),
            365,
            backfill_days=DEMO_BACKFILL_DAYS,
            feed_dir=settings.data_dir / "feeds",
        )
        _demo_arrivals(database, counts)
    else:
        console.print("using the district already in the database")
    logins = ensure_demo_users(database, password=DEMO_PASSWORD)
    table = Table("role", "username", "password", "bound to", title="demo logins")
    for login in logins:
        table.add_row(login.role, login.username, DEMO_PASSWORD, login.bound_to)
    console.print(table)
    devices = demo_devices(database)
    if devices:
        console.print("home devices of the demo doctor's patients (send readings with their own token):")
        for d in devices:
            console.print(
                f"  {d.device_id} ({d.kind}): curl -X POST 'http://{host}:{port}/api/v1/chronic/device-readings"
                f"?device_id={d.device_id}' -H 'Authorization: Bearer {d.token}' -H 'Content-Type: application/json' "
                """-d '{"readings": [{"kind": "bp", "measured_at": "<now, e.g. 2026-11-25T08:00:00+08:00>", """
                """"sbp": 186, "dbp": 112}]}'""",
                highlight=False,
                soft_wrap=True,
            )
    console.print(f"open [bold]http://{host}:{port}[/]   (API documentation: http://{host}:{port}/docs)")
    if not no_serve:
        _serve(settings, host, port)


@app.command("config")
def show_config(database_url: DatabaseOpt = None) -> None:
    """Show the effective settings."""
    settings = _settings(database_url)
    data = settings.model_dump(mode="json")
    data["resolved_database_url"] = settings.resolved_database_url
    console.print_json(json.dumps(data))


app.command("detect")(detect)
app.add_typer(surveillance_app, name="surveillance")
app.add_typer(chronic_app, name="chronic")
app.add_typer(import_app, name="import")
app.add_typer(link_app, name="link")
app.add_typer(records_app, name="records")


def main() -> None:
    app()
