"""make cost: the model's arithmetic on a fixed template, every resource of every environment priced, and prod's
market-hours capacity schedules."""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import pytest

from infra.config import DatabaseSettings, MarketHoursSettings
from infra.cost.__main__ import main, render
from infra.cost.budget import BUDGET_USD, over_budget, render_argument
from infra.cost.model import (
    FREE_TYPES,
    HOURS_PER_MONTH,
    PRICERS,
    WEEKDAYS_PER_MONTH,
    CostModelError,
    Prices,
    Usage,
    database_hours,
    estimate,
    load_json,
    sampled_traces,
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
    usage = _usage(api_requests=1000, log_kb_per_request=1.048576)
    usage["logs"]["platform_kb_per_invocation"]["value"] = 2 * 1.048576
    usage["logs"]["access_log_kb_per_request"]["value"] = 1.048576
    result = estimate(FIXED_TEMPLATE, environment="test", database=HELD, users=1000, prices=PRICES, usage=usage)
    by_resource = {line.resource: line.usd for line in result.lines}
    # 1,000 users x 1,000 requests = 1,000,000 invocations at $0.20 a million, each 0.1 s at 2 GB: 200,000 GB-s.
    assert by_resource["ApiFunctionABC"] == pytest.approx(0.20 + 200_000 * 0.00001)
    assert by_resource["HttpApi123"] == pytest.approx(1.00)
    assert by_resource["Secret1"] == pytest.approx(0.40)
    assert by_resource["Key1"] == pytest.approx(1.00)
    # 1,000,000 requests x 1.048576 KB of the application's lines = 1 GB, the invocations' start and report records
    # 2 GB, the access log 1 GB: 4 GB at $0.50.
    assert by_resource["all log groups"] == pytest.approx(2.00)
    assert "Role1" not in by_resource
    assert result.total == pytest.approx(0.20 + 2.0 + 1.0 + 0.4 + 1.0 + 2.0)


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


def test_the_always_free_allowances_come_off_what_is_used_up_to_each_allowance():
    table = {
        "prices": {"lambda_request": {"usd": 0.20, "per": 1_000_000}, "kms_key_month": {"usd": 1.0, "per": 1}},
        "free_tier": {"lambda_request": {"quantity": 1_000_000}},
    }
    light, heavy = Prices(table), Prices(table)
    light("lambda_request", 400_000)
    light("kms_key_month", 2)  # no allowance
    assert light.free_tier() == pytest.approx(0.08)
    heavy("lambda_request", 3_000_000)
    heavy("lambda_request", 2_000_000)
    assert heavy.free_tier() == pytest.approx(0.20)


def test_every_free_allowance_is_of_a_price_and_names_its_source():
    table = load_json("prices.json")
    for name, entry in table["free_tier"].items():
        if name.startswith("$"):
            continue
        assert name in table["prices"], name
        assert entry["quantity"] > 0
        assert entry["source"] == table["prices"][name]["source"], name


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


def test_make_cost_says_why_prod_is_above_its_budget(capsys, synthesized):
    assert main(["--env", "prod", "--outdir", str(synthesized.outdir)]) == 0
    printed = capsys.readouterr().out
    total = float(next(row for row in printed.splitlines() if row.startswith("total")).split()[1].replace(",", ""))
    heading = "why prod is above $40 a month at 1,000 users"
    # The section is there exactly while prod is over its budget (issue 16's goal; today it is).
    assert (heading in printed) is (total > BUDGET_USD)
    if total <= BUDGET_USD:
        return
    section = printed[printed.index(heading) :]
    assert f"(${total:,.2f})" in section.splitlines()[0]
    for line in ("HTTP API requests", "Lambda requests", "Data API requests", "Aurora at its open-market floor"):
        assert line in section
    assert "no design change within this architecture brings prod to $40" in section
    # Staging has no budget of its own: no argument printed.
    assert main(["--env", "staging", "--outdir", str(synthesized.outdir)]) == 0
    assert "why staging" not in capsys.readouterr().out


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


CLUSTER = {
    "Type": "AWS::RDS::DBCluster",
    "Properties": {"ManageMasterUserPassword": True, "MasterUsername": "ttai_admin"},
}


def test_the_secret_aurora_manages_is_billed_though_the_template_has_no_resource_for_it():
    managed = estimate({"Resources": {"Db": CLUSTER}}, environment="t", database=HELD, users=10, usage=_usage())
    [secret] = [line for line in managed.lines if line.kind == "Secrets Manager"]
    assert secret.usd == pytest.approx(0.40)
    own = {"Db": {"Type": "AWS::RDS::DBCluster", "Properties": {"MasterUsername": "a", "MasterUserPassword": "x"}}}
    unmanaged = estimate({"Resources": own}, environment="t", database=HELD, users=10, usage=_usage())
    assert not [line for line in unmanaged.lines if line.kind == "Secrets Manager"]


def test_sampling_records_every_sparse_invocation_and_one_a_second_plus_five_percent_of_a_busy_function():
    usage = Usage(_usage(), 1)
    # 1,000 invocations a month: seconds almost never hold two, so each is the first of its second.
    assert sampled_traces(1000, usage) == pytest.approx(1000, rel=0.01)
    # 100 a second all month: the first of each second, and 5% of the 99 others.
    seconds = HOURS_PER_MONTH * 3600
    busy = sampled_traces(100 * seconds, usage)
    open_share = usage.figure("requests_by_period", "open")
    assert seconds * 1.0 < busy < seconds * (1 + 0.05 * 100 / open_share)
    assert busy < 0.1 * 100 * seconds


def test_a_function_with_active_tracing_pays_for_its_traces():
    traced = {"Type": "AWS::Lambda::Function", "Properties": {"TracingConfig": {"Mode": "Active"}}}
    untraced = {"Type": "AWS::Lambda::Function", "Properties": {"TracingConfig": {"Mode": "PassThrough"}}}
    result = estimate(
        {"Resources": {"ApiFunctionA": traced, "ApiFunctionB": untraced}},
        environment="t",
        database=HELD,
        users=1000,
        usage=_usage(api_requests=1000),
    )
    traces = [line for line in result.lines if line.kind == "X-Ray traces"]
    assert [line.resource for line in traces] == ["ApiFunctionA traces"]
    expected = sampled_traces(1_000_000, Usage(_usage(api_requests=1000), 1000))
    assert traces[0].usd == pytest.approx(5.00 * expected / 1_000_000)


class TestBudgetArgument:
    TEMPLATE: ClassVar[dict[str, Any]] = {
        "Resources": {
            "ApiFunctionA": {"Type": "AWS::Lambda::Function", "Properties": {"TracingConfig": {"Mode": "Active"}}},
            "HttpApi1": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}},
            "Db": CLUSTER,
        }
    }
    MARKET = DatabaseSettings(
        min_capacity_acu=0,
        max_capacity_acu=4,
        auto_pause_minutes=15,
        backup_retention_days=7,
        removal_policy="destroy",
        market_hours=MarketHoursSettings(open_cron="0 8 * * 1-5", close_cron="0 18 * * 1-5", open_min_capacity_acu=0.5),
    )

    def _argument(self, users: int, budget: float = BUDGET_USD):
        usage = _usage(api_requests=10_000)
        at, idle = (
            estimate(self.TEMPLATE, environment="t", database=self.MARKET, users=n, usage=usage) for n in (users, 0)
        )
        return at, idle, over_budget(at, idle, Prices(load_json("prices.json")), budget)

    def test_the_parts_add_up_to_the_total(self):
        at, idle, argument = self._argument(1000)
        assert argument is not None
        kinds = {line.kind: 0.0 for line in at.lines}
        for line in at.lines:
            kinds[line.kind] += line.usd
        removable = {item.kind: item.usd for item in argument.removable}
        assert removable["X-Ray traces"] == pytest.approx(kinds["X-Ray traces"])
        idle_compute = sum(line.usd for line in idle.lines if line.kind == "Aurora compute")
        assert argument.aurora_floor == pytest.approx(idle_compute)
        assert removable["Aurora compute above its open-market floor"] == pytest.approx(
            kinds["Aurora compute"] - idle_compute
        )
        charged = {item.kind: item for item in argument.per_request}
        # 10 million requests: $1.00 a million at API Gateway, $0.20 at Lambda; 40% of them make two statements.
        assert charged["HTTP API"].usd == pytest.approx(10.0)
        assert charged["Lambda"].usd == pytest.approx(2.0)
        assert charged["Data API"].requests == pytest.approx(8_000_000)
        assert argument.unavoidable + sum(usd for _, usd in argument.rest) == pytest.approx(argument.left)
        assert argument.left == pytest.approx(at.total - sum(removable.values()))

    def test_the_verdict_follows_what_is_left(self):
        _, _, argument = self._argument(1000)
        assert argument is not None
        assert argument.least == pytest.approx(argument.left - argument.free_tier)
        assert 0 < argument.free_tier < argument.left
        _, _, tight = self._argument(1000, budget=argument.least - 1)
        assert tight is not None
        printed = render_argument(tight, "t", 0.75)
        assert f"no design change within this architecture brings t to ${argument.least - 1:,.0f}" in printed
        _, _, generous = self._argument(1000, budget=argument.least + 1)
        assert generous is not None
        assert "fits in" in render_argument(generous, "t", 0.75)
        assert "no design change" not in render_argument(generous, "t", 0.75)

    def test_within_the_budget_there_is_no_argument(self):
        at, _, argument = self._argument(1000, budget=10_000)
        assert at.total < 10_000
        assert argument is None
