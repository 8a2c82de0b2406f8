"""/api/v1/jobs end to end: history pages and filters over rows the jobs wrote, one run with its results and report,
the latest run, and runs on demand through the task queue (admin only).

Job results are market-wide and the session's stack is shared, so each test writes its runs on market dates no
other test uses (``days``) and reads them back through a date filter.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock
from ttai.bindings.queues import CONTENT_TYPE_ATTRIBUTE
from ttai.messages import JobRunRequested, parse_message
from ttai.models.times import LATEST_DATE


def insert_run(
    stack: LocalStack,
    job_type: str,
    execution_date: date,
    *,
    status: str = "success",
    hour: int = 14,
    processed: int = 3,
    failed: int = 0,
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    """A job_executions row as ttai.jobs writes it (scheduled_time a unique second of the day, so no clash)."""
    scheduled = datetime(execution_date.year, execution_date.month, execution_date.day, hour, tzinfo=UTC)
    scheduled += timedelta(seconds=random.randrange(3600))
    row_id: int = (
        stack.env.DB.prepare(
            """INSERT INTO job_executions (job_type, scheduled_time, execution_date, status, started_at, finished_at,
                duration_ms, symbols_processed, symbols_successful, symbols_failed, error_message, metadata)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"""
        )
        .bind(
            job_type,
            scheduled,
            execution_date,
            status,
            scheduled,
            scheduled + timedelta(milliseconds=1500),
            1500,
            processed,
            processed - failed,
            failed,
            error,
            metadata or {},
        )
        .first("id")
    )
    return row_id


def insert_result(stack: LocalStack, execution_id: int, symbol: str, **fields: Any) -> None:
    row = {
        "sentiment": "bullish",
        "confidence": 0.8123,
        "direction": "buy",
        "reasoning": "SMA 20 above SMA 50",
        **fields,
    }
    stack.env.DB.prepare(
        """INSERT INTO analysis_results (execution_id, symbol, sentiment, confidence, direction, reasoning, signals,
            technical_data, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
    ).bind(
        execution_id,
        symbol,
        row["sentiment"],
        row["confidence"],
        row["direction"],
        row["reasoning"],
        row.get("signals", [{"type": "trend", "strength": 0.7}]),
        row.get("technical_data"),
        row.get("error_message"),
    ).run()


def insert_report(
    stack: LocalStack,
    execution_id: int,
    report_type: str,
    day: date,
    summary: str,
    count: int,
    content: dict[str, Any] | None = None,
) -> None:
    stack.env.DB.prepare(
        """INSERT INTO report_snapshots (execution_id, report_type, report_date, content, summary,
            high_confidence_count) VALUES (?, ?, ?, ?, ?, ?)"""
    ).bind(execution_id, report_type, day, content or {"signals": [{"symbol": "AAPL"}]}, summary, count).run()


_WINDOWS = itertools.count()


@pytest.fixture
def days() -> list[date]:
    """Ten consecutive market dates no other test writes on: a window of its own per test, in the 2100s (late
    enough that no job runs then, early enough for the API's date range, which ends with 2199)."""
    start = date(2100, 1, 1) + timedelta(days=10 * next(_WINDOWS))
    assert start + timedelta(days=9) < LATEST_DATE
    return [start + timedelta(days=n) for n in range(10)]


def history(stack: LocalStack, token: str, **query: Any) -> Any:
    return stack.http("GET", "/api/v1/jobs/history", token=token, query={k: str(v) for k, v in query.items()})


def span(days: list[date]) -> dict[str, str]:
    return {"start_date": days[0].isoformat(), "end_date": days[-1].isoformat()}


def test_history_lists_runs_newest_market_date_first_in_pages(stack: LocalStack, alice: str, days: list[date]) -> None:
    ids = [
        insert_run(stack, "pre-market", days[0]),
        insert_run(stack, "analysis", days[0], hour=15, processed=5, failed=2, status="partial", error="MSFT: no bars"),
        insert_run(stack, "intraday", days[1]),
        insert_run(stack, "end-of-day", days[1], hour=21),
        insert_run(stack, "weekly", days[2], metadata={"demo_data": ["AAPL", "MSFT"]}),  # as ttai.jobs marks demo
    ]
    newest_first = [ids[4], ids[3], ids[2], ids[1], ids[0]]
    seen: list[int] = []
    cursor = None
    with CallCounter(stack.env.client("rds-data")) as calls:
        for _ in range(3):
            status, _, page = history(stack, alice, limit=2, **span(days), **({"cursor": cursor} if cursor else {}))
            assert status == 200, page
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
    assert seen == newest_first
    assert cursor is None
    assert calls.by_operation() == {"ExecuteStatement": 3}  # one statement per page
    partial = history(stack, alice, **span(days)).body["items"][3]
    assert partial == {
        "id": ids[1],
        "job_type": "analysis",
        "scheduled_time": partial["scheduled_time"],
        "execution_date": days[0].isoformat(),
        "status": "partial",
        "started_at": partial["scheduled_time"],
        "finished_at": partial["finished_at"],
        "duration_ms": 1500,
        "symbols_processed": 5,
        "symbols_successful": 3,
        "symbols_failed": 2,
        "error_message": "MSFT: no bars",
        "demo": False,
    }
    assert history(stack, alice, **span(days)).body["items"][0]["demo"] is True


def test_history_filters_by_type_status_and_dates(stack: LocalStack, alice: str, days: list[date]) -> None:
    analysis_ok = insert_run(stack, "analysis", days[3])
    analysis_failed = insert_run(stack, "analysis", days[5], status="failure", error="no watched symbols")
    intraday_failed = insert_run(stack, "intraday", days[5], status="failure")
    skipped = insert_run(stack, "pre-market", days[6], status="skipped", processed=0)

    def ids(**query: Any) -> list[int]:
        status, _, page = history(stack, alice, **{**span(days), **query})
        assert status == 200, page
        return [item["id"] for item in page["items"]]

    assert ids(type="analysis") == [analysis_failed, analysis_ok]
    assert ids(status="failure") == [intraday_failed, analysis_failed]
    assert ids(type="analysis", status="failure") == [analysis_failed]
    assert ids(status="skipped") == [skipped]
    assert ids(start_date=days[5].isoformat(), end_date=days[5].isoformat()) == [intraday_failed, analysis_failed]
    assert ids(start_date=days[4].isoformat(), end_date=days[4].isoformat()) == []
    assert ids(type="weekly") == []


def test_runs_on_demo_data_are_marked_as_such(stack: LocalStack, alice: str, days: list[date]) -> None:
    marks: list[dict[str, Any]] = [
        {"demo_data": ["AAPL"]},
        {"demo": True},
        {"demo_data": []},
        {"demo_data": False},
        {"trigger": "manual"},
    ]
    ids = [insert_run(stack, "analysis", days[9], hour=10 + n, metadata=m) for n, m in enumerate(marks)]
    listed = {
        item["id"]: item["demo"] for item in history(stack, alice, start_date=days[9], end_date=days[9]).body["items"]
    }
    assert [listed[i] for i in ids] == [True, True, False, False, False]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"type": "lunch"}, "query.type"),
        ({"status": "done"}, "query.status"),
        ({"start_date": "2026-13-01"}, "query.start_date"),
        ({"end_date": "yesterday"}, "query.end_date"),
        ({"start_date": "2026-03-10", "end_date": "2026-03-09"}, "query.end_date"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "101"}, "query.limit"),
    ],
)
def test_bad_filters_are_a_422_naming_the_field_without_a_query(
    stack: LocalStack, alice: str, query: dict[str, str], field: str
) -> None:
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, body = history(stack, alice, **query)
    assert (status, calls.total) == (422, 0)
    assert [f["field"] for f in body["error"]["fields"]] == [field]


def test_a_cursor_only_continues_the_list_it_came_from(stack: LocalStack, alice: str, days: list[date]) -> None:
    for day in days[:3]:
        insert_run(stack, "analysis", day)
    cursor = history(stack, alice, limit=1, **span(days)).body["next_cursor"]
    assert cursor
    status, _, body = history(stack, alice, limit=1, type="analysis", cursor=cursor, **span(days))
    assert status == 400
    assert body["error"]["code"] == "bad_request"
    assert history(stack, alice, cursor="bm90LWEtY3Vyc29y")[0] == 400


def test_a_run_shows_its_results_by_symbol_and_its_report(stack: LocalStack, bob: str, days: list[date]) -> None:
    run = insert_run(
        stack, "analysis", days[7], status="partial", processed=3, failed=1, metadata={"trigger": "manual"}
    )
    insert_result(stack, run, "MSFT", sentiment="bearish", confidence=0.35, direction="sell", signals=[])
    insert_result(stack, run, "AAPL", technical_data={"rsi_14": 61.2, "sma_20": 190.1, "demo_data": True})
    insert_result(stack, run, "TSLA", sentiment=None, confidence=None, direction=None, reasoning=None,
                  error_message="no bars for TSLA")  # fmt: skip
    insert_report(stack, run, "analysis", days[7], "1 high-confidence signal", 1)
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, detail = stack.http("GET", f"/api/v1/jobs/{run}", token=bob)
    assert status == 200, detail
    assert calls.by_operation() == {"ExecuteStatement": 2}  # the run with its report, then its results
    assert (detail["id"], detail["status"], detail["metadata"], detail["demo"]) == (
        run,
        "partial",
        {"trigger": "manual"},
        False,
    )
    assert [r["symbol"] for r in detail["results"]] == ["AAPL", "MSFT", "TSLA"]
    assert detail["results_total"] == 3
    aapl, msft, tsla = detail["results"]
    assert (aapl["sentiment"], aapl["confidence"], aapl["direction"]) == ("bullish", 0.8123, "buy")
    assert aapl["signals"] == [{"type": "trend", "strength": 0.7}]
    assert aapl["technical_data"] == {"rsi_14": 61.2, "sma_20": 190.1, "demo_data": True}
    assert [r["demo"] for r in detail["results"]] == [True, False, False]  # AAPL's bars were demo bars
    assert (msft["sentiment"], msft["confidence"], msft["signals"]) == ("bearish", 0.35, [])
    assert (tsla["sentiment"], tsla["error_message"]) == (None, "no bars for TSLA")
    report = detail["report"]
    assert (report["report_type"], report["report_date"], report["summary"], report["high_confidence_count"]) == (
        "analysis",
        days[7].isoformat(),
        "1 high-confidence signal",
        1,
    )
    assert (report["content"], report["content_omitted"]) == ({"signals": [{"symbol": "AAPL"}]}, False)


def test_a_report_too_large_for_one_record_comes_without_its_content(
    stack: LocalStack, alice: str, days: list[date]
) -> None:
    run = insert_run(stack, "weekly", days[4])
    big = {"signals": [{"symbol": f"S{n}", "note": "x" * 100} for n in range(600)]}  # about 70 KB as jsonb text
    insert_report(stack, run, "weekly", days[4], "a big week", 600, content=big)
    status, _, detail = stack.http("GET", f"/api/v1/jobs/{run}", token=alice)
    assert status == 200, detail
    report = detail["report"]
    assert (report["summary"], report["content"], report["content_omitted"]) == ("a big week", None, True)


def test_a_run_without_results_or_report_and_a_missing_run(stack: LocalStack, alice: str, days: list[date]) -> None:
    run = insert_run(stack, "intraday", days[8], error="x" * 3000)
    detail = stack.http("GET", f"/api/v1/jobs/{run}", token=alice).body
    assert (detail["results"], detail["results_total"], detail["report"]) == ([], 0, None)
    assert detail["error_message"] == "x" * 3000  # in full here; the history shows its start
    listed = history(stack, alice, start_date=days[8], end_date=days[8]).body["items"]
    assert [len(item["error_message"]) for item in listed] == [1000]
    status, _, body = stack.http("GET", "/api/v1/jobs/999999999999", token=alice)
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert stack.http("GET", "/api/v1/jobs/0", token=alice).status == 422


def test_the_latest_run_of_any_job_and_of_one(stack: LocalStack, alice: str) -> None:
    # The last market date Python can name: later than every other test's runs, so "latest" is this test's.
    last = date(9999, 12, 30)
    analysis = insert_run(stack, "analysis", last, hour=14)
    insert_report(stack, analysis, "analysis", last, "2 high-confidence signals", 2)
    pre_market = insert_run(stack, "pre-market", last, hour=13)
    with CallCounter(stack.env.client("rds-data")) as calls:
        status, _, latest = stack.http("GET", "/api/v1/jobs/latest", token=alice)
    assert status == 200, latest
    assert calls.total == 1
    assert (latest["id"], latest["job_type"], latest["report"]) == (pre_market, "pre-market", None)
    of_analysis = stack.http("GET", "/api/v1/jobs/latest", token=alice, query={"type": "analysis"}).body
    assert of_analysis["id"] == analysis
    assert (of_analysis["report"]["summary"], of_analysis["report"]["high_confidence_count"]) == (
        "2 high-confidence signals",
        2,
    )
    assert "content" not in of_analysis["report"]  # the summary only; the run itself has the whole report
    assert stack.http("GET", "/api/v1/jobs/latest", token=alice, query={"type": "lunch"}).status == 422


def test_with_no_runs_there_is_no_latest_and_the_history_is_empty() -> None:
    with LocalStack() as empty:
        token = empty.token_for("reader")
        status, _, body = empty.http("GET", "/api/v1/jobs/latest", token=token, query={"type": "weekly"})
        assert (status, body["error"]["code"]) == (404, "not_found")
        assert empty.http("GET", "/api/v1/jobs/latest", token=token).status == 404
        assert empty.http("GET", "/api/v1/jobs/history", token=token).body == {"items": [], "next_cursor": None}


def test_job_data_needs_a_signed_in_caller(stack: LocalStack) -> None:
    for path in ("/api/v1/jobs/history", "/api/v1/jobs/latest", "/api/v1/jobs/1"):
        assert stack.http("GET", path).status == 403  # the authorizer denies a request without a credential


def _take_task(stack: LocalStack, message_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task message with this id (body, attributes), deleted; other tests' messages are put back at once."""
    sqs = stack.client("sqs")
    url = stack.queue_urls["TASK_QUEUE"]
    for _ in range(20):
        received = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in received.get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("id") == message_id:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                return body, message.get("MessageAttributes", {})
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    raise AssertionError(f"task {message_id} never reached the task queue")


def test_an_admin_runs_a_job_through_the_task_queue(stack: LocalStack, clock: Clock) -> None:
    clock.travel(0.75)  # mid-second: the scheduled time is the whole second
    admin = stack.token_for(f"ops-{uuid.uuid4().hex[:8]}", scopes=("admin",))
    with CallCounter(stack.env.client("sqs")) as calls:
        status, _, accepted = stack.http("POST", "/api/v1/jobs/analysis/run", token=admin)
    assert status == 202, accepted
    assert calls.by_operation() == {"SendMessage": 1}
    expected_time = datetime.fromtimestamp(int(clock.now), UTC)
    assert datetime.fromisoformat(accepted["scheduled_time"]) == expected_time
    assert accepted["job_type"] == "analysis"
    body, attributes = _take_task(stack, accepted["message_id"])
    message = parse_message(body)
    assert isinstance(message, JobRunRequested)
    admin_id = stack.http("GET", "/api/v1/me", token=admin).body["id"]
    assert (message.user_id, message.job_type, message.scheduled_time) == (admin_id, "analysis", expected_time)
    assert attributes[CONTENT_TYPE_ATTRIBUTE]["StringValue"] == "json"


def test_only_admins_run_jobs_and_only_known_ones(stack: LocalStack, alice: str) -> None:
    service = stack.token_for("quote-streamer", scopes=("service",))
    admin = stack.token_for(f"ops-{uuid.uuid4().hex[:8]}", scopes=("admin",))
    with CallCounter(stack.env.client("sqs")) as calls:
        for token in (alice, service):
            status, _, body = stack.http("POST", "/api/v1/jobs/analysis/run", token=token)
            assert (status, body["error"]["code"]) == (403, "forbidden")
        status, _, body = stack.http("POST", "/api/v1/jobs/lunch/run", token=admin)
        assert status == 422
        assert [f["field"] for f in body["error"]["fields"]] == ["path.job_type"]
    assert calls.total == 0  # nothing sent


def test_a_run_asked_for_through_the_api_is_run_by_the_consumer_and_listed(stack: LocalStack) -> None:
    admin = stack.token_for(f"ops-{uuid.uuid4().hex[:8]}", scopes=("admin",))
    status, _, accepted = stack.http("POST", "/api/v1/jobs/weekly/run", token=admin)
    assert status == 202, accepted
    assert stack.poller is not None
    delivered = stack.poller.drain(bindings=["TASK_QUEUE"])
    assert delivered.deleted >= 1
    assert delivered.failed == 0
    scheduled = datetime.fromisoformat(accepted["scheduled_time"])
    market_date = scheduled.astimezone(ZoneInfo("America/New_York")).date()
    listed = history(stack, admin, type="weekly", start_date=market_date, end_date=market_date).body["items"]
    [run] = [item for item in listed if datetime.fromisoformat(item["scheduled_time"]) == scheduled]
    assert run["status"] in {"success", "partial"}  # a manual run runs whatever the day
    detail = stack.http("GET", f"/api/v1/jobs/{run['id']}", token=admin).body
    assert detail["metadata"]["trigger"] == "manual"
