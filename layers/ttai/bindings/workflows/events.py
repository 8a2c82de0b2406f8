"""What a run is given: the instance's event, the events ``wait_for_event`` returns, and the start payload."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Cloudflare's Python event is a dict with these keys; attribute access reads the same fields.
_EVENT_KEYS = {
    "payload": "payload",
    "timestamp": "timestamp",
    "instanceId": "instance_id",
    "instance_id": "instance_id",
    "workflowName": "workflow_name",
    "workflow_name": "workflow_name",
}


@dataclass(frozen=True, slots=True)
class WorkflowEvent:
    """``event`` in ``run(self, event, step)``: the params given to ``create`` and where they came from."""

    payload: Any
    timestamp: datetime
    instance_id: str
    workflow_name: str

    def __getitem__(self, key: str) -> Any:
        if key not in _EVENT_KEYS:
            raise KeyError(key)
        return getattr(self, _EVENT_KEYS[key])


@dataclass(frozen=True, slots=True)
class WorkflowStepEvent:
    """What ``wait_for_event`` returns: the event sent with ``send_event``."""

    type: str
    payload: Any
    timestamp: datetime

    def __getitem__(self, key: str) -> Any:
        if key not in ("type", "payload", "timestamp"):
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True, slots=True)
class StartPayload:
    """The input of a durable execution: which instance it runs, with what params (inline or a blob reference), and
    the correlation id of the work that started it (the run logs under it, and what it sends carries it)."""

    workflow: str
    instance_id: str
    execution: str
    params_json: str
    timestamp_ms: int
    correlation_id: str | None = None

    def to_json(self) -> str:
        start: dict[str, Any] = {
            "workflow": self.workflow,
            "instance_id": self.instance_id,
            "execution": self.execution,
            "params": self.params_json,
            "timestamp": self.timestamp_ms,
        }
        if self.correlation_id:
            start["correlation_id"] = self.correlation_id
        return json.dumps(start, separators=(",", ":"))

    @classmethod
    def from_input(cls, event: Any) -> StartPayload:
        """Read the input a durable handler is given (the SDK passes it JSON-decoded)."""
        data = json.loads(event) if isinstance(event, str | bytes) else event
        try:
            return cls(
                str(data["workflow"]),
                str(data["instance_id"]),
                str(data["execution"]),
                str(data["params"]),
                int(data["timestamp"]),
                str(data["correlation_id"]) if data.get("correlation_id") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a workflow start payload: {exc}") from exc


def from_millis(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
