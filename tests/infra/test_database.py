"""The D1 database on AWS: Aurora Serverless v2 behind the Data API, an isolated VPC, credentials Aurora rotates,
migrations on deploy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.config import EnvironmentConfig
from infra.constructs.database import Database
from tests.infra._template import (
    Resource,
    as_list,
    referenced_ids,
    resources,
    role_id,
    statements_of_role,
    the_resource,
    ttai_function_ids,
    ttai_functions,
)

pytestmark = pytest.mark.slow

DATA_API_ACTIONS = {
    "rds-data:BatchExecuteStatement",
    "rds-data:BeginTransaction",
    "rds-data:CommitTransaction",
    "rds-data:ExecuteStatement",
    "rds-data:RollbackTransaction",
}
NETWORK = ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup", "AWS::RDS::DBSubnetGroup")
DELETION_POLICIES = {"destroy": "Delete", "snapshot": "Snapshot", "retain": "Retain"}
# Anything that could give the isolated subnets a way out of the VPC.
EGRESS_PATHS = (
    "AWS::EC2::InternetGateway",
    "AWS::EC2::EgressOnlyInternetGateway",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::NatGateway",
    "AWS::EC2::TransitGatewayAttachment",
    "AWS::EC2::VPNGateway",
    "AWS::EC2::Route",
)


def _cluster(template: Template) -> tuple[str, Resource]:
    return the_resource(template, "AWS::RDS::DBCluster")


def _db_secret(template: Template) -> dict[str, list[str]]:
    """The ARN of the secret Aurora keeps the master user's credentials in."""
    cluster_id, _ = _cluster(template)
    return {"Fn::GetAtt": [cluster_id, "MasterUserSecret.SecretArn"]}


def _trigger(template: Template) -> Resource:
    return the_resource(template, "Custom::Trigger")[1]


def _statements_with(template: Template, function: str, prefix: str) -> list[dict[str, Any]]:
    function_resource = ttai_functions(template)[function]
    return [
        statement
        for statement in statements_of_role(template, role_id(function_resource))
        if any(action.startswith(prefix) for action in as_list(statement["Action"]))
    ]


class TestCluster:
    def test_aurora_postgresql_that_can_scale_to_zero(self, template: Template):
        _, cluster = _cluster(template)
        properties = cluster["Properties"]
        assert properties["Engine"] == "aurora-postgresql"
        assert properties["EngineVersion"] == Database.ENGINE_VERSION.aurora_postgres_full_version
        major, minor = (int(part) for part in properties["EngineVersion"].split(".")[:2])
        assert (major, minor) >= (16, 3), "0 ACU and auto-pause need Aurora PostgreSQL 16.3 or later"
        assert properties["DatabaseName"] == "ttai"

    def test_data_api_on_and_storage_encrypted_with_a_rotated_key(self, template: Template):
        _, cluster = _cluster(template)
        properties = cluster["Properties"]
        assert properties["EnableHttpEndpoint"] is True
        assert properties["StorageEncrypted"] is True
        key_id = properties["KmsKeyId"]["Fn::GetAtt"][0]
        assert resources(template, "AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
        assert "EnableIAMDatabaseAuthentication" not in properties

    def test_capacity_and_pausing_follow_the_environment(self, template: Template, config: EnvironmentConfig):
        _, cluster = _cluster(template)
        settings = config.database
        scaling = cluster["Properties"]["ServerlessV2ScalingConfiguration"]
        assert scaling["MinCapacity"] == settings.min_capacity_acu
        assert scaling["MaxCapacity"] == settings.max_capacity_acu
        if settings.auto_pause_minutes is None:
            assert "SecondsUntilAutoPause" not in scaling
        else:
            assert scaling["SecondsUntilAutoPause"] == settings.auto_pause_minutes * 60

    def test_backups_protection_and_removal_follow_the_environment(self, template: Template, config: EnvironmentConfig):
        _, cluster = _cluster(template)
        assert cluster["Properties"]["DeletionProtection"] is config.deletion_protection
        assert cluster["Properties"]["BackupRetentionPeriod"] == config.database.backup_retention_days
        assert cluster["DeletionPolicy"] == DELETION_POLICIES[config.database.removal_policy]
        assert cluster["UpdateReplacePolicy"] == DELETION_POLICIES[config.database.removal_policy]

    def test_one_serverless_writer_that_is_not_public(self, template: Template):
        cluster_id, _ = _cluster(template)
        _, writer = the_resource(template, "AWS::RDS::DBInstance")
        assert writer["Properties"]["DBInstanceClass"] == "db.serverless"
        assert writer["Properties"]["DBClusterIdentifier"] == {"Ref": cluster_id}
        assert writer["Properties"]["PubliclyAccessible"] is False

    def test_postgresql_logs_are_exported_to_a_group_with_our_retention(
        self, template: Template, config: EnvironmentConfig
    ):
        _, cluster = _cluster(template)
        properties = cluster["Properties"]
        assert properties["EnableCloudwatchLogsExports"] == ["postgresql"]
        [(group_id, group)] = [
            (logical_id, group)
            for logical_id, group in resources(template, "AWS::Logs::LogGroup").items()
            if group["Properties"].get("LogGroupName")
            == f"/aws/rds/cluster/{properties['DBClusterIdentifier']}/postgresql"
        ]
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days
        assert group_id in cluster["DependsOn"]

    def test_aurora_generates_and_keeps_the_credentials(self, template: Template):
        _, cluster = _cluster(template)
        properties = cluster["Properties"]
        assert properties["ManageMasterUserPassword"] is True
        assert properties["MasterUsername"] == Database.MASTER_USERNAME
        assert "MasterUserPassword" not in properties
        # No secret of our own for the database: Aurora's is named rds!cluster-... and lives and dies with it.
        assert not resources(template, "AWS::SecretsManager::SecretTargetAttachment")
        assert not any(
            secret["Properties"].get("Name", "").endswith("/database")
            for secret in resources(template, "AWS::SecretsManager::Secret").values()
        )


class TestCredentials:
    def test_aurora_rotates_them_without_a_function_or_an_endpoint_in_the_vpc(self, template: Template):
        # The Data API accepts the secret Aurora manages; rotating it is Aurora's job, so the VPC holds no rotation
        # function and no Secrets Manager interface endpoint (7.30 USD a month for one AZ).
        assert resources(template, "AWS::SecretsManager::RotationSchedule") == {}
        assert resources(template, "AWS::Serverless::Application") == {}
        assert resources(template, "AWS::EC2::VPCEndpoint") == {}

    def test_nothing_in_the_vpc_reaches_the_cluster(self, template: Template):
        _, cluster = _cluster(template)
        [cluster_group] = [group["Fn::GetAtt"][0] for group in cluster["Properties"]["VpcSecurityGroupIds"]]
        groups = resources(template, "AWS::EC2::SecurityGroup")
        assert list(groups) == [cluster_group]
        assert "SecurityGroupIngress" not in groups[cluster_group]["Properties"]
        assert resources(template, "AWS::EC2::SecurityGroupIngress") == {}

    def test_no_security_group_keeps_the_default_allow_all_egress(self, template: Template):
        # EC2 gives a group created without inline egress rules "all traffic to 0.0.0.0/0".
        for logical_id, group in resources(template, "AWS::EC2::SecurityGroup").items():
            egress = group["Properties"].get("SecurityGroupEgress")
            assert egress, logical_id
            assert all(rule.get("CidrIp") != "0.0.0.0/0" for rule in egress), logical_id


class TestNetwork:
    def test_nothing_leads_out_of_the_vpc(self, template: Template):
        for resource_type in EGRESS_PATHS:
            assert resources(template, resource_type) == {}, resource_type

    def test_the_database_lives_in_isolated_subnets_of_two_azs_chosen_without_lookups(self, template: Template):
        _, subnet_group = the_resource(template, "AWS::RDS::DBSubnetGroup")
        subnet_ids = [subnet["Ref"] for subnet in subnet_group["Properties"]["SubnetIds"]]
        subnets = resources(template, "AWS::EC2::Subnet")
        zones = []
        for subnet_id in subnet_ids:
            properties = subnets[subnet_id]["Properties"]
            assert properties["MapPublicIpOnLaunch"] is False
            index, azs = properties["AvailabilityZone"]["Fn::Select"]
            assert azs == {"Fn::GetAZs": ""}
            zones.append(index)
        assert sorted(zones) == [0, 1]

    def test_no_function_runs_in_the_vpc(self, template: Template):
        for logical_id, function in resources(template, "AWS::Lambda::Function").items():
            assert "VpcConfig" not in function["Properties"], logical_id

    def test_vpc_traffic_is_logged(self, template: Template, config: EnvironmentConfig):
        vpc_id, _ = the_resource(template, "AWS::EC2::VPC")
        _, flow_log = the_resource(template, "AWS::EC2::FlowLog")
        properties = flow_log["Properties"]
        assert properties["ResourceId"] == {"Ref": vpc_id}
        assert properties["ResourceType"] == "VPC"
        assert properties["TrafficType"] == "ALL"
        group = resources(template, "AWS::Logs::LogGroup")[properties["LogGroupName"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days

    def test_a_retained_cluster_keeps_the_network_it_sits_in(self, template: Template, config: EnvironmentConfig):
        # Deleting the VPC under a cluster that stays would fail the stack's deletion half-way.
        retained = config.database.removal_policy == "retain"
        for resource_type in NETWORK:
            for logical_id, resource in resources(template, resource_type).items():
                assert (resource.get("DeletionPolicy") == "Retain") is retained, logical_id


class TestDataApiAccess:
    @pytest.mark.parametrize("function", ["api", "auth", "migrate"])
    def test_function_gets_the_database_variables(self, template: Template, function: str):
        cluster_id, _ = _cluster(template)
        variables = ttai_functions(template)[function]["Properties"]["Environment"]["Variables"]
        assert referenced_ids(variables["TTAI_DB_CLUSTER_ARN"]) == {cluster_id}
        assert ":cluster:" in str(variables["TTAI_DB_CLUSTER_ARN"])
        assert variables["TTAI_DB_SECRET_ARN"] == _db_secret(template)
        assert variables["TTAI_DB_NAME"] == "ttai"

    @pytest.mark.parametrize("function", ["api", "auth", "migrate"])
    def test_function_may_use_the_data_api_on_this_cluster_only(self, template: Template, function: str):
        cluster_id, _ = _cluster(template)
        statements = _statements_with(template, function, "rds-data:")
        assert {action for statement in statements for action in as_list(statement["Action"])} == DATA_API_ACTIONS
        for statement in statements:
            for resource in as_list(statement["Resource"]):
                assert resource != "*"
                assert referenced_ids(resource) == {cluster_id}
                assert ":cluster:" in str(resource)

    @pytest.mark.parametrize("function", ["api", "auth", "migrate"])
    def test_function_reads_the_database_secret(self, template: Template, function: str):
        secret = _db_secret(template)
        reads = [
            statement
            for statement in _statements_with(template, function, "secretsmanager:")
            if secret in as_list(statement["Resource"])
        ]
        assert any("secretsmanager:GetSecretValue" in as_list(statement["Action"]) for statement in reads)

    def test_authorizer_has_no_way_into_the_database(self, template: Template):
        authorizer = ttai_functions(template)["authorizer"]
        statements = statements_of_role(template, role_id(authorizer))
        assert not any(action.startswith("rds") for s in statements for action in as_list(s["Action"]))
        cluster_id, _ = _cluster(template)  # its ARN, and its secret's
        assert not any(cluster_id in referenced_ids(s["Resource"]) for s in statements)
        variables = authorizer["Properties"]["Environment"]["Variables"]
        assert not any(name.startswith("TTAI_DB_") for name in variables)


class TestMigrationsOnDeploy:
    def test_the_trigger_invokes_the_current_version_of_migrate(self, template: Template):
        trigger = _trigger(template)["Properties"]
        version = resources(template, "AWS::Lambda::Version")[trigger["HandlerArn"]["Ref"]]
        assert version["Properties"]["FunctionName"] == {"Ref": ttai_function_ids(template)["migrate"]}
        assert trigger["InvocationType"] == "RequestResponse"
        assert trigger["ExecuteOnHandlerChange"] is True

    def test_the_trigger_waits_for_the_database_and_for_migrate(self, template: Template, config: EnvironmentConfig):
        trigger = _trigger(template)
        cluster_id, _ = _cluster(template)
        writer_id, _ = the_resource(template, "AWS::RDS::DBInstance")
        assert {cluster_id, writer_id} <= set(trigger["DependsOn"])
        assert int(trigger["Properties"]["Timeout"]) > config.functions.migrate.timeout_seconds * 1000
        assert ttai_functions(template)["migrate"]["Properties"]["Timeout"] == config.functions.migrate.timeout_seconds

    def test_a_new_layer_reruns_the_migrations(self, template: Template):
        # The migration files ship in the shared layer: a changed layer is a new LayerVersion, so a new ARN here.
        [shared_layer] = ttai_functions(template)["migrate"]["Properties"]["Layers"]
        assert _trigger(template)["Properties"]["LayerVersionArn"] == shared_layer

    def test_the_trigger_provider_logs_to_its_own_group_and_only_invokes_migrate(
        self, template: Template, config: EnvironmentConfig
    ):
        provider_id = _trigger(template)["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        provider = resources(template, "AWS::Lambda::Function")[provider_id]
        log_group_id = provider["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        log_group = resources(template, "AWS::Logs::LogGroup")[log_group_id]
        assert log_group["Properties"]["RetentionInDays"] == config.log_retention_days
        role = resources(template, "AWS::IAM::Role")[role_id(provider)]
        assert "ManagedPolicyArns" not in role["Properties"]
        migrate_id = ttai_function_ids(template)["migrate"]
        for statement in statements_of_role(template, role_id(provider)):
            actions = set(as_list(statement["Action"]))
            if actions == {"lambda:InvokeFunction"}:
                assert [referenced_ids(resource) for resource in as_list(statement["Resource"])] == [{migrate_id}]
            else:
                assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}
                assert statement["Resource"] == [{"Fn::GetAtt": [log_group_id, "Arn"]}]


class TestEnvironments:
    def test_every_environment_can_pause_and_prod_is_protected(self, synthesized):
        scaling = {
            name: _cluster(template)[1]["Properties"]["ServerlessV2ScalingConfiguration"]
            for name, template in synthesized.templates.items()
        }
        for paused in ("dev", "staging", "prod"):  # prod's minimum is raised by schedule while the market trades
            assert scaling[paused]["MinCapacity"] == 0
            assert scaling[paused]["SecondsUntilAutoPause"] > 0
        _, prod = _cluster(synthesized.templates["prod"])
        assert prod["Properties"]["DeletionProtection"] is True
        assert prod["Properties"]["BackupRetentionPeriod"] >= 7
        assert prod["DeletionPolicy"] == "Retain"
        assert _cluster(synthesized.templates["dev"])[1]["DeletionPolicy"] == "Delete"
