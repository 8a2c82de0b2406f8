"""The dev server as a process, for the end-to-end tests that drive it (started with `python -m local.dev`)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT_S = 60  # generous: this checks that it comes up; the 5 s budget is measured by `make bench`


@dataclass
class DevServer:
    process: subprocess.Popen[str]
    url: str
    port: int
    state: dict[str, Any]
    state_file: Path


def call(url: str, method: str = "GET", token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback http only
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for_health(url: str, process: subprocess.Popen[str], limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if process.poll() is not None:
            raise AssertionError(f"dev server exited early with {process.returncode}")
        try:
            if call(f"{url}/health")[0] == 200:
                return time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"/health did not answer within {limit} s")


@contextmanager
def running_dev_server(workdir: Path) -> Iterator[DevServer]:
    """`make dev` on a free port with its state and database under ``workdir``; killed on exit if still running."""
    port = free_port()
    state_file = workdir / "state.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.dev",
            *("--port", str(port), "--state-file", str(state_file), "--data-dir", str(workdir / "pgdata")),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, STARTUP_LIMIT_S)
        yield DevServer(process, url, port, json.loads(state_file.read_text()), state_file)
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    """Ctrl-C, as a developer stops it (a kill would leave its embedded PostgreSQL running); a kill if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
