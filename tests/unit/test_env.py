"""The environment model: validated once, loud when something is missing."""

from __future__ import annotations

import pytest

from ttai.env import Env, Settings
from ttai.errors import ConfigurationError

BASE = {"TTAI_ENVIRONMENT": "dev", "AWS_REGION": "eu-west-1"}


def test_settings_read_bindings_and_secret_arns() -> None:
    settings = Settings.from_environ(
        {**BASE, "TTAI_KV_TABLE": "ttai-dev-kv", "TTAI_SECRET_JWT_SECRET": "arn:aws:secretsmanager:x", "HOME": "/"}
    )
    assert settings.kv_table == "ttai-dev-kv"
    assert settings.kv_overflow_bucket is None
    assert dict(settings.secret_ids) == {"JWT_SECRET": "arn:aws:secretsmanager:x"}
    assert settings.region == "eu-west-1"


def test_a_missing_environment_name_fails_loudly() -> None:
    with pytest.raises(ConfigurationError, match="TTAI_ENVIRONMENT"):
        Settings.from_environ({"TTAI_KV_TABLE": "t"})


def test_an_unknown_environment_name_fails_loudly() -> None:
    with pytest.raises(ConfigurationError, match="environment"):
        Settings.from_environ({"TTAI_ENVIRONMENT": "production"})


def test_a_binding_that_was_not_given_says_which_variable_is_missing() -> None:
    env = Env(Settings.from_environ(BASE))
    with pytest.raises(ConfigurationError, match="TTAI_KV_TABLE"):
        _ = env.KV


def test_an_unbound_secret_says_which_variable_is_missing() -> None:
    env = Env(Settings.from_environ(BASE))
    with pytest.raises(ConfigurationError, match="TTAI_SECRET_JWT_SECRET"):
        env.secret("JWT_SECRET")


def test_from_environ_reuses_one_env_per_configuration() -> None:
    first = Env.from_environ({**BASE, "TTAI_KV_TABLE": "a-table"})
    assert Env.from_environ({**BASE, "TTAI_KV_TABLE": "a-table", "UNRELATED": "x"}) is first
    assert Env.from_environ({**BASE, "TTAI_KV_TABLE": "b-table"}) is not first


def test_secrets_are_fetched_once_per_container() -> None:
    class FakeSecretsManager:
        calls = 0

        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            self.calls += 1
            return {"SecretString": f"value-of-{SecretId}"}

    fake = FakeSecretsManager()
    env = Env(Settings.from_environ({**BASE, "TTAI_SECRET_JWT_SECRET": "arn:jwt"}), clients={"secretsmanager": fake})
    assert env.secret("JWT_SECRET") == "value-of-arn:jwt"
    assert env.secret("JWT_SECRET") == "value-of-arn:jwt"
    assert fake.calls == 1
