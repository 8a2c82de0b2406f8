"""Cloudflare Workflows' behaviour, checked on the durable SDK's local runner (virtual time: days take ms).

Each test runs real workflow classes through ``LocalWorkflows``: the official SDK and its testing runner, a
filesystem execution store, SQLite for the registry and mailbox. Side effects are counted in a module-level
ledger, since a step body runs in the runner's threads.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from local.workflows import LocalWorkflows, VirtualClock
from ttai.bindings.workflows import (
    InstanceAlreadyExists,
    InstanceNotFound,
    InstanceNotRunning,
    InvalidBatch,
    InvalidInstanceId,
    NonRetryableError,
    WorkflowEntrypoint,
    WorkflowEvent,
    WorkflowStep,
)

LEDGER: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _ledger() -> Iterator[None]:
    LEDGER.clear()
    yield
    LEDGER.clear()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(skip=True)


@pytest.fixture
def workflows(tmp_path: Path, clock: VirtualClock) -> Iterator[LocalWorkflows]:
    with LocalWorkflows(tmp_path, clock=clock) as local:
        yield local


def _attempt_times(local: LocalWorkflows, workflow: str, instance_id: str) -> list[float]:
    """When each attempt of the instance's steps started, from the runner's history (virtual seconds)."""
    engine = local.engines[workflow]
    record = local.store.get_instance(workflow, instance_id)
    assert record is not None
    assert record.execution_arn is not None
    events = engine.history(record.execution_arn).events
    return [event.event_timestamp.timestamp() for event in events if event.event_type == "StepStarted"]


class StepsThenFailure(WorkflowEntrypoint):
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        @step.do("charge card")
        def charge() -> str:
            LEDGER["charge"] += 1
            return "receipt-1"

        receipt = charge()
        step.sleep("settle", "1 hour")

        @step.do("ship", config={"retries": {"limit": 2, "delay": 1000, "backoff": "constant"}})
        def ship() -> str:
            LEDGER["ship"] += 1
            if LEDGER["ship"] < 3:
                raise ConnectionError("carrier down")
            return f"shipped with {receipt}"

        return ship()


def test_a_completed_step_is_not_run_again_after_a_later_failure_retry_and_sleep(workflows: LocalWorkflows) -> None:
    binding = workflows.register("ORDERS", StepsThenFailure)

    instance = binding.create(id="order-1")
    status = workflows.wait_for(instance, "complete", "errored")

    assert status == {"status": "complete", "error": None, "output": "shipped with receipt-1"}
    assert LEDGER == {"charge": 1, "ship": 3}


class Flaky(WorkflowEntrypoint):
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        @step.do("flaky", config={"retries": {"limit": 3, "delay": "2 seconds", "backoff": event.payload["backoff"]}})
        def flaky() -> int:
            LEDGER[event.instance_id] += 1
            if LEDGER[event.instance_id] <= event.payload["failures"]:
                raise TimeoutError(f"attempt {LEDGER[event.instance_id]} timed out")
            return LEDGER[event.instance_id]

        return flaky()


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [("constant", [2, 2, 2]), ("linear", [2, 4, 6]), ("exponential", [2, 4, 8])],
)
def test_retries_back_off_as_configured_on_the_virtual_clock(
    workflows: LocalWorkflows, backoff: str, delays: list[int]
) -> None:
    binding = workflows.register("FLAKY", Flaky)

    instance = binding.create(id=f"flaky-{backoff}", params={"backoff": backoff, "failures": 3})

    assert workflows.wait_for(instance, "complete", "errored")["output"] == 4
    starts = _attempt_times(workflows, "FLAKY", f"flaky-{backoff}")
    assert [round(b - a) for a, b in pairwise(starts)] == delays


def test_retries_stop_at_the_limit_and_the_instance_errors_with_the_steps_error(workflows: LocalWorkflows) -> None:
    binding = workflows.register("FLAKY", Flaky)

    instance = binding.create(id="exhausted", params={"backoff": "constant", "failures": 10})

    status = workflows.wait_for(instance, "errored", "complete")
    assert status["error"] == {"name": "TimeoutError", "message": "attempt 4 timed out"}
    assert LEDGER["exhausted"] == 4  # limit 3: the first attempt and three retries


def test_default_retries_are_cloudflares_five_exponential_from_ten_seconds(workflows: LocalWorkflows) -> None:
    class AlwaysFails(WorkflowEntrypoint):
        def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
            @step.do("doomed")
            def doomed() -> None:
                LEDGER["doomed"] += 1
                raise ValueError("no")

            doomed()

    binding = workflows.register("DEFAULTS", AlwaysFails)
    instance = binding.create(id="defaults")

    assert workflows.wait_for(instance, "errored")["error"] == {"name": "ValueError", "message": "no"}
    starts = _attempt_times(workflows, "DEFAULTS", "defaults")
    assert [round(b - a) for a, b in pairwise(starts)] == [10, 20, 40, 80, 160]


class NotRetried(WorkflowEntrypoint):
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        @step.do("validate", config={"retries": {"limit": 5, "delay": 1000}})
        def validate() -> None:
            LEDGER["validate"] += 1
            raise NonRetryableError("card declined")

        try:
            validate()
        except Exception as error:
            LEDGER[f"caught {type(error).__name__} {getattr(error, 'name', '')}"] += 1
            raise


def test_a_non_retryable_error_is_not_retried_and_errors_the_instance(workflows: LocalWorkflows) -> None:
    binding = workflows.register("STRICT", NotRetried)

    instance = binding.create(id="strict")

    status = workflows.wait_for(instance, "errored", "complete")
    assert status["error"] == {"name": "NonRetryableError", "message": "card declined"}
    assert LEDGER["validate"] == 1
    assert LEDGER["caught WorkflowStepError NonRetryableError"] >= 1


def test_an_uncaught_error_in_run_errors_the_instance_with_its_name_and_message(workflows: LocalWorkflows) -> None:
    class Broken(WorkflowEntrypoint):
        def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
            raise KeyError("symbol")

    binding = workflows.register("BROKEN", Broken)
    instance = binding.create(id="broken")

    assert workflows.wait_for(instance, "errored", "complete") == {
        "status": "errored",
        "error": {"name": "KeyError", "message": "'symbol'"},
        "output": None,
    }


class Sleeper(WorkflowEntrypoint):
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        @step.do("before")
        def before() -> str:
            LEDGER["before"] += 1
            return "ready"

        state = before()
        step.sleep("three days", timedelta(days=3))
        return f"{state} after {event.payload['label']}"


def test_a_sleep_is_waiting_until_the_clock_passes_it_then_completes(tmp_path: Path) -> None:
    clock = VirtualClock(skip=False)
    with LocalWorkflows(tmp_path, clock=clock) as local:
        instance = local.register("SLEEPY", Sleeper).create(id="nap", params={"label": "the nap"})

        assert local.wait_for(instance, "waiting")["output"] is None
        clock.advance(days=2, hours=23)
        assert local.wait_for(instance, "waiting")["status"] == "waiting"
        clock.advance(hours=1)

        assert local.wait_for(instance, "complete")["output"] == "ready after the nap"
    assert LEDGER["before"] == 1


class Approval(WorkflowEntrypoint):
    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        step.sleep("think", "1 day")
        approval = step.wait_for_event("approval", "approved", timeout="1 hour")
        return {"by": approval.payload["by"], "type": approval["type"], "at": approval.timestamp.isoformat()}


def test_an_event_sent_while_waiting_is_delivered(tmp_path: Path) -> None:
    clock = VirtualClock(skip=False)
    with LocalWorkflows(tmp_path, clock=clock) as local:
        instance = local.register("APPROVALS", Approval).create(id="late-enough")
        local.wait_for(instance, "waiting")
        clock.advance(days=1)
        _wait_for_waiter(local)

        instance.send_event(type="approved", payload={"by": "ops"})

        output = local.wait_for(instance, "complete")["output"]
        assert output["by"] == "ops"
        assert output["type"] == "approved"
        assert output["at"] == clock.now().isoformat()


def test_an_event_sent_before_the_wait_is_kept_for_it(tmp_path: Path) -> None:
    clock = VirtualClock(skip=False)
    with LocalWorkflows(tmp_path, clock=clock) as local:
        instance = local.register("APPROVALS", Approval).create(id="early")
        local.wait_for(instance, "waiting")  # still thinking: no wait_for_event yet

        instance.send_event(type="not-this-one", payload={"by": "nobody"})
        instance.send_event(type="approved", payload={"by": "early bird"})
        clock.advance(days=1)

        assert local.wait_for(instance, "complete")["output"]["by"] == "early bird"


def test_a_wait_past_its_timeout_errors_with_cloudflares_timeout_error(tmp_path: Path) -> None:
    clock = VirtualClock(skip=False)
    with LocalWorkflows(tmp_path, clock=clock) as local:
        instance = local.register("APPROVALS", Approval).create(id="too-late")
        local.wait_for(instance, "waiting")
        clock.advance(days=1)
        _wait_for_waiter(local)

        clock.advance(minutes=61)

        status = local.wait_for(instance, "errored", "complete")
        assert status["error"] == {"name": "WorkflowTimeoutError", "message": "Execution timed out after 3600000ms"}
        with pytest.raises(InstanceNotRunning):
            instance.send_event(type="approved", payload={"by": "too late"})


def _wait_for_waiter(local: LocalWorkflows) -> None:
    """Until the run has registered its wait_for_event (it then waits on the callback)."""
    for _ in range(2000):
        if local.store.expired_waiters(2**62):
            return
        threading.Event().wait(0.005)
    raise AssertionError("the workflow never reached wait_for_event")


class Gate(WorkflowEntrypoint):
    """Waits for an event, then takes a day, so pause, resume and terminate have a running instance to act on."""

    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        @step.do("first")
        def first() -> int:
            LEDGER["first"] += 1
            return 1

        first()
        step.sleep("a day", "1 day")

        @step.do("second")
        def second() -> int:
            LEDGER["second"] += 1
            return 2

        return second()


def test_pause_holds_an_instance_past_its_timer_and_resume_lets_it_finish(tmp_path: Path) -> None:
    clock = VirtualClock(skip=False)
    with LocalWorkflows(tmp_path, clock=clock) as local:
        instance = local.register("GATED", Gate).create(id="gated")
        local.wait_for(instance, "waiting")

        instance.pause()
        assert local.wait_for(instance, "paused")["status"] == "paused"
        clock.advance(days=2)
        threading.Event().wait(0.2)
        assert instance.status()["status"] == "paused"
        assert LEDGER["second"] == 0

        instance.resume()

        assert local.wait_for(instance, "complete")["output"] == 2
        assert LEDGER == {"first": 1, "second": 1}


def test_a_pause_during_a_step_waits_for_the_step_then_pauses(workflows: LocalWorkflows) -> None:
    started, release = threading.Event(), threading.Event()

    class LongStep(WorkflowEntrypoint):
        def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
            @step.do("slow")
            def slow() -> str:
                started.set()
                release.wait(10)
                return "done"

            result = slow()
            step.sleep("after", "1 minute")
            return result

    instance = workflows.register("LONG", LongStep).create(id="long")
    assert started.wait(10)

    instance.pause()
    assert instance.status()["status"] == "waitingForPause"
    release.set()

    assert workflows.wait_for(instance, "paused")["status"] == "paused"
    instance.resume()
    assert workflows.wait_for(instance, "complete")["output"] == "done"


def test_terminate_ends_an_instance_and_a_second_terminate_raises(tmp_path: Path) -> None:
    clock = VirtualClock(skip=False)
    with LocalWorkflows(tmp_path, clock=clock) as local:
        instance = local.register("GATED", Gate).create(id="doomed")
        local.wait_for(instance, "waiting")

        instance.terminate()

        assert local.wait_for(instance, "terminated")["error"] is None
        clock.advance(days=2)
        threading.Event().wait(0.1)
        assert instance.status()["status"] == "terminated"
        with pytest.raises(InstanceNotRunning, match="finite state"):
            instance.terminate()
        assert LEDGER["second"] == 0


def test_restart_runs_the_instance_again_from_the_beginning_with_its_params(tmp_path: Path) -> None:
    clock = VirtualClock(skip=False)
    with LocalWorkflows(tmp_path, clock=clock) as local:
        instance = local.register("SLEEPY", Sleeper).create(id="again", params={"label": "a restart"})
        local.wait_for(instance, "waiting")

        instance.restart()

        assert local.wait_for(instance, "waiting")["status"] == "waiting"
        assert LEDGER["before"] == 2  # the new run starts over, its first step included
        clock.advance(days=3)
        assert local.wait_for(instance, "complete")["output"] == "ready after a restart"
        instance.restart()  # a finished instance restarts too
        assert local.wait_for(instance, "waiting")["status"] == "waiting"
        assert LEDGER["before"] == 3


def test_ids_are_checked_and_a_duplicate_create_raises(workflows: LocalWorkflows) -> None:
    binding = workflows.register("SLEEPY", Sleeper)
    binding.create(id="taken", params={"label": "first"})

    with pytest.raises(InstanceAlreadyExists, match=r"instance\.already_exists"):
        binding.create(id="taken", params={"label": "second"})
    for bad in ("", "-leading-dash", "has space", "x" * 101, "batch", "cf_" + "0" * 64):
        with pytest.raises(InvalidInstanceId):
            binding.create(id=bad)
    with pytest.raises(InstanceNotFound, match=r"instance\.not_found"):
        binding.get("never-created")
    assert binding.get("taken").id == "taken"
    assert len(binding.create(params={"label": "generated"}).id) == 36


def test_create_batch_skips_ids_in_use_and_repeats(workflows: LocalWorkflows) -> None:
    binding = workflows.register("SLEEPY", Sleeper)
    binding.create(id="b1", params={"label": "one"})

    created = binding.create_batch(
        [
            {"id": "b1", "params": {"label": "again"}},
            {"id": "b2", "params": {"label": "2"}},
            {"id": "b2", "params": {"label": "twice"}},
            {"params": {"label": "anon"}},
        ]
    )

    assert [instance.id for instance in created][:1] == ["b2"]
    assert len(created) == 2
    with pytest.raises(InvalidBatch):
        binding.create_batch([])
    with pytest.raises(InvalidBatch):
        binding.create_batch([{"params": {}}] * 101)


def test_two_steps_of_one_name_are_two_steps_with_their_own_results(workflows: LocalWorkflows) -> None:
    class Twice(WorkflowEntrypoint):
        def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
            results = []
            for _ in range(2):

                @step.do("count")
                def count(ctx: dict[str, Any]) -> str:
                    LEDGER["count"] += 1
                    return f"{ctx['step']['name']}#{ctx['step']['count']} attempt {ctx['attempt']}"

                results.append(count())
            step.sleep("replay me", "1 second")
            return results

    instance = workflows.register("TWICE", Twice).create(id="twice")

    assert workflows.wait_for(instance, "complete")["output"] == ["count#1 attempt 1", "count#2 attempt 1"]
    assert LEDGER["count"] == 2


def test_a_big_step_result_goes_to_the_blob_store_and_an_oversized_one_fails_the_step(
    workflows: LocalWorkflows, tmp_path: Path
) -> None:
    class Big(WorkflowEntrypoint):
        def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
            @step.do("big")
            def big() -> str:
                LEDGER["big"] += 1
                return "x" * int(event.payload["size"])

            value = big()
            step.sleep("replay", "1 second")
            return len(value)

    binding = workflows.register("BIG", Big)
    fits = binding.create(id="fits", params={"size": 600_000})
    assert workflows.wait_for(fits, "complete", "errored")["output"] == 600_000
    assert LEDGER["big"] == 1
    assert any((tmp_path / "blobs" / "workflows" / "BIG").rglob("*"))

    oversized = binding.create(id="oversized", params={"size": 1_100_000})
    error = workflows.wait_for(oversized, "errored", "complete")["error"]
    assert error["name"] == "WorkflowFatalError"
    assert "at most 1048576 (1 MiB)" in error["message"]


def test_a_new_runner_over_the_same_store_resumes_what_the_last_left(tmp_path: Path) -> None:
    clock = VirtualClock(skip=False)
    first = LocalWorkflows(tmp_path, clock=clock)
    instance = first.register("SLEEPY", Sleeper).create(id="survivor", params={"label": "a restart of the process"})
    first.wait_for(instance, "waiting")
    first.close()

    clock.advance(days=3)
    with LocalWorkflows(tmp_path, clock=clock) as second:
        resumed = second.register("SLEEPY", Sleeper).get("survivor")

        assert second.wait_for(resumed, "complete")["output"] == "ready after a restart of the process"
    assert LEDGER["before"] == 1


def test_a_quick_step_is_one_checkpoint_call_and_each_wait_one_more_invocation(workflows: LocalWorkflows) -> None:
    """The SDK code here is the code Lambda runs: its checkpoint requests are the CheckpointDurableExecution calls."""

    class Counted(WorkflowEntrypoint):
        def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
            for n in range(5):

                @step.do("quick")
                def quick(n: int = n) -> int:
                    return n

                quick()
            step.sleep("nap", "1 minute")
            return "done"

    instance = workflows.register("COUNTED", Counted).create(id="counted")

    assert workflows.wait_for(instance, "complete")["output"] == "done"
    engine = workflows.engines["COUNTED"]
    assert engine.checkpoints == 5 + 1  # one per step (START and SUCCEED batched), one for the sleep
    assert engine.invocations == 2  # the sleep ends the first invocation; the service invokes again after it


def test_an_attempt_past_its_timeout_fails_and_is_retried(workflows: LocalWorkflows) -> None:
    release = threading.Event()

    class Slow(WorkflowEntrypoint):
        def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
            @step.do("slow", config={"retries": {"limit": 1, "delay": 1000}, "timeout": 500})
            def slow(ctx: dict[str, Any]) -> int:
                LEDGER["attempts"] += 1
                if ctx["attempt"] == 1:
                    release.wait(5)  # the first attempt hangs past its 500 ms
                return int(ctx["attempt"])

            return slow()

    instance = workflows.register("SLOW", Slow).create(id="slow")

    assert workflows.wait_for(instance, "complete", "errored")["output"] == 2
    assert LEDGER["attempts"] == 2
    release.set()


def test_params_too_big_for_a_checkpoint_reach_the_run_through_the_blob_store(workflows: LocalWorkflows) -> None:
    class Echo(WorkflowEntrypoint):
        def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
            return len(event.payload["text"])

    instance = workflows.register("ECHO", Echo).create(id="echo", params={"text": "y" * 300_000})

    assert workflows.wait_for(instance, "complete", "errored")["output"] == 300_000
