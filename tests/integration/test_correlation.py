"""One correlation id from an HTTP request to the Discord message it ends in: the api function logs under API
Gateway's request id, the screener workflow it starts runs under it, the screener_complete the workflow queues
carries it, and the consumer handles that message and the notification it fans out under it, the delivery included.
"""

from __future__ import annotations

import uuid

from local.stack import LocalStack
from tests.conftest import LogLines
from tests.integration.conftest import finished_run


def test_a_requests_correlation_id_reaches_the_log_line_of_its_discord_delivery(
    stack: LocalStack, log_lines: LogLines
) -> None:
    assert stack.discord is not None
    stack.poller.drain()  # whatever an earlier test left behind is not this test's
    user = f"traced-{uuid.uuid4().hex[:8]}"
    token = stack.token_for(user)
    webhook = stack.discord.new_webhook()
    stack.env.DB.prepare(
        "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
    ).bind(user, ["discord"], webhook).run()
    screener = {"type": "stock", "criteria": {"symbols": ["AAPL"]}}
    assert stack.http("PUT", "/api/v1/screeners/traced", token=token, json=screener).status == 200

    status, _, started = stack.http("POST", "/api/v1/screeners/traced/run", token=token)
    assert status == 202, started
    [request_line] = [
        line for line in log_lines.with_message("workflow started") if line["instance_id"] == started["id"]
    ]
    assert request_line["function_name"] == "ttai-api"
    correlation_id = request_line["correlation_id"]
    assert correlation_id
    # The status polls are requests of their own, answered while the workflow runs on another thread: the run
    # must keep the id it was started with, not take theirs.
    assert finished_run(stack, token, started["id"])["status"] == "complete"
    stack.poller.drain()

    assert [d.payload["content"] for d in stack.discord.deliveries(webhook)] == ["Screener Complete: traced"]
    handled = [line for line in log_lines.with_message("message processed") if line["correlation_id"] == correlation_id]
    assert sorted(line["type"] for line in handled) == ["notification", "screener_complete"]
    [delivery] = [
        line for line in log_lines.with_message("notification delivered") if line["correlation_id"] == correlation_id
    ]
    assert (delivery["channel"], delivery["function_name"]) == ("discord", "ttai-consumer")
