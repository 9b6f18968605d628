"""Domain errors. Each carries its HTTP status and a message key; one handler renders them.

A message key names an entry of the message catalogues (``core/locales``), so the same error reads
in Chinese on a page and in English (or Chinese, by Accept-Language) through the API.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    default_key = "error.bad_request"

    def __init__(
        self,
        key: str | None = None,
        *,
        field: str | None = None,
        link: str | None = None,
        row: int | None = None,
        **params: Any,
    ) -> None:
        self.key = key or self.default_key
        self.field = field
        self.link = link
        self.row = row
        self.params = params
        super().__init__(self.key)

    def __str__(self) -> str:
        from healthbrain.core.i18n import translate

        return translate(self.key, "en", **self.params)


class NotAuthenticated(DomainError):
    status_code = 401
    default_key = "error.not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    default_key = "error.forbidden"


class NotFound(DomainError):
    status_code = 404
    default_key = "error.not_found"


class Conflict(DomainError):
    status_code = 409
    default_key = "error.conflict"


class InvalidInput(DomainError):
    """A value that passed the schema but breaks a domain rule (bad ID check character …)."""

    status_code = 422
    default_key = "error.invalid"


class Locked(DomainError):
    status_code = 423
    default_key = "error.locked"
