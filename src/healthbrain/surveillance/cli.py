"""``healthbrain surveillance …``: submit a feed file, run the detection pass, rebuild the series,
send pending notifications, evaluate the detectors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthbrain.cli_common import DatabaseOpt, console, open_database, settings_for
from healthbrain.surveillance.evaluate_cli import evaluate

app = typer.Typer(help="Infectious-disease early warning (传染病多点触发预警).", no_args_is_help=True)
app.command("evaluate")(evaluate)


def _principal(session, username: str | None):  # type: ignore[no-untyped-def]
    """The user a command acts as (their scope and permissions), or the CDC's system job."""
    from healthbrain.auth import repository as auth_repository
    from healthbrain.auth.service import principal_of
    from healthbrain.surveillance.tasks import SYSTEM_PRINCIPAL

    if username is None:
        return SYSTEM_PRINCIPAL
    user = auth_repository.user_by_username(session, username)
    if user is None:
        console.print(f"[red]no user {username}[/]")
        raise typer.Exit(2)
    return replace(principal_of(session, user), auth_kind="job")


@app.command()
def submit(
    feed: Annotated[str, typer.Argument(help="school_absence, fever_clinic, pharmacy, lab or case")],
    file: Annotated[Path, typer.Argument(help="CSV or xlsx with the template's headers", exists=True, dir_okay=False)],
    username: Annotated[
        str | None, typer.Option("--as", help="Submit as this user (default: the CDC's system job).")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Submit a CSV or Excel file of a feed; prints what was stored and each rejected row with its reason."""
    from healthbrain.core.errors import DomainError
    from healthbrain.surveillance import files, ingest

    database = open_database(settings_for(database_url))
    content = file.read_bytes()
    try:
        with database.unit_of_work() as session:
            parsed = ingest.parse_feed(feed)
            result = ingest.ingest(
                session,
                principal=_principal(session, username),
                feed=parsed,
                rows=files.read_rows(parsed, file.name, content),
                batch_key=files.content_key(content),
                channel="file",
            )
    except DomainError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(
        f"batch {result.batch_id}{' (replayed)' if result.replayed else ''}: received {result.received}, "
        f"inserted {result.inserted}, corrected {result.corrected}, unchanged {result.unchanged}, "
        f"rejected {result.rejected}; alerts {result.alerts or '—'}"
    )
    if result.errors:
        table = Table("row", "field", "reason", title="rejected rows")
        for e in result.errors:
            table.add_row(str(e.row), e.field or "", e.message)
        console.print(table)


@app.command("run")
def run(
    day: Annotated[str | None, typer.Option(help="The day to evaluate, YYYY-MM-DD (default today).")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Run every enabled detector over every place for one day (the nightly pass), including the space–time scan."""
    from healthbrain.surveillance.tasks import run_pass

    database = open_database(settings_for(database_url))
    with database.unit_of_work() as session:
        result = run_pass(session, day=date.fromisoformat(day) if day else None)
    console.print(
        f"{result.day}: {result.detectors} detectors, {result.evaluations} series, {result.hits} alarms, "
        f"{len(result.alerts)} alerts raised or extended in {result.seconds:.2f} s"
    )
    for method, seconds in sorted(result.by_method.items()):
        console.print(f"  {method:<22} {seconds:.3f} s")


@app.command()
def rebuild(database_url: DatabaseOpt = None) -> None:
    """Recompute the day and week count series from the feeds (after a repair or a bulk load)."""
    from healthbrain.surveillance.ingest import rebuild_series

    database = open_database(settings_for(database_url))
    with database.unit_of_work() as session:
        written = rebuild_series(session)
    console.print(", ".join(f"{table}: {n:,} cells" for table, n in written.items()))


@app.command()
def dispatch(database_url: DatabaseOpt = None) -> None:
    """Send the notifications that are due (the server does this by itself)."""
    from healthbrain.surveillance.notify import dispatch_pending

    database = open_database(settings_for(database_url))
    total = 0
    while (sent := dispatch_pending(database)) > 0:
        total += sent
    console.print(f"{total} notifications attempted")
