"""The workflow runner of a running ``make dev``, steered from another process: ``ttai workflows`` talks to this
loopback endpoint (its URL is in the dev state file), because only the process that runs the executions can pause,
resume or stop them.

- ``GET /instances``: every instance, newest first: workflow, id, status, created_at.
- ``GET /instances/<id>``: one instance's status (Cloudflare's ``status()``: status, error, output) and workflow.
- ``POST /instances/<id>/pause`` | ``resume`` | ``terminate``: the instance command, then its status.

An id that no workflow knows is a 404; a command the instance's state refuses (terminating a complete one) a 409
with Cloudflare's message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from local.service import LoopbackHttpService
from local.workflows import LocalWorkflows
from ttai.bindings.workflows import InstanceNotFound, InstanceNotRunning, WorkflowInstance

COMMANDS = ("pause", "resume", "terminate")


class WorkflowControl(LoopbackHttpService):
    def __init__(self, workflows: LocalWorkflows) -> None:
        self.workflows = workflows

    def handler(self) -> type[BaseHTTPRequestHandler]:
        control = self

        class Handler(_Handler):
            receiver: ClassVar[WorkflowControl] = control

        return Handler

    def listing(self) -> list[dict[str, Any]]:
        found = []
        for record in self.workflows.store.records():
            if record.workflow not in self.workflows.names:
                continue  # a workflow this runner no longer registers
            instance = self.workflows.binding(record.workflow).get(record.instance_id)
            found.append(
                {
                    "workflow": record.workflow,
                    "id": record.instance_id,
                    "status": instance.status()["status"],
                    "created_at": datetime.fromtimestamp(record.created_ms / 1000, UTC).isoformat(),
                }
            )
        return found

    def instance(self, instance_id: str) -> tuple[str, WorkflowInstance]:
        for name in self.workflows.names:
            try:
                return name, self.workflows.binding(name).get(instance_id)
            except InstanceNotFound:
                continue
        raise InstanceNotFound(f"no workflow has an instance {instance_id!r}")

    def answer(self, method: str, path: str) -> tuple[int, Any]:
        parts = [part for part in path.split("?", 1)[0].split("/") if part]
        if method == "GET" and parts == ["instances"]:
            return 200, self.listing()
        command = parts[2] if len(parts) == 3 else None
        known = parts[:1] == ["instances"] and (
            (method == "GET" and len(parts) == 2) or (method == "POST" and command in COMMANDS)
        )
        if not known:
            return 404, {"error": "no such route"}
        try:
            workflow, instance = self.instance(parts[1])
            if command is not None:
                getattr(instance, command)()
            return 200, {"workflow": workflow, "id": instance.id, **instance.status()}
        except InstanceNotFound as exc:
            return 404, {"error": exc.detail}
        except InstanceNotRunning as exc:
            return 409, {"error": exc.detail}


class _Handler(BaseHTTPRequestHandler):
    receiver: ClassVar[WorkflowControl]
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._reply(*self.receiver.answer("GET", self.path))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self._reply(*self.receiver.answer("POST", self.path))

    def _reply(self, status: int, body: Any) -> None:
        raw = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: ``make dev`` logs what the workflows do, not who asked."""
