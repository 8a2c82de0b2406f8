"""Alarms: one per object, replaced and deleted as on Cloudflare, fired by the local runner from the table (so they
survive its restart), retried with 2 s doubling backoff up to 6 times; and the deployed triggers on moto."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.account import REGION
from local.durable import LocalAlarmRunner
from local.stack import LocalStack
from tests.conftest import Clock
from tests.integration.durable import objects
from ttai.bindings.durable import DurableObjectError, DurableObjectNamespace, DurableObjectStub
from ttai.bindings.durable.alarms import AwsAlarmTrigger
from ttai.bindings.durable.host import DurableObjectHost
from ttai.bindings.durable.items import DurableTable


@pytest.fixture
def runner(host: DurableObjectHost) -> LocalAlarmRunner:
    return LocalAlarmRunner(host)


@pytest.fixture
def stub(alarmed: DurableObjectNamespace, name: str) -> DurableObjectStub:
    return alarmed.get_by_name(name)


def now_ms() -> int:
    return int(time.time() * 1000)


def outcomes(runner: LocalAlarmRunner, at_ms: int | None = None) -> list[str]:
    return [answer["outcome"] for answer in runner.run_due(at_ms)]


def test_one_alarm_per_object_a_second_replaces_the_first_and_delete_cancels(
    stub: DurableObjectStub, runner: LocalAlarmRunner, clock: Clock
) -> None:
    first, second = now_ms() + 60_000, now_ms() + 120_000
    assert stub.set(first) == first
    assert stub.set(second) == second
    assert stub.get() == second
    assert [event["scheduled_time"] for event in runner.due(second + 1)] == [second]  # one alarm item, not two
    stub.delete()
    assert stub.get() is None
    assert runner.due(second + 1) == []
    stub.delete()  # deleting no alarm is no error


def test_an_alarm_needs_an_alarm_handler_and_a_time(host: DurableObjectHost, stub: DurableObjectStub) -> None:
    with pytest.raises(DurableObjectError) as raised:
        host.namespace("NO_ALARM").get_by_name("x").set(now_ms())
    assert raised.value.name == "InvalidAlarm"
    assert "alarm() handler" in raised.value.message
    for when in (float("nan"), -1, "soon"):
        with pytest.raises(DurableObjectError) as raised:
            stub.set(when)
        assert raised.value.name == "InvalidAlarm"


def test_a_due_alarm_runs_once_and_is_then_gone(
    stub: DurableObjectStub, runner: LocalAlarmRunner, clock: Clock
) -> None:
    stub.set(now_ms() - 5_000)  # in the past: runs as soon as possible
    assert outcomes(runner) == ["ran"]
    assert stub.runs() == [[0, False, None]]  # retry_count, is_retry, and get_alarm() inside the handler
    assert stub.get() is None
    assert outcomes(runner) == []


def test_an_alarm_waits_for_its_time(stub: DurableObjectStub, runner: LocalAlarmRunner, clock: Clock) -> None:
    due = now_ms() + 5_000
    stub.set(due)
    assert outcomes(runner) == []
    assert outcomes(runner, due - 1) == []
    clock.travel(5)
    assert outcomes(runner) == ["ran"]


def test_a_failing_alarm_is_retried_six_times_with_doubling_backoff_then_given_up(
    stub: DurableObjectStub, runner: LocalAlarmRunner, clock: Clock
) -> None:
    stub.mode("fail")
    stub.set(now_ms())
    for delay in (2, 4, 8, 16, 32, 64):
        assert outcomes(runner) == ["retrying"]
        retry = now_ms() + delay * 1000
        assert stub.get() == retry  # the alarm counts as set while a retry is pending, at its backoff
        assert outcomes(runner, retry - 1) == []  # never early
        clock.travel(delay)
    assert outcomes(runner) == ["gave_up"]
    assert stub.runs() == [[0, False, None]] + [[n, True, None] for n in range(1, 7)]
    assert stub.get() is None
    assert runner.due(now_ms() + 10**9) == []


def test_deleting_the_alarm_inside_a_failing_handler_stops_the_retries(
    stub: DurableObjectStub, runner: LocalAlarmRunner, clock: Clock
) -> None:
    stub.mode("delete then fail")
    stub.set(now_ms())
    assert outcomes(runner) == ["deleted"]
    assert stub.get() is None
    assert runner.due(now_ms() + 10**9) == []


def test_an_alarm_that_sets_another_is_replaced_by_it(
    stub: DurableObjectStub, runner: LocalAlarmRunner, clock: Clock
) -> None:
    stub.mode("reschedule")
    stub.set(now_ms())
    assert outcomes(runner) == ["replaced"]
    assert stub.get() == now_ms() + 60_000


def test_a_wake_up_for_a_replaced_alarm_runs_nothing(
    stub: DurableObjectStub, host: DurableObjectHost, clock: Clock
) -> None:
    old, new = now_ms() - 1_000, now_ms() + 60_000
    stub.set(old)
    stub.set(new)
    answer = host.handle({"kind": "alarm", "namespace": "ALARMED", "id": str(stub.id), "scheduled_time": old})
    assert answer == {"ok": True, "outcome": "stale"}
    assert stub.runs() == []
    assert stub.get() == new


def test_alarms_live_in_the_table_so_a_restarted_runner_fires_them(
    stack: LocalStack, durable_table: DurableTable, name: str, clock: Clock
) -> None:
    first_host = DurableObjectHost(objects.CLASSES, table=durable_table, dynamodb=_client(stack))
    first_runner = LocalAlarmRunner(first_host, poll_seconds=0.01)
    first_runner.start()
    first_host.namespace("ALARMED").get_by_name(name).set(now_ms() + 10_000)
    first_runner.stop()  # the process ends with the alarm not yet due
    del first_runner, first_host
    clock.travel(10)
    # A new process: new clients, host and runner; nothing carried over but the table.
    second_host = DurableObjectHost(objects.CLASSES, table=durable_table, dynamodb=_client(stack))
    assert [answer["outcome"] for answer in LocalAlarmRunner(second_host).run_due()] == ["ran"]
    assert second_host.namespace("ALARMED").get_by_name(name).runs() == [[0, False, None]]


def test_the_running_runner_fires_an_alarm_when_it_is_due(stub: DurableObjectStub, host: DurableObjectHost) -> None:
    objects.alarm_fired = threading.Event()
    runner = LocalAlarmRunner(host, poll_seconds=0.02)
    try:
        with runner:
            stub.set(now_ms())
            assert objects.alarm_fired.wait(timeout=10)
    finally:
        objects.alarm_fired = None
    assert stub.runs()[0][:2] == [0, False]


@pytest.fixture
def aws_trigger(stack: LocalStack) -> tuple[AwsAlarmTrigger, str]:
    sqs, scheduler = stack.client("sqs"), stack.client("scheduler")
    queue = f"durable-alarms-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    scheduler.create_schedule_group(Name=queue)
    trigger = AwsAlarmTrigger(
        queue_url=url,
        queue_arn=arn,
        schedule_group=queue,
        schedule_role_arn="arn:aws:iam::000000000000:role/durable-alarms",
        sqs=sqs,
        scheduler=scheduler,
    )
    return trigger, url


def test_deployed_alarms_are_sqs_delays_when_near_and_one_time_schedules_when_far(
    stack: LocalStack,
    durable_table: DurableTable,
    durable_dynamodb: Any,
    aws_trigger: tuple[AwsAlarmTrigger, str],
    name: str,
    clock: Clock,
) -> None:
    trigger, queue_url = aws_trigger
    host = DurableObjectHost(objects.CLASSES, table=durable_table, dynamodb=durable_dynamodb, trigger=trigger)
    stub = host.namespace("ALARMED").get_by_name(name)
    sqs, scheduler = stack.client("sqs"), stack.client("scheduler")

    stub.set(now_ms() + 30_000)  # within 15 minutes: an SQS message delayed until then
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"

    far = now_ms() + 2 * 3600 * 1000  # later: a one-time schedule that deletes itself after it ran
    stub.set(far)
    [schedule] = _schedules(scheduler, trigger.schedule_group)
    assert schedule["ScheduleExpression"] == f"at({time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(far / 1000))})"
    assert (schedule["ScheduleExpressionTimezone"], schedule["ActionAfterCompletion"]) == ("UTC", "DELETE")
    assert schedule["Target"]["Arn"].endswith(queue_url.rsplit("/", 1)[1])
    event = json.loads(schedule["Target"]["Input"])
    assert event == {"kind": "alarm", "namespace": "ALARMED", "id": str(stub.id), "scheduled_time": far}

    later = far + 3600 * 1000
    stub.set(later)  # the replaced alarm's schedule is deleted, the new one armed
    [schedule] = _schedules(scheduler, trigger.schedule_group)
    assert json.loads(schedule["Target"]["Input"])["scheduled_time"] == later

    # The schedule fires: its input reaches the host as an SQS record of the alarm queue.
    clock.travel((later - now_ms()) / 1000)
    record = {"messageId": "m-1", "body": schedule["Target"]["Input"]}
    assert host.handle({"Records": [record]}) == {"batchItemFailures": []}
    assert stub.runs() == [[0, False, None]]
    assert _schedules(scheduler, trigger.schedule_group) == []  # deleted with the alarm it belonged to


def test_a_near_alarm_arrives_through_the_queue_and_a_failed_one_is_requeued_with_its_backoff(
    stack: LocalStack,
    durable_table: DurableTable,
    durable_dynamodb: Any,
    aws_trigger: tuple[AwsAlarmTrigger, str],
    name: str,
) -> None:
    trigger, queue_url = aws_trigger
    host = DurableObjectHost(objects.CLASSES, table=durable_table, dynamodb=durable_dynamodb, trigger=trigger)
    stub = host.namespace("ALARMED").get_by_name(name)
    sqs = stack.client("sqs")
    stub.mode("fail")
    stub.set(now_ms())
    [message] = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    answer = host.handle({"Records": [{"messageId": message["MessageId"], "body": message["Body"]}]})
    assert answer == {"batchItemFailures": []}  # the handler failed, the record did not: the retry is its own message
    retry = stub.get()
    assert retry is not None
    assert 0 < retry - now_ms() <= 2_000
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def _schedules(scheduler: Any, group: str) -> list[dict[str, Any]]:
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    return [scheduler.get_schedule(Name=n, GroupName=group) for n in names]


def _client(stack: LocalStack) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard"}),
    )
