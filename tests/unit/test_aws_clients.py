"""The boto3 clients' timeouts and retries: the Data API's client never sends a statement twice."""

from __future__ import annotations

import pytest

from ttai import aws


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Made-up credentials: without them boto3 would look for some on the network.
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)


DATA_API_STATEMENT_WAIT_S = 45  # how long ExecuteStatement holds the request while the statement runs


def test_the_data_api_client_waits_past_the_statement_limit_and_never_retries() -> None:
    client = aws.client("rds-data", "http://127.0.0.1:9", "us-east-1")
    config = client.meta.config
    assert config.read_timeout > DATA_API_STATEMENT_WAIT_S
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout == 2


def test_other_clients_keep_the_standard_retries() -> None:
    config = aws.client("dynamodb", "http://127.0.0.1:9", "us-east-1").meta.config
    assert config.read_timeout == 10
    assert config.retries["total_max_attempts"] == 5  # the first and four retries
