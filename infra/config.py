"""Per-environment settings, read from the `environments` key of cdk.json's context and validated once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infra.paths import CDK_JSON

EnvironmentName = Literal["dev", "staging", "prod"]

# The only values CloudWatch Logs accepts for RetentionInDays.
ALLOWED_LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# API Gateway HTTP APIs end an integration after 30 s, so a longer function timeout would be dead time.
MAX_API_FUNCTION_TIMEOUT_SECONDS = 29
# API Gateway waits at most 10 s for a Lambda authorizer.
MAX_AUTHORIZER_TIMEOUT_SECONDS = 10
# API Gateway ends a WebSocket route's integration after 29 s.
MAX_WEBSOCKET_INTEGRATION_SECONDS = 29
# The deploy-time trigger waits for the migrate function from a helper function that runs at most 15 minutes.
MAX_MIGRATE_TIMEOUT_SECONDS = 840
# Aurora Serverless v2 capacity: 0 to 256 ACUs in steps of 0.5; a 0 ACU cluster pauses after 5 min to 24 h idle.
MAX_DATABASE_CAPACITY_ACU = 256
MIN_AUTO_PAUSE_MINUTES = 5
MAX_AUTO_PAUSE_MINUTES = 24 * 60
# What an environment with deletion protection keeps of its database at the very least.
MIN_PROTECTED_BACKUP_RETENTION_DAYS = 7
# AWS's advice for SQS event sources: a queue hides a received message for at least 6x its consumer's timeout
# (15 minutes at most, so 90 minutes, well inside SQS's 12-hour ceiling).
QUEUE_VISIBILITY_TO_TIMEOUT = 6
# A per-user bucket's window (burst / rate_per_second) lies within one item of the limits table, a minute
# (storage.json limits.period_seconds), and a window under a second would make an attribute per request.
MIN_LIMIT_WINDOW_SECONDS = 1
MAX_LIMIT_WINDOW_SECONDS = 60

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _https_url(value: str) -> str:
    # The OAuth endpoints carry the client secret, the authorization code and the user's tokens.
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.fragment or any(c.isspace() for c in value):
        msg = f"{value!r} is not an https URL (https://host/path, no fragment)"
        raise ValueError(msg)
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]


class ConfigError(ValueError):
    """cdk.json names an unknown environment or holds settings that do not validate."""


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FunctionSettings(_Settings):
    """Sizing of one Lambda function."""

    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)


class FunctionsSettings(_Settings):
    api: FunctionSettings
    # Signing in: GET /auth/login and GET /auth/callback, which calls TastyTrade's token and user endpoints.
    auth: FunctionSettings
    authorizer: FunctionSettings
    # Applies the database migrations on deploy; Aurora may first have to resume from a pause, so it needs time.
    migrate: FunctionSettings
    # Consumes every queue; each queue's visibility timeout is derived from this timeout.
    consumer: FunctionSettings
    # Runs the scheduled market jobs and starts the nightly backup's workflow.
    scheduler: FunctionSettings
    # The workflows' durable functions: each invocation replays a run and runs its next steps (one step of a
    # backup or an export reads and writes about 5 MiB).
    analysis_workflow: FunctionSettings
    screener_workflow: FunctionSettings
    export_workflow: FunctionSettings
    backup_workflow: FunctionSettings
    # The Durable Object host: one call, alarm or WebSocket event of one object per invocation.
    durable: FunctionSettings
    # The WebSocket API's routes (API Gateway ends a WebSocket integration after 29 s) and quote hand-offs.
    realtime: FunctionSettings
    # The WebSocket API's $connect authorizer.
    connect_authorizer: FunctionSettings

    @model_validator(mode="after")
    def _timeouts_fit_api_gateway(self) -> FunctionsSettings:
        for name, settings in (("api", self.api), ("auth", self.auth)):
            if settings.timeout_seconds > MAX_API_FUNCTION_TIMEOUT_SECONDS:
                msg = (
                    f"functions.{name}.timeout_seconds must be at most {MAX_API_FUNCTION_TIMEOUT_SECONDS}: "
                    "API Gateway ends the integration after 30 s"
                )
                raise ValueError(msg)
        if self.realtime.timeout_seconds > MAX_WEBSOCKET_INTEGRATION_SECONDS:
            msg = (
                f"functions.realtime.timeout_seconds must be at most {MAX_WEBSOCKET_INTEGRATION_SECONDS}: "
                "API Gateway ends a WebSocket integration after 29 s"
            )
            raise ValueError(msg)
        if (
            max(self.authorizer.timeout_seconds, self.connect_authorizer.timeout_seconds)
            > MAX_AUTHORIZER_TIMEOUT_SECONDS
        ):
            msg = (
                "functions.authorizer and connect_authorizer: timeout_seconds must be at most "
                f"{MAX_AUTHORIZER_TIMEOUT_SECONDS}: "
                "API Gateway waits 10 s for an authorizer"
            )
            raise ValueError(msg)
        if self.migrate.timeout_seconds > MAX_MIGRATE_TIMEOUT_SECONDS:
            msg = (
                f"functions.migrate.timeout_seconds must be at most {MAX_MIGRATE_TIMEOUT_SECONDS}: "
                "the deploy-time trigger that waits for it runs at most 15 minutes"
            )
            raise ValueError(msg)
        return self


def _origin(value: str) -> str:
    # An origin as browsers send it: scheme, host and port, nothing else; http only for this machine's own pages.
    parts = urlsplit(value)
    loopback = parts.hostname in {"localhost", "127.0.0.1"}
    if (
        parts.scheme not in {"https", "http"}
        or (parts.scheme == "http" and not loopback)
        or not parts.hostname
        or value != f"{parts.scheme}://{parts.netloc}"
        or parts.netloc.lower() != parts.netloc
        or "@" in parts.netloc
    ):
        msg = f"{value!r} is not an origin (https://host[:port], lower case, or http on localhost / 127.0.0.1)"
        raise ValueError(msg)
    return value


Origin = Annotated[str, AfterValidator(_origin)]
HeaderName = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]


class CorsSettings(_Settings):
    """Which other origins' pages may call the API from a browser (API Gateway answers their preflight requests).

    The dashboard is served by the API itself, so its requests and session cookie never cross origins: an empty
    ``allow_origins`` configures no CORS at all, and a browser then refuses every cross-origin call. Credentials
    (cookies) stay off unless a page on a listed origin must send the session cookie, which none does.
    """

    allow_origins: tuple[Origin, ...]
    allow_methods: tuple[Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], ...]
    allow_headers: tuple[HeaderName, ...]
    expose_headers: tuple[HeaderName, ...] = ()
    allow_credentials: bool = False
    max_age_seconds: int = Field(ge=0, le=86_400)

    @model_validator(mode="after")
    def _listed_once(self) -> CorsSettings:
        for name in ("allow_origins", "allow_methods", "allow_headers", "expose_headers"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                msg = f"api.cors.{name} lists a value twice"
                raise ValueError(msg)
        if self.allow_origins and not self.allow_methods:
            msg = "api.cors.allow_methods is empty: the listed origins could call nothing"
            raise ValueError(msg)
        return self


class ApiSettings(_Settings):
    """The HTTP API's default stage, and the browsers of other origins it answers.

    Its authorizer caches nothing: it has no identity source (a browser sends its session cookie, an API client its
    Authorization header, and API Gateway answers 401 without calling the authorizer when any listed source is
    missing), and API Gateway caches an authorizer's answers only by identity source. So a revoked session is
    refused from the next request on.
    """

    throttle_rate_limit: float = Field(gt=0, le=10_000)
    throttle_burst_limit: int = Field(gt=0, le=5_000)
    cors: CorsSettings


class BucketSettings(_Settings):
    """One scope's token bucket per user: `burst` tokens, refilled in whole every burst / rate_per_second seconds
    (ttai.auth.admission says why a window, not a trickle). The window lies within the limits table's minute items."""

    rate_per_second: float = Field(gt=0, le=10_000)
    burst: int = Field(ge=1, le=10_000)

    @model_validator(mode="after")
    def _window_fits_a_minute(self) -> BucketSettings:
        window = self.burst / self.rate_per_second
        if not MIN_LIMIT_WINDOW_SECONDS <= window <= MAX_LIMIT_WINDOW_SECONDS:
            msg = (
                f"burst / rate_per_second is the bucket's window, {window:g} s here: it must lie between "
                f"{MIN_LIMIT_WINDOW_SECONDS} and {MAX_LIMIT_WINDOW_SECONDS} seconds"
            )
            raise ValueError(msg)
        return self


class LimitsSettings(_Settings):
    """Per-user request limits of the API's functions, inside the stage's throttle (the outer wall): a user's
    tokens draw on `user`, service tokens (scope service) on `service`."""

    user: BucketSettings
    service: BucketSettings


class OAuthEndpoints(_Settings):
    """TastyTrade's OAuth endpoints for this environment: its sandbox outside prod, the live service in prod."""

    authorize_url: HttpsUrl
    token_url: HttpsUrl
    userinfo_url: HttpsUrl


class TastyTradeSettings(_Settings):
    """TastyTrade's REST API for this environment (market data on a cache miss, accounts and positions): its sandbox
    outside prod, the live service in prod, as the OAuth endpoints are."""

    api_url: HttpsUrl


class MarketHoursSettings(_Settings):
    """Capacity that follows the market: two schedules (five-field crons, New York time, as storage.json's jobs) raise
    the cluster's minimum before the open and set it back to 0 ACU, idle-pausing, after the close."""

    open_cron: str = Field(min_length=9)
    close_cron: str = Field(min_length=9)
    # The minimum while the market is open: no request during trading hours waits for a resume.
    open_min_capacity_acu: float = Field(gt=0, le=MAX_DATABASE_CAPACITY_ACU, multiple_of=0.5)


class DatabaseSettings(_Settings):
    """The Aurora Serverless v2 cluster: capacity, pausing, backups and what deleting it from the stack does.

    `min_capacity_acu` is the deployed (closed-market) minimum; with `market_hours` the open-market minimum is set
    by schedule, and a deploy leaves the running value alone unless this setting itself changes.
    """

    min_capacity_acu: float = Field(ge=0, le=MAX_DATABASE_CAPACITY_ACU, multiple_of=0.5)
    max_capacity_acu: float = Field(ge=1, le=MAX_DATABASE_CAPACITY_ACU, multiple_of=0.5)
    # Only with a 0 ACU minimum: how long the cluster stays up without connections before it pauses.
    auto_pause_minutes: int | None = Field(default=None, ge=MIN_AUTO_PAUSE_MINUTES, le=MAX_AUTO_PAUSE_MINUTES)
    backup_retention_days: int = Field(ge=1, le=35)
    # snapshot: a final snapshot is taken when the cluster leaves the stack; retain: the cluster itself stays.
    removal_policy: Literal["destroy", "snapshot", "retain"]
    market_hours: MarketHoursSettings | None = None

    @model_validator(mode="after")
    def _capacity_and_pausing_agree(self) -> DatabaseSettings:
        if self.max_capacity_acu < self.min_capacity_acu:
            msg = "database.max_capacity_acu must not be below database.min_capacity_acu"
            raise ValueError(msg)
        if self.min_capacity_acu == 0 and self.auto_pause_minutes is None:
            msg = "database.auto_pause_minutes is required when database.min_capacity_acu is 0"
            raise ValueError(msg)
        if self.min_capacity_acu > 0 and self.auto_pause_minutes is not None:
            msg = "database.auto_pause_minutes needs database.min_capacity_acu 0: only an idle 0 ACU cluster pauses"
            raise ValueError(msg)
        if self.market_hours is not None:
            if self.min_capacity_acu != 0:
                msg = "database.market_hours needs database.min_capacity_acu 0: its close sets the minimum back to it"
                raise ValueError(msg)
            if self.market_hours.open_min_capacity_acu > self.max_capacity_acu:
                msg = "database.market_hours.open_min_capacity_acu must not be above database.max_capacity_acu"
                raise ValueError(msg)
        return self


class AlarmSettings(_Settings):
    enabled: bool
    email: str | None = None
    # A queue whose oldest message waits longer than this is not being consumed.
    oldest_message_age_seconds: int = Field(default=900, ge=60, le=14 * 24 * 3600)

    @field_validator("email")
    @classmethod
    def _looks_like_an_address(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            msg = f"alarms.email {value!r} is not an email address"
            raise ValueError(msg)
        return value


class WorkflowSettings(_Settings):
    """Every workflow's durable function: how long one run may last and how long Lambda keeps it once closed."""

    # Lambda allows 1 second to 366 days; Cloudflare instances have no such limit, so give them room.
    execution_timeout_days: int = Field(ge=1, le=366)
    # Lambda keeps a closed execution 1 to 90 days (instance status reads it); Cloudflare keeps 30 days on paid plans.
    retention_days: int = Field(ge=1, le=90)


class NotificationSettings(_Settings):
    """Where notifications leave the system: the SES sender of email (none: the email channel is off)."""

    # An address the operator controls: the stack creates its SES identity and SES mails it a verification link.
    email_sender: str | None = None

    @field_validator("email_sender")
    @classmethod
    def _looks_like_an_address(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            msg = f"notifications.email_sender {value!r} is not an email address"
            raise ValueError(msg)
        return value


class EnvironmentConfig(_Settings):
    """Everything that differs between dev, staging and prod."""

    name: EnvironmentName
    # No account means an environment-agnostic stack: synth never needs to know (or ask AWS) which account.
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    removal_policy: Literal["retain", "destroy"]
    deletion_protection: bool
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    log_retention_days: int
    # active: Lambda records traces of its own (the first invocation of each second and 5% of the rest, per
    # function: HTTP APIs send no trace header). pass_through: a function is traced only when its caller sampled
    # the request. No function adds subsegments (no X-Ray SDK), so a trace shows one invocation's phases.
    tracing: Literal["active", "pass_through"]
    functions: FunctionsSettings
    api: ApiSettings
    limits: LimitsSettings
    oauth: OAuthEndpoints
    tastytrade: TastyTradeSettings
    database: DatabaseSettings
    alarms: AlarmSettings
    notifications: NotificationSettings
    workflows: WorkflowSettings
    # Off: the EventBridge schedules exist but are disabled (jobs still run on demand).
    schedules_enabled: bool
    # Not a choice: losing the KV namespace to a bad write must be recoverable in every environment.
    point_in_time_recovery: Literal[True] = True

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_accepts(cls, value: int) -> int:
        if value not in ALLOWED_LOG_RETENTION_DAYS:
            allowed = ", ".join(str(days) for days in ALLOWED_LOG_RETENTION_DAYS)
            msg = f"log_retention_days must be one of CloudWatch's values ({allowed}), not {value}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _protected_database_survives(self) -> EnvironmentConfig:
        if not self.deletion_protection:
            return self
        if self.database.removal_policy == "destroy":
            msg = "database.removal_policy cannot be 'destroy' in an environment with deletion_protection"
            raise ValueError(msg)
        if self.database.backup_retention_days < MIN_PROTECTED_BACKUP_RETENTION_DAYS:
            msg = (
                f"database.backup_retention_days must be at least {MIN_PROTECTED_BACKUP_RETENTION_DAYS} "
                "in an environment with deletion_protection"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _one_tastytrade_environment(self) -> EnvironmentConfig:
        # Sandbox and production credentials do not work on each other's host: tokens from one, API on the other
        # would fail every request.
        if urlsplit(self.tastytrade.api_url).netloc != urlsplit(self.oauth.token_url).netloc:
            msg = "tastytrade.api_url must be on the same host as oauth.token_url (sandbox and production do not mix)"
            raise ValueError(msg)
        return self

    @property
    def retain(self) -> bool:
        """Whether stateful resources outlive their stack (they do everywhere but in throwaway environments)."""
        return self.removal_policy == "retain"


def known_environments(app_context: dict[str, Any]) -> list[str]:
    environments = app_context.get("environments")
    if not isinstance(environments, dict) or not environments:
        msg = "cdk.json context has no 'environments' object: nothing to synthesize"
        raise ConfigError(msg)
    return list(environments)


def load_environment(app_context: dict[str, Any], name: str) -> EnvironmentConfig:
    """Validate the settings of environment `name`; an unknown name is an error that lists the known ones."""
    known = known_environments(app_context)
    if name not in known:
        msg = f"unknown environment {name!r}: cdk.json defines {', '.join(known)}"
        raise ConfigError(msg)
    raw = app_context["environments"][name]
    if not isinstance(raw, dict):
        msg = f"environment {name!r} in cdk.json must be an object, not {type(raw).__name__}"
        raise ConfigError(msg)
    if raw.get("name", name) != name:
        msg = f"environment {name!r} in cdk.json says its name is {raw['name']!r}"
        raise ConfigError(msg)
    try:
        return EnvironmentConfig.model_validate({**raw, "name": name})
    except ValidationError as exc:
        msg = f"environment {name!r} in cdk.json is invalid:\n{exc}"
        raise ConfigError(msg) from exc


def read_cdk_context(root: Path) -> dict[str, Any]:
    """The `context` object of cdk.json: what the CDK CLI would hand the app, for runs without the CLI."""
    document = json.loads((root / CDK_JSON).read_text(encoding="utf-8"))
    context = document.get("context", {})
    if not isinstance(context, dict):
        msg = f"{CDK_JSON}: 'context' must be an object"
        raise ConfigError(msg)
    return context


# GitHub's rules for account and repository names.
_GITHUB_OWNER = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$"
_GITHUB_REPOSITORY = r"^[A-Za-z0-9._-]{1,100}$"


class GithubRepository(_Settings):
    """The repository whose workflows may deploy: its name is what GitHub's OIDC tokens carry in their subject."""

    owner: str = Field(pattern=_GITHUB_OWNER)
    repository: str = Field(pattern=_GITHUB_REPOSITORY)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repository}"

    def environment_subject(self, environment: str) -> str:
        """The `sub` claim of a token GitHub issues to a job that runs in `environment` (one of the repository's
        GitHub environments), whatever branch or pull request started it."""
        return f"repo:{self.full_name}:environment:{environment}"


class CiSettings(_Settings):
    """The `ci` key of cdk.json's context: who deploys from GitHub Actions, and to which environments."""

    github: GithubRepository
    # Each gets a deploy role that only a job running in the GitHub environment of the same name can assume.
    deploy_environments: tuple[EnvironmentName, ...] = Field(min_length=1)

    @field_validator("deploy_environments")
    @classmethod
    def _each_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            msg = f"ci.deploy_environments names an environment twice: {list(value)}"
            raise ValueError(msg)
        return value


def load_ci_settings(app_context: dict[str, Any]) -> CiSettings:
    """Validate cdk.json's `ci` settings; every environment it deploys must be one cdk.json defines."""
    raw = app_context.get("ci")
    if not isinstance(raw, dict):
        msg = "cdk.json context has no 'ci' object: the GitHub repository that deploys is unknown"
        raise ConfigError(msg)
    try:
        settings = CiSettings.model_validate(raw)
    except ValidationError as exc:
        msg = f"ci in cdk.json is invalid:\n{exc}"
        raise ConfigError(msg) from exc
    known = known_environments(app_context)
    unknown = [name for name in settings.deploy_environments if name not in known]
    if unknown:
        msg = f"ci.deploy_environments names {', '.join(unknown)}, which cdk.json does not define"
        raise ConfigError(msg)
    return settings
