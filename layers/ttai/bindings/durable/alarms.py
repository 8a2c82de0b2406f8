"""Alarms: when they fire, how a failed one is retried, and what wakes the host to run them.

An alarm lives in the object's ``#alarm`` item (items.py), written in the same DynamoDB transaction as the call's
other writes; that item is the truth. A trigger only wakes the host at the due time with
``{"kind": "alarm", "namespace", "id", "scheduled_time"}``, and the host runs ``alarm()`` only when the stored
alarm still has that due time, so a trigger that arrives after the alarm was replaced or deleted does nothing.
Triggers are armed before the item is written (a spare wake-up is harmless, a missing one is not) and a replaced
Scheduler schedule is deleted after.

- Deployed (:class:`AwsAlarmTrigger`): an alarm due within 15 minutes is an SQS message with that delay (SQS's
  maximum is 900 s); a later one is an EventBridge Scheduler one-time schedule, ``at()`` in UTC, deleted after it
  runs (``ActionAfterCompletion=DELETE``), whose target sends the same message to the same queue. The host
  consumes the queue, so SQS's redelivery covers a host that dies mid-alarm. Scheduler fires at whole minutes,
  so the host re-arms a trigger that arrives early.
- Locally (:class:`PolledAlarms`): nothing to arm. The local alarm runner queries the table's alarm index for due
  alarms (moto's Scheduler never fires), so alarms survive a restart of the process.

Retries as Cloudflare's: an ``alarm()`` that raises runs again after 2 s, 4 s, 8 s... (2 s doubling), at most 6
retries, with ``retry_count`` / ``is_retry``; then the alarm is given up (deleted and logged).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from botocore.exceptions import ClientError

from ttai.bindings.common import error_code
from ttai.bindings.durable.items import AlarmItem
from ttai.bindings.queues import SQS_MAX_DELAY_SECONDS

MAX_RETRIES = 6
FIRST_RETRY_DELAY_MS = 2_000


class AlarmInfo(NamedTuple):
    """What ``alarm(info)`` receives: how many times this alarm has failed before, and whether this is a retry."""

    retry_count: int
    is_retry: bool


def retry_delay_ms(retry_count: int) -> int:
    """The wait before retry number ``retry_count`` (1-based): 2 s, 4 s, 8 s..."""
    return int(FIRST_RETRY_DELAY_MS * 2 ** (retry_count - 1))


def alarm_event(namespace: str, hex_id: str, due_ms: int) -> dict[str, Any]:
    """What a trigger delivers to the host."""
    return {"kind": "alarm", "namespace": namespace, "id": hex_id, "scheduled_time": due_ms}


class AlarmTrigger(Protocol):
    """What wakes the host when an alarm is due."""

    def arm(self, namespace: str, hex_id: str, due_ms: int) -> str | None:
        """Make sure the host is woken at ``due_ms``; returns the name of a schedule to delete later, if any."""

    def disarm(self, schedule: str) -> None:
        """Delete a schedule ``arm`` returned (it may already have fired and gone)."""


class PolledAlarms:
    """No trigger: a poller reads due alarms from the table (the local alarm runner)."""

    def arm(self, namespace: str, hex_id: str, due_ms: int) -> str | None:
        return None

    def disarm(self, schedule: str) -> None:
        return None


class AwsAlarmTrigger:
    """SQS delays for alarms due within 15 minutes, EventBridge Scheduler one-time schedules for later ones."""

    def __init__(
        self,
        *,
        queue_url: str,
        queue_arn: str,
        schedule_group: str,
        schedule_role_arn: str,
        sqs: Any = None,
        scheduler: Any = None,
    ) -> None:
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.schedule_group = schedule_group
        self.schedule_role_arn = schedule_role_arn
        if sqs is None or scheduler is None:
            from ttai import aws  # noqa: PLC0415 - boto3 only when clients are not injected

            sqs = sqs or aws.client("sqs")
            scheduler = scheduler or aws.client("scheduler")
        self._sqs = sqs
        self._scheduler = scheduler

    def arm(self, namespace: str, hex_id: str, due_ms: int) -> str | None:
        body = json.dumps(alarm_event(namespace, hex_id, due_ms), separators=(",", ":"))
        delay = max(0, math.ceil(due_ms / 1000 - time.time()))
        if delay <= SQS_MAX_DELAY_SECONDS:
            self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=body, DelaySeconds=delay)
            return None
        # One name per (object, due time): a replacement never overwrites a schedule about to fire.
        name = "do-" + hashlib.sha256(f"{namespace}#{hex_id}#{due_ms}".encode()).hexdigest()[:56]
        at = datetime.fromtimestamp(due_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        try:
            self._scheduler.create_schedule(
                Name=name,
                GroupName=self.schedule_group,
                ScheduleExpression=f"at({at})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={"Arn": self.queue_arn, "RoleArn": self.schedule_role_arn, "Input": body},
            )
        except ClientError as exc:
            if error_code(exc) != "ConflictException":
                raise
            # Armed already by an earlier attempt of the same call: the schedule is the one we want.
        return name

    def disarm(self, schedule: str) -> None:
        try:
            self._scheduler.delete_schedule(Name=schedule, GroupName=self.schedule_group)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise


def after_run(alarm: AlarmItem, *, failed: bool, now_ms: int) -> tuple[AlarmItem | None, str]:
    """What becomes of an alarm whose handler ran and set no alarm of its own: (the item to keep, the outcome).

    A success consumes it; a failure schedules retry ``retries + 1`` after its backoff, or gives up after
    ``MAX_RETRIES`` retries.
    """
    if not failed:
        return None, "ran"
    retries = alarm.retries + 1
    if retries > MAX_RETRIES:
        return None, "gave_up"
    return AlarmItem(now_ms + retry_delay_ms(retries), retries, None), "retrying"
