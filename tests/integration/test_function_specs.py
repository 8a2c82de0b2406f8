"""Each function, invoked locally, sees only what its spec in storage.json declares.

A route that starts using a binding its function's spec does not grant must fail here, with the error it would meet
on AWS, instead of passing every local test because the local stack happened to know the binding.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from local.gateway import LocalGateway
from local.stack import LocalStack
from tests.integration.conftest import user_id
from ttai.env import Env, Settings
from ttai.errors import ConfigurationError


def _settings_seen_by(stack: LocalStack, function: str) -> Settings:
    """The settings a handler invoked as ``function`` reads from its environment."""
    seen: list[Settings] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(Env.from_environ().settings)
        return {}

    stack.functions[function].standing_in(handler)({})
    return seen[0]


def test_the_authorizer_sees_its_session_table_and_key_and_nothing_else(stack: LocalStack) -> None:
    settings = _settings_seen_by(stack, "authorizer")
    assert settings.kv_table == stack.environ["TTAI_KV_TABLE"]
    assert settings.kv_overflow_bucket is None  # session records are items: no overflow bucket
    assert (settings.db_cluster_arn, settings.r2_bucket, settings.idempotency_table) == (None, None, None)
    assert dict(settings.queue_urls) == {}
    assert dict(settings.secret_ids) == {"JWT_SECRET": stack.environ["TTAI_SECRET_JWT_SECRET"]}
    # The stack's variables together are no function's, nor the runtime's every function shares.
    assert stack.env.settings.r2_bucket == stack.environ["TTAI_R2_BUCKET"]
    assert not any(name.startswith("TTAI_") for name in stack.runtime_environ)


def test_functions_invoked_at_once_on_two_threads_each_see_their_own(stack: LocalStack) -> None:
    both_inside = threading.Barrier(2, timeout=10)
    seen: dict[str, Settings] = {}

    def invoke(function: str) -> None:
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            both_inside.wait()  # the other function is mid-invocation too
            seen[function] = Env.from_environ().settings
            return {}

        stack.functions[function].standing_in(handler)({})

    threads = [threading.Thread(target=invoke, args=(name,)) for name in ("api", "consumer")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    # The api has TastyTrade's settings and no push topic; the consumer the other way round (both read R2 and have
    # the idempotency table).
    assert seen["api"].tastytrade_api_url == stack.environ["TTAI_TASTYTRADE_API_URL"]
    assert seen["api"].push_topic_arn is None
    assert seen["consumer"].tastytrade_api_url is None
    assert seen["consumer"].push_topic_arn == stack.environ["TTAI_PUSH_TOPIC_ARN"]


def test_an_api_whose_spec_lacks_the_export_workflow_fails_an_export_with_a_500_writing_nothing(
    stack: LocalStack, alice: str
) -> None:
    spec = stack.specs["api"]
    without = spec._replace(bindings=tuple(binding for binding in spec.bindings if binding.name != "EXPORT_WORKFLOW"))
    api = stack.local_function(without)
    assert api.environ is not None
    assert "TTAI_EXPORT_WORKFLOW_ARN" not in api.environ
    # What the export route meets inside that function: the error a deployed function without the binding raises.
    with pytest.raises(ConfigurationError, match="binding EXPORT_WORKFLOW is not available here"):
        api.standing_in(lambda event, context: Env.from_environ().EXPORT_WORKFLOW)({})
    gateway = LocalGateway(
        authorizer=stack.functions["authorizer"], api=api, auth=stack.functions["auth"], authorizer_cache_ttl=0
    )
    runs = "SELECT count(*) AS n FROM workflow_runs WHERE user_id = ?1"
    before = stack.env.DB.prepare(runs).bind(user_id(stack, alice)).first("n")
    request = {"dataset": "journal", "format": "csv"}

    failed = gateway.request("POST", "/api/v1/exports", token=alice, json=request)

    assert failed.status == 500
    assert failed.body["error"]["code"] == "internal_error"
    assert "TTAI_EXPORT_WORKFLOW_ARN" not in str(failed.body)  # which setting is missing is for the log only
    assert stack.env.DB.prepare(runs).bind(user_id(stack, alice)).first("n") == before
    # The api the spec declares (the workflow bound) starts the same export.
    assert stack.http("POST", "/api/v1/exports", token=alice, json=request).status == 202
