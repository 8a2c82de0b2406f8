"""make load's pacing comes from the usage profile and the prod market hours, by the arithmetic its output states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.load.pacing import STRESS_WAIT_S, from_profile


def _write(tmp_path: Path, *, requests: float, open_share: float, connected: float, hours: tuple[str, str]) -> Path:
    usage = {
        "per_user_month": {
            "api_requests": {"value": requests},
            "websocket_connection_minutes": {"value": connected},
            "database_share_of_requests": {"value": 0.4},
        },
        "requests_by_period": {"open": {"value": open_share}},
        "per_environment_month": {"quote_ingests": {"value": 8483}, "symbols_per_ingest": {"value": 200}},
    }
    cdk = {
        "context": {
            "environments": {
                "prod": {"database": {"market_hours": dict(zip(("open_cron", "close_cron"), hours, strict=True))}}
            }
        }
    }
    (tmp_path / "usage.json").write_text(json.dumps(usage))
    (tmp_path / "cdk.json").write_text(json.dumps(cdk))
    return tmp_path


def test_the_busiest_hour_rate_is_the_open_requests_over_the_connected_time(tmp_path: Path) -> None:
    folder = _write(tmp_path, requests=10_000, open_share=0.75, connected=1_200, hours=("0 8 * * 1-5", "0 18 * * 1-5"))
    pacing = from_profile(usage_file=folder / "usage.json", cdk_file=folder / "cdk.json")
    assert pacing.open_hours_per_month == pytest.approx(10 * 21.75)
    assert pacing.open_mean_per_user_s == pytest.approx(7_500 / (217.5 * 3600))
    assert pacing.peak_factor == pytest.approx(217.5 * 60 / 1_200)
    # The peak factor cancels the open hours: the open's requests over the minutes a client is connected.
    assert pacing.per_user_s == pytest.approx(7_500 / (1_200 * 60))
    assert pacing.quote_ingest_seconds == 60  # 8,483 ingests over 390 trading minutes a weekday
    assert pacing.offered_s(200) == pytest.approx(200 * 7_500 / 72_000 + 1 / 60)
    described = "\n".join(pacing.describe(200))
    assert "peak factor 10.9" in described
    assert "20.8 requests/s" in described


def test_fewer_connected_minutes_concentrate_the_same_requests(tmp_path: Path) -> None:
    folder = _write(tmp_path, requests=10_000, open_share=0.75, connected=600, hours=("0 9 * * 1-5", "0 16 * * 1-5"))
    pacing = from_profile(usage_file=folder / "usage.json", cdk_file=folder / "cdk.json")
    assert pacing.open_hours_per_month == pytest.approx(7 * 21.75)
    assert pacing.per_user_s == pytest.approx(7_500 / (600 * 60))


def test_market_hours_off_the_hour_are_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path, requests=1, open_share=1, connected=1, hours=("30 8 * * 1-5", "0 18 * * 1-5"))
    with pytest.raises(ValueError, match="not on the hour"):
        from_profile(usage_file=folder / "usage.json", cdk_file=folder / "cdk.json")


def test_the_stress_pacing_is_the_old_one_and_says_what_its_numbers_mean() -> None:
    pacing = from_profile(stress=True)
    assert pacing.per_user_s == pytest.approx(1 / (sum(STRESS_WAIT_S) / 2))
    assert (pacing.quote_ingest_seconds, pacing.symbols_per_ingest) == (1.0, 4)
    assert "saturation throughput" in "\n".join(pacing.describe(200))
