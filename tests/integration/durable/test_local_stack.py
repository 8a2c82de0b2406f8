"""The local stack's Durable Objects: `stack.durable(cls)` for any class on the stack's objects table, and the
durable function as deployed, reached through the local Lambda Invoke API."""

from __future__ import annotations

import uuid

from local.stack import LocalStack
from tests.integration.durable.objects import Counter
from ttai.bindings.durable import DurableObjectNamespace


def test_stack_durable_gives_a_namespace_for_any_class_whose_storage_outlives_each_call(stack: LocalStack) -> None:
    counters: DurableObjectNamespace = stack.durable(Counter)
    name = f"c-{uuid.uuid4().hex[:8]}"
    assert counters.name == "COUNTER"
    assert [counters.get_by_name(name).add(2), counters.get_by_name(name).add(3)] == [2, 5]
    # Another namespace over the same table: the same object, its storage kept (every call met a fresh instance).
    assert stack.durable(Counter).get_by_name(name).total() == 5


def test_the_env_of_a_durable_binding_reaches_the_host_function_through_lambdas_invoke_api(stack: LocalStack) -> None:
    env = stack.function_env("realtime")
    pubsub = env.PUBSUB
    channel = f"quotes:X{uuid.uuid4().hex[:4].upper()}"
    before = stack.functions["durable"].invocations
    # Nobody subscribes: the PubSub object says so, in one synchronous invoke of the durable function.
    assert pubsub.get_by_name(channel).publish({"last": 1}) == 0
    assert stack.functions["durable"].invocations == before + 1
