"""make cost: the model's arithmetic on a fixed template, every resource of every environment priced, and prod's
market-hours capacity schedules."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from infra.config import DatabaseSettings, MarketHoursSettings
from infra.cost.__main__ import main, render
from infra.cost.model import (
    FREE_TYPES,
    HOURS_PER_MONTH,
    PRICERS,
    WEEKDAYS_PER_MONTH,
    CostModelError,
    Usage,
    database_hours,
    estimate,
    load_json,
)
from tests.infra._template import as_list, referenced_ids, resources, statements_of_role

PRICES = {
    "prices": {
        "lambda_request": {"usd": 0.20, "per": 1_000_000},
        "lambda_arm_gb_second": {"usd": 0.00001, "per": 1},
        "http_api_request": {"usd": 1.00, "per": 1_000_000},
        "secret_month": {"usd": 0.40, "per": 1},
        "kms_key_month": {"usd": 1.00, "per": 1},
        "logs_ingested_gb": {"usd": 0.50, "per": 1},
    }
}


def _usage(**per_user: float) -> dict[str, Any]:
    usage = copy.deepcopy(load_json("usage.json"))
    for name, value in per_user.items():
        usage["per_user_month"][name]["value"] = value
    usage["per_environment_month"]["quote_ingests"]["value"] = 0
    usage["lambda"] = {"ApiFunction": {"ms": 100}, "*": {"ms": 100}}
    return usage


FIXED_TEMPLATE = {
    "Resources": {
        "ApiFunctionABC": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"MemorySize": 2048, "Architectures": ["arm64"]},
        },
        "HttpApi123": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}},
        "Secret1": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        "Key1": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Role1": {"Type": "AWS::IAM::Role", "Properties": {}},
    }
}
HELD = DatabaseSettings(min_capacity_acu=0.5, max_capacity_acu=4, backup_retention_days=7, removal_policy="destroy")


def test_a_fixed_template_costs_what_its_units_cost():
    result = estimate(
        FIXED_TEMPLATE,
        environment="test",
        database=HELD,
        users=1000,
        prices=PRICES,
        usage=_usage(api_requests=1000, log_kb_per_request=1.048576),
    )
    by_resource = {line.resource: line.usd for line in result.lines}
    # 1,000 users x 1,000 requests = 1,000,000 invocations at $0.20 a million, each 0.1 s at 2 GB: 200,000 GB-s.
    assert by_resource["ApiFunctionABC"] == pytest.approx(0.20 + 200_000 * 0.00001)
    assert by_resource["HttpApi123"] == pytest.approx(1.00)
    assert by_resource["Secret1"] == pytest.approx(0.40)
    assert by_resource["Key1"] == pytest.approx(1.00)
    # 1,000,000 requests x 1.048576 KB of logs = 1 GB at $0.50.
    assert by_resource["all log groups"] == pytest.approx(0.50)
    assert "Role1" not in by_resource
    assert result.total == pytest.approx(0.20 + 2.0 + 1.0 + 0.4 + 1.0 + 0.5)


def test_twice_the_users_cost_twice_the_usage_lines_and_the_same_fixed_ones():
    usage = _usage(api_requests=1000)
    one, two = (
        estimate(FIXED_TEMPLATE, environment="t", database=HELD, users=n, prices=PRICES, usage=usage)
        for n in (1000, 2000)
    )
    lines_one = {line.resource: line.usd for line in one.lines}
    lines_two = {line.resource: line.usd for line in two.lines}
    assert lines_two["HttpApi123"] == pytest.approx(2 * lines_one["HttpApi123"])
    assert lines_two["Secret1"] == lines_one["Secret1"]


def test_a_resource_type_without_a_price_fails_the_run_by_name():
    template = copy.deepcopy(FIXED_TEMPLATE)
    template["Resources"]["Gateway9"] = {"Type": "AWS::EC2::NatGateway", "Properties": {}}
    with pytest.raises(CostModelError, match=r"Gateway9 \(AWS::EC2::NatGateway\)"):
        estimate(template, environment="t", database=HELD, users=1, prices=PRICES, usage=_usage())


def test_a_price_missing_from_the_table_fails_the_run_by_name():
    prices = copy.deepcopy(PRICES)
    del prices["prices"]["kms_key_month"]
    with pytest.raises(CostModelError, match="kms_key_month"):
        estimate(FIXED_TEMPLATE, environment="t", database=HELD, users=1, prices=prices, usage=_usage())


def test_no_type_is_both_priced_and_free():
    assert not set(PRICERS) & set(FREE_TYPES)


def test_every_price_and_usage_figure_names_its_source():
    for name, entry in load_json("prices.json")["prices"].items():
        assert entry["source"].startswith("https://aws.amazon.com/"), name
    usage = load_json("usage.json")
    for section in ("per_user_month", "per_environment_month", "database"):
        for name, entry in usage[section].items():
            assert entry["source"], f"{section}.{name}"


def test_every_resource_of_every_environment_is_priced_or_free_for_a_reason(synthesized):
    for name, template in synthesized.templates.items():
        kinds = {resource["Type"] for resource in template.to_json()["Resources"].values()}
        unknown = {kind for kind in kinds if kind not in PRICERS and kind not in FREE_TYPES}
        unknown -= {"AWS::RDS::DBCluster"} | {kind for kind in kinds if kind.startswith("Custom::")}
        assert not unknown, f"{name}: {sorted(unknown)}"
        result = estimate(template.to_json(), environment=name, database=synthesized.configs[name].database, users=1000)
        assert result.total > 0
        assert result.database is not None


def test_a_cluster_held_at_its_minimum_costs_its_minimum_all_month():
    hours = database_hours(HELD, Usage(_usage(api_requests=0), 1000))
    assert hours.acu_hours == pytest.approx(HOURS_PER_MONTH * 0.5)
    assert (hours.awake_share_closed, hours.resumes) == (1.0, 0.0)


def test_with_no_traffic_outside_market_hours_the_cluster_sleeps_but_for_scheduled_work():
    settings = DatabaseSettings(
        min_capacity_acu=0,
        max_capacity_acu=4,
        auto_pause_minutes=15,
        backup_retention_days=7,
        removal_policy="destroy",
        market_hours=MarketHoursSettings(open_cron="0 8 * * 1-5", close_cron="0 18 * * 1-5", open_min_capacity_acu=1),
    )
    usage = _usage(api_requests=0)
    usage["per_environment_month"]["night_wake_minutes"]["value"] = 600
    hours = database_hours(settings, Usage(usage, 1000))
    open_hours = 10 * WEEKDAYS_PER_MONTH
    assert hours.acu_hours == pytest.approx(open_hours * 1 + 10 * 0.5)
    assert hours.awake_share_closed == pytest.approx(10 / (HOURS_PER_MONTH - open_hours))
    assert hours.always_on_acu_hours == pytest.approx(HOURS_PER_MONTH * 1)


def test_steady_traffic_at_night_keeps_a_pausing_cluster_awake():
    settings = DatabaseSettings(
        min_capacity_acu=0, max_capacity_acu=4, auto_pause_minutes=5, backup_retention_days=7, removal_policy="destroy"
    )
    sparse = database_hours(settings, Usage(_usage(api_requests=1), 10))
    busy = database_hours(settings, Usage(_usage(api_requests=10_000), 1000))
    assert sparse.awake_share_closed < 0.2
    assert busy.awake_share_closed > 0.99
    assert sparse.resumes > 0
    # Fewer resumes once the gaps are shorter than the pause delay: requests find it awake.
    assert busy.resumes < 1
    assert math.isclose(busy.acu_hours, HOURS_PER_MONTH * 0.5, rel_tol=0.01)


def test_make_cost_prints_the_three_sizes_beside_seed_002(capsys, synthesized):
    assert main(["--env", "prod", "--outdir", str(synthesized.outdir)]) == 0
    printed = capsys.readouterr().out
    header = printed.splitlines()[0]
    assert all(size in header for size in ("1,000 users", "10,000 users", "100,000 users"))
    assert "Cloudflare (seed 002)" in printed
    assert "Aurora compute" in printed
    assert "first requests a month wait for a resume" in printed


def test_a_missing_synth_is_a_clear_error(tmp_path, capsys):
    assert main(["--env", "prod", "--outdir", str(tmp_path)]) == 2
    assert "run make synth" in capsys.readouterr().err


def test_render_totals_each_column():
    results = [
        estimate(FIXED_TEMPLATE, environment="t", database=HELD, users=n, prices=PRICES, usage=_usage(api_requests=10))
        for n in (1000, 2000)
    ]
    total_row = next(row for row in render(results).splitlines() if row.startswith("total"))
    assert total_row.split()[1:] == [f"{r.total:,.2f}" for r in results]


class TestMarketCapacity:
    @pytest.fixture
    def prod(self, synthesized):
        return synthesized.templates["prod"]

    def _schedules(self, template) -> dict[str, dict[str, Any]]:
        return {
            resource["Properties"]["Name"]: resource["Properties"]
            for resource in resources(template, "AWS::Scheduler::Schedule").values()
            if "database" in resource["Properties"]["Name"]
        }

    def test_prod_raises_the_minimum_for_the_open_and_lets_it_pause_after_the_close(self, prod, synthesized):
        config = synthesized.configs["prod"].database
        schedules = self._schedules(prod)
        assert set(schedules) == {"ttai-prod-database-open", "ttai-prod-database-close"}
        opening, closing = schedules["ttai-prod-database-open"], schedules["ttai-prod-database-close"]
        assert opening["ScheduleExpression"] == "cron(0 8 ? * MON-FRI *)"
        assert closing["ScheduleExpression"] == "cron(0 18 ? * MON-FRI *)"
        for schedule in (opening, closing):
            assert schedule["ScheduleExpressionTimezone"] == "America/New_York"
            target = schedule["Target"]
            assert target["Arn"]["Fn::Join"][1][-1] == ":scheduler:::aws-sdk:rds:modifyDBCluster"
            assert "DeadLetterConfig" in target
        [cluster_id] = resources(prod, "AWS::RDS::DBCluster")
        open_input = "".join(
            part if isinstance(part, str) else "<cluster>" for part in opening["Target"]["Input"]["Fn::Join"][1]
        )
        assert open_input == (
            '{"DBClusterIdentifier":"<cluster>","ServerlessV2ScalingConfiguration":'
            f'{{"MinCapacity":0.5,"MaxCapacity":{config.max_capacity_acu:g}}}}}'
        )
        assert {cluster_id} == referenced_ids(opening["Target"]["Input"])
        close_input = "".join(
            part if isinstance(part, str) else "<c>" for part in closing["Target"]["Input"]["Fn::Join"][1]
        )
        assert f'"SecondsUntilAutoPause":{config.auto_pause_minutes * 60}' in close_input
        assert '"MinCapacity":0' in close_input

    def test_the_schedules_role_may_change_this_cluster_and_nothing_else(self, prod):
        schedules = self._schedules(prod)
        [role] = {schedule["Target"]["RoleArn"]["Fn::GetAtt"][0] for schedule in schedules.values()}
        [cluster_id] = resources(prod, "AWS::RDS::DBCluster")
        granted = {}
        for statement in statements_of_role(prod, role):
            for action in as_list(statement["Action"]):
                granted[action] = referenced_ids(statement["Resource"])
        assert set(granted) == {"rds:ModifyDBCluster", "sqs:SendMessage"}
        assert granted["rds:ModifyDBCluster"] == {cluster_id}

    def test_environments_without_market_hours_have_no_capacity_schedules(self, synthesized):
        for name in ("dev", "staging"):
            assert self._schedules(synthesized.templates[name]) == {}
