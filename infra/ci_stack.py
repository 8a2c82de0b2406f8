"""The `ci` stack: GitHub's OIDC provider and one deploy role per environment, so GitHub Actions deploys with
short-lived credentials and no stored keys.

A role trusts only tokens GitHub issues for this repository to a job running in the GitHub environment of the same
name, and may do one thing: assume the CDK bootstrap roles of that environment's account and region, which carry the
actual deploy permissions (`cdk bootstrap` made them; the CLI assumes them for lookups, assets and CloudFormation).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import CiSettings, EnvironmentConfig

GITHUB_OIDC_ISSUER = "token.actions.githubusercontent.com"
# The audience configure-aws-credentials asks GitHub to put in its tokens.
STS_AUDIENCE = "sts.amazonaws.com"
# What `cdk diff` and `cdk deploy` assume: lookups and reading the deployed template, publishing the file assets
# (the Lambda code and layers), and the CloudFormation deployment. Not the image-publishing role: no Docker images.
BOOTSTRAP_ROLE_KINDS = ("lookup", "file-publishing", "deploy")
# A deploy of one environment takes minutes; an hour is the shortest session STS allows a role to be set to.
DEPLOY_SESSION = cdk.Duration.hours(1)


def bootstrap_role_arn(config: EnvironmentConfig, kind: str) -> str:
    """The ARN `cdk bootstrap` (default qualifier) gives the `kind` role in the environment's account and region;
    an environment without a pinned account deploys into the account of this stack."""
    account = config.account or cdk.Aws.ACCOUNT_ID
    qualifier = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    return f"arn:{cdk.Aws.PARTITION}:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{config.region}"


def deploy_role_name(environment: str) -> str:
    return f"ttai-github-deploy-{environment}"


class GithubDeployStack(cdk.Stack):
    """The OIDC provider and the deploy roles; each role's ARN is an output, for the GitHub environment's variables."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: CiSettings, environments: Sequence[EnvironmentConfig]
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name="ttai-ci",
            description=f"TTAI deploy roles for GitHub Actions in {settings.github.full_name}",
        )
        provider = iam.OidcProviderNative(
            self, "GithubOidcProvider", url=f"https://{GITHUB_OIDC_ISSUER}", client_ids=[STS_AUDIENCE]
        )
        self.deploy_roles: dict[str, iam.Role] = {}
        for config in environments:
            role = iam.Role(
                self,
                f"{config.name.capitalize()}DeployRole",
                role_name=deploy_role_name(config.name),
                description=f"GitHub Actions deploys {config.name} from {settings.github.full_name}",
                assumed_by=iam.WebIdentityPrincipal(
                    provider.oidc_provider_arn,
                    conditions={
                        "StringEquals": {
                            f"{GITHUB_OIDC_ISSUER}:aud": STS_AUDIENCE,
                            f"{GITHUB_OIDC_ISSUER}:sub": settings.github.environment_subject(config.name),
                        }
                    },
                ),
                max_session_duration=DEPLOY_SESSION,
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["sts:AssumeRole"],
                    resources=[bootstrap_role_arn(config, kind) for kind in BOOTSTRAP_ROLE_KINDS],
                )
            )
            self.deploy_roles[config.name] = role
            cdk.CfnOutput(
                self,
                f"{config.name.capitalize()}DeployRoleArn",
                value=role.role_arn,
                description=f"AWS_DEPLOY_ROLE_ARN of the GitHub environment {config.name}",
            )


class CiStage(cdk.Stage):
    """`cdk deploy 'ci/*'` (make deploy-ci): deployed once per account, before the first pipeline run."""

    NAME = "ci"
    STACK_ID = "GithubDeploy"

    def __init__(self, scope: Construct, *, settings: CiSettings, environments: Sequence[EnvironmentConfig]) -> None:
        super().__init__(scope, self.NAME)
        self.stack = GithubDeployStack(self, self.STACK_ID, settings=settings, environments=environments)
        cdk.Tags.of(self).add("project", "ttai")
        cdk.Tags.of(self).add("environment", self.NAME)
