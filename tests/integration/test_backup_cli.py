"""``ttai backup`` / ``ttai restore`` against a running stack, found through its state file as `make dev` writes it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from local import cli
from local.stack import LocalStack
from ttai.services.tables import discover, row_texts


@pytest.fixture
def state_file(stack: LocalStack, tmp_path: Path) -> Path:
    assert stack.postgres is not None
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"environ": stack.environ, "postgres_uri": stack.postgres.uri}))
    return path


def test_backup_then_restore_into_a_new_database(
    stack: LocalStack, state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.token_for(f"cli-{uuid.uuid4().hex[:8]}")  # at least a user and a session to carry across
    assert cli.main(["--state-file", str(state_file), "backup"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"] > 0

    name = f"cli_restore_{uuid.uuid4().hex[:8]}"
    assert cli.main(["--state-file", str(state_file), "restore", result["prefix"], "--database", name]) == 0
    assert f"from {result['prefix']}" in capsys.readouterr().out
    restored = stack.create_database(name)  # the database the command created, now reachable from the test
    source = stack.env.DB
    for table in discover(source):
        if table.name == "schema_migrations":  # applied again by the restore: same versions, a new applied_at
            continue
        assert list(row_texts(restored, table)) == list(row_texts(source, table)), table.name
    assert restored.prepare("SELECT max(version) AS v FROM schema_migrations").first("v") == result["schema_version"]

    # The stack's own database is not empty: the command refuses and says why.
    assert cli.main(["--state-file", str(state_file), "restore", result["prefix"]]) == 1
    assert "not empty" in capsys.readouterr().err
