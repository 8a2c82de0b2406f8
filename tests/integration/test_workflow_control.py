"""The loopback endpoint ``ttai workflows`` steers a running make dev through (local.workflows.control)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.workflows import LocalWorkflows, VirtualClock
from local.workflows.control import WorkflowControl
from ttai.bindings.workflows import WorkflowEntrypoint, WorkflowEvent, WorkflowStep


class Napper(WorkflowEntrypoint):
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        step.sleep("nap", "1 day")
        return "rested"


@pytest.fixture
def control(tmp_path: Path) -> Iterator[tuple[LocalWorkflows, WorkflowControl]]:
    with LocalWorkflows(tmp_path, clock=VirtualClock(skip=False)) as local:
        local.register("naps", Napper)
        endpoint = WorkflowControl(local)
        endpoint.start()
        try:
            yield local, endpoint
        finally:
            endpoint.stop()


def _ask(endpoint: WorkflowControl, path: str, method: str = "GET") -> tuple[int, Any]:
    request = urllib.request.Request(f"{endpoint.base_url}{path}", method=method)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_instance_is_listed_paused_resumed_and_terminated(control: tuple[LocalWorkflows, WorkflowControl]) -> None:
    local, endpoint = control
    instance = local.binding("naps").create(id="nap-1")
    local.wait_for(instance, "waiting")

    status, listed = _ask(endpoint, "/instances")
    assert status == 200
    assert [(row["workflow"], row["id"], row["status"]) for row in listed] == [("naps", "nap-1", "waiting")]

    status, paused = _ask(endpoint, "/instances/nap-1/pause", "POST")
    assert status == 200
    assert paused["status"] in {"paused", "waitingForPause"}
    assert local.wait_for(instance, "paused")["status"] == "paused"
    assert _ask(endpoint, "/instances/nap-1/resume", "POST")[1]["status"] in {"waiting", "running"}
    status, ended = _ask(endpoint, "/instances/nap-1/terminate", "POST")
    assert (status, ended["status"]) == (200, "terminated")

    assert _ask(endpoint, "/instances/nap-1/terminate", "POST") == (
        409,
        {"error": "Cannot terminate instance since its on a finite state"},
    )
    assert _ask(endpoint, "/instances/nap-2")[0] == 404
    assert _ask(endpoint, "/instances/nap-1/restart", "POST")[0] == 404
    assert _ask(endpoint, "/instances/nap-1", "POST")[0] == 404
