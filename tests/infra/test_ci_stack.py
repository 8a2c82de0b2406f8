"""The ci stack: GitHub's OIDC provider, and per environment a role that only that repository's jobs in that GitHub
environment can assume and whose one permission is assuming the environment's CDK bootstrap roles."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.application import build_app
from infra.ci_stack import CiStage
from infra.config import ConfigError, load_ci_settings
from infra.paths import PROJECT_ROOT
from tests.infra._template import resources, statements_of_role, the_resource

pytestmark = pytest.mark.slow

ISSUER = "token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def ci_stage(synthesized) -> CiStage:
    stage = synthesized.app.node.find_child(CiStage.NAME)
    assert isinstance(stage, CiStage)
    return stage


@pytest.fixture(scope="module")
def ci_template(ci_stage: CiStage) -> Template:
    return Template.from_stack(ci_stage.stack)


def _render(value: Any) -> str:
    """A CloudFormation string expression as text, references as ${Name}."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    separator, parts = value["Fn::Join"]
    return str(separator).join(_render(part) for part in parts)


def _role_by_environment(template: Template, environment: str) -> tuple[str, dict[str, Any]]:
    [found] = [
        (logical_id, role)
        for logical_id, role in resources(template, "AWS::IAM::Role").items()
        if role["Properties"]["RoleName"] == f"ttai-github-deploy-{environment}"
    ]
    return found


def test_github_oidc_provider_for_sts(ci_template: Template):
    _, provider = the_resource(ci_template, "AWS::IAM::OIDCProvider")
    assert provider["Properties"]["Url"] == f"https://{ISSUER}"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


def test_one_deploy_role_per_deploy_environment(ci_template: Template, cdk_context):
    settings = load_ci_settings(cdk_context)
    assert set(settings.deploy_environments) == {"staging", "prod"}
    names = {role["Properties"]["RoleName"] for role in resources(ci_template, "AWS::IAM::Role").values()}
    assert names == {"ttai-github-deploy-staging", "ttai-github-deploy-prod"}


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_role_trusts_only_this_repository_in_that_environment(ci_template: Template, cdk_context, environment: str):
    github = cdk_context["ci"]["github"]
    [provider_id] = resources(ci_template, "AWS::IAM::OIDCProvider")
    _, role = _role_by_environment(ci_template, environment)
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": {"Ref": provider_id}},
        "Condition": {
            "StringEquals": {
                f"{ISSUER}:aud": "sts.amazonaws.com",
                f"{ISSUER}:sub": f"repo:{github['owner']}/{github['repository']}:environment:{environment}",
            }
        },
    }
    assert role["Properties"]["MaxSessionDuration"] == 3600


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_role_may_only_assume_the_bootstrap_roles(ci_template: Template, synthesized, environment: str):
    logical_id, role = _role_by_environment(ci_template, environment)
    assert "ManagedPolicyArns" not in role["Properties"]
    [statement] = statements_of_role(ci_template, logical_id)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    region = synthesized.configs[environment].region
    assert {_render(arn) for arn in statement["Resource"]} == {
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/cdk-hnb659fds-{kind}-role-${{AWS::AccountId}}-{region}"
        for kind in ("lookup", "file-publishing", "deploy")
    }


def test_role_arns_are_outputs(ci_template: Template):
    outputs = ci_template.find_outputs("*")
    for environment in ("staging", "prod"):
        logical_id, _ = _role_by_environment(ci_template, environment)
        assert {"Fn::GetAtt": [logical_id, "Arn"]} in [output["Value"] for output in outputs.values()]


@pytest.mark.parametrize("pack", [AwsSolutionsChecks, ServerlessChecks])
def test_ci_stage_passes_cdk_nag(ci_stage: CiStage, pack: type):
    assert [violation.rule_name for violation in pack().validate_scope(ci_stage).violations] == []


def test_env_ci_builds_the_ci_stage_alone(cdk_context, tmp_path: Path):
    app = cdk.App(outdir=str(tmp_path), context={**cdk_context, "env": "ci"})
    assert build_app(app, root=PROJECT_ROOT) == {}
    assert [child.node.id for child in app.node.children if isinstance(child, cdk.Stage)] == ["ci"]


def test_environments_get_no_deploy_role_unless_named(cdk_context, tmp_path: Path):
    context = copy.deepcopy(cdk_context)
    context["ci"]["deploy_environments"] = ["staging"]
    app = cdk.App(outdir=str(tmp_path), context={**context, "env": "ci"})
    build_app(app, root=PROJECT_ROOT)
    stage = app.node.find_child(CiStage.NAME)
    assert isinstance(stage, CiStage)
    assert list(stage.stack.deploy_roles) == ["staging"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deploy_environments": ["staging", "qa"]}, "ci in cdk.json is invalid"),
        ({"deploy_environments": ["prod", "prod"]}, "names an environment twice"),
        ({"deploy_environments": []}, "ci in cdk.json is invalid"),
        ({"github": {"owner": "-ttai", "repository": "ttai"}}, "ci in cdk.json is invalid"),
        ({"github": {"owner": "ttai", "repository": "tt ai"}}, "ci in cdk.json is invalid"),
    ],
)
def test_bad_ci_settings_fail_with_a_clear_message(cdk_context, change: dict[str, Any], message: str):
    context = copy.deepcopy(cdk_context)
    context["ci"].update(change)
    with pytest.raises(ConfigError, match=message):
        load_ci_settings(context)


def test_ci_deploys_only_environments_cdk_json_defines(cdk_context):
    context = copy.deepcopy(cdk_context)
    del context["environments"]["staging"]
    with pytest.raises(ConfigError, match=r"ci\.deploy_environments names staging, which cdk\.json does not define"):
        load_ci_settings(context)
    del context["ci"]
    with pytest.raises(ConfigError, match="no 'ci' object"):
        load_ci_settings(context)
