"""``make dev``: the local stack plus an HTTP server on 127.0.0.1 that plays API Gateway for the functions.

Prints the URL and development tokens, writes them (and the stack's variables) to a state file so that
``ttai token`` can mint more, and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar
from urllib.parse import urlsplit

from local.demo import DEMO_WATCHLIST, load_demo
from local.gateway import LocalGateway
from local.knowledge_samples import load_samples
from local.postgres import DataDirVersionError
from local.stack import LocalStack
from local.workflows.control import WorkflowControl

DEFAULT_PORT = 8787  # wrangler dev's port, so Worker habits carry over
DEFAULT_STATE_FILE = Path(".local/dev.json")
DEFAULT_DATA_DIR = Path(".local/pgdata")
DEFAULT_WORKFLOWS_DIR = Path(".local/workflows")  # executions and their registry: runs survive a restart
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# One name across restarts: a workflow resumed after a restart finds its queues, tables and bucket by the same names
# (moto's contents are gone, PostgreSQL's and the workflows' own state are not).
STACK_NAME = "ttai-dev"


class GatewayRequestHandler(BaseHTTPRequestHandler):
    gateway: ClassVar[LocalGateway]
    server_version = "ttai-dev"
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self._reply(413, {"content-type": "application/json"}, {"message": "Request Entity Too Large"})
            return
        body = self.rfile.read(length) if length else None
        url = urlsplit(self.path)
        response = self.gateway.handle(
            self.command, url.path, url.query, dict(self.headers.items()), body, self.client_address[0]
        )
        self._reply(response.status, response.headers, response.body, response.cookies)

    def _reply(self, status: int, headers: dict[str, str], body: Any, cookies: tuple[str, ...] = ()) -> None:
        payload = body if isinstance(body, str) else json.dumps(body)
        raw = payload.encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            if name not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        for cookie in cookies:  # one header each, as API Gateway sends a payload 2.0 answer's cookies
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Any other method (TRACE, QUERY ...) goes to the gateway too, whose routes decide the answer as for every
        # method; http.server alone would reply 501 Not Implemented to a method it has no do_ handler for.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (a request line or headers too long, a malformed request) in API Gateway's
        # JSON shape rather than an HTML page.
        self.close_connection = True
        self._reply(code, {"content-type": "application/json"}, {"message": message or HTTPStatus(code).phrase})

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class DevHTTPServer(ThreadingHTTPServer):
    """The dev server's listener: socketserver's default backlog of 5 connections waiting to be accepted resets the
    rest when many clients connect at once (make load's 200), where API Gateway would take them all."""

    request_queue_size = 1024
    daemon_threads = True


def _start_timers(stack: LocalStack) -> None:
    stack.scheduler.start()  # storage.json's schedules on their New York crons -> the scheduler function
    stack.alarm_poller.start()  # near Durable Object alarms: the alarm queue -> the durable function
    stack.alarms.start()  # far ones (Scheduler schedules, which moto never fires), found due in the objects table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make dev", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="PostgreSQL data, kept between runs (migrations re-run)"
    )
    parser.add_argument(
        "--workflows-dir", type=Path, default=None, help="workflow runs, kept between runs (default: beside --data-dir)"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    # Bind first: the stack needs the public URL (TastyTrade redirects the browser back to it).
    server = DevHTTPServer((args.host, args.port), GatewayRequestHandler)
    public_url = f"http://{args.host}:{server.server_address[1]}"
    stack = LocalStack(
        name=STACK_NAME,
        public_url=public_url,
        data_dir=args.data_dir,
        workflows_dir=args.workflows_dir or args.data_dir.parent / DEFAULT_WORKFLOWS_DIR.name,
    )
    try:
        stack.start()
    except DataDirVersionError as exc:
        server.server_close()
        print(f"make dev: {exc}", file=sys.stderr)
        return 1
    except BaseException:
        server.server_close()
        raise
    assert stack.gateway is not None
    assert stack.discord is not None
    assert stack.workflows is not None
    control = WorkflowControl(stack.workflows)
    control.start()
    GatewayRequestHandler.gateway = stack.gateway
    url = public_url
    user_token = stack.token_for("dev-user")
    service_token = stack.token_for("quote-streamer", scopes=("service",))
    args.state_file.parent.mkdir(parents=True, exist_ok=True)
    args.state_file.write_text(
        json.dumps(
            {
                "url": url,
                "websocket_url": stack.websocket_url,
                "environ": stack.environ,
                "user_token": user_token,
                "service_token": service_token,
                # `ttai restore --database` creates its target on the same server
                "postgres_uri": stack.postgres.uri if stack.postgres else None,
                "workflows_url": control.base_url,  # `ttai workflows` steers the runner through it
            },
            indent=2,
        )
    )
    args.state_file.chmod(0o600)
    stack.poller.start()  # queues -> the consumer function, each with its batch size and window, as on Lambda
    demo_bars = load_demo(stack.env.DB, "dev-user")  # labelled source 'demo': analyses of them say DEMO DATA
    samples = load_samples(stack.function_env("api"), "dev-user")  # indexed by the consumer the poller feeds
    _start_timers(stack)
    print(
        f"TTAI dev server on {url} (ready in {time.monotonic() - started:.1f} s)\n"
        f"  user token (dev-user):           {user_token}\n"
        f"  service token (quote-streamer):  {service_token}\n"
        f"  more tokens:                     .venv/bin/ttai token USER_ID [--scope service|admin]\n"
        f"  dead-letter queues:              .venv/bin/ttai dlq list | show QUEUE | redrive QUEUE\n"
        f"  sign in (stand-in TastyTrade):   {url}/auth/login\n"
        f"  real time (WebSocket):           {stack.websocket_url}?ticket=... "
        f"(a ticket: curl -X POST -H 'Authorization: Bearer $TOKEN' {url}/api/v1/realtime/ticket)\n"
        f"  demo data:                       {demo_bars} generated bars (source 'demo'), watchlist {DEMO_WATCHLIST!r}\n"
        f"  run a job now:                   .venv/bin/ttai jobs run analysis [--at 2026-03-09T13:30:00Z]\n"
        f"  workflows (kept in {stack.workflows.root}): .venv/bin/ttai workflows list | status ID | pause ID |"
        " resume ID | terminate ID\n"
        f"  knowledge base:                  {len(samples)} sample documents of dev-user (tagged 'sample');"
        " .venv/bin/ttai knowledge add FILE...\n"
        f"    search: curl -H 'Authorization: Bearer $TOKEN' '{url}/api/v1/knowledge/search?q=covered+calls'\n"
        f"  jobs dashboard (sign in there):  {url}/dashboard\n"
        f"  try: curl {url}/health\n"
        f"       curl -H 'Authorization: Bearer $TOKEN' '{url}/api/v1/quotes?symbols=AAPL,MSFT'\n"
        f"  notifications the consumer delivered:\n"
        f"    Discord (local sink):          curl {stack.discord.base_url}/messages\n"
        f"      a webhook on it, for PUT /api/v1/preferences discord_webhook_url: {stack.discord.new_webhook()}\n"
        f"    email (SES) and push (SNS):    curl {stack.endpoint_url}/moto-api/data.json"
        " (ses.Message, sns.Topic sent_notifications)\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        server.server_close()
        control.stop()
        stack.stop()
        args.state_file.unlink(missing_ok=True)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
