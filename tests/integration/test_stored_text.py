"""Text that is stored is checked as it is stored (issue 11, defect 1): a webhook URL with a tab is a 422, and one
already stored is refused at delivery (acked, counted), with the webhook's token in no answer and no log line.

Before the fix, ``urlsplit`` dropped the tab, the check passed and the raw URL was stored; every post to it then
raised ``InvalidURL``, which the Discord adapter did not catch: the message went to the DLQ and the traceback
logged the token.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.ses.models import ses_backends

from local.account import REGION
from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.integration.conftest import user_id
from ttai.messages import Notification
from ttai.observability import logger

BASE = {"default_strategy": "csp", "morning_alert": False, "eod_summary": False, "notification_channels": ["discord"]}
WEBHOOK_ID = "112233445566778899"
TOKEN = "Zq8-secret_T0ken" * 4 + "abcd"  # 68 characters, as Discord issues them
DISCORD = f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}"
# Where each reported shape puts the control character or the whitespace.
REPORTED = {
    "tab in the host": f"https://disc\tord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
    "tab in the path": f"https://discord.com/api/web\thooks/{WEBHOOK_ID}/{TOKEN}",
    "tab in the token": f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN[:30]}\t{TOKEN[30:]}",
    "trailing newline": f"{DISCORD}\n",
    "leading space": f" {DISCORD}",
    "carriage return": f"https://discord.com/api/webhooks/{WEBHOOK_ID}/\r{TOKEN}",
    "NUL": f"{DISCORD}\x00",
    "non-breaking space at the end": f"{DISCORD}\u00a0",
    "line separator": f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}\u2028",
}
# Characters no stored URL may hold: C0 controls, space, DEL, C1 controls, Unicode spaces and separators.
UNWANTED = [chr(c) for c in (*range(0x21), 0x7F, *range(0x80, 0xA1))] + [
    "\u1680",
    "\u2000",
    "\u2028",
    "\u2029",
    "\u3000",
]


def put(stack: LocalStack, token: str, **fields: Any) -> Any:
    return stack.http("PUT", "/api/v1/preferences", token=token, json={**BASE, **fields})


def stored_webhook(stack: LocalStack, token: str) -> str | None:
    url: str | None = (
        stack.env.DB.prepare("SELECT discord_webhook_url FROM user_preferences WHERE user_id = ?")
        .bind(user_id(stack, token))
        .first("discord_webhook_url")
    )
    return url


@pytest.fixture
def log_text(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Everything logged while the test runs, at every level: messages, extra fields and tracebacks, rendered."""
    caplog.set_level(logging.DEBUG, logger=logger.name)
    render = logging.Formatter("%(levelname)s %(name)s %(message)s")

    def text() -> str:
        return "\n".join(f"{render.format(record)} {vars(record)!r}" for record in caplog.records)

    return text


# ------------------------------------------------------------------------------------- refused at the edge


@pytest.mark.parametrize("url", REPORTED.values(), ids=REPORTED.keys())
def test_a_webhook_url_with_a_control_character_or_surrounding_whitespace_is_a_422_and_nothing_is_written(
    stack: LocalStack, alice: str, log_text: Callable[[], str], url: str
) -> None:
    assert put(stack, alice, discord_webhook_url=DISCORD).status == 200
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, body = put(stack, alice, discord_webhook_url=url, eod_summary=True)
    assert status == 422, body
    assert [f["field"] for f in body["error"]["fields"]] == ["body.discord_webhook_url"]
    assert calls.total == 0  # refused before any statement
    assert stored_webhook(stack, alice) == DISCORD
    assert stack.http("GET", "/api/v1/preferences", token=alice).body["eod_summary"] is False
    assert TOKEN[:30] not in str(body)
    assert TOKEN[:30] not in log_text()


def test_a_user_without_a_webhook_gets_no_row_from_a_refused_one(stack: LocalStack, alice: str) -> None:
    assert put(stack, alice, discord_webhook_url=REPORTED["tab in the host"]).status == 422
    count = stack.env.DB.prepare("SELECT count(*) AS n FROM user_preferences WHERE user_id = ?").bind(
        user_id(stack, alice)
    )
    assert count.first("n") == 0


@pytest.fixture(scope="module")
def carol(stack: LocalStack) -> str:
    """A user whose stored webhook the property below tries to replace with broken ones."""
    token = stack.token_for(f"carol-{uuid.uuid4().hex[:8]}")
    assert put(stack, token, discord_webhook_url=DISCORD).status == 200
    return token


@settings(max_examples=60, deadline=None)
@given(
    insertions=st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(DISCORD)), st.sampled_from(UNWANTED)), min_size=1, max_size=4
    )
)
def test_any_control_character_or_whitespace_anywhere_in_a_webhook_url_is_a_422(
    stack: LocalStack, carol: str, insertions: list[tuple[int, str]]
) -> None:
    url = DISCORD
    for position, character in sorted(insertions, reverse=True):
        url = url[:position] + character + url[position:]
    status, _, body = put(stack, carol, discord_webhook_url=url)
    assert status == 422, (url, body)
    assert stored_webhook(stack, carol) == DISCORD


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/watchlists/tech%20", {"symbols": ["AAPL"]}),  # trailing space
        ("/api/v1/watchlists/%20tech", {"symbols": ["AAPL"]}),
        ("/api/v1/watchlists/te%09ch", {"symbols": ["AAPL"]}),
        ("/api/v1/watchlists/tech%0A", {"symbols": ["AAPL"]}),
        ("/api/v1/watchlists/tech", {"symbols": ["AAPL"], "description": "a\x00b"}),
        ("/api/v1/watchlists/tech", {"symbols": ["AAPL"], "description": "a\x1b[31mred"}),
        ("/api/v1/screeners/weekly%20", {"type": "stock", "criteria": {}}),
        ("/api/v1/screeners/weekly", {"type": "stock", "criteria": {}, "description": "\x07"}),
        ("/api/v1/screeners/weekly", {"type": "stock", "criteria": {}, "schedule": "0 9 * * \u0661"}),
    ],
)
def test_names_and_texts_that_would_not_read_back_are_a_422_and_nothing_is_written(
    stack: LocalStack, alice: str, path: str, body: dict[str, Any]
) -> None:
    status, _, answer = stack.http("PUT", path, token=alice, json=body)
    assert status == 422, answer
    table = "watchlists" if "watchlists" in path else "screeners"
    rows = stack.env.DB.prepare(f"SELECT count(*) AS n FROM {table} WHERE user_id = ?")
    assert rows.bind(user_id(stack, alice)).first("n") == 0


def test_free_text_keeps_its_line_breaks_and_tabs(stack: LocalStack, alice: str) -> None:
    description = "line one\n\tline two\r\n"
    status, _, saved = stack.http(
        "PUT", "/api/v1/watchlists/tech", token=alice, json={"symbols": ["AAPL"], "description": description}
    )
    assert status == 200, saved
    assert stack.http("GET", "/api/v1/watchlists/tech", token=alice).body["description"] == description


@pytest.mark.parametrize("strategy", ["iron\tcondor", " wheel", "csp\n", "wheel\u2028"])
def test_a_journal_strategy_is_one_line_without_surrounding_whitespace(
    stack: LocalStack, alice: str, strategy: str
) -> None:
    entry = {
        "symbol": "AAPL",
        "strategy": strategy,
        "legs": [{"type": "stock", "side": "buy"}],
        "entry_date": "2026-01-05",
        "entry_price": 100,
    }
    status, _, body = stack.http("POST", "/api/v1/journal", token=alice, json=entry)
    assert status == 422, body
    assert [f["field"] for f in body["error"]["fields"]] == ["body.strategy"]
    assert stack.http("GET", "/api/v1/journal", token=alice).body["items"] == []


# --------------------------------------------------------------------- stored before the fix: refused at delivery


def stored_user(stack: LocalStack, *, webhook: str | None = None, email: str | None = None) -> str:
    """A user whose row holds ``webhook`` and ``email`` as given, as rows written before the fix may."""
    user = f"legacy-{uuid.uuid4().hex[:8]}"
    stack.token_for(user)
    db = stack.env.DB
    db.prepare("UPDATE users SET email = ? WHERE id = ?").bind(email, user).run()
    db.prepare(
        "INSERT INTO user_preferences (user_id, notification_channels, discord_webhook_url) VALUES (?, ?, ?)"
    ).bind(user, ["discord", "email"], webhook).run()
    return user


def broken(url: str, shape: str) -> str:
    """``url`` as the reported shape breaks it."""
    scheme, rest = url.split("://", 1)
    host, path = rest.split("/", 1)
    return {
        "tab in the host": f"{scheme}://{host[:3]}\t{host[3:]}/{path}",
        "tab in the path": f"{scheme}://{host}/api/web\thooks/{path.split('/', 2)[2]}",
        "tab in the token": f"{url[:-20]}\t{url[-20:]}",
        "trailing newline": f"{url}\n",
        "leading space": f" {url}",
    }[shape]


@pytest.mark.parametrize(
    "shape", ["tab in the host", "tab in the path", "tab in the token", "trailing newline", "leading space"]
)
def test_an_already_stored_broken_webhook_is_acked_and_counted_and_its_token_never_logged(
    stack: LocalStack, log_text: Callable[[], str], capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    assert stack.discord is not None
    stack.poller.drain()  # what earlier tests left is not this test's
    webhook = stack.discord.new_webhook()
    token = webhook.rsplit("/", 1)[1]
    user = stored_user(stack, webhook=broken(webhook, shape))
    before = stack.discord.attempts
    capsys.readouterr()

    stack.env.NOTIFICATION_QUEUE.send(Notification(user_id=user, channel="discord", title="t", body="b").to_wire())
    report = stack.poller.drain()

    assert (report.records, report.failed, report.deleted) == (1, 0, 1)  # acked at once: no retry, no DLQ
    assert stack.discord.attempts == before  # never posted
    logged = log_text()
    assert "notification undeliverable" in logged
    assert "stored Discord webhook URL is not valid" in logged
    printed = capsys.readouterr().out
    assert '"NotificationsUndeliverable"' in printed  # the metric the consumer flushes
    for half in (token[:34], token[34:]):
        assert half not in logged
        assert half not in printed


def test_an_already_stored_broken_email_address_is_acked_without_calling_ses(
    stack: LocalStack, log_text: Callable[[], str]
) -> None:
    stack.poller.drain()
    address = f"legacy-{uuid.uuid4().hex[:8]}@example.com\nBcc: everyone@example.com"
    user = stored_user(stack, email=address)
    account = stack.environ["TTAI_PUSH_TOPIC_ARN"].split(":")[4]
    sent_before = len(ses_backends[account][REGION].sent_messages)

    with CallCounter(stack.env.client("ses")) as ses_calls:
        stack.env.NOTIFICATION_QUEUE.send(Notification(user_id=user, channel="email", title="t", body="b").to_wire())
        report = stack.poller.drain()

    assert (report.records, report.failed, report.deleted) == (1, 0, 1)
    assert ses_calls.total == 0
    assert len(ses_backends[account][REGION].sent_messages) == sent_before
    assert "the stored email address is not usable" in log_text()
