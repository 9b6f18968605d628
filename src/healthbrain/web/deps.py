"""Request-level dependencies: the unit of work and the language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from healthbrain.core.i18n import DEFAULT_LANGUAGE, language_from_accept, normalise_language
from healthbrain.db import Database

LANGUAGE_COOKIE = "hb_lang"


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def request_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, before the response."""
    with database_of(request).unit_of_work() as session:
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
