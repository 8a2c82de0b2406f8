"""Lambda's Invoke API on one machine: what boto3's ``lambda`` client calls (``AWS_ENDPOINT_URL_LAMBDA``) to reach
the local stack's functions, so code that invokes a function (a Durable Object stub, the api's quote hand-off, a
410's ``web_socket_close``) runs unchanged.

``POST /2015-03-31/functions/{name}/invocations`` with ``X-Amz-Invocation-Type``:
- ``RequestResponse`` (the default): the function runs now; 200 with its JSON result, or with
  ``X-Amz-Function-Error: Unhandled`` and ``{errorMessage, errorType}`` when it raised, as Lambda answers;
- ``Event``: 202 at once, the function runs on a worker (Lambda queues it); a failure is logged (Lambda would
  retry twice, then drop or dead-letter it). ``settle()`` waits for every queued run, and what they queued.
An unknown function is a 404 ``ResourceNotFoundException``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from local.functions import LocalFunction
from local.service import LoopbackHttpService, PendingWork
from ttai.observability import logger

_PATH_PREFIX = "/2015-03-31/functions/"
_PATH_SUFFIX = "/invocations"


class LocalLambdaApi(LoopbackHttpService):
    """Invokes the given functions by their deployed-style names (``ttai-durable``...)."""

    def __init__(self, functions: Mapping[str, LocalFunction], *, workers: int = 16) -> None:
        self.functions = functions
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pending = PendingWork("asynchronous invocations")

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="lambda-event")
        super().start()

    def stop(self) -> None:
        super().stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every asynchronous invocation made so far (and any they made) has run."""
        self._pending.settle(timeout)

    def function(self, name: str) -> LocalFunction | None:
        for function in self.functions.values():
            if name in {function.name, function.name.removeprefix("ttai-")}:
                return function
        return None

    def _queue(self, function: LocalFunction, event: Any) -> None:
        assert self._pool is not None, "not started"

        def run() -> None:
            try:
                function(event)
            except Exception:  # noqa: BLE001 - an asynchronous invocation's error goes to the function's log
                logger.exception("asynchronous invocation failed", extra={"function": function.name})

        future = self._pool.submit(run)
        self._pending.track(future)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                if not (path.startswith(_PATH_PREFIX) and path.endswith(_PATH_SUFFIX)):
                    self._answer(404, {"message": "unknown operation"}, error="UnknownOperationException")
                    return
                name = unquote(path[len(_PATH_PREFIX) : -len(_PATH_SUFFIX)]).rsplit(":", 1)[-1]
                function = api.function(name)
                if function is None:
                    self._answer(404, {"Message": f"Function not found: {name}"}, error="ResourceNotFoundException")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event = json.loads(body) if body else {}
                if self.headers.get("X-Amz-Invocation-Type") == "Event":
                    api._queue(function, event)
                    self._answer(202, None)
                    return
                try:
                    result = function(event)
                except Exception as exc:  # noqa: BLE001 - Lambda reports a raising handler as a function error
                    logger.exception("invocation failed", extra={"function": function.name})
                    self._answer(200, {"errorMessage": str(exc), "errorType": type(exc).__name__}, failed=True)
                    return
                self._answer(200, result)

            def _answer(self, status: int, body: Any, *, error: str | None = None, failed: bool = False) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                if failed:
                    self.send_header("X-Amz-Function-Error", "Unhandled")
                self.end_headers()
                self.wfile.write(data)

        return Handler
