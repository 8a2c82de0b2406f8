"""``ttai jobs run`` and ``ttai bars import`` against a running stack (found through its state file)."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from local.cli import main
from local.stack import LocalStack


@pytest.fixture
def state_file(stack: LocalStack, tmp_path: Path) -> Path:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"environ": stack.environ}))
    return path


def _symbol() -> str:
    return "C" + "".join(random.choices(string.ascii_uppercase, k=4))


def _bars(stack: LocalStack, symbol: str) -> list[dict[str, Any]]:
    return stack.env.DB.prepare("SELECT * FROM bars WHERE symbol = ? ORDER BY date").bind(symbol).all().results


def test_bars_import_stores_the_csv(
    stack: LocalStack, state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    symbol = _symbol()
    csv_file = tmp_path / "bars.csv"
    csv_file.write_text(
        "Date,Open,High,Low,Close,Volume\n2026-03-05,10,11,9.5,10.5,1200\n2026-03-06,10.5,12,10,11.75,900\n"
    )

    assert main(["--state-file", str(state_file), "bars", "import", str(csv_file), "--symbol", symbol.lower()]) == 0

    assert f"stored 2 bars of {symbol}" in capsys.readouterr().out
    rows = _bars(stack, symbol)
    assert [(r["date"].isoformat(), float(r["close"]), r["volume"], r["source"]) for r in rows] == [
        ("2026-03-05", 10.5, 1200, "csv"),
        ("2026-03-06", 11.75, 900, "csv"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("date,open,high,low,close\n2026-03-05,10,11,9,10\n", "missing volume"),
        ("date,open,high,low,close,volume\n2026-03-05,10,11,9,10,100\n2026-03-06,10,9,11,10,100\n", ":3:"),
        ("date,open,high,low,close,volume\n2026-03-05,10,11,9,10,lots\n", "volume 'lots' is not a whole number"),
        ("date,open,high,low,close,volume\n2026-03-05,10,11,9,10,1\n2026-03-05,10,11,9,10,1\n", "already on line 2"),
        ("date,open,high,low,close,volume\n", "no bars"),
    ],
)
def test_a_bad_csv_stores_nothing_and_says_where(
    stack: LocalStack,
    state_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    symbol = _symbol()
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(content)

    assert main(["--state-file", str(state_file), "bars", "import", str(csv_file), "--symbol", symbol]) == 2

    assert message in capsys.readouterr().err
    assert _bars(stack, symbol) == []


def test_jobs_run_at_a_time_does_what_the_schedule_would(
    stack: LocalStack, state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Saturday 2031-03-15, 09:30 New York: the analysis schedule's run records itself skipped.
    code = main(["--state-file", str(state_file), "jobs", "run", "analysis", "--at", "2031-03-15T13:30:00Z"])

    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["status"] == "skipped"
    assert summary["scheduled_time"] == "2031-03-15T13:30:00+00:00"
    row = stack.env.DB.prepare("SELECT metadata FROM job_executions WHERE id = ?").bind(summary["id"]).first()
    assert row["metadata"]["trigger"] == "schedule"


def test_jobs_run_now_is_a_manual_run(stack: LocalStack, state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--state-file", str(state_file), "jobs", "run", "analysis"])

    summary = json.loads(capsys.readouterr().out)
    assert summary["ran"] is True
    assert summary["status"] in {"success", "partial", "failure"}  # whatever the shared database's watchlists give
    row = stack.env.DB.prepare("SELECT metadata FROM job_executions WHERE id = ?").bind(summary["id"]).first()
    assert row["metadata"]["trigger"] == "manual"


def test_jobs_run_refuses_an_unknown_job(state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-file", str(state_file), "jobs", "run", "lunch"]) == 2
    assert "unknown job type 'lunch'" in capsys.readouterr().err


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "2200-01-01T00:00:00Z"])
def test_jobs_run_refuses_a_time_outside_the_range(
    state_file: Path, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--state-file", str(state_file), "jobs", "run", "analysis", "--at", at])

    assert exited.value.code == 2  # argparse's usage error
    assert "is not an instant from 1970-01-01T00:00:00+00:00 up to" in capsys.readouterr().err
