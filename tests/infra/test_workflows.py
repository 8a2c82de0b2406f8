"""The workflows as deployed: a durable function per workflow behind its alias, configured from cdk.json, the
workflows table, and who may start, steer and checkpoint which runs."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from infra.constructs.workflows import ALIAS, RECORD_ACTIONS, RUNTIME_ACTIONS, STEER_ACTIONS
from infra.storage_layout import StorageLayout
from tests.infra._template import (
    actions_of,
    as_list,
    referenced_ids,
    resources,
    statements_of_function,
    ttai_function_ids,
    ttai_functions,
    variables_of,
)

WORKFLOWS = {
    "ANALYSIS_WORKFLOW": "analysis_workflow",
    "SCREENER_WORKFLOW": "screener_workflow",
    "EXPORT_WORKFLOW": "export_workflow",
    "BACKUP_WORKFLOW": "backup_workflow",
}
STARTS = {
    "api": {"ANALYSIS_WORKFLOW", "SCREENER_WORKFLOW", "EXPORT_WORKFLOW"},
    "scheduler": {"BACKUP_WORKFLOW"},
}


def _aliases(template: Template) -> dict[str, str]:
    """The alias of each workflow function, by binding."""
    ids = ttai_function_ids(template)
    found = {}
    for alias_id, alias in resources(template, "AWS::Lambda::Alias").items():
        [function_id] = referenced_ids(alias["Properties"]["FunctionName"])
        for binding, name in WORKFLOWS.items():
            if ids[name] == function_id:
                found[binding] = alias_id
    return found


def _lambda_statements(template: Template, function: str) -> list[dict[str, Any]]:
    return [
        s for s in statements_of_function(template, function) if any(a.startswith("lambda:") for a in actions_of(s))
    ]


def test_each_workflow_is_a_durable_function_with_cdk_jsons_timeout_and_retention(
    template: Template, config: EnvironmentConfig
) -> None:
    functions = ttai_functions(template)
    for name in WORKFLOWS.values():
        properties = functions[name]["Properties"]
        assert properties["DurableConfig"] == {
            "ExecutionTimeout": config.workflows.execution_timeout_days * 86_400,
            "RetentionPeriodInDays": config.workflows.retention_days,
        }
        assert "FunctionName" not in properties  # adding durability replaces a function: no fixed name to clash
    for name, function in functions.items():
        if name not in WORKFLOWS.values():
            assert "DurableConfig" not in function["Properties"], name


def test_each_workflow_is_invoked_through_an_alias_on_its_current_version(template: Template) -> None:
    aliases = _aliases(template)
    assert set(aliases) == set(WORKFLOWS)
    versions = resources(template, "AWS::Lambda::Version")
    for binding, alias_id in aliases.items():
        alias = resources(template, "AWS::Lambda::Alias")[alias_id]["Properties"]
        assert alias["Name"] == ALIAS
        [version_id] = referenced_ids(alias["FunctionVersion"])
        assert referenced_ids(versions[version_id]["Properties"]["FunctionName"]) == referenced_ids(
            alias["FunctionName"]
        ), binding


def test_the_bindings_name_the_aliases_of_exactly_the_workflows_each_function_starts(template: Template) -> None:
    aliases = _aliases(template)
    for function in ttai_function_ids(template):
        variables = variables_of(template, function)
        named = {b for b in WORKFLOWS if f"TTAI_{b}_ARN" in variables}
        assert named == STARTS.get(function, set()), function
        for binding in named:
            assert variables[f"TTAI_{binding}_ARN"] == {"Ref": aliases[binding]}


def test_a_workflow_function_checkpoints_only_its_own_executions(template: Template) -> None:
    ids = ttai_function_ids(template)
    for name in WORKFLOWS.values():
        statements = _lambda_statements(template, name)
        assert [actions_of(s) for s in statements] == [set(RUNTIME_ACTIONS)], name
        [resource] = as_list(statements[0]["Resource"])
        assert resource == {"Fn::Join": ["", [{"Fn::GetAtt": [ids[name], "Arn"]}, ":*"]]}


def test_starters_invoke_only_their_workflows_aliases_and_the_api_alone_steers_runs(template: Template) -> None:
    ids, aliases = ttai_function_ids(template), _aliases(template)
    for function in ttai_function_ids(template):
        if function in WORKFLOWS.values():
            continue
        statements = _lambda_statements(template, function)
        invoked = {
            next(iter(referenced_ids(r)))
            for s in statements
            if "lambda:InvokeFunction" in actions_of(s)
            for r in as_list(s["Resource"])
        }
        # Invokes of the durable host and the realtime function are test_realtime's.
        invoked -= {ids["durable"], ids["realtime"]}
        assert invoked == {aliases[b] for b in STARTS.get(function, set())}, function
        steered = [s for s in statements if actions_of(s) & set(STEER_ACTIONS)]
        if function != "api":
            assert steered == [], function
            continue
        [statement] = steered
        assert actions_of(statement) == set(STEER_ACTIONS)
        targets = {next(iter(referenced_ids(r))) for r in as_list(statement["Resource"])}
        assert targets == {ids[WORKFLOWS[b]] for b in STARTS["api"]}  # never the backup's runs


def test_the_workflows_table_keys_ttl_and_who_reads_it(
    template: Template, config: EnvironmentConfig, layout: StorageLayout
) -> None:
    [table_id] = referenced_ids(variables_of(template, "backup_workflow")["TTAI_WORKFLOWS_TABLE"])
    table = resources(template, "AWS::DynamoDB::Table")[table_id]["Properties"]
    spec = layout.workflows
    assert table["KeySchema"] == [
        {"AttributeName": spec.partition_key.name, "KeyType": "HASH"},
        {"AttributeName": spec.sort_key.name, "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table.get("DeletionProtectionEnabled", False) == config.deletion_protection
    for function in ttai_function_ids(template):
        records = [
            s
            for s in statements_of_function(template, function)
            if any(table_id in referenced_ids(r) for r in as_list(s["Resource"]))
        ]
        users = {*STARTS, *WORKFLOWS.values()}
        assert bool(records) == (function in users), function
        for statement in records:
            assert actions_of(statement) == set(RECORD_ACTIONS), function


def test_a_workflow_execution_role_holds_no_managed_policy(template: Template) -> None:
    for name in WORKFLOWS.values():
        role_id = ttai_functions(template)[name]["Properties"]["Role"]["Fn::GetAtt"][0]
        role = resources(template, "AWS::IAM::Role")[role_id]["Properties"]
        assert "ManagedPolicyArns" not in role  # AWSLambdaBasicDurableExecutionRolePolicy would grant logs:* on *
