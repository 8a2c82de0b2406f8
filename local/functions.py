"""Lambda's invocation model on one machine: a function's handler, one event at a time, with its own variables only.

Every local trigger invokes functions through ``LocalFunction``: the HTTP gateway (authorizer, api, auth), the
queue poller (consumer), the scheduler, the stack's migrations at start and ``ttai jobs run --at``. Deployed, each
function is its own process; here they share one, so a LocalFunction built from a spec (``from_spec``) sets that
function's variables around each invocation (``ttai.env.invocation_environ``) and ``Env.from_environ()`` inside it
sees them alone: a handler that uses a binding its spec does not declare fails here as it would on AWS.
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from local.account import ACCOUNT_ID, REGION
from ttai.env import invocation_environ
from ttai.layout import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The parts of the Lambda context object Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 10.0
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One function's handler, invoked like Lambda does: one event at a time per execution environment.

    ``environ``: the function's variables, applied around its import and every invocation; None leaves the
    process environment in place (stand-in handlers in tests that need no bindings). ``concurrency``: how many
    execution environments run events at once (Lambda scales a function out; one is the house default, and the
    functions other functions wait on, the durable host and the WebSocket routes, get more).
    """

    def __init__(
        self,
        name: str,
        module: str,
        attribute: str = "handler",
        *,
        handler: Handler | None = None,
        environ: Mapping[str, str] | None = None,
        concurrency: int = 1,
    ) -> None:
        self.name = name
        self._module = module
        self._attribute = attribute
        self._handler: Handler | None = handler
        self.environ = None if environ is None else dict(environ)
        self._environments = threading.BoundedSemaphore(concurrency)
        self._import_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.concurrency = concurrency
        self.invocations = 0

    @classmethod
    def from_spec(cls, spec: FunctionSpec, environ: Mapping[str, str], *, concurrency: int = 1) -> LocalFunction:
        """The function ``spec`` declares (named ttai-<name>, as deployed), seeing ``environ`` alone."""
        return cls(f"ttai-{spec.name}", spec.module, spec.attribute, environ=environ, concurrency=concurrency)

    def standing_in(self, handler: Handler) -> LocalFunction:
        """Another handler invoked as this function: the same name and variables (tests)."""
        return LocalFunction(self.name, "", handler=handler, environ=self.environ, concurrency=self.concurrency)

    def __call__(self, event: dict[str, Any]) -> Any:
        with self._environments, self._environment():
            with self._import_lock:
                if self._handler is None:
                    self._handler = getattr(importlib.import_module(self._module), self._attribute)
            with self._count_lock:
                self.invocations += 1
            return self._handler(event, LambdaContext(function_name=self.name))

    def _environment(self) -> AbstractContextManager[None]:
        return nullcontext() if self.environ is None else invocation_environ(self.environ)
