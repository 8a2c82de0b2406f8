"""The migrate function waits longer for a paused cluster than a request may, and reports what it applied."""

from __future__ import annotations

from typing import Any

import pytest

from functions.migrate import index
from ttai.env import Env
from ttai.migrations import MigrationReport


def test_the_migrate_handler_applies_with_a_patient_database(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class FakeDb:
        def patient(self, delays: tuple[float, ...]) -> str:
            seen["delays"] = delays
            return "patient-db"

    class FakeEnv:
        DB = FakeDb()

    def fake_apply(db: str) -> MigrationReport:
        seen["db"] = db
        return MigrationReport(applied=[2], already_applied=[1])

    monkeypatch.setattr(Env, "from_environ", classmethod(lambda cls: FakeEnv()))
    monkeypatch.setattr(index, "apply", fake_apply)

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "migrate", 512, "r-1"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:migrate"

    result = index.handler({}, Context())
    assert result == {"applied": [2], "already_applied": [1], "current": 2}
    assert seen["db"] == "patient-db"
    assert sum(seen["delays"]) >= 100  # waits minutes, where a request waits seconds
