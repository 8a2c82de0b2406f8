"""One source, no drift: what the local stack provisions and routes is what the synthesized stack declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.http_api import HttpApi
from local.gateway import PUBLIC_ROUTES, ROUTES
from local.stack import LocalStack
from tests.infra._template import referenced_ids, resources, the_resource, ttai_function_ids
from tests.infra.conftest import Synthesized
from ttai.http.openapi import PUBLIC_OPERATIONS


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


@pytest.fixture(scope="module")
def dev_template(synthesized: Synthesized) -> Template:
    return synthesized.templates["dev"]


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {item[key]: item for item in items}


def test_the_local_kv_table_has_the_deployed_keys_index_and_ttl(stack: LocalStack, dev_template: Template) -> None:
    _, table = the_resource(dev_template, "AWS::DynamoDB::Table")
    deployed = table["Properties"]
    local = stack.client("dynamodb").describe_table(TableName=stack.environ["TTAI_KV_TABLE"])["Table"]
    assert local["KeySchema"] == deployed["KeySchema"]
    assert _by_name(local["AttributeDefinitions"], "AttributeName") == _by_name(
        deployed["AttributeDefinitions"], "AttributeName"
    )
    local_indexes = _by_name(local["GlobalSecondaryIndexes"], "IndexName")
    deployed_indexes = _by_name(deployed["GlobalSecondaryIndexes"], "IndexName")
    assert local_indexes.keys() == deployed_indexes.keys()
    for name, index in deployed_indexes.items():
        assert local_indexes[name]["KeySchema"] == index["KeySchema"]
        assert local_indexes[name]["Projection"]["ProjectionType"] == index["Projection"]["ProjectionType"]
        assert sorted(local_indexes[name]["Projection"]["NonKeyAttributes"]) == sorted(
            index["Projection"]["NonKeyAttributes"]
        )
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=stack.environ["TTAI_KV_TABLE"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == deployed["TimeToLiveSpecification"]["AttributeName"]


def test_the_local_functions_see_the_variables_the_deployed_ones_do(stack: LocalStack, dev_template: Template) -> None:
    for function in resources(dev_template, "AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        ours = {name for name in variables if name.startswith("TTAI_")}
        if not ours:
            continue  # a CDK helper function, not ours
        assert ours <= set(stack.environ), f"local stack lacks {ours - set(stack.environ)}"


def test_the_public_routes_are_the_same_locally_and_deployed(dev_template: Template) -> None:
    assert set(HttpApi.PUBLIC_ROUTES) == set(PUBLIC_ROUTES) == PUBLIC_OPERATIONS  # the last: what /openapi.json says
    unauthorized = {
        tuple(route["Properties"]["RouteKey"].split(" ", 1))
        for route in resources(dev_template, "AWS::ApiGatewayV2::Route").values()
        if route["Properties"].get("AuthorizationType", "NONE") == "NONE"
    }
    assert unauthorized == set(PUBLIC_ROUTES)


def test_each_route_reaches_the_same_function_locally_and_deployed(dev_template: Template) -> None:
    names = {logical_id: name for name, logical_id in ttai_function_ids(dev_template).items()}
    integrations = resources(dev_template, "AWS::ApiGatewayV2::Integration")
    deployed = {}
    for route in resources(dev_template, "AWS::ApiGatewayV2::Route").values():
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        [function_id] = referenced_ids(integrations[integration_id]["Properties"]["IntegrationUri"])
        deployed[route["Properties"]["RouteKey"]] = names[function_id]
    assert deployed == {route.key: route.function for route in ROUTES}
