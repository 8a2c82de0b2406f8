"""The correlation id a function logs and sends under: the invocation's, overridden per thread by ``correlated``, and
carried in a workflow's start payload."""

from __future__ import annotations

import threading

from ttai.bindings.workflows.events import StartPayload
from ttai.observability import correlated, correlation_id, logger


def test_correlated_overrides_the_invocations_id_in_its_block_and_on_its_thread_only() -> None:
    logger.set_correlation_id("invocation")
    seen: dict[str, str | None] = {}
    try:
        with correlated("message"):
            other = threading.Thread(target=lambda: seen.update(other=correlation_id()))
            other.start()
            other.join()
            seen["inside"] = correlation_id()
            with correlated(None):
                seen["none"] = correlation_id()
            seen["restored"] = correlation_id()
        seen["after"] = correlation_id()
    finally:
        logger.set_correlation_id(None)
    assert seen == {
        "other": "invocation",
        "inside": "message",
        "none": None,
        "restored": "message",
        "after": "invocation",
    }


def test_a_start_payload_carries_the_correlation_id_when_there_is_one() -> None:
    carried = StartPayload("screener", "screener-1", "exec-1", "{}", 1_800_000_000_000, "request-1")
    assert StartPayload.from_input(carried.to_json()) == carried
    bare = StartPayload("screener", "screener-1", "exec-1", "{}", 1_800_000_000_000)
    assert "correlation_id" not in bare.to_json()
    assert StartPayload.from_input(bare.to_json()).correlation_id is None
