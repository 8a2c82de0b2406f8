"""Workflows on one machine: each workflow class runs on the durable SDK's local runner, state under a directory.

```python
with LocalWorkflows(tmp_path, clock=VirtualClock(skip=True)) as workflows:
    binding = workflows.register("ANALYSIS_WORKFLOW", AnalysisWorkflow)   # a ttai Workflow binding
    instance = binding.create(id="a1", params={"symbol": "AAPL"})
    workflows.wait_for(instance, "complete")
```

Everything persists under ``root``: the runner's executions (``executions/<workflow>/``), the instance registry
and mailbox (``state.sqlite3``), and big values (``blobs/``, or the bucket given as ``blobs``, e.g. the stack's
R2). A new ``LocalWorkflows`` over the same root resumes
the executions the last one left unfinished. A waiter thread fires wait_for_event timeouts on this clock (the
runner would time callbacks out in real time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from local.workflows.clock import VirtualClock, WallClock
from local.workflows.engine import LocalDurableEngine
from local.workflows.state import DirectoryBucket, SqliteInstanceStore
from ttai.bindings.workflows import Workflow, WorkflowEntrypoint, WorkflowInstance, durable_handler
from ttai.bindings.workflows.backend import BlobStore, WorkflowBackend, host, unhost
from ttai.bindings.workflows.step import LOCAL_TIMEOUT_MARKER
from ttai.observability import logger

__all__ = ["LocalWorkflows", "VirtualClock", "WallClock"]
_TIMEOUT_SWEEP_SECONDS = 0.05
_FIRST_POLL_SECONDS, _LAST_POLL_SECONDS = 0.005, 0.1


class LocalWorkflows:
    """The local runner for any number of workflow classes, one binding each."""

    def __init__(
        self,
        root: Path,
        clock: VirtualClock | WallClock | None = None,
        env: Any = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.root = root
        self.clock = clock or WallClock()
        self._env = env
        self.store = SqliteInstanceStore(root / "state.sqlite3")
        self.blobs: BlobStore = blobs if blobs is not None else DirectoryBucket(root / "blobs")
        self.engines: dict[str, LocalDurableEngine] = {}
        self.backends: dict[str, WorkflowBackend] = {}
        self._bindings: dict[str, Workflow] = {}
        self._served: list[str] = []
        self._closed = threading.Event()
        self._nudge = threading.Event()
        if isinstance(self.clock, VirtualClock):
            self.clock.on_move(self._nudge.set)
        self._watcher = threading.Thread(target=self._fire_timeouts, name="workflow-timeouts", daemon=True)
        self._watcher.start()

    def register(self, name: str, workflow: type[WorkflowEntrypoint], env: Any = None) -> Workflow:
        """Run ``workflow`` under binding ``name`` and resume its unfinished executions; returns the binding.
        ``env``: the ``Env`` its runs see (its function's own), else the one this runner was given."""
        holder: dict[str, WorkflowBackend] = {}
        run_env = env if env is not None else self._env
        handler = durable_handler(
            workflow, backend=lambda: holder["backend"], env=(lambda: run_env) if run_env is not None else None
        )
        engine = LocalDurableEngine(name, handler, self.root / "executions" / name, self.clock)
        holder["backend"] = WorkflowBackend(engine=engine, store=self.store, blobs=self.blobs, now=self.clock.time)
        self.engines[name] = engine
        self.backends[name] = holder["backend"]
        self._bindings[name] = binding = Workflow(name, holder["backend"])
        engine.recover()
        return binding

    def binding(self, name: str) -> Workflow:
        return self._bindings[name]

    def serve(self, name: str, function_arn: str) -> None:
        """Play the durable function ``function_arn`` in this process: an ``Env`` whose binding names that ARN
        reaches workflow ``name`` here instead of calling Lambda (until ``close``)."""
        host(function_arn, self.backends[name])
        self._served.append(function_arn)

    @property
    def names(self) -> list[str]:
        return list(self._bindings)

    def wait_for(self, instance: WorkflowInstance, *statuses: str, timeout: float = 10.0) -> dict[str, Any]:
        """Poll ``instance.status()`` until it is one of ``statuses``; TimeoutError (with the last) otherwise.

        The wait between polls doubles from 5 ms up to 0.1 s, and is at least nine times as long as the last status
        read took: a status reads the whole execution from the runner's store, so a run of a thousand steps polled
        often would spend most of the process's time (and the GIL) re-reading itself instead of running."""
        deadline = time.monotonic() + timeout
        pause = _FIRST_POLL_SECONDS
        while True:
            started = time.monotonic()
            status = instance.status()
            if status["status"] in statuses:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{instance!r} is {status}, not {' or '.join(statuses)}, after {timeout} s")
            time.sleep(max(pause, 9 * (time.monotonic() - started)))
            pause = min(pause * 2, _LAST_POLL_SECONDS)

    def close(self) -> None:
        for function_arn in self._served:
            unhost(function_arn)
        self._served.clear()
        self._closed.set()
        self._nudge.set()
        self._watcher.join(timeout=5)
        for engine in self.engines.values():
            engine.close()
        self.store.close()

    def __enter__(self) -> LocalWorkflows:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _fire_timeouts(self) -> None:
        while not self._closed.is_set():
            self._nudge.wait(_TIMEOUT_SWEEP_SECONDS)
            self._nudge.clear()
            if self._closed.is_set():
                return
            for scope, event_type, callback_id in self.store.expired_waiters(int(self.clock.time() * 1000)):
                if not self.store.take_waiter(scope, event_type, callback_id):
                    continue
                try:
                    self._engine_of(scope)(callback_id)
                except Exception as exc:  # noqa: BLE001 - a run stopped or restarted meanwhile; the sweep goes on
                    logger.info("workflow wait timeout not delivered", extra={"scope": scope, "error": str(exc)})

    def _engine_of(self, scope: str) -> Callable[[str], None]:
        engine = self.engines[scope.split("#", 1)[0]]

        def time_out(callback_id: str) -> None:
            engine.fail_callback(callback_id, "WorkflowTimeoutError", "wait_for_event timed out", LOCAL_TIMEOUT_MARKER)

        return time_out
