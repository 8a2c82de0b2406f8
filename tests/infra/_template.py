"""Reading synthesized templates: resources by type, a function's role and the statements granted to it."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk.assertions import Template

Resource = dict[str, Any]


def resources(template: Template, resource_type: str) -> dict[str, Resource]:
    return cast(dict[str, Resource], template.find_resources(resource_type))


def the_resource(template: Template, resource_type: str) -> tuple[str, Resource]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def ttai_function_ids(template: Template) -> dict[str, str]:
    """Logical IDs of our functions by name (api, authorizer), told apart from CDK helpers by service name."""
    named = {}
    for logical_id, resource in resources(template, "AWS::Lambda::Function").items():
        service = resource["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        if isinstance(service, str) and service.startswith("ttai-"):
            named[service.removeprefix("ttai-")] = logical_id
    return named


def ttai_functions(template: Template) -> dict[str, Resource]:
    functions = resources(template, "AWS::Lambda::Function")
    return {name: functions[logical_id] for name, logical_id in ttai_function_ids(template).items()}


def role_id(function: Resource) -> str:
    role = function["Properties"]["Role"]
    logical_id: str = role["Fn::GetAtt"][0]
    return logical_id


def statements_of_role(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of every IAM policy attached to the role (inline and separate policies)."""
    statements: list[dict[str, Any]] = []
    role = resources(template, "AWS::IAM::Role")[role_logical_id]
    for policy in role["Properties"].get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def referenced_ids(value: Any) -> set[str]:
    """Logical IDs a CloudFormation expression points at (Ref and Fn::GetAtt, at any depth; no pseudo parameters)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and not value["Ref"].startswith("AWS::"):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= referenced_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= referenced_ids(item)
    return found


def variables_of(template: Template, function: str) -> dict[str, Any]:
    """The environment variables of one of our functions, by name (api, consumer ...)."""
    variables: dict[str, Any] = ttai_functions(template)[function]["Properties"]["Environment"]["Variables"]
    return variables


def variable_target(template: Template, function: str, variable: str) -> str:
    """The logical ID a function's variable names (TTAI_KV_TABLE -> the table's ID)."""
    [logical_id] = referenced_ids(variables_of(template, function)[variable])
    return logical_id


def statements_of_function(template: Template, function: str) -> list[dict[str, Any]]:
    return statements_of_role(template, role_id(ttai_functions(template)[function]))


def actions_of(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement["Action"]))


def statements_on(statements: list[dict[str, Any]], logical_id: str) -> list[dict[str, Any]]:
    """The statements that name `logical_id` (alone or among others) in their resources."""
    return [
        statement
        for statement in statements
        if any(logical_id in referenced_ids(resource) for resource in as_list(statement["Resource"]))
    ]
