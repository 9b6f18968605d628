"""``healthbrain records …``: the resident health record from the command line (健康档案)."""

from __future__ import annotations

from typing import Annotated

import typer

from healthbrain.cli_common import DatabaseOpt, DataDirOpt, console, open_database, settings_for

app = typer.Typer(help="The resident health record (健康档案).", no_args_is_help=True)
indicators_app = typer.Typer(help="Record indicators: 建档率, 使用率, 签约率.", no_args_is_help=True)
app.add_typer(indicators_app, name="indicators")


@indicators_app.command("refresh")
def refresh(
    month: Annotated[str | None, typer.Option(help="One month, YYYY-MM (not after the running month).")] = None,
    months: Annotated[
        int | None,
        typer.Option(help="The last N months up to the running one (default 2: the running and the previous month)."),
    ] = None,
    database_url: DatabaseOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Count the months district-wide in one pass, roll them up to every town, community, centre and team, and
    store them (replacing what was stored for those months): what the indicators page, API and Excel read."""
    from healthbrain.core.errors import InvalidInput
    from healthbrain.core.time import local_today
    from healthbrain.records.indicator_service import refresh_periods
    from healthbrain.records.tasks import refresh_months

    if month and months is not None:
        console.print("[red]give --month or --months, not both[/]")
        raise typer.Exit(2)
    database = open_database(settings_for(database_url, data_dir))
    today = local_today()
    try:
        periods = refresh_periods(month=month, months=months, today=today)
    except InvalidInput as exc:
        console.print(f"[red]--{exc.field}: {exc}[/]")
        raise typer.Exit(2) from None
    with console.status(f"counting {len(periods)} month(s)…"):
        done = refresh_months(database, periods=periods, today=today)
    for label, on in done.months:
        console.print(f"{label}: as of {on.isoformat()}")
    console.print(
        f"stored {done.rows:,} rows in {done.seconds:.1f} s (counting {done.count_seconds:.1f} s)", highlight=False
    )
