"""Acknowledging cdk-nag findings: one rule (or one finding of it) at a time, always with its reason."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge `rule_id` on `scope` and every construct under it.

    cdk-nag 3 replaced NagSuppressions with CDK's own Validations acknowledgments; it looks them up on a
    resource and all of its ancestors, which is what apply_to_children did in cdk-nag 2.
    """
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def wildcard_finding(kind: str, flattened: str) -> str:
    """The finding suffix cdk-nag gives one wildcard in an IAM policy (`Action::s3:List*`, `Resource::<X.Arn>/*`)."""
    return f"{kind}::{flattened}"


def logical_id(element: cdk.CfnElement) -> str:
    return cdk.Stack.of(element).get_logical_id(element)
