"""cdk.json's environments validate, differ where they should, and bad settings fail with a clear message."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from infra.config import ALLOWED_LOG_RETENTION_DAYS, ConfigError, EnvironmentConfig, load_environment
from infra.constructs._policy import log_retention


def _with(context: dict[str, Any], environment: str, **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(context)
    changed["environments"][environment].update(changes)
    return changed


def _with_database(context: dict[str, Any], environment: str, **changes: Any) -> dict[str, Any]:
    database = {**context["environments"][environment]["database"], **changes}
    return _with(context, environment, database={key: value for key, value in database.items() if value is not None})


_FUNCTIONS = {
    "api": {"memory_mb": 1024, "timeout_seconds": 20},
    "auth": {"memory_mb": 512, "timeout_seconds": 15},
    "authorizer": {"memory_mb": 512, "timeout_seconds": 5},
    "migrate": {"memory_mb": 512, "timeout_seconds": 300},
    "consumer": {"memory_mb": 1024, "timeout_seconds": 30},
    "scheduler": {"memory_mb": 1024, "timeout_seconds": 300},
    "analysis_workflow": {"memory_mb": 512, "timeout_seconds": 300},
    "screener_workflow": {"memory_mb": 512, "timeout_seconds": 300},
    "export_workflow": {"memory_mb": 1024, "timeout_seconds": 900},
    "backup_workflow": {"memory_mb": 1024, "timeout_seconds": 900},
    "durable": {"memory_mb": 1024, "timeout_seconds": 60},
    "realtime": {"memory_mb": 1024, "timeout_seconds": 29},
    "connect_authorizer": {"memory_mb": 512, "timeout_seconds": 5},
}
_CORS = {
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["authorization", "content-type"],
    "max_age_seconds": 600,
}
_API = {"throttle_rate_limit": 1, "throttle_burst_limit": 1, "cors": _CORS}


def test_cdk_json_defines_the_three_environments(cdk_context):
    assert set(cdk_context["environments"]) == {"dev", "staging", "prod"}
    for name in cdk_context["environments"]:
        assert load_environment(cdk_context, name).name == name


def test_environments_differ_as_designed(cdk_context):
    dev, staging, prod = (load_environment(cdk_context, name) for name in ("dev", "staging", "prod"))
    assert (dev.removal_policy, dev.deletion_protection, dev.log_level, dev.log_retention_days) == (
        "destroy", False, "DEBUG", 14,
    )  # fmt: skip
    assert (staging.removal_policy, staging.log_level, staging.log_retention_days) == ("retain", "INFO", 30)
    assert (prod.removal_policy, prod.deletion_protection, prod.log_level, prod.log_retention_days) == (
        "retain", True, "WARNING", 90,
    )  # fmt: skip
    assert prod.alarms.enabled
    assert all(config.point_in_time_recovery for config in (dev, staging, prod))
    # Lambda's own trace sampling costs about 20 USD a month in prod at 1,000 users (make cost); dev and staging
    # stay well inside X-Ray's free traces.
    assert (dev.tracing, staging.tracing, prod.tracing) == ("active", "active", "pass_through")


def test_databases_pause_outside_prod_and_prod_keeps_its_data(cdk_context):
    dev, staging, prod = (load_environment(cdk_context, name).database for name in ("dev", "staging", "prod"))
    for paused in (dev, staging):
        assert paused.min_capacity_acu == 0
        assert paused.auto_pause_minutes is not None
    assert (dev.auto_pause_minutes, staging.auto_pause_minutes) == (10, 30)
    # prod follows the market: 0 ACU and pausing is its closed-market state, raised by schedule for the open.
    assert prod.min_capacity_acu == 0
    assert prod.auto_pause_minutes is not None
    assert prod.market_hours is not None
    assert prod.market_hours.open_min_capacity_acu == 0.5
    assert dev.market_hours is None
    assert staging.market_hours is None
    assert (dev.removal_policy, staging.removal_policy, prod.removal_policy) == ("destroy", "snapshot", "retain")
    assert prod.backup_retention_days >= 7


def test_sign_in_uses_tastytrades_sandbox_outside_prod_and_the_live_service_in_prod(cdk_context):
    sandbox = (
        "https://cert-my.staging-tasty.works/auth.html",
        "https://api.cert.tastyworks.com/oauth/token",
        "https://api.cert.tastyworks.com/customers/me",
    )
    live = (
        "https://my.tastytrade.com/auth.html",
        "https://api.tastyworks.com/oauth/token",
        "https://api.tastyworks.com/customers/me",
    )
    for name, expected in (("dev", sandbox), ("staging", sandbox), ("prod", live)):
        oauth = load_environment(cdk_context, name).oauth
        assert (oauth.authorize_url, oauth.token_url, oauth.userinfo_url) == expected, name


def test_tastytrade_api_is_the_sandbox_outside_prod_and_never_mixed_with_the_other_oauth(cdk_context):
    expected = {"dev": "https://api.cert.tastyworks.com", "staging": "https://api.cert.tastyworks.com"}
    expected["prod"] = "https://api.tastyworks.com"
    for name, url in expected.items():
        assert load_environment(cdk_context, name).tastytrade.api_url == url, name
    mixed = copy.deepcopy(cdk_context)
    mixed["environments"]["dev"]["tastytrade"]["api_url"] = "https://api.tastyworks.com"
    with pytest.raises(ConfigError, match=r"same host as oauth\.token_url"):
        load_environment(mixed, "dev")


def test_queue_consumers_and_schedules_per_environment(cdk_context):
    dev, staging, prod = (load_environment(cdk_context, name) for name in ("dev", "staging", "prod"))
    for config in (dev, staging, prod):
        # 30 s per batch gives the queues a 180 s visibility floor; the jobs get five minutes.
        assert config.functions.consumer.timeout_seconds == 30
        assert config.functions.scheduler.timeout_seconds == 300
        # No sender is configured until an operator owns an address: email is off, push and Discord are not.
        assert config.notifications.email_sender is None
    assert (dev.schedules_enabled, staging.schedules_enabled, prod.schedules_enabled) == (False, True, True)


def test_unknown_environment_names_the_known_ones(cdk_context):
    with pytest.raises(ConfigError, match=r"unknown environment 'nope': cdk.json defines dev, staging, prod"):
        load_environment(cdk_context, "nope")


def test_missing_environments_is_an_error():
    with pytest.raises(ConfigError, match="no 'environments'"):
        load_environment({}, "dev")


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"log_retention_days": 10}, "log_retention_days must be one of CloudWatch's values"),
        ({"log_level": "TRACE"}, "log_level"),
        ({"removal_policy": "snapshot"}, "removal_policy"),
        ({"api": {**_API, "authorizer_cache_ttl_seconds": 60}}, "Extra inputs are not permitted"),
        ({"api": {**_API, "cors": {**_CORS, "allow_origins": ["*"]}}}, "'*' is not an origin"),
        ({"api": {**_API, "cors": {**_CORS, "allow_origins": ["http://app.example.com"]}}}, "http on localhost"),
        ({"api": {**_API, "cors": {**_CORS, "allow_origins": ["https://app.example.com/"]}}}, "is not an origin"),
        ({"api": {**_API, "cors": {**_CORS, "allow_origins": ["https://App.example.com"]}}}, "lower case"),
        ({"api": {**_API, "cors": {**_CORS, "allow_methods": ["GET", "GET"]}}}, "allow_methods lists a value twice"),
        ({"api": {**_API, "cors": {**_CORS, "allow_methods": ["CONNECT"]}}}, "allow_methods"),
        ({"api": {**_API, "cors": {**_CORS, "allow_headers": ["X Token"]}}}, "allow_headers"),
        ({"functions": {**_FUNCTIONS, "api": {"memory_mb": 512, "timeout_seconds": 60}}}, "API Gateway ends"),
        ({"functions": {**_FUNCTIONS, "migrate": {"memory_mb": 512, "timeout_seconds": 900}}},
         "deploy-time trigger"),
        ({"functions": {"api": _FUNCTIONS["api"], "authorizer": _FUNCTIONS["authorizer"]}}, "functions.migrate"),
        ({"functions": {**_FUNCTIONS, "auth": {"memory_mb": 512, "timeout_seconds": 30}}},
         "functions.auth.timeout_seconds must be at most 29"),
        ({"functions": {key: value for key, value in _FUNCTIONS.items() if key != "auth"}}, "functions.auth"),
        ({"alarms": {"enabled": True, "email": "not-an-address"}}, "not an email address"),
        ({"alarms": {"enabled": True, "oldest_message_age_seconds": 10}}, "oldest_message_age_seconds"),
        ({"functions": {key: value for key, value in _FUNCTIONS.items() if key != "consumer"}}, "functions.consumer"),
        ({"functions": {key: value for key, value in _FUNCTIONS.items() if key != "scheduler"}},
         "functions.scheduler"),
        ({"notifications": {"email_sender": "ttai at example"}}, "notifications.email_sender 'ttai at example'"),
        ({"notifications": {"email_sender": None, "sms": True}}, "Extra inputs are not permitted"),
        ({"schedules_enabled": "sometimes"}, "schedules_enabled"),
        ({"tracing": "sampled"}, "tracing"),
        ({"account": "12345"}, "account"),
        ({"point_in_time_recovery": False}, "point_in_time_recovery"),
        ({"limits": {"user": {"rate_per_second": 100, "burst": 10}, "service": {"rate_per_second": 1, "burst": 1}}},
         "burst / rate_per_second is the bucket's window, 0.1 s here"),
        ({"limits": {"user": {"rate_per_second": 1, "burst": 61}, "service": {"rate_per_second": 1, "burst": 1}}},
         "it must lie between 1 and 60 seconds"),
        ({"limits": {"user": {"rate_per_second": 0, "burst": 1}, "service": {"rate_per_second": 1, "burst": 1}}},
         "limits.user.rate_per_second"),
        ({"limits": {"user": {"rate_per_second": 1, "burst": 1}}}, "limits.service"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_invalid_settings_fail_with_the_setting_named(cdk_context, changes, complaint):
    with pytest.raises(ConfigError, match=r"environment 'dev' in cdk\.json is invalid") as caught:
        load_environment(_with(cdk_context, "dev", **changes), "dev")
    assert complaint in str(caught.value)


@pytest.mark.parametrize(
    ("environment", "changes", "complaint"),
    [
        ("dev", {"min_capacity_acu": 0, "auto_pause_minutes": None}, "auto_pause_minutes is required"),
        ("prod", {"min_capacity_acu": 0.5, "auto_pause_minutes": 10}, "only an idle 0 ACU cluster pauses"),
        ("dev", {"auto_pause_minutes": 2}, "auto_pause_minutes"),
        ("dev", {"min_capacity_acu": 0.25}, "min_capacity_acu"),
        ("dev", {"max_capacity_acu": 512}, "max_capacity_acu"),
        ("prod", {"min_capacity_acu": 4, "max_capacity_acu": 2}, "must not be below"),
        ("dev", {"removal_policy": "forget"}, "removal_policy"),
        ("dev", {"backup_retention_days": 36}, "backup_retention_days"),
        ("prod", {"removal_policy": "destroy"}, "cannot be 'destroy' in an environment with deletion_protection"),
        ("prod", {"backup_retention_days": 3}, "at least 7"),
        ("dev", {"engine": "mysql"}, "Extra inputs are not permitted"),
        (
            "prod",
            {"min_capacity_acu": 0.5, "auto_pause_minutes": None},
            "market_hours needs database.min_capacity_acu 0",
        ),
        (
            "prod",
            {"market_hours": {"open_cron": "0 8 * * 1-5", "close_cron": "0 18 * * 1-5", "open_min_capacity_acu": 32}},
            "must not be above database.max_capacity_acu",
        ),
        (
            "prod",
            {"market_hours": {"open_cron": "0 8 * * 1-5", "close_cron": "0 18 * * 1-5", "open_min_capacity_acu": 0}},
            "open_min_capacity_acu",
        ),
    ],
)  # fmt: skip
def test_invalid_database_settings_fail_with_the_setting_named(cdk_context, environment, changes, complaint):
    with pytest.raises(ConfigError, match=rf"environment '{environment}' in cdk\.json is invalid") as caught:
        load_environment(_with_database(cdk_context, environment, **changes), environment)
    assert complaint in str(caught.value)


_OAUTH = {
    "authorize_url": "https://cert-my.staging-tasty.works/auth.html",
    "token_url": "https://api.cert.tastyworks.com/oauth/token",
    "userinfo_url": "https://api.cert.tastyworks.com/customers/me",
}


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"token_url": "http://api.cert.tastyworks.com/oauth/token"}, "is not an https URL"),
        ({"authorize_url": "cert-my.staging-tasty.works/auth.html"}, "is not an https URL"),
        ({"userinfo_url": "https:///customers/me"}, "is not an https URL"),
        ({"authorize_url": "https://my.tastytrade.com/auth.html#x"}, "is not an https URL"),
        ({"token_url": "https://api.tastyworks.com/oauth/ token"}, "is not an https URL"),
        ({"userinfo_url": None}, "oauth.userinfo_url"),
        ({"client_secret": "never in cdk.json"}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_invalid_oauth_endpoints_fail_with_the_setting_named(cdk_context, changes, complaint):
    oauth = {key: value for key, value in {**_OAUTH, **changes}.items() if value is not None}
    with pytest.raises(ConfigError, match=r"environment 'dev' in cdk\.json is invalid") as caught:
        load_environment(_with(cdk_context, "dev", oauth=oauth), "dev")
    assert complaint in str(caught.value)


def test_an_environment_without_oauth_endpoints_is_invalid(cdk_context):
    context = copy.deepcopy(cdk_context)
    del context["environments"]["prod"]["oauth"]
    with pytest.raises(ConfigError, match=r"oauth\s+Field required"):
        load_environment(context, "prod")


def test_an_entry_cannot_claim_another_name(cdk_context):
    with pytest.raises(ConfigError, match="says its name is 'prod'"):
        load_environment(_with(cdk_context, "dev", name="prod"), "dev")


def test_config_is_frozen(cdk_context):
    config = load_environment(cdk_context, "dev")
    with pytest.raises(ValidationError):
        config.log_level = "ERROR"  # type: ignore[misc]


def test_every_allowed_retention_has_a_cdk_value(cdk_context):
    base = cdk_context["environments"]["dev"]
    for days in ALLOWED_LOG_RETENTION_DAYS:
        config = EnvironmentConfig.model_validate({**base, "name": "dev", "log_retention_days": days})
        assert log_retention(config).name  # a RetentionDays member, not a KeyError


def test_only_dev_lets_another_origin_call_and_no_environment_sends_cookies_across_origins(cdk_context):
    dev, staging, prod = (load_environment(cdk_context, name).api.cors for name in ("dev", "staging", "prod"))
    # A front end on its own dev server may call a dev stack; the deployed dashboard is same-origin.
    assert dev.allow_origins == ("http://localhost:5173", "http://127.0.0.1:5173")
    assert staging.allow_origins == prod.allow_origins == ()
    for cors in (dev, staging, prod):
        assert cors.allow_credentials is False
        assert "x-csrf-token" not in cors.allow_headers  # only the same-origin page holds a session cookie
