"""The command line as a newcomer meets it: help, demo set-up, users, tokens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from healthbrain.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "serve", "simulate", "db", "users"):
        assert command in result.output


def test_demo_sets_up_a_district_and_prints_logins(tmp_path: Path, scratch_url: str) -> None:
    # A real subprocess, as `./dev demo` runs it (without serving).
    args = [
        sys.executable,
        "-m",
        "healthbrain",
        "demo",
        "--residents",
        "1500",
        "--no-serve",
        "--database-url",
        scratch_url,
        "--data-dir",
        str(tmp_path),
    ]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    for username in ("admin", "bureau", "cdc", "centre", "doctor", "submitter", "device"):
        assert username in first.stdout
    assert "healthbrain-demo" in first.stdout
    # Running it again reuses the district and the users.
    second = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr
    assert "already in the database" in second.stdout


def create_user(url: str, username: str, role: str) -> int:
    """`healthbrain users create …` with a valid password; the exit code."""
    args = ["users", "create", "--username", username, "--role", role, "--password", "a-long-password"]
    return runner.invoke(app, [*args, "--database-url", url]).exit_code


def test_users_create_and_token(scratch_url: str) -> None:
    assert runner.invoke(app, ["db", "upgrade", "--database-url", scratch_url]).exit_code == 0
    assert create_user(scratch_url, "ops", "admin") == 0
    assert create_user(scratch_url, "ops", "admin") == 2  # taken
    assert create_user(scratch_url, "doc", "family_doctor") == 2  # a family doctor needs a practitioner
    token = runner.invoke(app, ["users", "token", "--username", "ops", "--label", "ci", "--database-url", scratch_url])
    assert token.exit_code == 0 and len(token.output.strip()) >= 40


def test_users_create_validates_like_the_api(scratch_url: str) -> None:
    assert runner.invoke(app, ["db", "upgrade", "--database-url", scratch_url]).exit_code == 0
    assert create_user(scratch_url, "has space", "bureau") == 2
    assert create_user(scratch_url, "x1", "mayor") == 2
