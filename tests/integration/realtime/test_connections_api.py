"""The hub's @connections client against a scripted stand-in: signed requests to url-encoded ids, 410 as gone,
429 and 5xx retried, anything else an error naming API Gateway's type and never its message."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from botocore.credentials import Credentials

from local.service import LoopbackHttpService
from ttai.bindings.durable.connections_api import ConnectionsApi, ConnectionsApiError


class ScriptedConnections(LoopbackHttpService):
    """Answers @connections requests with the statuses queued in ``script`` (200 once it is empty)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, str]] = []
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with service._lock:
                    service.seen.append((self.command, self.path, dict(self.headers), body))
                    status, error_type = service.script.pop(0) if service.script else (200, "")
                self.send_response(status)
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                message = b'{"message": "backend text the caller must not see"}' if status >= 300 else b""
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)

            do_POST = do_DELETE = _answer

        return Handler


@pytest.fixture
def stand_in() -> Iterator[ScriptedConnections]:
    with ScriptedConnections() as service:
        yield service


@pytest.fixture
def api(stand_in: ScriptedConnections) -> ConnectionsApi:
    return ConnectionsApi(f"{stand_in.base_url}/prod", region="eu-west-1", credentials=Credentials("AKID", "secret"))


def test_a_post_is_signed_for_execute_api_and_names_the_connection_url_encoded(
    api: ConnectionsApi, stand_in: ScriptedConnections
) -> None:
    assert api.post("L0SM9cOFvHcCIhw=", b'{"channel":"jobs"}') is True
    method, path, headers, body = stand_in.seen[-1]
    assert (method, path, body) == ("POST", "/prod/@connections/L0SM9cOFvHcCIhw%3D", b'{"channel":"jobs"}')
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert api.delete("L0SM9cOFvHcCIhw=") is True
    assert stand_in.seen[-1][0] == "DELETE"
    assert dict(api.requests) == {"PostToConnection": 1, "DeleteConnection": 1}


def test_gone_is_false_and_throttling_is_retried(api: ConnectionsApi, stand_in: ScriptedConnections) -> None:
    stand_in.script = [(410, "GoneException")]
    assert api.post("c1", b"x") is False
    stand_in.script = [(429, "LimitExceededException"), (503, "ServiceUnavailable")]
    assert api.post("c1", b"x") is True
    assert len(stand_in.seen) == 4  # the 410, then two refusals and the post that went through


@pytest.mark.parametrize(
    ("script", "status", "error_type"),
    [
        ([(413, "PayloadTooLargeException")], 413, "PayloadTooLargeException"),
        ([(403, "ForbiddenException")], 403, "ForbiddenException"),
        ([(500, "InternalServerError")] * 3, 500, "InternalServerError"),
    ],
)
def test_a_refusal_is_an_error_naming_its_type_not_its_message(
    api: ConnectionsApi, stand_in: ScriptedConnections, script: list[tuple[int, str]], status: int, error_type: str
) -> None:
    stand_in.script = list(script)
    with pytest.raises(ConnectionsApiError) as refused:
        api.post("c1", b"x")
    assert (refused.value.status, refused.value.error_type) == (status, error_type)
    assert "backend text" not in str(refused.value)
    assert len(stand_in.seen) == len(script)
