"""DLQ tooling on moto: messages that really died (through the poller) listed, read without being consumed, and
redriven to their queue where they are consumed; the ``ttai dlq`` commands on a dev stack's state file and on
queue URLs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local import dlq
from local.aws_calls import CallCounter
from local.cli import main as ttai
from local.functions import LocalFunction
from local.poller import LocalPoller, PolledQueue
from local.stack import LocalStack
from ttai.bindings.queues import MessageBatch, Queue, consume

FreshQueue = Callable[..., tuple[PolledQueue, str]]


def kill(stack: LocalStack, queue: PolledQueue, bodies: list[Any], **send: Any) -> None:
    """Send ``bodies`` and deliver them to a consumer that always retries, until the redrive moves them to the DLQ."""
    sqs = stack.client("sqs")
    producer = Queue(queue.url, sqs=sqs)
    for body in bodies:
        producer.send(body, **send)

    def always_retry(event: dict[str, Any], context: Any) -> Any:
        return consume(event, lambda batch: batch.retry_all(), sqs=sqs)

    LocalPoller(sqs, [queue], function=LocalFunction("ttai-consumer", "", handler=always_retry)).drain(timeout=60)


def dead(stack: LocalStack, queue: PolledQueue, dlq_url: str) -> dlq.DeadLetterQueue:
    (found,) = dlq.dead_letter_queues(stack.client("sqs"), {queue.binding: queue.url})
    assert found.url == dlq_url
    return found


def consume_all(stack: LocalStack, queue: PolledQueue) -> list[Any]:
    sqs = stack.client("sqs")
    bodies: list[Any] = []

    def record(batch: MessageBatch) -> None:
        bodies.extend(m.body for m in batch.messages)

    def function(event: dict[str, Any], context: Any) -> Any:
        return consume(event, record, sqs=sqs)

    LocalPoller(sqs, [queue], function=LocalFunction("ttai-consumer", "", handler=function)).drain(timeout=30)
    return bodies


def test_dead_messages_are_listed_read_without_consuming_and_redriven(
    stack: LocalStack, fresh_queue: FreshQueue
) -> None:
    queue, dlq_url = fresh_queue(max_retries=1)
    kill(stack, queue, [{"n": n} for n in range(3)])
    sqs = stack.client("sqs")
    target = dead(stack, queue, dlq_url)
    assert dlq.depth(sqs, target) == dlq.Depth(visible=3, in_flight=0)

    letters = dlq.peek(sqs, target)

    assert sorted(json.loads(letter.body)["n"] for letter in letters) == [0, 1, 2]
    assert {letter.content_type for letter in letters} == {"json"}
    assert all(letter.receive_count >= 2 for letter in letters)  # max_retries + 1 deliveries, then the DLQ
    # Reading left every message in the DLQ, visible again (so it can be read again at once).
    assert dlq.depth(sqs, target).total == 3
    assert len(dlq.peek(sqs, target, limit=2)) == 2
    assert sorted(letter.message_id for letter in dlq.peek(sqs, target)) == sorted(m.message_id for m in letters)

    report = dlq.redrive(sqs, target)

    assert (report.moved, report.not_sent, report.not_deleted) == (3, {}, {})
    assert dlq.depth(sqs, target).total == 0
    assert sorted(body["n"] for body in consume_all(stack, queue)) == [0, 1, 2]


def test_a_redrive_keeps_content_types_and_goes_ten_at_a_time(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, dlq_url = fresh_queue(max_retries=0)
    kill(stack, queue, [f"text {n}" for n in range(23)], content_type="text")
    kill(stack, queue, [b"\x00raw"], content_type="bytes")
    sqs = stack.client("sqs")
    target = dead(stack, queue, dlq_url)

    with CallCounter(sqs) as calls:
        report = dlq.redrive(sqs, target)

    assert report.moved == 24
    assert calls.calls["SendMessageBatch"] == 3
    assert calls.calls["DeleteMessageBatch"] == 3
    assert sorted(consume_all(stack, queue), key=repr) == sorted(
        [b"\x00raw", *(f"text {n}" for n in range(23))], key=repr
    )


def test_a_redrive_limit_moves_only_that_many(stack: LocalStack, fresh_queue: FreshQueue) -> None:
    queue, dlq_url = fresh_queue(max_retries=0)
    kill(stack, queue, [{"n": n} for n in range(5)])
    sqs = stack.client("sqs")
    target = dead(stack, queue, dlq_url)

    assert dlq.redrive(sqs, target, limit=2).moved == 2

    assert dlq.depth(sqs, target).total == 3
    assert len(consume_all(stack, queue)) == 2


def test_a_queue_without_a_dlq_is_refused(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"test-no-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with pytest.raises(dlq.DeadLetterError, match="has no dead-letter queue"):
        dlq.dead_letter_queues(sqs, {"plain": url})


def test_ttai_dlq_on_the_dev_stack_state_file(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_file = tmp_path / "dev.json"
    state_file.write_text(json.dumps({"url": "http://127.0.0.1:0", "environ": stack.environ}))
    dead_id = stack.client("sqs").send_message(
        QueueUrl=stack.dlq_urls["TASK_QUEUE"],
        MessageBody='{"type":"job_run","id":"cli-test"}',
        MessageAttributes={"contentType": {"DataType": "String", "StringValue": "json"}},
    )["MessageId"]
    cli = ["--state-file", str(state_file), "dlq"]

    assert ttai([*cli, "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["QUEUE", "DEAD-LETTER", "QUEUE", "MESSAGES", "IN", "FLIGHT"]
    rows = {line.split()[0]: line.split() for line in listed[1:]}
    assert set(rows) == {"TASK_QUEUE", "NOTIFICATION_QUEUE", "ANALYSIS_QUEUE"}
    assert rows["TASK_QUEUE"][1] == f"{stack.name}-tasks-dlq"
    assert int(rows["TASK_QUEUE"][2]) >= 1

    assert ttai([*cli, "show", "tasks", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {"message_id": dead_id, "body": '{"type":"job_run","id":"cli-test"}'}.items() <= next(
        letter for letter in shown if letter["message_id"] == dead_id
    ).items()

    assert ttai([*cli, "redrive", "TASK_QUEUE"]) == 0
    assert "back to TASK_QUEUE" in capsys.readouterr().out
    task_queue = stack.poller.queue("TASK_QUEUE")
    seen: list[Any] = []
    stack.poller.drain(
        handler=lambda event, context: consume(event, lambda b: seen.extend(m.body for m in b.messages), sqs=None),
        bindings=["TASK_QUEUE"],
    )
    assert {"type": "job_run", "id": "cli-test"} in seen
    assert stack.poller.depth(task_queue) == 0


def test_ttai_dlq_on_queue_urls_and_its_errors(
    stack: LocalStack, fresh_queue: FreshQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    # Deployed queues are named by URL; boto3 finds moto here through AWS_ENDPOINT_URL, set by the stack.
    queue, _ = fresh_queue(max_retries=0)
    kill(stack, queue, ["only"], content_type="text")

    assert ttai(["dlq", "show", queue.binding, "--queue-url", queue.url]) == 0
    out = capsys.readouterr().out
    assert f"{queue.binding}-dlq: 1 message(s) shown, left in the queue" in out
    assert "received" in out
    assert "text\n  only" in out

    assert ttai(["dlq", "redrive", "nope", "--queue-url", queue.url]) == 2
    assert f"no queue named 'nope'; known: {queue.binding}" in capsys.readouterr().err
    assert ttai(["dlq", "redrive", queue.binding, "--queue-url", queue.url]) == 0
    assert consume_all(stack, queue) == ["only"]
