"""Request-level dependencies: the unit of work and the language."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from healthbrain.core.i18n import DEFAULT_LANGUAGE, language_from_accept, normalise_language
from healthbrain.db import Database

LANGUAGE_COOKIE = "hb_lang"
F = TypeVar("F", bound=Callable[..., Any])


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def read_only(endpoint: F) -> F:
    """Mark a GET endpoint that never writes (not even an audit entry): its request's unit of work
    is a read-only one, so on SQLite such requests run side by side instead of queueing for the
    write lock (a busy worklist is 50 doctors reading at once)."""
    endpoint.__dict__["healthbrain_read_only"] = True
    return endpoint


def request_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, before the response."""
    endpoint = request.scope.get("endpoint")
    reads = request.method in ("GET", "HEAD") and getattr(endpoint, "healthbrain_read_only", False)
    with database_of(request).unit_of_work(read_only=reads) as session:
        yield session


SessionDep = Annotated[Session, Depends(request_session, scope="function")]


def request_language(request: Request) -> str:
    if lang := request.query_params.get("lang"):
        return normalise_language(lang)
    if lang := request.cookies.get(LANGUAGE_COOKIE):
        return normalise_language(lang)
    if request.url.path.startswith("/api"):
        return language_from_accept(request.headers.get("accept-language"))
    return DEFAULT_LANGUAGE


LanguageDep = Annotated[str, Depends(request_language)]
