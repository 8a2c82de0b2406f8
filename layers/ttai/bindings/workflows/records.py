"""The workflows table's items, in one place: the instance registry and each run's event mailbox.

One DynamoDB table, keys ``pk`` / ``sk`` (strings), TTL attribute ``expires_at``:

- instance: pk ``wf#<workflow>#<instance id>``, sk ``instance``; execution_name, generation, execution_arn
  (once known), created_ms.
- waiter: pk ``ev#<workflow>#<execution name>``, sk ``waiter#<digest of event type>``; event_type, callback_id,
  deadline_ms.
- buffered event: pk ``ev#<workflow>#<execution name>``, sk ``event#<digest of event type>#<sequence>``;
  event_type, envelope.

An instance item lives as long as the longest execution plus Cloudflare's 30-day retention; a mailbox item as
long. Event types are digested in sort keys so any type (``#`` included) keeps its own prefix; sequences are
zero-padded nanosecond times plus randomness, so a Query of one prefix reads events oldest first.
"""

from __future__ import annotations

import secrets
import time
from hashlib import sha256
from typing import Any

from ttai.bindings.workflows.backend import InstanceRecord

RETENTION_SECONDS = (366 + 30) * 86_400
INSTANCE_SK = "instance"


def _expires_at(now: float) -> dict[str, str]:
    return {"N": str(int(now) + RETENTION_SECONDS)}


def instance_key(workflow: str, instance_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"wf#{workflow}#{instance_id}"}, "sk": {"S": INSTANCE_SK}}


def instance_item(record: InstanceRecord, now: float) -> dict[str, Any]:
    item: dict[str, Any] = {
        **instance_key(record.workflow, record.instance_id),
        "execution_name": {"S": record.execution_name},
        "generation": {"N": str(record.generation)},
        "created_ms": {"N": str(record.created_ms)},
        "expires_at": _expires_at(now),
    }
    if record.execution_arn is not None:
        item["execution_arn"] = {"S": record.execution_arn}
    return item


def record_from_item(workflow: str, instance_id: str, item: dict[str, Any]) -> InstanceRecord:
    arn = item.get("execution_arn")
    return InstanceRecord(
        workflow,
        instance_id,
        item["execution_name"]["S"],
        int(item["generation"]["N"]),
        arn["S"] if arn else None,
        int(item["created_ms"]["N"]),
    )


def mailbox_pk(scope: str) -> dict[str, str]:
    return {"S": f"ev#{scope}"}


def _type_digest(event_type: str) -> str:
    return sha256(event_type.encode()).hexdigest()[:32]


def waiter_key(scope: str, event_type: str) -> dict[str, Any]:
    return {"pk": mailbox_pk(scope), "sk": {"S": f"waiter#{_type_digest(event_type)}"}}


def waiter_item(scope: str, event_type: str, callback_id: str, deadline_ms: int, now: float) -> dict[str, Any]:
    return {
        **waiter_key(scope, event_type),
        "event_type": {"S": event_type},
        "callback_id": {"S": callback_id},
        "deadline_ms": {"N": str(deadline_ms)},
        "expires_at": _expires_at(now),
    }


def event_prefix(event_type: str) -> str:
    return f"event#{_type_digest(event_type)}#"


def event_item(scope: str, event_type: str, envelope: str, now: float) -> dict[str, Any]:
    sequence = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
    return {
        "pk": mailbox_pk(scope),
        "sk": {"S": event_prefix(event_type) + sequence},
        "event_type": {"S": event_type},
        "envelope": {"S": envelope},
        "expires_at": _expires_at(now),
    }
