"""``healthbrain import fhir FILE.ndjson[.gz]``: the bulk FHIR importer from the command line."""

from __future__ import annotations

from healthbrain.interop.cli import import_app  # noqa: F401
