"""The environment model: validated once, loud when something is missing."""

from __future__ import annotations

import threading

import botocore.session
import pytest
from botocore.stub import Stubber

from ttai.env import Env, Settings, invocation_environ
from ttai.errors import ConfigurationError, Throttled, Unavailable
from ttai.layout import storage_layout
from ttai.secret_names import SECRET_NAMES

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


def test_every_malformed_variable_is_named_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ(
            {
                **BASE,
                "TTAI_R2_BUCKET": "ab",
                "TTAI_DB_CLUSTER_ARN": "not-an-arn-but-long-enough",
                "TTAI_DB_NAME": "1bad",
                "TTAI_OAUTH_TOKEN_URL": "ftp://tokens",
            }
        )
    message = str(caught.value)
    for variable in ("TTAI_R2_BUCKET", "TTAI_DB_CLUSTER_ARN", "TTAI_DB_NAME", "TTAI_OAUTH_TOKEN_URL"):
        assert variable in message
    assert "TTAI_KV_TABLE" not in message


def test_vectorize_and_ai_are_built_from_their_variables_and_malformed_ones_are_named() -> None:
    variables = {
        **BASE,
        "TTAI_DB_CLUSTER_ARN": "arn:aws:rds:eu-west-1:1:cluster:c",
        "TTAI_DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:s",
        "TTAI_DB_NAME": "ttai",
        "TTAI_VECTORIZE_INDEX": "ttai-knowledge",
        "TTAI_VECTORIZE_DIMENSIONS": "1024",
        "TTAI_VECTORIZE_METRIC": "cosine",
        "TTAI_AI_EMBEDDING_MODEL": "amazon.titan-embed-text-v2:0",
        "TTAI_AI_EMBEDDING_DIMENSIONS": "1024",
    }
    env = Env(Settings.from_environ(variables), clients={"rds-data": object(), "bedrock-runtime": object()})
    assert (env.VECTORIZE.name, env.VECTORIZE.dimensions, env.VECTORIZE.metric) == ("ttai-knowledge", 1024, "cosine")
    assert (env.AI.model, env.AI.dimensions) == ("amazon.titan-embed-text-v2:0", 1024)
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({**variables, "TTAI_VECTORIZE_DIMENSIONS": "0", "TTAI_VECTORIZE_METRIC": "manhattan"})
    assert "TTAI_VECTORIZE_DIMENSIONS" in str(caught.value)
    assert "TTAI_VECTORIZE_METRIC" in str(caught.value)
    with pytest.raises(ConfigurationError, match="TTAI_AI_EMBEDDING_MODEL"):
        _ = Env(Settings.from_environ(BASE)).AI


def test_settings_are_immutable() -> None:
    settings = Settings.from_environ(BASE)
    with pytest.raises(AttributeError):
        settings.kv_table = "other"  # type: ignore[misc]


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
    fake = FakeSecretsManager({"AWSCURRENT": "current"})
    env = Env(Settings.from_environ({**BASE, "TTAI_SECRET_JWT_SECRET": "arn:jwt"}), clients={"secretsmanager": fake})
    assert env.secret("JWT_SECRET") == "current"
    assert env.secret("JWT_SECRET") == "current"
    assert fake.calls == [("arn:jwt", "AWSCURRENT")]


def test_secret_versions_add_the_previous_value_once_rotated() -> None:
    rotated = FakeSecretsManager({"AWSCURRENT": "new", "AWSPREVIOUS": "old"})
    env = Env(Settings.from_environ({**BASE, "TTAI_SECRET_K": "arn:k"}), clients={"secretsmanager": rotated})
    assert env.secret_versions("K") == ["new", "old"]
    never_rotated = FakeSecretsManager({"AWSCURRENT": "only"})
    env = Env(Settings.from_environ({**BASE, "TTAI_SECRET_K": "arn:k"}), clients={"secretsmanager": never_rotated})
    assert env.secret_versions("K") == ["only"]
    assert env.secret_versions("K") == ["only"]
    assert len(never_rotated.calls) == 2  # current and the missing previous, each asked once


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [("ThrottlingException", 400, Throttled), ("InternalServiceError", 500, Unavailable)],
)
def test_a_secret_store_that_throttles_or_fails_is_unavailable_and_nothing_is_cached(
    code: str, status: int, kind: type[Unavailable]
) -> None:
    client = botocore.session.get_session().create_client(
        "secretsmanager", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    env = Env(Settings.from_environ({**BASE, "TTAI_SECRET_K": "arn:k"}), clients={"secretsmanager": client})
    with Stubber(client) as stub:
        stub.add_client_error("get_secret_value", service_error_code=code, http_status_code=status)
        stub.add_response(
            "get_secret_value", {"SecretString": "value"}, {"SecretId": "arn:k", "VersionStage": "AWSCURRENT"}
        )
        with pytest.raises(kind) as refused:
            env.secret("K")
        assert refused.value.dependency == "the secret store"
        assert env.secret("K") == "value"  # the failure was not remembered: the next read asks again
        stub.assert_no_pending_responses()


def test_an_invocations_variables_replace_the_process_environment_on_its_thread_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TTAI_ENVIRONMENT", "dev")
    monkeypatch.setenv("TTAI_KV_TABLE", "process-table")
    outside = Env.from_environ()
    seen_elsewhere: list[str | None] = []
    with invocation_environ({**BASE, "TTAI_R2_BUCKET": "own-bucket"}):
        inside = Env.from_environ()
        # Not merged: the function sees its own variables, none of the process's.
        assert (inside.settings.r2_bucket, inside.settings.kv_table) == ("own-bucket", None)
        with invocation_environ({**BASE, "TTAI_KV_TABLE": "nested-table"}):
            assert Env.from_environ().settings.kv_table == "nested-table"
        assert Env.from_environ() is inside
        other = threading.Thread(target=lambda: seen_elsewhere.append(Env.from_environ().settings.kv_table))
        other.start()
        other.join()
    assert seen_elsewhere == ["process-table"]  # another thread is another invocation, or none
    assert Env.from_environ() is outside
    assert outside.settings.kv_table == "process-table"


class FakeSecretsManager:
    """Secrets Manager's get_secret_value by version stage, counting calls (a unit-test stand-in)."""

    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, stages: dict[str, str]) -> None:
        self.stages = stages
        self.calls: list[tuple[str, str]] = []

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict[str, str]:
        self.calls.append((SecretId, VersionStage))
        if VersionStage not in self.stages:
            raise self.exceptions.ResourceNotFoundException(VersionStage)
        return {"SecretString": self.stages[VersionStage]}


def test_the_secret_names_code_reads_are_the_ones_storage_json_declares() -> None:
    assert sorted(SECRET_NAMES) == sorted(spec.name for spec in storage_layout().secrets)


ANALYSIS_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:ttai-dev-analysis-workflow:live"


def test_a_workflow_binding_reads_its_alias_arn_and_refuses_an_unqualified_one() -> None:
    settings = Settings.from_environ({**BASE, "TTAI_ANALYSIS_WORKFLOW_ARN": ANALYSIS_ARN})
    assert dict(settings.workflow_arns) == {"ANALYSIS_WORKFLOW": ANALYSIS_ARN}
    with pytest.raises(ConfigurationError, match="TTAI_EXPORT_WORKFLOW_ARN must be a function ARN qualified"):
        Settings.from_environ({**BASE, "TTAI_EXPORT_WORKFLOW_ARN": ANALYSIS_ARN.rsplit(":", 1)[0]})


def test_a_workflow_binding_not_given_or_without_its_table_says_which_variable_is_missing() -> None:
    with pytest.raises(ConfigurationError, match="TTAI_SCREENER_WORKFLOW_ARN"):
        _ = Env(Settings.from_environ(BASE)).SCREENER_WORKFLOW
    env = Env(Settings.from_environ({**BASE, "TTAI_ANALYSIS_WORKFLOW_ARN": ANALYSIS_ARN}), clients={"lambda": None})
    with pytest.raises(ConfigurationError, match="TTAI_WORKFLOWS_TABLE"):
        _ = env.ANALYSIS_WORKFLOW


def test_a_workflow_this_process_hosts_is_served_without_lambda_or_the_table() -> None:
    from ttai.bindings.workflows.backend import WorkflowBackend, host, unhost  # noqa: PLC0415

    backend = WorkflowBackend(engine=object(), store=object(), blobs=object())  # type: ignore[arg-type]
    host(ANALYSIS_ARN, backend)
    try:
        binding = Env(Settings.from_environ({**BASE, "TTAI_ANALYSIS_WORKFLOW_ARN": ANALYSIS_ARN})).ANALYSIS_WORKFLOW
    finally:
        unhost(ANALYSIS_ARN)
    assert binding.name == "analysis"
    assert binding._backend is backend
