"""A user's Discord webhook through /api/v1/preferences: validated, stored, shown only masked, kept unless changed."""

from __future__ import annotations

from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.integration.conftest import user_id

BASE = {"default_strategy": "csp", "morning_alert": False, "eod_summary": False, "notification_channels": ["discord"]}
WEBHOOK_ID = "112233445566778899"
TOKEN = "s3cr3t-T0ken_" * 5  # 65 characters
DISCORD = f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}"
MASKED = f"https://discord.com/api/webhooks/{WEBHOOK_ID}/********"


def put(stack: LocalStack, token: str, **fields: Any) -> Any:
    return stack.http("PUT", "/api/v1/preferences", token=token, json={**BASE, **fields})


def stored(stack: LocalStack, token: str) -> str | None:
    url: str | None = (
        stack.env.DB.prepare("SELECT discord_webhook_url FROM user_preferences WHERE user_id = ?")
        .bind(user_id(stack, token))
        .first("discord_webhook_url")
    )
    return url


def test_a_webhook_is_stored_whole_and_shown_masked_everywhere(stack: LocalStack, alice: str) -> None:
    status, _, saved = put(stack, alice, discord_webhook_url=DISCORD)
    assert status == 200, saved
    assert saved["discord_webhook_url"] == MASKED
    assert stored(stack, alice) == DISCORD
    for path in ("/api/v1/preferences", "/api/v1/me"):
        _, _, body = stack.http("GET", path, token=alice)
        assert TOKEN not in str(body)
    assert stack.http("GET", "/api/v1/me", token=alice).body["preferences"]["discord_webhook_url"] == MASKED


def test_a_save_that_leaves_the_webhook_out_or_sends_it_back_masked_keeps_it(stack: LocalStack, alice: str) -> None:
    put(stack, alice, discord_webhook_url=DISCORD)
    assert put(stack, alice, eod_summary=True).body["discord_webhook_url"] == MASKED
    read = stack.http("GET", "/api/v1/preferences", token=alice).body
    assert put(stack, alice, **{**read, "morning_alert": True}).status == 200  # what a GET returned, sent back
    assert stored(stack, alice) == DISCORD
    assert put(stack, alice, discord_webhook_url=None).body["discord_webhook_url"] is None
    assert stored(stack, alice) is None


def test_the_local_sinks_address_is_accepted_on_the_local_stack(stack: LocalStack, alice: str) -> None:
    assert stack.discord is not None
    sink = stack.discord.new_webhook()
    assert put(stack, alice, discord_webhook_url=sink).status == 200
    assert stored(stack, alice) == sink


@pytest.mark.parametrize(
    "url",
    [
        f"https://evil.example/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"http://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}?wait=true",
        f"http://localhost:9/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
        "https://discord.com/channels/1/2",
        "x" * 600,
    ],
)
def test_any_other_url_is_a_422_and_nothing_is_written(stack: LocalStack, alice: str, url: str) -> None:
    put(stack, alice, discord_webhook_url=DISCORD)
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, body = put(stack, alice, discord_webhook_url=url, eod_summary=True)
    assert status == 422, body
    assert [f["field"] for f in body["error"]["fields"]] == ["body.discord_webhook_url"]
    assert TOKEN not in str(body)
    assert calls.total == 0
    assert stored(stack, alice) == DISCORD
    assert stack.http("GET", "/api/v1/preferences", token=alice).body["eod_summary"] is False


def test_one_users_webhook_is_not_another_users(stack: LocalStack, alice: str, bob: str) -> None:
    put(stack, alice, discord_webhook_url=DISCORD)
    assert stack.http("GET", "/api/v1/preferences", token=bob).body["discord_webhook_url"] is None
    put(stack, bob, eod_summary=True)
    assert stored(stack, bob) is None
    assert stored(stack, alice) == DISCORD
