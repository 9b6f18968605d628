"""Property-based fuzzing of the whole API from its own OpenAPI document (Schemathesis): whatever
a client sends, as any role, the answer is never a server error."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from healthbrain.app import create_app
from healthbrain.db import Database
from tests.conftest import bearer
from tests.factories import World

ROLES = ("admin", "doctor_a1", "submitter", "device")
SKIPPED_PATHS = {"/api/v1/auth/logout", "/api/v1/auth/token"}  # they would revoke or lock the tokens used


def test_no_input_makes_a_server_error(db: Database, world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(db))
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED_PATHS:
            continue
        tested += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def examples(case: schemathesis.Case) -> None:
            for username in ROLES:
                case.call_and_validate(headers=bearer(world, username), checks=[not_a_server_error])

        examples()
    assert tested >= 25
