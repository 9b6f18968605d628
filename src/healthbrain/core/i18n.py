"""Message catalogues: one TOML file per language under ``core/locales``.

Templates and errors name messages by key (``nav.residents``); nothing user-facing is written
inline. ``zh-CN`` is the default language; ``en`` is available.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
_LOCALE_DIR = Path(__file__).parent / "locales"


def _flatten(prefix: str, node: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@lru_cache
def catalogue(language: str) -> dict[str, str]:
    """The language's messages: ``{language}.toml`` plus each domain's ``{domain}.{language}.toml``
    (a domain keeps its own file; a key defined twice is an error, not a silent override)."""
    flat: dict[str, str] = {}
    for path in [_LOCALE_DIR / f"{language}.toml", *sorted(_LOCALE_DIR.glob(f"*.{language}.toml"))]:
        with path.open("rb") as fh:
            part: dict[str, str] = {}
            _flatten("", tomllib.load(fh), part)
        if clash := sorted(set(part) & set(flat)):
            raise ValueError(f"{path.name} redefines {clash[:5]}")
        flat.update(part)
    return flat


def normalise_language(value: str | None) -> str:
    if not value:
        return DEFAULT_LANGUAGE
    value = value.strip()
    if value.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def language_from_accept(header: str | None) -> str:
    """Pick a language from an Accept-Language header (first supported tag wins)."""
    if not header:
        return DEFAULT_LANGUAGE
    for part in header.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh-CN"
    return DEFAULT_LANGUAGE


def translate(key: str, language: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
    text = catalogue(normalise_language(language)).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key, key)
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text
