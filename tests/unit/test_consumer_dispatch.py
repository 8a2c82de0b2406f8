"""The dispatcher's decisions per message (ack, retry, which delay) with idempotency switched off, and the
ids notifications derive from their events."""

from __future__ import annotations

import http.client
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LogLines
from ttai.consumers.dispatch import Backoff, Consumer
from ttai.consumers.fanout import ID_MAX_LENGTH, derived_id, known_channels
from ttai.env import Env, Settings
from ttai.errors import ConfigurationError, Throttled, Unavailable
from ttai.messages import WIRE_SYMBOL_MAX_LENGTH, AnalysisComplete, Notification, ScreenerComplete
from ttai.models.market import SYMBOL_MAX_LENGTH
from ttai.notify import TransientDeliveryError
from ttai.observability import correlated, logger

USER = "alice-1"


class Delivered:
    """A delivered message as the consumer runtime hands it over, recording the decision taken on it."""

    def __init__(self, body: Any, attempts: int = 1, correlation_id: str | None = None) -> None:
        self.id = "sqs-1"
        self.body = body
        self.attempts = attempts
        self.correlation_id = correlation_id
        self.decision: tuple[str, int | None] | None = None

    def ack(self) -> None:
        self.decision = self.decision or ("ack", None)

    def retry(self, delay_seconds: int | None = None) -> None:
        self.decision = self.decision or ("retry", delay_seconds)


class Batch:
    def __init__(self, *messages: Delivered) -> None:
        self.queue = "ttai-test-notifications"
        self.messages = messages


@pytest.fixture(autouse=True)
def _idempotency_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Powertools' switch for tests: the decorated handler runs without touching DynamoDB (it warns that it is off).
    monkeypatch.setenv("POWERTOOLS_IDEMPOTENCY_DISABLED", "1")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Disabling idempotency", category=UserWarning)
        yield


def consumer(**handlers: Any) -> Consumer:
    # A client that must never be called: with idempotency off, Powertools does not touch its store.
    env = Env(Settings(environment="local", idempotency_table="idempotency"), clients={"dynamodb": object()})
    return Consumer(env, handlers=handlers, backoff=Backoff(base_seconds=5, cap_seconds=60))


def notification() -> dict[str, Any]:
    return Notification(user_id=USER, channel="discord", title="t", body="b").to_wire()


def test_a_handled_message_is_acked_and_each_type_goes_to_its_handler() -> None:
    seen: list[str] = []

    def record(env: Env, message: Any) -> dict[str, Any]:
        seen.append(message.type)
        return {}

    c = consumer(notification=record, screener_complete=record)
    first = Delivered(notification())
    second = Delivered(ScreenerComplete(user_id=USER, screener_id=1, result_count=2).to_wire())
    c.process(Batch(first, second))
    assert seen == ["notification", "screener_complete"]
    assert (first.decision, second.decision) == (("ack", None), ("ack", None))


def test_a_message_is_handled_under_its_correlation_id_else_its_sqs_id_and_the_previous_id_comes_back(
    log_lines: LogLines,
) -> None:
    def speak(env: Env, message: Any) -> dict[str, Any]:
        logger.info("handling")
        return {}

    c = consumer(notification=speak)
    with correlated("invocation-1"):
        c.process(Batch(Delivered(notification(), correlation_id="request-1"), Delivered(notification())))
        logger.info("after")
    assert [line["correlation_id"] for line in log_lines.with_message("handling")] == ["request-1", "sqs-1"]
    assert [line["correlation_id"] for line in log_lines.with_message("after")] == ["invocation-1"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "notification", "userId": USER},  # fields missing
        {"type": "carrier_pigeon", "userId": USER},  # unknown type
        {**notification(), "channel": "sms"},
        "not json at all",
        b"\xff\xfe",
        ["a", "list"],
    ],
)
def test_a_malformed_message_is_retried_at_once_and_the_rest_of_the_batch_goes_on(body: Any) -> None:
    handled: list[str] = []

    def record(env: Env, message: Any) -> dict[str, Any]:
        handled.append(message.id)
        return {}

    c = consumer(notification=record)
    bad, good = Delivered(body), Delivered(notification())
    c.process(Batch(bad, good))
    assert bad.decision == ("retry", None)  # no delay: it reaches the DLQ after max_retries + 1 receives
    assert good.decision == ("ack", None)
    assert len(handled) == 1


def test_the_reason_logged_for_a_malformed_message_names_fields_not_values(caplog: pytest.LogCaptureFixture) -> None:
    secret = "alice@private.example"
    consumer().process(Batch(Delivered({"type": "notification", "userId": secret, "channel": "fax"})))
    (record,) = [r for r in caplog.records if "malformed queue message" in r.getMessage()]
    logged = " ".join(f"{k}={v}" for k, v in vars(record).items())
    assert "notification.channel: literal_error" in logged
    assert "notification.title: missing" in logged
    assert secret not in logged


def test_a_type_without_a_consumer_is_retried_until_the_dlq() -> None:
    message = Delivered(AnalysisComplete(user_id=USER, symbol="AAPL", recommendation="x", workflow_id="w").to_wire())
    consumer(notification=lambda env, m: {}).process(Batch(message))
    assert message.decision == ("retry", None)


@pytest.mark.parametrize(("attempts", "delay"), [(1, 5), (2, 10), (3, 20), (4, 40), (9, 60)])
def test_a_failing_handler_retries_with_a_backoff_that_grows_with_the_attempts(attempts: int, delay: int) -> None:
    def fail(env: Env, message: Any) -> dict[str, Any]:
        raise RuntimeError("database unavailable")

    message = Delivered(notification(), attempts=attempts)
    consumer(notification=fail).process(Batch(message, Delivered(notification())))
    assert message.decision == ("retry", delay)


@pytest.mark.parametrize(("retry_after", "delay"), [(2.5, 3), (0.2, 1), (None, 10), (100_000, 900)])
def test_a_rate_limit_retries_after_the_time_the_channel_asked_for(retry_after: float | None, delay: int) -> None:
    def limited(env: Env, message: Any) -> dict[str, Any]:
        raise TransientDeliveryError("429", retry_after=retry_after)

    message = Delivered(notification(), attempts=2)
    consumer(notification=limited).process(Batch(message))
    assert message.decision == ("retry", delay)


@pytest.mark.parametrize(("attempts", "retry_after", "delay"), [(1, 30, 30), (3, 2, 20), (9, 5_000, 900)])
def test_an_unavailable_dependency_retries_no_sooner_than_it_asked_nor_than_the_backoff(
    attempts: int, retry_after: int, delay: int, caplog: pytest.LogCaptureFixture
) -> None:
    def throttled(env: Env, message: Any) -> dict[str, Any]:
        raise Throttled("DynamoDB throttled GetItem", dependency="the cache", retry_after=retry_after)

    message = Delivered(notification(), attempts=attempts)
    consumer(notification=throttled).process(Batch(message))
    assert message.decision == ("retry", delay)
    (record,) = [r for r in caplog.records if r.getMessage() == "dependency unavailable: retried"]
    assert (record.levelname, vars(record)["dependency"]) == ("WARNING", "the cache")


def test_unavailable_asks_for_at_least_a_second() -> None:
    assert Unavailable("x", dependency="the database", retry_after=0).retry_after == 1
    assert issubclass(Throttled, Unavailable)


def test_derived_ids_are_stable_distinct_and_fit_the_id_field() -> None:
    assert derived_id("abc12345", "email") == "abc12345:email"
    long_parent = "p" * 64
    derived = derived_id(long_parent, "discord")
    assert len(derived) == ID_MAX_LENGTH
    assert derived.endswith(":discord")
    assert derived == derived_id(long_parent, "discord")
    assert derived != derived_id(long_parent, "email")
    Notification(id=derived, user_id=USER, channel="discord", title="t", body="b")  # a valid message id


def test_known_channels_keep_the_order_given_drop_repeats_and_unknowns() -> None:
    assert known_channels(["push", "sms", "email", "push", 3]) == ["push", "email"]
    assert known_channels([]) == []


def test_a_failed_handler_is_logged_by_kind_and_place_never_by_its_message(caplog: pytest.LogCaptureFixture) -> None:
    # What http.client raises for a URL with a tab quotes the URL; a webhook URL is a credential.
    secret = "https://discord.com/api/webhooks/1/s3cr3t-t0ken"

    def deliver(env: Env, message: Any) -> dict[str, Any]:
        try:
            raise ValueError(f"bad host in {secret!r}")
        except ValueError as cause:
            raise http.client.InvalidURL(f"URL can't contain control characters. {secret!r}") from cause

    message = Delivered(notification())
    consumer(notification=deliver).process(Batch(message))

    assert message.decision == ("retry", 5)
    (record,) = [r for r in caplog.records if r.getMessage() == "message failed: retried"]
    assert record.exc_info is None  # no traceback: its text would carry the messages
    error = vars(record)["error"]
    assert error.startswith("InvalidURL at unit/test_consumer_dispatch.py:")
    assert "; caused by ValueError at unit/test_consumer_dispatch.py:" in error
    assert "s3cr3t" not in " ".join(f"{k}={v}" for k, v in vars(record).items())


def test_the_package_own_errors_keep_their_message_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    def deliver(env: Env, message: Any) -> dict[str, Any]:
        raise ConfigurationError("push notifications need TTAI_PUSH_TOPIC_ARN")

    consumer(notification=deliver).process(Batch(Delivered(notification())))
    (record,) = [r for r in caplog.records if r.getMessage() == "message failed: retried"]
    assert vars(record)["error"].startswith("ConfigurationError: push notifications need TTAI_PUSH_TOPIC_ARN at ")


def test_a_message_takes_every_symbol_the_api_takes() -> None:
    assert WIRE_SYMBOL_MAX_LENGTH == SYMBOL_MAX_LENGTH
