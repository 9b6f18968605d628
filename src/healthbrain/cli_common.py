"""What every command-line module shares: the console, the database options, opening the database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from healthbrain.config import Settings, get_settings

if TYPE_CHECKING:
    from healthbrain.db import Database

console = Console()

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="HEALTHBRAIN_DATABASE_URL",
        help="SQLite or PostgreSQL URL (default: SQLite in the data folder).",
    ),
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", envvar="HEALTHBRAIN_DATA_DIR", help="Local data folder (default ./data).")
]


def settings_for(database_url: str | None, data_dir: Path | None = None) -> Settings:
    updates: dict[str, object] = {}
    if database_url:
        updates["database_url"] = database_url
    if data_dir:
        updates["data_dir"] = data_dir
    return get_settings().model_copy(update=updates)


def open_database(settings: Settings) -> Database:
    from healthbrain.db import Database, set_database

    database = Database(settings.resolved_database_url, echo=settings.db_echo)
    set_database(database)
    return database
