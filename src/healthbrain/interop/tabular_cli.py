"""``healthbrain import table FILE``: residents, encounters, observations, physical examinations and
follow-ups from CSV or Excel files with Chinese (or English) headers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthbrain.cli_common import DatabaseOpt, console, open_database, settings_for
from healthbrain.interop.cli import import_app


@import_app.command("table")
def import_table(
    file: Annotated[Path, typer.Argument(help="CSV or xlsx with the template's headers", exists=True, dir_okay=False)],
    kind: Annotated[str, typer.Option("--kind", help="residents, encounters, observations, exams or followups")],
    institution: Annotated[str, typer.Option("--institution", help="Code of the institution the file comes from")],
    language: Annotated[str, typer.Option("--language", help="Language of the reasons: zh-CN or en")] = "zh-CN",
    database_url: DatabaseOpt = None,
) -> None:
    """Import one file; prints the counts and writes the rejected rows, with their reasons, to
    FILE.errors.xlsx next to it (correct that file and import it again)."""
    from healthbrain.auth.roles import Role
    from healthbrain.auth.scope import Principal
    from healthbrain.core.errors import DomainError
    from healthbrain.core.i18n import translate
    from healthbrain.interop import tabular_repository, tabular_service
    from healthbrain.interop.tabular import Kind

    database = open_database(settings_for(database_url))
    content = file.read_bytes()
    try:
        with database.unit_of_work() as session:
            parsed = tabular_service.parse_kind(kind)
            found = tabular_repository.institution_by_code(session, institution)
            if found is None:
                console.print(f"[red]no institution with code {institution}[/]")
                raise typer.Exit(2)
            # A job acting for the institution: as its data submitter, or (follow-ups are clinical
            # forms) as its centre's manager, whose scope is the centre's catchment.
            role = Role.CENTRE_MANAGER if parsed == Kind.FOLLOWUPS else Role.DATA_SUBMITTER
            principal = Principal(
                user_id=0,
                username=f"import:{found.code}",
                display_name=f"import {found.code}",
                role=role,
                institution_id=found.id,
                auth_kind="job",
            )
            result = tabular_service.import_table(
                session, principal=principal, kind=parsed, filename=file.name, content=content, language=language
            )
            report = None
            if result.rejected:
                _name, data = tabular_service.error_report(session, principal=principal, batch_id=result.batch_id)
                report = file.with_name(f"{file.stem}.errors.xlsx")
                report.write_bytes(data)
    except DomainError as exc:
        console.print(f"[red]{translate(exc.key, language, **exc.params)}[/]")
        raise typer.Exit(1) from None
    console.print(
        f"batch {result.batch_id} ({result.kind}): received {result.received}, inserted {result.inserted}, "
        f"corrected {result.corrected}, duplicates {result.duplicates}, rejected {result.rejected}"
    )
    for error in result.errors[:50]:
        console.print(f"  row {error.row} {error.field or ''}: {error.message}")
    if len(result.errors) > 50:
        console.print(f"  … {len(result.errors) - 50} more")
    if report is not None:
        console.print(f"error report: {report}")
