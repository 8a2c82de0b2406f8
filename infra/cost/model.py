"""The monthly cost of one synthesized environment for a number of active users.

The template says what exists (every resource, with its memory, protocol, capacity settings); `usage.json` says
what an active user and the environment itself cause in a month; `prices.json` says what each unit costs. Each
billable resource type has a pricer here; a type with neither a pricer nor a reason to be free fails the run, so a
new kind of resource cannot slip into the stack unpriced.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import DatabaseSettings

HERE = Path(__file__).resolve().parent
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = 30.44
WEEKDAYS_PER_MONTH = 21.75
ACU_HOUR = "aurora_serverless_v2_acu_hour"
SQS_POLLERS = 5  # Lambda's event source starts with five long-polling connections per queue

# Resource types that cost nothing of their own: what they do is billed on another line, or not at all.
FREE_TYPES: Mapping[str, str] = {
    "AWS::ApiGatewayV2::Authorizer": "the authorizer function's invocations are on its line",
    "AWS::ApiGatewayV2::Deployment": "no charge",
    "AWS::ApiGatewayV2::Integration": "no charge",
    "AWS::ApiGatewayV2::Route": "no charge",
    "AWS::ApiGatewayV2::Stage": "no charge",
    "AWS::CDK::Metadata": "not deployed as a resource",
    "AWS::CloudFormation::CustomResource": "its function's invocations are on that function's line",
    "AWS::EC2::RouteTable": "no charge",
    "AWS::EC2::SecurityGroup": "no charge",
    "AWS::EC2::SecurityGroupEgress": "no charge",
    "AWS::EC2::SecurityGroupIngress": "no charge",
    "AWS::EC2::Subnet": "no charge",
    "AWS::EC2::SubnetRouteTableAssociation": "no charge",
    "AWS::EC2::VPC": "no charge without NAT gateways or public addresses (the stack has neither)",
    "AWS::IAM::Policy": "no charge",
    "AWS::IAM::Role": "no charge",
    "AWS::KMS::Alias": "no charge",
    "AWS::Lambda::Alias": "no charge",
    "AWS::Lambda::EventInvokeConfig": "no charge",
    "AWS::Lambda::EventSourceMapping": "SQS polling is billed as the queue's requests",
    "AWS::Lambda::LayerVersion": "no charge (its storage is within Lambda's 75 GB code storage)",
    "AWS::Lambda::Permission": "no charge",
    "AWS::Lambda::Version": "no charge",
    "AWS::Logs::ResourcePolicy": "no charge",
    "AWS::RDS::DBInstance": "a db.serverless instance is billed as the cluster's ACU-hours",
    "AWS::RDS::DBSubnetGroup": "no charge",
    "AWS::S3::BucketPolicy": "no charge",
    "AWS::Scheduler::ScheduleGroup": "no charge",
    "AWS::SecretsManager::ResourcePolicy": "no charge",
    "AWS::SES::ConfigurationSet": "no charge; emails are priced on the notifications line",
    "AWS::SES::EmailIdentity": "no charge; emails are priced on the notifications line",
    "AWS::SNS::Subscription": "deliveries are priced on the topic's line",
    "AWS::SNS::TopicPolicy": "no charge",
    "AWS::SQS::QueuePolicy": "no charge",
    "Custom::Trigger": "its function's invocations are on that function's line",
}


class CostModelError(Exception):
    """The template holds something the model cannot price, or a price or usage figure is missing."""


@dataclass(frozen=True)
class Line:
    resource: str  # the logical id, or a name for a line covering several resources
    kind: str
    usd: float
    detail: str
    requests: float = 0.0  # what the line charges per request for, where it does (invocations, API requests)


@dataclass(frozen=True)
class DatabaseHours:
    """Where the cluster's ACU-hours go, and what pausing costs in waiting."""

    acu_hours: float
    always_on_acu_hours: float  # the same load with the deployed minimum held all month
    awake_share_closed: float  # of the hours the market is closed
    resumes: float  # first requests a month that find the cluster paused


@dataclass
class Estimate:
    environment: str
    users: int
    lines: list[Line] = field(default_factory=list)
    database: DatabaseHours | None = None
    free_tier: float = 0.0  # what AWS's always-free allowances would take off `total` in an account of its own

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)


@dataclass(frozen=True)
class Prices:
    table: Mapping[str, Any]
    used: dict[str, float] = field(default_factory=dict)  # the quantity priced so far, by price

    def __call__(self, name: str, quantity: float) -> float:
        usd = self.unit(name) * quantity
        self.used[name] = self.used.get(name, 0.0) + quantity
        return usd

    def unit(self, name: str) -> float:
        try:
            entry = self.table["prices"][name]
        except KeyError as exc:
            msg = f"prices.json has no price {name!r}"
            raise CostModelError(msg) from exc
        return float(entry["usd"]) / float(entry["per"])

    def free_tier(self) -> float:
        """What the always-free allowances take off what has been priced so far (an account of its own)."""
        allowances = self.table.get("free_tier", {})
        return sum(
            self.unit(name) * min(used, float(allowances[name]["quantity"]))
            for name, used in self.used.items()
            if name in allowances
        )


@dataclass(frozen=True)
class Usage:
    table: Mapping[str, Any]
    users: int

    def figure(self, section: str, name: str) -> float:
        try:
            return float(self.table[section][name]["value"])
        except KeyError as exc:
            msg = f"usage.json has no {section}.{name}"
            raise CostModelError(msg) from exc

    def per_user(self, name: str) -> float:
        return self.users * self.figure("per_user_month", name)

    def fixed(self, name: str) -> float:
        return self.figure("per_environment_month", name)

    @property
    def requests(self) -> float:
        return self.per_user("api_requests")

    def lambda_ms(self, logical_id: str) -> float:
        functions = self.table["lambda"]
        prefix = next((key for key in functions if key != "*" and logical_id.startswith(key)), "*")
        return float(functions[prefix]["ms"])


def load_json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((HERE / name).read_text(encoding="utf-8"))
    return loaded


# Invocations a month of each of our functions (by its construct's logical-id prefix); any other function runs
# other_function_invocations times.
_DRIVERS: Mapping[str, Callable[[Usage], float]] = {
    "ApiFunction": lambda u: u.requests + u.fixed("quote_ingests"),
    "AuthorizerFunction": lambda u: (
        (u.requests + u.fixed("quote_ingests")) * u.figure("per_user_month", "authorizer_share_of_requests")
    ),
    "AuthFunction": lambda u: u.per_user("sign_ins"),
    "ConsumerFunction": lambda u: u.per_user("queue_messages") + u.per_user("notifications"),
    "SchedulerFunction": lambda u: u.fixed("scheduled_invocations"),
    "MigrateFunction": lambda u: u.fixed("deploys"),
}


def _invocations(logical_id: str, usage: Usage) -> float:
    driver = next((drive for prefix, drive in _DRIVERS.items() if logical_id.startswith(prefix)), None)
    return driver(usage) if driver is not None else usage.fixed("other_function_invocations")


def _lambda(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    invocations = _invocations(logical_id, usage)
    memory_gb = float(properties.get("MemorySize", 128)) / 1024
    arm = "arm64" in properties.get("Architectures", ["x86_64"])
    gb_seconds = invocations * usage.lambda_ms(logical_id) / 1000 * memory_gb
    usd = price("lambda_request", invocations) + price(
        "lambda_arm_gb_second" if arm else "lambda_x86_gb_second", gb_seconds
    )
    lines = [Line(logical_id, "Lambda", usd, f"{invocations:,.0f} invocations, {gb_seconds:,.0f} GB-s", invocations)]
    if properties.get("TracingConfig", {}).get("Mode") == "Active":
        traces = sampled_traces(invocations, usage)
        lines.append(
            Line(f"{logical_id} traces", "X-Ray traces", price("xray_trace_recorded", traces), f"{traces:,.0f} traces")
        )
    return lines


def sampled_traces(invocations: float, usage: Usage) -> float:
    """Traces X-Ray records a month for a function with active tracing and no traced caller.

    Lambda samples on its own (neither API Gateway's HTTP APIs nor our SQS producers send a sampled trace
    header): the first invocation of each second and a fixed share of the others. With invocations arriving at
    random at rate r a second, a second holds at least one with probability 1 - exp(-r).
    """
    reservoir = usage.figure("tracing", "reservoir_per_second")
    rate = usage.figure("tracing", "fixed_rate")
    traces = 0.0
    for seconds, share in _weekly_periods(usage):
        per_second = invocations * share / seconds
        first = 1 - math.exp(-per_second / reservoir)
        traces += seconds * (reservoir * first + rate * max(per_second - reservoir * first, 0.0))
    return traces


def _weekly_periods(usage: Usage) -> list[tuple[float, float]]:
    """(seconds a month, share of the month's requests) of the open-market, evening and quiet hours."""
    open_hours = usage.figure("requests_by_period", "open_hours_per_weekday") * WEEKDAYS_PER_MONTH
    quiet_hours = usage.figure("requests_by_period", "quiet_hours_per_day") * DAYS_PER_MONTH
    evening_hours = HOURS_PER_MONTH - open_hours - quiet_hours
    return [
        (open_hours * 3600, usage.figure("requests_by_period", "open")),
        (evening_hours * 3600, usage.figure("requests_by_period", "evening")),
        (quiet_hours * 3600, usage.figure("requests_by_period", "quiet")),
    ]


def _api(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    if properties.get("ProtocolType") == "WEBSOCKET":
        minutes = usage.per_user("websocket_connection_minutes")
        messages = usage.per_user("websocket_messages")
        usd = price("websocket_connection_minute", minutes) + price("websocket_message", messages)
        return [Line(logical_id, "WebSocket API", usd, f"{minutes:,.0f} connection minutes, {messages:,.0f} messages")]
    requests = usage.requests + usage.fixed("quote_ingests")
    return [Line(logical_id, "HTTP API", price("http_api_request", requests), f"{requests:,.0f} requests", requests)]


def _table(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    if properties.get("BillingMode") != "PAY_PER_REQUEST":
        msg = f"{logical_id}: the model prices on-demand tables only"
        raise CostModelError(msg)
    if logical_id.startswith("CacheTable"):  # the KV namespace: quotes written by ingest, read by requests
        writes = usage.fixed("quote_ingests") * usage.fixed("symbols_per_ingest") + usage.requests * 0.05
        reads = usage.requests * usage.figure("per_user_month", "kv_reads_per_request")
        storage_gb = 0.5 + usage.users * 0.0005
    elif logical_id.startswith("IdempotencyTable"):  # a record started and completed per consumed message
        writes = 2 * usage.per_user("queue_messages")
        reads = usage.per_user("queue_messages")
        storage_gb = 0.01
    elif logical_id.startswith("LimitsTable"):  # one UpdateItem admits each authorized request (user or service)
        writes = usage.requests + usage.fixed("quote_ingests")
        reads = 0.0
        storage_gb = 0.01
    else:  # tables the model has no driver for: a write and a read per user request they could serve, at most
        writes = reads = usage.requests * 0.01
        storage_gb = 0.01
    usd = (
        price("dynamodb_write_request_unit", writes)
        + price("dynamodb_read_request_unit", reads)
        + price("dynamodb_storage_gb_month", storage_gb)
        + price("dynamodb_pitr_gb_month", storage_gb)
    )
    return [Line(logical_id, "DynamoDB", usd, f"{writes:,.0f} writes, {reads:,.0f} reads, {storage_gb:.1f} GB")]


def _bucket(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties
    if logical_id.startswith("StorageBucket"):
        gb = usage.per_user("object_mb") / 1024 + 1.0  # and the nightly backups' parts
        writes, reads = usage.users * 20.0 + 3000, usage.users * 20.0
    else:  # access logs and the KV overflow: small objects, rarely read
        gb, writes, reads = 0.5, 30_000.0, 1_000.0
    usd = price("s3_standard_gb_month", gb) + price("s3_write_request", writes) + price("s3_read_request", reads)
    return [Line(logical_id, "S3", usd, f"{gb:,.1f} GB, {writes:,.0f} writes")]


def _queue(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties
    if "DeadLetters" in logical_id:
        return [Line(logical_id, "SQS", 0.0, "empty when all is well")]
    # A third of the messages each (send, receive, delete: three requests apiece), and Lambda's event source
    # long-polling the queue all month even when it is empty: 5 pollers, a 20 s wait each.
    share = (usage.per_user("queue_messages") + usage.per_user("notifications")) / 3
    requests = 3 * share + SQS_POLLERS * 3 * 60 * HOURS_PER_MONTH
    return [Line(logical_id, "SQS", price("sqs_request", requests), f"{requests:,.0f} requests")]


def _secret(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties, usage
    return [Line(logical_id, "Secrets Manager", price("secret_month", 1), "1 secret")]


def _key(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties, usage
    return [Line(logical_id, "KMS", price("kms_key_month", 1), "1 key")]


def _alarm(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties, usage
    return [Line(logical_id, "CloudWatch alarm", price("cloudwatch_alarm_month", 1), "1 alarm")]


def _dashboard(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties, usage
    return [Line(logical_id, "CloudWatch dashboard", price("cloudwatch_dashboard_month", 1), "1 dashboard")]


def _log_group(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties, usage, price
    return [Line(logical_id, "CloudWatch Logs", 0.0, "ingestion priced on the 'all log groups' line")]


def _endpoint(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del usage
    if properties.get("VpcEndpointType") != "Interface":
        return [Line(logical_id, "VPC endpoint", 0.0, "gateway endpoint: no charge")]
    zones = len(properties.get("SubnetIds", [])) or 1
    hours = HOURS_PER_MONTH * zones
    return [Line(logical_id, "VPC interface endpoint", price("interface_endpoint_hour", hours), f"{zones} AZ")]


def _flow_log(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties
    gb = usage.fixed("flow_log_gb")
    return [Line(logical_id, "VPC flow logs", price("logs_ingested_gb", gb), f"{gb} GB")]


def _topic(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties
    if logical_id.startswith("NotificationsPush"):
        deliveries = usage.per_user("notifications") / 3
        usd = price("sns_request", deliveries) + price("sns_mobile_push", deliveries)
        return [Line(logical_id, "SNS push", usd, f"{deliveries:,.0f} pushes")]
    alarms = usage.fixed("alarm_notifications")
    return [Line(logical_id, "SNS", price("sns_request", alarms), f"{alarms:,.0f} notifications")]


def _schedule(logical_id: str, properties: Mapping[str, Any], usage: Usage, price: Prices) -> list[Line]:
    del properties
    schedules = 8.0  # an even share of the scheduled invocations per schedule is close enough at $1 a million
    invocations = usage.fixed("scheduled_invocations") / schedules
    return [Line(logical_id, "Scheduler", price("scheduler_invocation", invocations), f"{invocations:,.0f} runs")]


Pricer = Callable[[str, Mapping[str, Any], Usage, Prices], list[Line]]

PRICERS: Mapping[str, Pricer] = {
    "AWS::ApiGatewayV2::Api": _api,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::DynamoDB::Table": _table,
    "AWS::EC2::FlowLog": _flow_log,
    "AWS::EC2::VPCEndpoint": _endpoint,
    "AWS::KMS::Key": _key,
    "AWS::Lambda::Function": _lambda,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::S3::Bucket": _bucket,
    "AWS::SNS::Topic": _topic,
    "AWS::SQS::Queue": _queue,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::SecretsManager::Secret": _secret,
}


def _cron_hour(cron: str) -> int:
    hour = cron.split()[1]
    if not hour.isdigit():
        msg = f"the cost model reads market hours from a cron with one hour, not {cron!r}"
        raise CostModelError(msg)
    return int(hour)


def database_hours(settings: DatabaseSettings, usage: Usage) -> DatabaseHours:
    """ACU-hours of one Serverless v2 cluster in a month.

    Load is statements per second over the hours they fall in; capacity is that load's ACUs, at least the awake
    minimum. Outside the hours the minimum is held, a 0 ACU cluster is awake only within its auto-pause delay of
    a statement: with statements arriving at random at rate r a minute, the share of time within P minutes of the
    last one is 1 - exp(-r * P), and a statement finds it paused at rate r * exp(-r * P).
    """
    statements = (
        usage.requests
        * usage.figure("per_user_month", "database_share_of_requests")
        * usage.figure("per_user_month", "statements_per_database_request")
    )
    per_acu = usage.figure("database", "statements_per_second_per_acu")
    floor = usage.figure("database", "awake_min_acu")
    share_open = usage.figure("requests_by_period", "open")
    quiet_hours = usage.figure("requests_by_period", "quiet_hours_per_day") * DAYS_PER_MONTH

    def acu(count: float, hours: float, minimum: float) -> float:
        load = count / (hours * 3600) / per_acu if hours else 0.0
        return max(minimum, math.ceil(load * 2) / 2)

    hours = settings.market_hours
    if hours is None and settings.min_capacity_acu > 0:  # held all month
        held = HOURS_PER_MONTH * acu(statements, HOURS_PER_MONTH, settings.min_capacity_acu)
        return DatabaseHours(held, held, 1.0, 0.0)
    if hours is None:  # paused whenever idle, all month
        open_hours, open_minimum, periods = 0.0, floor, {"all": (HOURS_PER_MONTH, 1.0)}
    else:
        open_hours = (_cron_hour(hours.close_cron) - _cron_hour(hours.open_cron)) * WEEKDAYS_PER_MONTH
        open_minimum = hours.open_min_capacity_acu
        closed = HOURS_PER_MONTH - open_hours
        periods = {
            "evening": (closed - quiet_hours, usage.figure("requests_by_period", "evening")),
            "quiet": (quiet_hours, usage.figure("requests_by_period", "quiet")),
        }
    pause_minutes = float(settings.auto_pause_minutes or 5)
    open_acu_hours = open_hours * acu(statements * share_open, open_hours, open_minimum) if open_hours else 0.0
    closed_hours = sum(period_hours for period_hours, _ in periods.values())
    awake_hours = resumes = 0.0
    closed_acu_hours = 0.0
    for period_hours, share in periods.values():
        count = statements * (share if hours is not None else 1.0)
        rate = count / (period_hours * 60)
        awake = 1 - math.exp(-rate * pause_minutes)
        awake_hours += period_hours * awake
        resumes += period_hours * 60 * rate * math.exp(-rate * pause_minutes)
        closed_acu_hours += period_hours * awake * acu(count, period_hours, floor)
    # Scheduled work outside market hours wakes it too, at most for the hours it would otherwise sleep.
    wake = min(usage.fixed("night_wake_minutes") / 60, closed_hours - awake_hours)
    awake_hours += wake
    closed_acu_hours += wake * floor
    always_on = HOURS_PER_MONTH * acu(statements, HOURS_PER_MONTH, max(floor, open_minimum))
    return DatabaseHours(open_acu_hours + closed_acu_hours, always_on, awake_hours / closed_hours, resumes)


def _cluster(
    logical_id: str, properties: Mapping[str, Any], settings: DatabaseSettings, usage: Usage, price: Prices
) -> tuple[list[Line], DatabaseHours]:
    hours = database_hours(settings, usage)
    statements = (
        usage.requests
        * usage.figure("per_user_month", "database_share_of_requests")
        * usage.figure("per_user_month", "statements_per_database_request")
    )
    storage_gb = 1.0 + usage.per_user("database_mb") / 1024
    lines = [
        Line(logical_id, "Aurora compute", price(ACU_HOUR, hours.acu_hours), f"{hours.acu_hours:,.0f} ACU-hours"),
        Line(
            f"{logical_id} storage",
            "Aurora storage and I/O",
            price("aurora_storage_gb_month", storage_gb) + price("aurora_io_request", statements * 2),
            f"{storage_gb:,.1f} GB, {statements * 2:,.0f} I/Os",
        ),
        Line(
            "RDS Data API",
            "Data API",
            price("rds_data_api_request", statements),
            f"{statements:,.0f} requests",
            statements,
        ),
    ]
    if properties.get("ManageMasterUserPassword"):  # Aurora's own secret: no resource in the template, still billed
        lines.append(Line(f"{logical_id} secret", "Secrets Manager", price("secret_month", 1), "1 secret (Aurora's)"))
    return lines, hours


def estimate(
    template: Mapping[str, Any],
    *,
    environment: str,
    database: DatabaseSettings,
    users: int,
    prices: Mapping[str, Any] | None = None,
    usage: Mapping[str, Any] | None = None,
) -> Estimate:
    """Every billable resource of `template` priced for `users` active users a month."""
    price = Prices(prices if prices is not None else load_json("prices.json"))
    use = Usage(usage if usage is not None else load_json("usage.json"), users)
    result = Estimate(environment=environment, users=users)
    unpriced = []
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        if kind == "AWS::RDS::DBCluster":
            lines, result.database = _cluster(logical_id, properties, database, use, price)
            result.lines.extend(lines)
        elif kind in PRICERS:
            result.lines.extend(PRICERS[kind](logical_id, properties, use, price))
        elif kind not in FREE_TYPES and not kind.startswith("Custom::"):
            unpriced.append(f"{logical_id} ({kind})")
    if unpriced:
        msg = "no price for " + ", ".join(unpriced) + ": add a pricer in infra/cost/model.py or a reason it is free"
        raise CostModelError(msg)
    # The application's lines, Lambda's start and report records for every invocation, the HTTP API's access log.
    invocations = sum(line.requests for line in result.lines if line.kind == "Lambda")
    http_requests = sum(line.requests for line in result.lines if line.kind == "HTTP API")
    log_kb = (
        use.requests * use.figure("per_user_month", "log_kb_per_request")
        + invocations * use.figure("logs", "platform_kb_per_invocation")
        + http_requests * use.figure("logs", "access_log_kb_per_request")
    )
    log_gb = log_kb / 1024 / 1024
    result.lines.append(
        Line("all log groups", "CloudWatch Logs", price("logs_ingested_gb", log_gb), f"{log_gb:,.1f} GB ingested")
    )
    if _has_bedrock(template):
        tokens = use.per_user("embedding_tokens")
        result.lines.append(
            Line(
                "Bedrock", "Bedrock embeddings", price("bedrock_titan_embed_v2_token", tokens), f"{tokens:,.0f} tokens"
            )
        )
    result.free_tier = price.free_tier()
    return result


def _has_bedrock(template: Mapping[str, Any]) -> bool:
    """A function granted bedrock:InvokeModel will embed text."""
    return "bedrock:InvokeModel" in json.dumps(template.get("Resources", {}))
