"""``healthbrain import fhir FILE.ndjson[.gz]``: the bulk FHIR importer from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from healthbrain.cli_common import DatabaseOpt, console, open_database, settings_for
from healthbrain.interop.cli import import_app


@import_app.command("fhir")
def import_fhir(
    file: Annotated[Path, typer.Argument(help="NDJSON file of FHIR resources, one per line (.ndjson or .ndjson.gz).")],
    sender: Annotated[
        str | None,
        typer.Option(help="Code of the sending institution (names its resources and Patient ids)."),
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Where to write the rejected lines (default: FILE.rejects.ndjson next to FILE).")
    ] = None,
    language: Annotated[str, typer.Option(help="Language of the rejection reasons: zh-CN or en.")] = "zh-CN",
    chunk_lines: Annotated[int, typer.Option(help="Lines per transaction and checkpoint.", min=100)] = 100_000,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar (logs, scripts).")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Import FHIR resources of any type from an NDJSON file (Synthea-style bulk export: one file per
    type, or mixed). Idempotent; resumes where a killed run stopped; bad lines are kept with reasons."""
    from healthbrain.core.errors import DomainError
    from healthbrain.core.i18n import normalise_language
    from healthbrain.interop import bulk, bulk_repository
    from healthbrain.migrations.runner import upgrade

    if not file.is_file():
        console.print(f"[red]no such file: {file}[/]")
        raise typer.Exit(2)
    language = normalise_language(language)
    database = open_database(settings_for(database_url))
    upgrade(database.engine)
    if sender is not None:
        with database.unit_of_work(read_only=True) as session:
            if bulk_repository.institution(session, sender) is None:
                console.print(f"[red]no institution has the code {sender!r}[/]")
                raise typer.Exit(2)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[lines]:>12,} lines"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=no_progress) as bar:
        task: TaskID | None = None

        def progress(done: int, total: int, lines: int) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task(file.name, total=total, lines=lines)
            bar.update(task, completed=done, lines=lines)

        try:
            result = bulk.import_file(
                database.unit_of_work,
                file,
                sender=sender or bulk.DEFAULT_SENDER,
                language=language,
                chunk_lines=chunk_lines,
                progress=progress,
                sqlite_cache_mib=512,
            )
        except DomainError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
    rejects_path = None
    if result.rejected:
        rejects_path = rejects or bulk.default_rejects_path(file)
        bulk.write_rejects(database.unit_of_work, result.batch_id, rejects_path)
    if result.already_done:
        console.print(f"{file.name}: already imported (import {result.import_id}); nothing read")
    elif result.resumed_at_line:
        console.print(f"resumed after line {result.resumed_at_line:,} (a previous run stopped there)")
    rate = (result.fast_path + result.writer) / result.seconds if result.seconds and not result.already_done else 0
    console.print(
        f"import {result.import_id}: {result.lines:,} lines — inserted {result.inserted:,}, "
        f"unchanged {result.duplicates:,}, rejected {result.rejected:,}"
        + (f"  ({result.seconds:.1f} s, {rate:,.0f} resources/s)" if rate else "")
    )
    if rejects_path is not None:
        console.print(f"rejected lines and their reasons: {rejects_path}")
