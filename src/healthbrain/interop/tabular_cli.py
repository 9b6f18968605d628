"""``healthbrain import table FILE``: residents, encounters, observations, physical examinations and
follow-ups from CSV or Excel files with Chinese (or English) headers."""

from __future__ import annotations

from healthbrain.interop.cli import import_app  # noqa: F401
