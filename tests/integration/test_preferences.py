"""/api/v1/preferences end to end: defaults until saved, replaced whole, validated, audited, per user."""

from __future__ import annotations

from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.integration.conftest import user_id

DEFAULTS = {
    "default_strategy": "csp",
    "morning_alert": False,
    "eod_summary": False,
    "notification_channels": [],
    "discord_webhook_url": None,
}
SAVED = {"default_strategy": "wheel", "morning_alert": True, "eod_summary": False, "notification_channels": ["push"]}


def put(stack: LocalStack, token: str, **body: Any) -> Any:
    return stack.http("PUT", "/api/v1/preferences", token=token, json={**SAVED, **body})


def test_a_user_who_never_saved_gets_the_defaults(stack: LocalStack, alice: str) -> None:
    status, _, body = stack.http("GET", "/api/v1/preferences", token=alice)
    assert (status, body) == (200, DEFAULTS)
    rows = stack.env.DB.prepare("SELECT count(*) AS n FROM user_preferences WHERE user_id = ?")
    assert rows.bind(user_id(stack, alice)).first("n") == 0  # reading does not create the row


def test_the_defaults_are_the_schemas_column_defaults(stack: LocalStack, alice: str) -> None:
    uid = user_id(stack, alice)
    stack.env.DB.prepare("INSERT INTO user_preferences (user_id) VALUES (?)").bind(uid).run()
    assert stack.http("GET", "/api/v1/preferences", token=alice).body == DEFAULTS


def test_put_replaces_the_whole_record_and_dedupes_channels(stack: LocalStack, alice: str) -> None:
    status, _, saved = put(stack, alice, notification_channels=["email", "push", "email"])
    assert status == 200
    assert saved == {**SAVED, "notification_channels": ["email", "push"], "discord_webhook_url": None}
    assert stack.http("GET", "/api/v1/preferences", token=alice).body == saved
    replaced = put(stack, alice, default_strategy="iron_condor", morning_alert=False, notification_channels=[]).body
    assert replaced == {**DEFAULTS, "default_strategy": "iron_condor"}
    assert stack.http("GET", "/api/v1/preferences", token=alice).body == replaced
    assert stack.http("GET", "/api/v1/me", token=alice).body["preferences"] == replaced


def test_every_put_is_audited_with_its_request(stack: LocalStack, alice: str) -> None:
    put(stack, alice)
    put(stack, alice, eod_summary=True)
    uid = user_id(stack, alice)
    events = (
        stack.env.DB.prepare(
            "SELECT action, entity, entity_id, request_id FROM audit_events WHERE user_id = ? ORDER BY id"
        )
        .bind(uid)
        .all()
        .results
    )
    assert [(e["action"], e["entity"], e["entity_id"]) for e in events] == [("preferences.put", "preferences", uid)] * 2
    assert all(e["request_id"] for e in events)
    assert events[0]["request_id"] != events[1]["request_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SAVED, "default_strategy": "strangle"}, "body.default_strategy"),
        ({**SAVED, "notification_channels": ["sms"]}, "body.notification_channels.0"),
        ({**SAVED, "notification_channels": "push"}, "body.notification_channels"),
        ({**SAVED, "notification_channels": ["push"] * 21}, "body.notification_channels"),
        ({**SAVED, "morning_alert": "yes"}, "body.morning_alert"),
        ({**SAVED, "morning_alert": 1}, "body.morning_alert"),
        ({k: v for k, v in SAVED.items() if k != "eod_summary"}, "body.eod_summary"),
        ({**SAVED, "user_id": "someone-else"}, "body.user_id"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    stack: LocalStack, alice: str, body: dict[str, Any], field: str
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, response = stack.http("PUT", "/api/v1/preferences", token=alice, json=body)
    assert status == 422, response
    assert field in [f["field"] for f in response["error"]["fields"]]
    assert calls.total == 0
    assert stack.http("GET", "/api/v1/preferences", token=alice).body == DEFAULTS


def test_a_read_is_one_data_api_call(stack: LocalStack, alice: str) -> None:
    stack.http("GET", "/api/v1/preferences", token=alice)  # the authorizer's first call reads its secret
    for saved in (False, True):
        if saved:
            put(stack, alice)
        with CallCounter(stack.env.client("rds-data")) as calls:
            assert stack.http("GET", "/api/v1/preferences", token=alice).status == 200
        assert calls.by_operation() == {"ExecuteStatement": 1}, saved


def test_one_users_preferences_are_invisible_and_untouchable_to_another(
    stack: LocalStack, alice: str, bob: str
) -> None:
    put(stack, alice, default_strategy="covered_call")
    alice_id = user_id(stack, alice)
    assert stack.http("GET", "/api/v1/preferences", token=bob, query={"user_id": alice_id}).body == DEFAULTS
    assert put(stack, bob, user_id=alice_id).status == 422
    assert put(stack, bob, default_strategy="iron_condor").body["default_strategy"] == "iron_condor"
    assert stack.http("GET", "/api/v1/preferences", token=alice).body["default_strategy"] == "covered_call"
