"""The endpoint's HTTP side: the ``rds-data`` operations' paths, error responses as botocore reads them, and a
threaded HTTP/1.1 server on 127.0.0.1 handing each request to the endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.data_api.errors import DataApiError, error_status

ROUTES: dict[str, str] = {
    "/Execute": "ExecuteStatement",
    "/BatchExecute": "BatchExecuteStatement",
    "/BeginTransaction": "BeginTransaction",
    "/CommitTransaction": "CommitTransaction",
    "/RollbackTransaction": "RollbackTransaction",
}
Answer = tuple[int, dict[str, str], bytes]
Handle = Callable[[str, str, bytes], Answer]


def json_response(result: Any) -> Answer:
    return 200, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps(result).encode()


def error_response(error: DataApiError) -> Answer:
    body = json.dumps({"message": error.message, **error.members}).encode()
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": error.shape,
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    return error_status(error.shape), headers, body


class HttpServer(ThreadingHTTPServer):
    """A threaded server whose every request is answered by ``handle(method, path, body)``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handle: Handle) -> None:
        super().__init__(address, _Handler)
        self.handle_request_body = handle


class _Handler(BaseHTTPRequestHandler):
    server: HttpServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't let the body wait for an ACK

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.handle_request_body(self.command, self.path.split("?")[0], body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and ``make dev`` print their own story."""
