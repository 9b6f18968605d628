"""``healthbrain chronic …``: chronic-disease management from the command line (慢病管理)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from healthbrain.cli_common import DatabaseOpt, DataDirOpt, console, open_database, settings_for
from healthbrain.core.time import to_local, utcnow

app = typer.Typer(help="Chronic-disease management (慢病管理).", no_args_is_help=True)

LOCAL_BROKER = "mqtt://127.0.0.1:1883"


@app.command("mqtt")
def mqtt(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Broker: mqtt://host:port, mqtts://host:port (TLS), with user:password@ before the host if needed "
            f"(default: HEALTHBRAIN_MQTT_URL, else {LOCAL_BROKER}).",
        ),
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Topic filter; its '+' level is the device id (default: HEALTHBRAIN_MQTT_TOPIC).")
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(help="MQTT client id of the persistent session (default: HEALTHBRAIN_MQTT_CLIENT_ID)."),
    ] = None,
    database_url: DatabaseOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Receive home-monitoring readings over MQTT in the foreground until Ctrl-C, one line per batch.

    Do not run it next to a server that listens with the same client id: the broker would hand the session back and forth between them.
    """
    from healthbrain.chronic.mqtt import BatchReport, MqttListener
    from healthbrain.core.logging import configure_logging

    settings = settings_for(database_url, data_dir)
    configure_logging("WARNING", json_lines=settings.log_json)  # batches are printed; problems logged
    database = open_database(settings)
    try:
        database.ping()
    except Exception as exc:
        console.print(f"[red]the database does not answer: {exc}[/]")
        raise typer.Exit(2) from None

    def printed(report: BatchReport) -> None:
        r = report.result
        alerts = f", alerts {', '.join(map(str, r.alerts))}" if r.alerts else ""
        retried = f", {report.attempts} attempts" if report.attempts > 1 else ""
        console.print(
            f"{to_local(utcnow()):%H:%M:%S} batch {r.batch_id}: {report.messages} messages, {r.received} readings: "
            f"inserted {r.inserted}, duplicates {r.duplicates}, rejected {r.rejected}, critical {r.critical}"
            f"{alerts} ({report.ms:.0f} ms{retried})",
            highlight=False,
        )
        for e in r.errors[:5]:
            console.print(f"  row {e.row} {e.field or ''}: {e.message}", style="dim", highlight=False)
        if len(r.errors) > 5:
            console.print(f"  … {len(r.errors) - 5} more rejected rows in batch {r.batch_id}", style="dim")

    try:
        listener = MqttListener(
            database,
            url=url or settings.mqtt_url or LOCAL_BROKER,
            topic=topic or settings.mqtt_topic,
            client_id=client_id or settings.mqtt_client_id,
            on_batch=printed,
        )
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: leave without storing what is queued
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    listener.start()
    try:
        where = f"{listener.broker.display} topic {listener.topic} as {listener.client_id}"
        if listener.wait_ready(10):
            console.print(f"listening to {where} (QoS 1, persistent session); Ctrl-C to stop", highlight=False)
        else:
            console.print(f"[yellow]no answer yet from {where}; retrying in the background[/]; Ctrl-C to stop")
        while not stop.wait(0.5):
            pass
        console.print("stopping: storing what was received …")
    finally:
        listener.stop()
    console.print(f"stopped after {listener.messages} messages", highlight=False)


@app.command("propose")
def propose(database_url: DatabaseOpt = None, data_dir: DataDirOpt = None) -> None:
    """Propose for enrolment every resident ≥ 35 with hypertension or type-2 diabetes in the record
    (problem list, or screening readings meeting the BPHS rule) who is not on a path yet."""
    from healthbrain.chronic.service import propose_enrolments

    database = open_database(settings_for(database_url, data_dir))
    with database.unit_of_work() as session:
        counts = propose_enrolments(session)
    for what, n in counts.items():
        console.print(f"{what}: {n} proposed", highlight=False)


def _teams(session: Session, team: str | None) -> list[int]:
    from sqlalchemy import select

    from healthbrain.geo.models import CareTeam

    if team is None:
        return list(session.scalars(select(CareTeam.id).order_by(CareTeam.id)))
    found = session.scalar(select(CareTeam.id).where((CareTeam.code == team) | (CareTeam.name == team)))
    if found is None and team.isdigit() and len(team) < 19 and session.get(CareTeam, int(team)) is not None:
        found = int(team)
    if not found:
        console.print(f"[red]no family-doctor team {team!r} (give its code, name or id)[/]")
        raise typer.Exit(2)
    return [int(found)]


@app.command("reports")
def reports(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    team: Annotated[str | None, typer.Option(help="A team's code, name or id (default: every team).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write each PDF into this folder.")] = None,
    database_url: DatabaseOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Generate the monthly health report (PDF) of every patient under management of a team."""
    import time

    from healthbrain.chronic import care, repository
    from healthbrain.core.errors import DomainError
    from healthbrain.core.time import local_today
    from healthbrain.people.models import Resident

    try:
        first = care.parse_month(month)
    except DomainError:
        console.print(f"[red]--month must be YYYY-MM, not {month!r}[/]")
        raise typer.Exit(2) from None
    if first > local_today():
        console.print("[red]--month is in the future[/]")
        raise typer.Exit(2)
    database = open_database(settings_for(database_url, data_dir))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    made = 0
    with database.sessionmaker() as session:
        teams = _teams(session, team)
        residents = repository.enrolled_residents_of_teams(session, teams)
    console.print(f"{len(residents)} patients under management in {len(teams)} team(s); month {first:%Y-%m}")
    for resident_id in residents:
        with database.unit_of_work() as session:
            resident = session.get(Resident, resident_id)
            if resident is None:
                continue
            row = care.store_report(session, resident, first, user_id=None)
            if out is not None:
                (out / f"health-report-{resident_id}-{first:%Y-%m}.pdf").write_bytes(row.pdf)
        made += 1
        if made % 100 == 0:
            console.print(f"  {made} / {len(residents)}", highlight=False)
    seconds = time.perf_counter() - started
    rate = f", {seconds / made * 1000:.0f} ms each" if made else ""
    console.print(f"{made} reports for {first:%Y-%m} in {seconds:.1f} s{rate}", highlight=False)
