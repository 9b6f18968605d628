"""Shared types, errors, time, masking and i18n helpers."""
