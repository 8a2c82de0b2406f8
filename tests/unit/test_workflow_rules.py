"""The Workflows binding's pure rules: durations, step configs and their retry delays, execution names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ttai.bindings.workflows import NonRetryableError, WorkflowFatalError
from ttai.bindings.workflows.backend import EXECUTION_NAME_MAX, execution_name
from ttai.bindings.workflows.config import StepConfig, resolve, retry_strategy
from ttai.bindings.workflows.durations import to_milliseconds, whole_seconds
from ttai.bindings.workflows.runtime import FAILURE_TYPE, error_name


@pytest.mark.parametrize(
    ("value", "milliseconds"),
    [
        (1500, 1500),
        (0.5, 1),
        ("10 seconds", 10_000),
        ("1 second", 1000),
        ("5 mins", 300_000),
        ("2 hours", 7_200_000),
        ("3 days", 259_200_000),
        ("1 week", 604_800_000),
        ("1.5 minutes", 90_000),
        ("250 ms", 250),
        ("42", 42),
        (timedelta(days=3), 259_200_000),
    ],
)
def test_durations_read_as_cloudflare_reads_them(value: object, milliseconds: int) -> None:
    assert to_milliseconds(value) == milliseconds  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["ten seconds", "10 fortnights", "", -1, float("inf"), True, None, [1]])
def test_malformed_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        to_milliseconds(value)  # type: ignore[arg-type]


def test_lambda_waits_in_whole_seconds_rounding_up() -> None:
    assert [whole_seconds(ms) for ms in (1, 999, 1000, 1001, 10_500)] == [1, 1, 1, 2, 11]


def test_cloudflares_defaults_are_five_exponential_retries_from_ten_seconds_and_ten_minutes() -> None:
    assert resolve("s", None) == StepConfig(limit=5, delay_ms=10_000, backoff="exponential", timeout_ms=600_000)
    assert resolve("s", {"retries": {"limit": 1, "delay": "1 minute"}}).backoff == "exponential"
    assert resolve("s", {"timeout": "30 seconds"}).limit == 5


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [
        ("constant", [5000, 5000, 5000, 5000]),
        ("linear", [5000, 10000, 15000, 20000]),
        ("exponential", [5000, 10000, 20000, 40000]),
    ],
)
def test_retry_delays_follow_cloudflares_formula(backoff: str, delays: list[int]) -> None:
    config = resolve("s", {"retries": {"limit": 4, "delay": 5000, "backoff": backoff}})

    assert [config.delay_after(attempt) for attempt in (1, 2, 3, 4)] == delays


def test_the_retry_strategy_allows_limit_retries_in_whole_seconds_and_never_retries_non_retryable_errors() -> None:
    decide = retry_strategy(resolve("s", {"retries": {"limit": 2, "delay": 1500, "backoff": "linear"}}))

    first, second, third = (decide(ValueError("x"), attempt) for attempt in (1, 2, 3))
    assert (first.should_retry, first.delay_seconds) == (True, 2)
    assert (second.should_retry, second.delay_seconds) == (True, 3)
    assert not third.should_retry
    assert not decide(NonRetryableError("stop"), 1).should_retry
    assert not decide(WorkflowFatalError("bad"), 1).should_retry


@pytest.mark.parametrize(
    "config",
    [
        {"retry": {}},
        {"retries": {"limit": 1}},
        {"retries": {"limit": -1, "delay": 1}},
        {"retries": {"limit": 1, "delay": 1, "backoff": "fibonacci"}},
        {"retries": {"limit": 1, "delay": lambda n: n}},
        {"retries": {"limit": 1, "delay": 1, "jitter": True}},
        {"timeout": 0},
        {"timeout": "16 minutes"},
        {"timeout": "soon"},
        "10 seconds",
    ],
)
def test_malformed_step_configs_are_fatal_as_in_cloudflare(config: object) -> None:
    with pytest.raises(WorkflowFatalError, match='Step config for "charge"'):
        resolve("charge", config)  # type: ignore[arg-type]


def test_execution_names_fit_lambda_and_never_collide() -> None:
    ids = ["a", "a-1", "-a-1", "x" * 64, "x" * 65, "x" * 100, "y" * 100, "a_r1"]
    names = {execution_name(instance_id, generation) for instance_id in ids for generation in range(3)}

    assert len(names) == len(ids) * 3
    assert all(0 < len(name) <= EXECUTION_NAME_MAX for name in names)
    assert execution_name("aapl-2026-03-09", 0) == "aapl-2026-03-09"
    assert execution_name("aapl-2026-03-09", 1).startswith("-aapl-2026-03-09-")


def test_error_names_are_class_names_without_modules() -> None:
    assert error_name(FAILURE_TYPE, '{"name": "NonRetryableError"}') == "NonRetryableError"
    assert error_name("ValueError", None) == "ValueError"
    assert error_name("aws_durable_execution_sdk_python.exceptions.StepError", None) == "StepError"
    assert error_name(None, None) == "Error"


def test_the_workflows_table_and_blob_prefix_are_storage_jsons() -> None:
    from ttai.bindings.workflows import records  # noqa: PLC0415
    from ttai.bindings.workflows.backend import BLOB_PREFIX, InstanceRecord  # noqa: PLC0415
    from ttai.layout import storage_layout  # noqa: PLC0415

    layout = storage_layout()
    item = records.instance_item(InstanceRecord("analysis", "a-1", "a-1"), now=0)
    assert set(records.instance_key("analysis", "a-1")) == {layout.workflows.partition_attr, layout.workflows.sort_attr}
    assert layout.workflows.ttl_attr in item
    assert layout.bucket_prefixes["workflows"] == BLOB_PREFIX
