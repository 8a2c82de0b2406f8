"""A few seconds of `make load`: its own dev server, locust's users, and the check that every answered write is
stored exactly once (the full run and its latency budgets are `make load` and `make soak`, outside make test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_load_run_answers_no_5xx_and_loses_or_repeats_no_write(tmp_path: Path) -> None:
    report_file = tmp_path / "load.json"
    finished = subprocess.run(
        # The stress pacing: the profile's (a request every ~10 s per user) would leave a 4-second run nearly empty.
        [
            sys.executable,
            "-m",
            "benchmarks.load",
            "--stress",
            "--users",
            "8",
            "--seconds",
            "4",
            "--json",
            f"{report_file}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(report_file.read_text())
    assert report["server_errors"] == 0
    writes = report["writes"]
    assert writes["answered"] >= 8  # each user writes once as it starts
    assert (writes["lost"], writes["extra"], writes["duplicated"], writes["unanswered"]) == (0, 0, 0, 0)
    by_name = {stats["name"]: stats for stats in report["requests"]}
    assert by_name["quote ingest"]["requests"] >= 1
    assert by_name["quotes (cached)"]["requests"] >= 1
    assert sum(stats["failures"] for stats in report["requests"]) == 0
    assert "journal writes answered 201" in finished.stdout
