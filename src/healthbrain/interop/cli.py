"""``healthbrain import …``: residents and their records from files (FHIR NDJSON, CSV, Excel).

Each format's command lives in its own module and registers itself on :data:`import_app`.
"""

from __future__ import annotations

import typer

import_app = typer.Typer(
    help="Import residents and their records from files (FHIR NDJSON, CSV, Excel).", no_args_is_help=True
)

# The commands (imported for their registration on import_app).
from healthbrain.interop import bulk_cli, tabular_cli  # noqa: E402

__all__ = ["bulk_cli", "import_app", "tabular_cli"]
