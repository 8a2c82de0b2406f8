"""The D1 database: Aurora Serverless v2 PostgreSQL in isolated subnets, reached only through the RDS Data API."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import log_group, log_retention, removal_policy
from infra.nag import acknowledge
from infra.storage_layout import D1Binding, VectorIndexSpec, VectorizeBinding

_CLUSTER_REMOVAL_POLICIES = {
    "destroy": cdk.RemovalPolicy.DESTROY,
    "snapshot": cdk.RemovalPolicy.SNAPSHOT,
    "retain": cdk.RemovalPolicy.RETAIN,
}
# What a retained cluster still sits in: deleting these under it would fail the stack's deletion half-way.
_NETWORK_RESOURCE_TYPES = (
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::SecurityGroup",
)


class Database(Construct):
    """The cluster, its own VPC (isolated subnets only: no NAT, no internet gateway) and its rotated credentials.

    Functions stay outside the VPC: they call the Data API over HTTPS with the cluster ARN and the secret ARN.
    Nothing has a network path to the cluster: its security group admits no one. Aurora manages the master
    user's secret and rotates it itself (ManageMasterUserPassword), so no rotation function runs in the VPC and
    the VPC needs no Secrets Manager endpoint (an interface endpoint bills every hour, about 7.30 USD a month).
    """

    CLUSTER_ARN_ENV = "TTAI_DB_CLUSTER_ARN"
    SECRET_ARN_ENV = "TTAI_DB_SECRET_ARN"  # noqa: S105 - the name of a variable, not a secret
    NAME_ENV = "TTAI_DB_NAME"
    VECTORIZE_INDEX_ENV = "TTAI_VECTORIZE_INDEX"
    VECTORIZE_DIMENSIONS_ENV = "TTAI_VECTORIZE_DIMENSIONS"
    VECTORIZE_METRIC_ENV = "TTAI_VECTORIZE_METRIC"

    # The newest Aurora PostgreSQL CDK knows; 16.3 and later (all of 17) can scale to 0 ACU and pause.
    ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_17_9
    DATABASE_NAME = "ttai"
    MASTER_USERNAME = "ttai_admin"
    LOG_EXPORTS = ("postgresql",)
    AZ_COUNT = 2
    # A /24 per subnet holds the cluster's network interfaces many times over.
    SUBNET_CIDR_MASK = 24

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        settings = config.database
        cluster_removal = _CLUSTER_REMOVAL_POLICIES[settings.removal_policy]
        # The key outlives a deleted cluster unless it is destroyed outright: a snapshot needs it.
        kept_with_data = cdk.RemovalPolicy.DESTROY if settings.removal_policy == "destroy" else cdk.RemovalPolicy.RETAIN

        self.vpc = self._network(config)
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        # A customer-managed key (about 1 USD a month) rather than the AWS-managed aws/rds key: only a key of our
        # own can have its policy extended to share encrypted snapshots with a backup or restore account.
        self.key = kms.Key(
            self,
            "StorageKey",
            description=f"ttai {config.name}: encrypts the Aurora cluster's storage and snapshots",
            enable_key_rotation=True,
            removal_policy=kept_with_data,
        )
        # The database itself initiates no connections: no egress at all.
        self.security_group = ec2.SecurityGroup(
            self,
            "ClusterSecurityGroup",
            vpc=self.vpc,
            description=f"ttai {config.name} Aurora cluster: no ingress, reached only through the RDS Data API",
            allow_all_outbound=False,
        )

        self.cluster_identifier = f"ttai-{config.name}"
        # Created before the cluster so the exported logs get our retention, without CDK's log-retention custom
        # resource (a Node.js function whose role may change the retention of every log group in the account).
        exported_logs = [
            logs.LogGroup(
                self,
                f"{export.capitalize()}Logs",
                log_group_name=f"/aws/rds/cluster/{self.cluster_identifier}/{export}",
                retention=log_retention(config),
                removal_policy=removal_policy(config),
            )
            for export in self.LOG_EXPORTS
        ]

        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=self.ENGINE_VERSION),
            cluster_identifier=self.cluster_identifier,
            # Aurora generates the password, keeps it in a secret of its own (named rds!cluster-...) and rotates
            # it every 7 days; the Data API reads that secret on each call, so a new password needs no restart.
            credentials=rds.Credentials.from_username(self.MASTER_USERNAME),
            manage_master_user_password=True,
            default_database_name=self.DATABASE_NAME,
            writer=rds.ClusterInstance.serverless_v2("Writer", publicly_accessible=False),
            serverless_v2_min_capacity=settings.min_capacity_acu,
            serverless_v2_max_capacity=settings.max_capacity_acu,
            serverless_v2_auto_pause_duration=(
                None if settings.auto_pause_minutes is None else cdk.Duration.minutes(settings.auto_pause_minutes)
            ),
            enable_data_api=True,
            vpc=self.vpc,
            vpc_subnets=isolated,
            security_groups=[self.security_group],
            storage_encrypted=True,
            storage_encryption_key=self.key,
            cloudwatch_logs_exports=list(self.LOG_EXPORTS),
            backup=rds.BackupProps(retention=cdk.Duration.days(settings.backup_retention_days)),
            deletion_protection=config.deletion_protection,
            removal_policy=cluster_removal,
        )
        cluster_resource = cast(rds.CfnDBCluster, self.cluster.node.default_child)
        for group in exported_logs:
            cluster_resource.node.add_dependency(group)
        # Aurora deletes its secret with the cluster and makes a new one for a restored snapshot.
        self.secret = cast(secretsmanager.ISecret, self.cluster.secret)
        if cluster_removal == cdk.RemovalPolicy.RETAIN:
            cdk.RemovalPolicies.of(self).retain(apply_to_resource_types=list(_NETWORK_RESOURCE_TYPES))

        acknowledge(
            self.cluster,
            "AwsSolutions-RDS6",
            "Functions reach the cluster only through the RDS Data API, which IAM authorizes (rds-data actions on "
            "this cluster's ARN) and which signs in with the credentials secret; IAM database authentication "
            "would have no client.",
        )
        if not config.deletion_protection:
            acknowledge(
                self.cluster,
                "AwsSolutions-RDS10",
                f"{config.name} is an environment without deletion protection on any resource, so that "
                f"`cdk destroy` can remove it; its database removal policy ({settings.removal_policy}) decides "
                "whether a final snapshot is kept.",
            )

    def _network(self, config: EnvironmentConfig) -> ec2.Vpc:
        # Without an account the stack is environment-agnostic: the VPC picks its AZs with Fn::GetAZs, no lookup.
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=self.AZ_COUNT,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=self.SUBNET_CIDR_MASK
                )
            ],
        )
        vpc.add_flow_log(
            "FlowLogs",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(log_group(self, "FlowLogsGroup", config)),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc

    @property
    def data_api_ready(self) -> list[Construct]:
        """What must exist before a Data API call can succeed: the cluster and its writer instance."""
        return [
            cast(Construct, self.cluster.node.default_child),
            cast(Construct, self.cluster.node.find_child("Writer")),
        ]

    def bind_vectorize(
        self, grantee: iam.IGrantable, binding: VectorizeBinding, index: VectorIndexSpec
    ) -> dict[str, str]:
        """A Vectorize index lives in this database (pgvector), so it is reached as D1 is; returns the database's
        variables and the index's name, dimensions and metric (ttai.bindings.vectorize checks them on each call)."""
        return {
            **self.bind(grantee, D1Binding(type="d1")),
            self.VECTORIZE_INDEX_ENV: binding.index,
            self.VECTORIZE_DIMENSIONS_ENV: str(index.dimensions),
            self.VECTORIZE_METRIC_ENV: index.metric,
        }

    def bind(self, grantee: iam.IGrantable, binding: D1Binding) -> dict[str, str]:
        """Run statements through the Data API on this cluster (rds-data actions, and reading its credentials
        secret); returns the variables the D1 binding reads."""
        self.cluster.grant_data_api_access(grantee)
        return {
            self.CLUSTER_ARN_ENV: self.cluster.cluster_arn,
            self.SECRET_ARN_ENV: self.secret.secret_arn,
            self.NAME_ENV: self.DATABASE_NAME,
        }
