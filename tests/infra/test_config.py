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
        ({"api": {"throttle_rate_limit": 1, "throttle_burst_limit": 1, "authorizer_cache_ttl_seconds": 3601}},
         "authorizer_cache_ttl_seconds"),
        ({"functions": {"api": {"memory_mb": 512, "timeout_seconds": 60},
                        "authorizer": {"memory_mb": 512, "timeout_seconds": 5}}}, "API Gateway ends"),
        ({"alarms": {"enabled": True, "email": "not-an-address"}}, "not an email address"),
        ({"account": "12345"}, "account"),
        ({"point_in_time_recovery": False}, "point_in_time_recovery"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_invalid_settings_fail_with_the_setting_named(cdk_context, changes, complaint):
    with pytest.raises(ConfigError, match=r"environment 'dev' in cdk\.json is invalid") as caught:
        load_environment(_with(cdk_context, "dev", **changes), "dev")
    assert complaint in str(caught.value)


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
