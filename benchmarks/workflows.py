"""Workflows: the local runner's overhead per step, and the AWS calls a step, a sleep and an event wait make.

Overhead: a workflow of 40 trivial steps and one of none, each created and run to completion on the durable SDK's
local runner (filesystem store, virtual clock); the difference divided by 40 is the cost of one step (the SDK's
checkpointing, the runner's store writes, the adapter). Median of three runs.

Calls: the same SDK code runs on Lambda, so the checkpoint requests the handler sends locally are the
CheckpointDurableExecution calls it would send there (the runner's service client is counted). A step whose body
returns within the SDK's 1-second batching window sends its START and SUCCEED in one request; a longer body
sends two. A sleep or an event wait ends the invocation, and the service invokes the function again after it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import percentile, seconds
from benchmarks.report import Row
from local.workflows import LocalWorkflows, VirtualClock
from ttai.bindings.workflows import WorkflowEntrypoint, WorkflowEvent, WorkflowStep

STEPS = 40
RUNS = 3
BUDGET_MS = 40.0


class Steps(WorkflowEntrypoint):
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        total = 0
        for n in range(int(event.payload["steps"])):

            @step.do("add")
            def add(n: int = n) -> int:
                return n

            total += add()
        return total


class SleepThenEvent(WorkflowEntrypoint):
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        step.sleep("nap", "1 day")
        return step.wait_for_event("go", "go").payload


def _run(local: LocalWorkflows, name: str, params: dict[str, Any]) -> float:
    def run() -> None:
        instance = local.binding("STEPS").create(id=name, params=params)
        local.wait_for(instance, "complete", timeout=60)

    return seconds(run)


def step_overhead() -> list[Row]:
    with tempfile.TemporaryDirectory() as root, LocalWorkflows(Path(root), clock=VirtualClock(skip=True)) as local:
        local.register("STEPS", Steps)
        _run(local, "warm", {"steps": 2})
        per_step = []
        for run in range(RUNS):
            empty = _run(local, f"empty-{run}", {"steps": 0})
            full = _run(local, f"full-{run}", {"steps": STEPS})
            per_step.append((full - empty) * 1000 / STEPS)
        engine = local.engines["STEPS"]
        before = engine.checkpoints, engine.invocations
        _run(local, "counted", {"steps": STEPS})
        checkpoints = (engine.checkpoints - before[0]) / STEPS
    overhead = percentile(per_step, 50)
    return [
        Row(
            "workflows",
            f"local runner overhead per step ({STEPS} steps, median of {RUNS})",
            overhead,
            "ms",
            f"<= {BUDGET_MS:g} ms",
            overhead <= BUDGET_MS,
        ),
        Row(
            "AWS calls",
            "workflow step (body < 1 s): CheckpointDurableExecution per step",
            checkpoints,
            "calls",
            "= 1",
            checkpoints == 1,
        ),
    ]


def wait_calls() -> list[Row]:
    clock = VirtualClock(skip=True)
    with tempfile.TemporaryDirectory() as root, LocalWorkflows(Path(root), clock=clock) as local:
        binding = local.register("WAITS", SleepThenEvent)
        engine = local.engines["WAITS"]
        instance = binding.create(id="waits")
        local.wait_for(instance, "waiting")
        deadline = time.monotonic() + 10
        while not local.store.expired_waiters(2**62) and time.monotonic() < deadline:
            time.sleep(0.005)
        instance.send_event(type="go", payload=True)
        local.wait_for(instance, "complete")
    return [
        Row(
            "AWS calls",
            "workflow sleep + wait_for_event: CheckpointDurableExecution",
            engine.checkpoints,
            "calls",
            "= 3",
            engine.checkpoints == 3,
        ),
        Row(
            "AWS calls",
            "workflow sleep + wait_for_event: Lambda invocations (each wait ends one)",
            engine.invocations,
            "invocations",
            "= 3",
            engine.invocations == 3,
        ),
    ]


def run() -> list[Row]:
    return step_overhead() + wait_calls()
