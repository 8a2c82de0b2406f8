"""moto server with HTTP keep-alive, as AWS's endpoints have: one connection carries a client's calls one after another.

moto's ThreadedMotoServer serves on werkzeug's development server, which answers every request with
``Connection: close`` (it cannot find where a request body ends). So each AWS call of a binding opened a new TCP
connection and the server started a new thread for it: about a third of the CPU a cached quote read cost the dev
server went to connecting and starting threads, work no deployed function does (botocore keeps its connections to
AWS open). Here a request's body is read by its ``Content-Length`` before moto sees it, so the connection is left at
the next request and stays open; a request whose length is not given up front (chunked) is served by werkzeug's own
code, which closes the connection after it as before.
"""

from __future__ import annotations

import contextlib
import io
import socket
import traceback
from collections.abc import Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

_NO_BODY = frozenset({204, 304})


class KeepAliveMotoHandler(MotoRequestHandler):
    """moto's request handler, answering with a ``Content-Length`` and leaving the connection open."""

    # Headers and body go out in two writes: without this the body waits for the client's delayed ACK (40 ms) on a
    # kept-alive connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        _connections(self.server).add(self.connection)

    def finish(self) -> None:
        _connections(self.server).discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            super().run_wsgi()  # werkzeug's way: read to the end, then close
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: answer.setdefault("written", []).append(data)

        try:
            chunks: Iterable[bytes] = self.server.app(environ, start_response)
            try:
                payload = b"".join([*answer.get("written", []), *chunks])
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception:  # noqa: BLE001 - as werkzeug does: a 500, the traceback printed, the connection closed
            traceback.print_exc()
            self.close_connection = True
            self.send_error(500)
            return
        code_text, _, reason = answer["status"].partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        declared_length = None
        for name, value in answer["headers"]:
            lowered = name.lower()
            if lowered == "content-length":
                declared_length = value
            elif lowered not in {"connection", "transfer-encoding"}:
                self.send_header(name, value)
        if self.command == "HEAD" or code in _NO_BODY:
            # A HEAD answer's length is the object's (an S3 HeadObject), and it has no body.
            if declared_length is not None and code not in _NO_BODY:
                self.send_header("Content-Length", declared_length)
            self.end_headers()
        else:
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        self.wfile.flush()


def _connections(server: Any) -> set[socket.socket]:
    """The connections a server's handlers hold open (kept on the server, which the handlers see)."""
    found: set[socket.socket] = server.__dict__.setdefault("ttai_open_connections", set())
    return found


class KeepAliveMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer on :class:`KeepAliveMotoHandler`; stopping it also ends the connections it kept open, so a
    stopped endpoint refuses every call (``LocalStack.stop_aws``) instead of answering on old connections."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=KeepAliveMotoHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    def stop(self) -> None:
        server = self._server
        super().stop()
        if server is not None:
            for connection in list(_connections(server)):
                with contextlib.suppress(OSError):  # already closed by its client
                    connection.shutdown(socket.SHUT_RDWR)
            server.server_close()
