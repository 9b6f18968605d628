"""Message catalogues: both languages have the same keys, and every key the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from healthbrain.auth.roles import Role
from healthbrain.core.i18n import catalogue, language_from_accept, translate

SRC = Path(__file__).resolve().parents[2] / "src" / "healthbrain"


def test_languages_have_the_same_keys() -> None:
    assert set(catalogue("zh-CN")) == set(catalogue("en"))


def test_every_literal_key_in_code_and_templates_exists() -> None:
    keys = set(catalogue("zh-CN"))
    used: set[str] = set()
    for path in SRC.rglob("*.html"):
        used |= set(re.findall(r"(?<![\w.])t\('([a-z_A-Z0-9.]+)'[,)]", path.read_text()))
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r'"(error\.[a-z_.]+)"', text))
        used |= set(re.findall(r'translate\("([a-z_.]+)"', text))
    used.discard("error.html")  # a template name, not a message
    missing = sorted(k for k in used if k not in keys and not k.endswith("."))
    assert missing == []


def test_dynamic_keys_cover_their_values() -> None:
    keys = set(catalogue("en"))
    for role in Role:
        assert f"role.{role}" in keys and f"home.title.{role}" in keys and f"home.scope.{role}" in keys
    for reason in ("format", "province", "birth_date", "future_birth_date", "check_character"):
        assert f"error.id_number.{reason}" in keys


def test_translate_and_negotiation() -> None:
    assert translate("nav.residents", "zh-CN") == "居民档案"
    assert translate("nav.residents", "en") == "Residents"
    assert translate("error.id_number.check_character", "en", expected="X", got="1").endswith("expected X, got 1")
    assert language_from_accept("en-US,en;q=0.9") == "en"
    assert language_from_accept("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert language_from_accept(None) == "zh-CN"
