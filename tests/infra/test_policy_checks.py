"""cdk-nag (AwsSolutions and Serverless packs) and cfn-lint find nothing unexplained in any environment."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, NagPack, ServerlessChecks

# pyproject's mypy override names the module cfn_lint; the import name is cfnlint.
from cfnlint.api import ManualArgs, lint_file

from infra.application import add_policy_checks, build_app
from infra.nag import acknowledge
from infra.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow

# cfn-lint warnings we accept, each with the reason; anything else (and every error) fails.
ACCEPTED_CFN_LINT_WARNINGS = {
    "W3005": (
        "CDK puts an explicit DependsOn on a function's role and its default policy next to the Fn::GetAtt "
        "of the role; the duplicate dependency is harmless and generated, not written by us."
    ),
}
# IAM actions cfn-lint's list does not know yet (W3037), each a real operation: Lambda's API model in botocore has
# them (tested below) and ttai.bindings.workflows.aws calls them. Any other unknown action still fails.
ACTIONS_CFN_LINT_DOES_NOT_KNOW = {
    "pausedurableexecution": ("lambda", "PauseDurableExecution"),
    "resumedurableexecution": ("lambda", "ResumeDurableExecution"),
}


def accepted_cfn_lint(match: Any) -> bool:
    """A warning accepted above, or W3037 about exactly one of the actions cfn-lint does not know yet."""
    if match.rule.id in ACCEPTED_CFN_LINT_WARNINGS:
        return True
    message = str(match.message)
    return match.rule.id == "W3037" and any(
        message.startswith(f"'{action}' is not one of") for action in ACTIONS_CFN_LINT_DOES_NOT_KNOW
    )


PACKS = {"AwsSolutions": AwsSolutionsChecks, "Serverless": ServerlessChecks}


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_no_unacknowledged_nag_findings(synthesized, env_name: str, pack: str):
    checks: NagPack = PACKS[pack]()
    report = checks.validate_scope(synthesized.stages[env_name])
    findings = [
        f"{violation.rule_name} on {[r.construct_path for r in violation.violating_resources]}: {violation.description}"
        for violation in report.violations
    ]
    assert findings == []


def test_every_acknowledgment_gives_a_reason(synthesized):
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledged = {}
    for construct in synthesized.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                acknowledged.update({f"{construct.node.path}: {rule}": reason for rule, reason in entry.data.items()})
    assert acknowledged, "the stacks acknowledge findings (X-Ray, the public health route ...)"
    for where, reason in acknowledged.items():
        assert len(reason.split()) >= 8, f"{where} is acknowledged without a real reason: {reason!r}"


def test_the_on_call_address_in_cdk_json_is_subscribed_to_the_alarm_topic_and_passes_both_packs(
    cdk_context, tmp_path: Path
):
    context = copy.deepcopy(cdk_context)
    context["environments"]["prod"]["alarms"]["email"] = "oncall@example.com"
    app = cdk.App(outdir=str(tmp_path), context={**context, "env": "prod"})
    stage = build_app(app, root=PROJECT_ROOT)["prod"]
    template = Template.from_stack(stage.stack)
    [subscription] = template.find_resources("AWS::SNS::Subscription").values()
    properties = subscription["Properties"]
    assert (properties["Protocol"], properties["Endpoint"]) == ("email", "oncall@example.com")
    # The topic every alarm sends to.
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [properties["TopicArn"]]
    for pack in PACKS.values():
        assert [violation.rule_name for violation in pack().validate_scope(stage).violations] == []


def _probe_app(outdir: Path, *, acknowledged: bool) -> cdk.App:
    app = cdk.App(outdir=str(outdir))
    bucket = s3.Bucket(cdk.Stack(cdk.Stage(app, "probe"), "Probe"), "Bucket", enforce_ssl=True)
    if acknowledged:
        acknowledge(bucket, "AwsSolutions-S1", "a probe bucket that exists only inside this test run")
    add_policy_checks(app)
    return app


def test_synth_fails_on_an_unacknowledged_finding(tmp_path: Path):
    with pytest.raises(RuntimeError, match=r"AwsSolutions-S1\b"):
        _probe_app(tmp_path / "plain", acknowledged=False).synth()
    _probe_app(tmp_path / "acknowledged", acknowledged=True).synth()


def test_cfn_lint_finds_no_errors_and_only_accepted_warnings(synthesized):
    templates = sorted(synthesized.outdir.rglob("*.template.json"))
    assert len(templates) == len(synthesized.stages) + 1, "every environment's stack and the ci stack"
    regions = sorted({config.region for config in synthesized.configs.values()})
    problems = []
    for template in templates:
        for match in lint_file(template, ManualArgs(regions=regions)):
            if not accepted_cfn_lint(match):
                problems.append(f"{template.relative_to(synthesized.outdir)}:{match.linenumber} {match}")
    assert problems == []


def test_the_actions_cfn_lint_does_not_know_are_operations_of_their_service():
    session = botocore.session.get_session()
    for service, operation in ACTIONS_CFN_LINT_DOES_NOT_KNOW.values():
        assert operation in session.get_service_model(service).operation_names
