"""Seconds from starting ``make dev``'s server to its first answer on /health."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.report import Row
from local.stack import free_port

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 5.0


def measure(data_dir: str) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.dev",
                *("--port", str(port), "--state-file", f"{tmp}/state.json", "--data-dir", data_dir),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.monotonic() - started < 60:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                        if response.status == 200:
                            return time.monotonic() - started
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("the dev server did not answer /health within 60 s")
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C: a terminate would leave its embedded PostgreSQL running
            process.wait(timeout=30)


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as data_dir:
        first = measure(data_dir)  # creates the database cluster and applies every migration
        again = measure(data_dir)  # the usual case: the cluster exists, migrations are a no-op
    return [
        Row("make dev", "first start to /health (new database)", first, "s", f"<= {BUDGET_S:.0f} s", first <= BUDGET_S),
        Row("make dev", "restart to /health", again, "s", f"<= {BUDGET_S:.0f} s", again <= BUDGET_S),
    ]
