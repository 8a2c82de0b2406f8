"""Properties of the synthesized Ttai stack in every environment: storage, functions, API, least privilege."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.config import EnvironmentConfig
from infra.constructs.http_api import HttpApi
from infra.constructs.limits import AUTHORIZER_CACHE_SECONDS
from infra.constructs.secrets import ROTATION_EXEMPTIONS
from infra.constructs.workflows import RECORD_ACTIONS as WORKFLOW_RECORD_ACTIONS
from infra.paths import FUNCTIONS_DIR, PROJECT_ROOT
from infra.storage_layout import StorageLayout
from tests.infra._template import (
    Resource,
    as_list,
    referenced_ids,
    resources,
    role_id,
    statements_of_role,
    ttai_function_ids,
    ttai_functions,
    variable_target,
    variables_of,
)
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.slow

SIGN_IN_SECRETS = ("JWT_SECRET", "TOKEN_ENCRYPTION_KEY", "TASTYTRADE_CLIENT_ID", "TASTYTRADE_CLIENT_SECRET")
# Who may read the secrets of TastyTrade access: the key that seals users' tokens only the functions that use those
# tokens (auth: sign-in and POST /api/v1/positions/sync; scheduler: the pre-market sync of every user); the OAuth
# client those two and the api function, which refreshes the stack's market-data grant with it; the grant itself
# only the api function. A leak from the api function exposes no user's tokens.
TASTYTRADE_SECRET_READERS = {
    "TOKEN_ENCRYPTION_KEY": {"auth", "scheduler"},
    "TASTYTRADE_CLIENT_ID": {"auth", "scheduler", "api"},
    "TASTYTRADE_CLIENT_SECRET": {"auth", "scheduler", "api"},
    "TASTYTRADE_SERVICE_REFRESH_TOKEN": {"api"},
}
MARKET_DATA_SECRETS = ("TASTYTRADE_CLIENT_ID", "TASTYTRADE_CLIENT_SECRET", "TASTYTRADE_SERVICE_REFRESH_TOKEN")
BROKER_TOKEN_SECRETS = ("TOKEN_ENCRYPTION_KEY", "TASTYTRADE_CLIENT_ID", "TASTYTRADE_CLIENT_SECRET")

DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}


def _table_id(template: Template) -> str:
    """The KV table: the one the api function's TTAI_KV_TABLE names (the idempotency table is another)."""
    return variable_target(template, "api", "TTAI_KV_TABLE")


def _http_resources(template: Template, kind: str) -> dict[str, Resource]:
    """The HTTP API's resources of one AWS::ApiGatewayV2 kind (the WebSocket API has its own)."""
    found = resources(template, f"AWS::ApiGatewayV2::{kind}")
    if kind == "Api":
        return {i: r for i, r in found.items() if r["Properties"]["ProtocolType"] == "HTTP"}
    [api_id] = _http_resources(template, "Api")
    return {i: r for i, r in found.items() if r["Properties"]["ApiId"] == {"Ref": api_id}}


def _http_resource(template: Template, kind: str) -> tuple[str, Resource]:
    found = _http_resources(template, kind)
    assert len(found) == 1, f"expected one HTTP API {kind}, found {sorted(found)}"
    return next(iter(found.items()))


def _kv_table(template: Template) -> Resource:
    return resources(template, "AWS::DynamoDB::Table")[_table_id(template)]


def _secret_id(template: Template, config: EnvironmentConfig, name: str) -> str:
    [secret_id] = [
        logical_id
        for logical_id, secret in resources(template, "AWS::SecretsManager::Secret").items()
        if secret["Properties"].get("Name") == f"ttai/{config.name}/{name}"
    ]
    return secret_id


def _jwt_secret_id(template: Template, config: EnvironmentConfig) -> str:
    return _secret_id(template, config, "JWT_SECRET")


def _secrets_read_by(template: Template, function: str) -> list[Any]:
    statements = statements_of_role(template, role_id(ttai_functions(template)[function]))
    return [
        resource
        for statement in statements
        if any(action.startswith("secretsmanager:") for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
    ]


def _layer_ids(template: Template, function: str) -> list[str]:
    return [layer["Ref"] for layer in ttai_functions(template)[function]["Properties"]["Layers"]]


def _workflows_table_id(template: Template) -> str:
    [table_id] = referenced_ids(variables_of(template, "backup_workflow")["TTAI_WORKFLOWS_TABLE"])
    return table_id


def _layer_packages(synthesized: Synthesized, template: Template, layer_id: str) -> set[str]:
    """Top-level names under python/ in the layer's staged asset, as Lambda will unpack it."""
    layer = resources(template, "AWS::Lambda::LayerVersion")[layer_id]
    asset = synthesized.outdir / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    return {path.name for path in (asset / "python").iterdir()}


def _integrated_function(template: Template, route: Resource) -> str:
    """The name of our function a route's Lambda proxy integration invokes."""
    integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
    integration = resources(template, "AWS::ApiGatewayV2::Integration")[integration_id]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    names = {logical_id: name for name, logical_id in ttai_function_ids(template).items()}
    [function_id] = referenced_ids(integration["IntegrationUri"])
    return names[function_id]


def _overflow_bucket_id(template: Template) -> str:
    return variable_target(template, "api", "TTAI_KV_OVERFLOW_BUCKET")


class TestCacheTable:
    def test_table_is_on_demand_with_ttl_pitr_and_encryption(self, template: Template, layout: StorageLayout):
        properties = _kv_table(template)["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["TimeToLiveSpecification"] == {"AttributeName": layout.kv.ttl_attribute, "Enabled": True}
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert properties["KeySchema"] == [{"AttributeName": layout.kv.partition_key.name, "KeyType": "HASH"}]

    def test_list_index_matches_storage_json(self, template: Template, layout: StorageLayout):
        table = _kv_table(template)
        index = layout.kv.list_index
        [gsi] = table["Properties"]["GlobalSecondaryIndexes"]
        assert gsi["IndexName"] == index.name
        assert gsi["KeySchema"] == [
            {"AttributeName": index.partition_key.name, "KeyType": "HASH"},
            {"AttributeName": index.sort_key.name, "KeyType": "RANGE"},
        ]
        assert gsi["Projection"] == {
            "ProjectionType": "INCLUDE",
            "NonKeyAttributes": list(index.non_key_attributes),
        }
        types = {a["AttributeName"]: a["AttributeType"] for a in table["Properties"]["AttributeDefinitions"]}
        assert types[index.partition_key.name] == "N"
        assert types[index.sort_key.name] == "S"

    def test_removal_and_deletion_protection_follow_the_environment(
        self, template: Template, config: EnvironmentConfig
    ):
        table = _kv_table(template)
        assert table["DeletionPolicy"] == ("Retain" if config.retain else "Delete")
        assert table["Properties"]["DeletionProtectionEnabled"] is config.deletion_protection


class TestBuckets:
    def test_every_bucket_is_encrypted_private_and_tls_only(self, template: Template):
        buckets = resources(template, "AWS::S3::Bucket")
        assert buckets
        policies = resources(template, "AWS::S3::BucketPolicy")
        for logical_id, bucket in buckets.items():
            properties = bucket["Properties"]
            [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
            assert properties["PublicAccessBlockConfiguration"] == {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }
            denies_plain_http = [
                statement
                for policy in policies.values()
                if policy["Properties"]["Bucket"] == {"Ref": logical_id}
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                if statement["Effect"] == "Deny"
                and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                and statement["Action"] == "s3:*"
            ]
            assert denies_plain_http, f"{logical_id} accepts requests without TLS"

    def test_overflow_expires_tagged_objects_under_the_prefix(self, template: Template, layout: StorageLayout):
        bucket = resources(template, "AWS::S3::Bucket")[_overflow_bucket_id(template)]
        rules = {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
        expiring = [rule for rule in rules.values() if "TagFilters" in rule]
        assert sorted(rule["ExpirationInDays"] for rule in expiring) == sorted(layout.kv.overflow_expiry_days)
        for rule in expiring:
            assert rule["Status"] == "Enabled"
            assert rule["Prefix"] == layout.kv.overflow_prefix
            assert rule["TagFilters"] == [
                {"Key": layout.kv.overflow_expiry_tag, "Value": str(rule["ExpirationInDays"])}
            ]
        aborts = [rule for rule in rules.values() if "AbortIncompleteMultipartUpload" in rule]
        assert [rule["AbortIncompleteMultipartUpload"] for rule in aborts] == [{"DaysAfterInitiation": 1}]
        assert "VersioningConfiguration" not in bucket["Properties"]

    def test_overflow_logs_access_to_the_log_bucket(self, template: Template):
        overflow_id = _overflow_bucket_id(template)
        bucket = resources(template, "AWS::S3::Bucket")[overflow_id]
        destination = bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"]
        log_bucket_id = destination["Ref"]
        assert log_bucket_id != overflow_id
        assert log_bucket_id in resources(template, "AWS::S3::Bucket")


class TestFunctions:
    def test_every_function_exists(self, template: Template):
        assert set(ttai_functions(template)) == {
            "api",
            "auth",
            "authorizer",
            "migrate",
            "consumer",
            "scheduler",
            "analysis_workflow",
            "screener_workflow",
            "export_workflow",
            "backup_workflow",
            "durable",
            "realtime",
            "connect_authorizer",
        }

    def test_every_function_uses_the_house_defaults(self, template: Template, config: EnvironmentConfig):
        log_groups = resources(template, "AWS::Logs::LogGroup")
        for name, function in ttai_functions(template).items():
            properties = function["Properties"]
            settings = getattr(config.functions, name)
            assert properties["Architectures"] == ["arm64"]
            assert properties["Runtime"] == "python3.14"
            assert properties["Handler"] == "index.handler"
            assert properties["TracingConfig"] == {
                "Mode": {"active": "Active", "pass_through": "PassThrough"}[config.tracing]
            }
            assert properties["MemorySize"] == settings.memory_mb
            assert properties["Timeout"] == settings.timeout_seconds
            logging = properties["LoggingConfig"]
            assert logging["LogFormat"] == "JSON"
            assert logging["ApplicationLogLevel"] == {"WARNING": "WARN"}.get(config.log_level, config.log_level)
            log_group = log_groups[logging["LogGroup"]["Ref"]]
            assert log_group["Properties"]["RetentionInDays"] == config.log_retention_days
            assert log_group["DeletionPolicy"] == ("Retain" if config.retain else "Delete")
            variables = properties["Environment"]["Variables"]
            assert variables["TTAI_ENVIRONMENT"] == config.name
            assert variables["POWERTOOLS_SERVICE_NAME"] == f"ttai-{name}"
            assert variables["POWERTOOLS_LOG_LEVEL"] == config.log_level
            assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "TTAI"

    def test_every_function_runs_with_the_shared_layer_first(self, template: Template, synthesized: Synthesized):
        layers = resources(template, "AWS::Lambda::LayerVersion")
        for layer in layers.values():
            assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
            assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        shared = {_layer_ids(template, name)[0] for name in ttai_functions(template)}
        assert len(shared) == 1
        [shared_id] = shared
        packages = _layer_packages(synthesized, template, shared_id)
        assert {"ttai", "pydantic", "aws_lambda_powertools"} <= packages
        assert "cryptography" not in packages

    def test_broker_token_readers_get_the_cryptography_layer_job_runners_holidays_and_workflows_the_sdk(
        self, template: Template, synthesized: Synthesized
    ):
        shared_id, crypto_id = _layer_ids(template, "auth")
        same_shared_id, same_crypto_id, holidays_id = _layer_ids(template, "scheduler")
        also_shared_id, durable_id = _layer_ids(template, "backup_workflow")
        assert (same_shared_id, same_crypto_id) == (shared_id, crypto_id)
        assert also_shared_id == shared_id
        assert set(resources(template, "AWS::Lambda::LayerVersion")) == {shared_id, crypto_id, holidays_id, durable_id}
        packages = _layer_packages(synthesized, template, durable_id)
        assert "aws_durable_execution_sdk_python" in packages
        assert not packages & {"ttai", "pydantic", "boto3", "botocore", "jmespath", "holidays"}
        packages = _layer_packages(synthesized, template, crypto_id)
        assert "cryptography" in packages
        assert not packages & {"ttai", "pydantic", "boto3", "botocore"}
        packages = _layer_packages(synthesized, template, holidays_id)
        assert "holidays" in packages
        assert not packages & {"ttai", "pydantic", "cryptography", "boto3", "botocore"}
        # The scheduler runs the jobs on their schedules (the pre-market one opens users' broker tokens to sync
        # positions), the consumer on request (job_run tasks; without TastyTrade, a manual run skips the sync).
        expected = {
            "auth": [shared_id, crypto_id],
            "scheduler": [shared_id, crypto_id, holidays_id],
            "consumer": [shared_id, holidays_id],
        }
        # Only the workflows' own functions load the durable execution SDK; a binding needs none of it.
        for workflow in ("analysis", "screener", "export", "backup"):
            expected[f"{workflow}_workflow"] = [shared_id, durable_id]
        for name in ttai_functions(template):
            assert _layer_ids(template, name) == expected.get(name, [shared_id]), name

    def test_functions_get_the_variables_the_runtime_reads(self, template: Template, config: EnvironmentConfig):
        table_id = _table_id(template)
        bucket_id = _overflow_bucket_id(template)
        secret_id = _jwt_secret_id(template, config)
        functions = ttai_functions(template)
        api = functions["api"]["Properties"]["Environment"]["Variables"]
        assert api["TTAI_KV_TABLE"] == {"Ref": table_id}
        assert api["TTAI_KV_OVERFLOW_BUCKET"] == {"Ref": bucket_id}
        # The api function reads the key of its paging cursors and the stack's market-data grant (with the OAuth
        # client that refreshes it), never the session key (it would mint tokens) nor the key of users' broker tokens.
        assert sorted(name for name in api if name.startswith("TTAI_SECRET_")) == [
            "TTAI_SECRET_CURSOR_SECRET",
            "TTAI_SECRET_TASTYTRADE_CLIENT_ID",
            "TTAI_SECRET_TASTYTRADE_CLIENT_SECRET",
            "TTAI_SECRET_TASTYTRADE_SERVICE_REFRESH_TOKEN",
        ]
        assert api["TTAI_SECRET_CURSOR_SECRET"] == {"Ref": _secret_id(template, config, "CURSOR_SECRET")}
        authorizer = functions["authorizer"]["Properties"]["Environment"]["Variables"]
        assert authorizer["TTAI_KV_TABLE"] == {"Ref": table_id}
        assert authorizer["TTAI_SECRET_JWT_SECRET"] == {"Ref": secret_id}
        assert "TTAI_KV_OVERFLOW_BUCKET" not in authorizer

    def test_auth_function_gets_the_sign_in_variables(self, template: Template, config: EnvironmentConfig):
        variables = ttai_functions(template)["auth"]["Properties"]["Environment"]["Variables"]
        assert variables["TTAI_KV_TABLE"] == {"Ref": _table_id(template)}
        assert "TTAI_KV_OVERFLOW_BUCKET" not in variables
        assert {name for name in variables if name.startswith("TTAI_SECRET_")} == {
            f"TTAI_SECRET_{name}" for name in SIGN_IN_SECRETS
        }
        for name in SIGN_IN_SECRETS:
            assert variables[f"TTAI_SECRET_{name}"] == {"Ref": _secret_id(template, config, name)}
        assert variables["TTAI_OAUTH_AUTHORIZE_URL"] == config.oauth.authorize_url
        assert variables["TTAI_OAUTH_TOKEN_URL"] == config.oauth.token_url
        assert variables["TTAI_OAUTH_USERINFO_URL"] == config.oauth.userinfo_url
        assert variables["TTAI_TASTYTRADE_API_URL"] == config.tastytrade.api_url

    def test_the_functions_that_call_tastytrade_know_where_it_is(self, template: Template, config: EnvironmentConfig):
        for name in ("api", "auth", "scheduler"):
            variables = variables_of(template, name)
            assert variables["TTAI_TASTYTRADE_API_URL"] == config.tastytrade.api_url, name
            assert variables["TTAI_OAUTH_TOKEN_URL"] == config.oauth.token_url, name
        for name in ("authorizer", "consumer", "migrate"):
            assert "TTAI_TASTYTRADE_API_URL" not in variables_of(template, name), name
        scheduler = {name for name in variables_of(template, "scheduler") if name.startswith("TTAI_SECRET_")}
        assert scheduler == {f"TTAI_SECRET_{name}" for name in BROKER_TOKEN_SECRETS}

    def test_the_redirect_uri_is_this_apis_callback(self, template: Template):
        api_id, _ = _http_resource(template, "Api")
        redirect = ttai_functions(template)["auth"]["Properties"]["Environment"]["Variables"]["TTAI_OAUTH_REDIRECT_URI"]
        head, tail = redirect["Fn::Join"][1]
        assert head == {"Fn::GetAtt": [api_id, "ApiEndpoint"]}
        assert tail == HttpApi.CALLBACK_PATH == "/auth/callback"
        assert template.find_outputs("OAuthRedirectUri")["OAuthRedirectUri"]["Value"] == redirect

    def test_no_role_carries_a_managed_policy(self, template: Template):
        # AWSLambdaBasicExecutionRole would let a function write to every log group in the account.
        for logical_id, role in resources(template, "AWS::IAM::Role").items():
            managed = json.dumps(role["Properties"].get("ManagedPolicyArns", []))
            assert "AWSLambdaBasicExecutionRole" not in managed, logical_id
        for function in ttai_functions(template).values():
            role = resources(template, "AWS::IAM::Role")[role_id(function)]
            assert "ManagedPolicyArns" not in role["Properties"]

    def test_each_function_has_its_own_role_that_writes_only_its_own_logs(self, template: Template):
        functions = ttai_functions(template)
        assert len({role_id(function) for function in functions.values()}) == len(functions)
        for function in functions.values():
            own_log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            log_statements = [
                statement
                for statement in statements_of_role(template, role_id(function))
                if any(action.startswith("logs:") for action in as_list(statement["Action"]))
            ]
            assert log_statements
            for statement in log_statements:
                assert statement["Resource"] == {"Fn::GetAtt": [own_log_group, "Arn"]}


class TestLeastPrivilege:
    def test_authorizer_cannot_write_the_table_or_touch_the_bucket(self, template: Template):
        statements = statements_of_role(template, role_id(ttai_functions(template)["authorizer"]))
        actions = {action for statement in statements for action in as_list(statement["Action"])}
        assert "dynamodb:GetItem" in actions
        assert not actions & DYNAMODB_WRITES
        assert not any(action in {"dynamodb:*", "*"} for action in actions)
        assert not any(action.startswith("s3:") for action in actions)

    def test_api_reaches_dynamodb_only_on_the_kv_table_its_indexes_the_workflows_registry_and_idempotency_records(
        self, template: Template
    ):
        table_id = _table_id(template)
        workflows_id = _workflows_table_id(template)
        idempotency_id = variable_target(template, "api", "TTAI_IDEMPOTENCY_TABLE")
        connections_id = variable_target(template, "api", "TTAI_CONNECTIONS_TABLE")
        limits_id = variable_target(template, "api", "TTAI_LIMITS_TABLE")
        statements = statements_of_role(template, role_id(ttai_functions(template)["api"]))
        dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
        assert dynamodb
        for statement in dynamodb:
            for resource in as_list(statement["Resource"]):
                assert resource != "*"
                if referenced_ids(resource) == {workflows_id}:  # the registry's items: no index, no scan
                    assert set(as_list(statement["Action"])) == set(WORKFLOW_RECORD_ACTIONS)
                    assert "Fn::Join" not in resource
                    continue
                if referenced_ids(resource) == {idempotency_id}:  # Idempotency-Key records (test_queues' actions)
                    continue
                if referenced_ids(resource) == {limits_id}:  # a request's admission and the marks of ended sessions
                    assert set(as_list(statement["Action"])) == {"dynamodb:UpdateItem"}
                    continue
                if referenced_ids(resource) == {connections_id}:
                    # Connect tickets: issued with a put; nothing else of the connections table.
                    assert set(as_list(statement["Action"])) == {"dynamodb:PutItem"}
                    continue
                assert referenced_ids(resource) == {table_id}
                if "Fn::Join" in resource:
                    assert resource["Fn::Join"][1][1:] == ["/index/*"]

    def test_api_reaches_the_overflow_bucket_only_under_its_prefix(self, template: Template, layout: StorageLayout):
        bucket_id = _overflow_bucket_id(template)
        statements = statements_of_role(template, role_id(ttai_functions(template)["api"]))
        s3 = [
            s
            for s in statements
            if any(a.startswith("s3:") for a in as_list(s["Action"]))
            and any(bucket_id in referenced_ids(resource) for resource in as_list(s["Resource"]))
        ]
        object_writes = {"s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject*"}
        granted = {action for statement in s3 for action in as_list(statement["Action"])}
        assert object_writes <= granted
        for statement in s3:
            for resource in as_list(statement["Resource"]):
                assert referenced_ids(resource) == {bucket_id}
                if "Fn::Join" in resource:
                    assert resource["Fn::Join"][1][1:] == [f"/{layout.kv.overflow_prefix}*"]

    def test_only_xray_is_granted_on_every_resource(self, template: Template):
        for function in ttai_functions(template).values():
            for statement in statements_of_role(template, role_id(function)):
                if "*" in as_list(statement["Resource"]):
                    assert all(action.startswith("xray:") for action in as_list(statement["Action"]))

    def test_secrets_are_read_only_and_each_function_reads_only_its_own(
        self, template: Template, config: EnvironmentConfig
    ):
        jwt_secret = {"Ref": _jwt_secret_id(template, config)}
        sign_in = [{"Ref": _secret_id(template, config, name)} for name in SIGN_IN_SECRETS]
        [cluster_id] = resources(template, "AWS::RDS::DBCluster")
        db_secret: dict[str, Any] = {"Fn::GetAtt": [cluster_id, "MasterUserSecret.SecretArn"]}  # Aurora's own
        cursor_secret = {"Ref": _secret_id(template, config, "CURSOR_SECRET")}
        market_data = [{"Ref": _secret_id(template, config, name)} for name in MARKET_DATA_SECRETS]
        broker_tokens = [{"Ref": _secret_id(template, config, name)} for name in BROKER_TOKEN_SECRETS]
        needs = {
            "api": [cursor_secret, *market_data, db_secret],
            "auth": [*sign_in, db_secret],
            "authorizer": [jwt_secret],
            "migrate": [db_secret],
            "consumer": [db_secret],
            "scheduler": [*broker_tokens, db_secret],
            **{f"{workflow}_workflow": [db_secret] for workflow in ("analysis", "screener", "export", "backup")},
            "durable": [db_secret],
            "realtime": [db_secret],
            "connect_authorizer": [],
        }
        for name, function in ttai_functions(template).items():
            secret_statements = [
                statement
                for statement in statements_of_role(template, role_id(function))
                if any(action.startswith("secretsmanager:") for action in as_list(statement["Action"]))
            ]
            for statement in secret_statements:
                assert set(as_list(statement["Action"])) <= {
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                }
            read = [resource for statement in secret_statements for resource in as_list(statement["Resource"])]
            assert sorted(read, key=str) == sorted(needs[name], key=str), name

    @pytest.mark.parametrize("secret", sorted(TASTYTRADE_SECRET_READERS))
    def test_only_the_functions_that_use_tastytrade_access_read_its_secrets(
        self, template: Template, config: EnvironmentConfig, secret: str
    ):
        secret_id = _secret_id(template, config, secret)
        for name in ttai_functions(template):
            reads = any(secret_id in referenced_ids(resource) for resource in _secrets_read_by(template, name))
            assert reads is (name in TASTYTRADE_SECRET_READERS[secret]), name

    def test_auth_writes_the_table_and_never_touches_the_bucket(self, template: Template):
        table_id = _table_id(template)
        statements = statements_of_role(template, role_id(ttai_functions(template)["auth"]))
        actions = {action for statement in statements for action in as_list(statement["Action"])}
        assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"} <= actions
        assert not any(action.startswith("s3:") for action in actions)
        idempotency_id = variable_target(template, "auth", "TTAI_IDEMPOTENCY_TABLE")
        limits_id = variable_target(template, "auth", "TTAI_LIMITS_TABLE")  # admitting positions syncs
        for statement in statements:
            if any(action.startswith("dynamodb:") for action in as_list(statement["Action"])):
                for resource in as_list(statement["Resource"]):
                    assert referenced_ids(resource) in ({table_id}, {idempotency_id}, {limits_id})
                    if referenced_ids(resource) == {limits_id}:
                        assert set(as_list(statement["Action"])) == {"dynamodb:UpdateItem"}

    def test_api_gateway_may_invoke_the_auth_function_from_this_api_only(self, template: Template):
        auth_id = ttai_function_ids(template)["auth"]
        api_id, _ = _http_resource(template, "Api")
        permissions = [
            permission["Properties"]
            for permission in resources(template, "AWS::Lambda::Permission").values()
            if referenced_ids(permission["Properties"]["FunctionName"]) == {auth_id}
        ]
        assert permissions
        for permission in permissions:
            assert permission["Principal"] == "apigateway.amazonaws.com"
            assert api_id in referenced_ids(permission["SourceArn"])


class TestSecrets:
    def test_jwt_secret_is_generated_per_environment(
        self, template: Template, config: EnvironmentConfig, layout: StorageLayout
    ):
        spec = layout.secrets["JWT_SECRET"]
        template.has_resource_properties(
            "AWS::SecretsManager::Secret",
            {
                "Name": f"ttai/{config.name}/JWT_SECRET",
                "GenerateSecretString": Match.object_like({"PasswordLength": spec.length, "ExcludePunctuation": True}),
            },
        )

    def test_every_secret_of_storage_json_exists_and_is_exempt_from_rotation_for_a_reason(
        self, template: Template, config: EnvironmentConfig, layout: StorageLayout
    ):
        for name, spec in layout.secrets.items():
            secret = resources(template, "AWS::SecretsManager::Secret")[_secret_id(template, config, name)]
            generated = secret["Properties"]["GenerateSecretString"]
            assert generated["PasswordLength"] == spec.length
            assert name in ROTATION_EXEMPTIONS
        # The database's credentials are Aurora's to rotate (tests/infra/test_database.py): no schedule of ours.
        assert resources(template, "AWS::SecretsManager::RotationSchedule") == {}

    def test_the_tastytrade_client_is_a_placeholder_the_operator_replaces(
        self, template: Template, config: EnvironmentConfig, layout: StorageLayout
    ):
        operator = [name for name, spec in layout.secrets.items() if spec.provided_by == "operator"]
        assert sorted(operator) == [
            "TASTYTRADE_CLIENT_ID",
            "TASTYTRADE_CLIENT_SECRET",
            "TASTYTRADE_SERVICE_REFRESH_TOKEN",  # the market-data grant
        ]
        assert layout.secrets["TOKEN_ENCRYPTION_KEY"].provided_by == "generated"
        assert layout.secrets["TOKEN_ENCRYPTION_KEY"].length >= 32  # the runtime's minimum of key material
        output = template.find_outputs("SecretsToProvide")["SecretsToProvide"]["Value"]
        assert sorted(output.split()) == sorted(f"ttai/{config.name}/{name}" for name in operator)


class TestHttpApi:
    def test_every_route_but_the_public_ones_needs_the_authorizer(self, template: Template):
        authorizer_id, _ = _http_resource(template, "Authorizer")
        public = {f"{method} {path}" for method, path in HttpApi.PUBLIC_ROUTES}
        routes = {
            route["Properties"]["RouteKey"]: route["Properties"]
            for route in _http_resources(template, "Route").values()
        }
        assert public <= set(routes)
        assert f"ANY {HttpApi.PROXY_PATH}" in routes
        for key, route in routes.items():
            if key in public:
                assert route["AuthorizationType"] == "NONE", key
                assert "AuthorizerId" not in route
            else:
                assert route["AuthorizationType"] == "CUSTOM", key
                assert route["AuthorizerId"] == {"Ref": authorizer_id}, key

    def test_the_public_routes_are_health_sign_in_and_the_dashboard_each_on_its_function(self, template: Template):
        routes = {route["Properties"]["RouteKey"]: route for route in _http_resources(template, "Route").values()}
        public = {key for key, route in routes.items() if route["Properties"]["AuthorizationType"] == "NONE"}
        dashboard = {"GET /dashboard", "GET /dashboard/app.js", "GET /dashboard/app.css"}
        assert public == {"GET /health", "GET /auth/login", "GET /auth/callback", *dashboard}
        served_by = {key: _integrated_function(template, route) for key, route in routes.items()}
        assert served_by == {
            "GET /health": "api",
            "GET /auth/login": "auth",
            "GET /auth/callback": "auth",
            **dict.fromkeys(dashboard, "api"),
            # authorized, and served by auth: it opens the caller's sealed TastyTrade tokens
            "POST /api/v1/positions/sync": "auth",
            f"ANY {HttpApi.PROXY_PATH}": "api",  # POST /auth/logout included: authorized, served by api
        }

    def test_authorizer_is_a_simple_request_authorizer_called_for_every_request(self, template: Template):
        _, authorizer = _http_resource(template, "Authorizer")
        properties = authorizer["Properties"]
        assert properties["AuthorizerType"] == "REQUEST"
        assert properties["AuthorizerPayloadFormatVersion"] == "2.0"
        assert properties["EnableSimpleResponses"] is True
        # No identity source: a browser's request carries the session cookie and no Authorization header, and
        # API Gateway answers 401 without calling the authorizer when a listed source is missing. Without one,
        # API Gateway refuses a cache TTL, so nothing is cached and a revoked session is refused at once.
        assert properties.get("IdentitySource", []) == []
        assert properties["AuthorizerResultTtlInSeconds"] == 0
        assert referenced_ids(properties["AuthorizerUri"]) == {ttai_function_ids(template)["authorizer"]}

    def test_cors_is_the_environments_allow_list(self, template: Template, config: EnvironmentConfig):
        _, api = _http_resource(template, "Api")
        cors = config.api.cors
        if not cors.allow_origins:
            assert "CorsConfiguration" not in api["Properties"]
            return
        assert api["Properties"]["CorsConfiguration"] == {
            "AllowOrigins": list(cors.allow_origins),
            "AllowMethods": list(cors.allow_methods),
            "AllowHeaders": list(cors.allow_headers),
            "ExposeHeaders": list(cors.expose_headers),
            "AllowCredentials": False,
            "MaxAge": cors.max_age_seconds,
        }

    def test_default_stage_is_throttled_and_access_logged_as_json(self, template: Template, config: EnvironmentConfig):
        _, stage = _http_resource(template, "Stage")
        properties = stage["Properties"]
        assert properties["StageName"] == "$default"
        assert properties["AutoDeploy"] is True
        assert properties["DefaultRouteSettings"] == {
            "ThrottlingRateLimit": config.api.throttle_rate_limit,
            "ThrottlingBurstLimit": config.api.throttle_burst_limit,
        }
        access = properties["AccessLogSettings"]
        log_group_id = access["DestinationArn"]["Fn::GetAtt"][0]
        log_group = resources(template, "AWS::Logs::LogGroup")[log_group_id]
        assert log_group["Properties"]["RetentionInDays"] == config.log_retention_days
        fields = json.loads(access["Format"])
        assert fields["requestId"] == "$context.requestId"
        assert fields["status"] == "$context.status"

    def test_api_url_is_an_output(self, template: Template):
        outputs = template.find_outputs("ApiUrl")
        assert list(outputs) == ["ApiUrl"]
        assert "execute-api" in json.dumps(outputs["ApiUrl"]["Value"])


class TestStages:
    def test_one_stack_per_environment_named_after_it(self, synthesized):
        for name, stage in synthesized.stages.items():
            assert stage.stage_name == name
            assert stage.stack.stack_name == f"ttai-{name}"
            assert stage.stack.termination_protection is synthesized.configs[name].deletion_protection

    def test_environment_differences(self, synthesized):
        templates = synthesized.templates
        prod_table = _kv_table(templates["prod"])
        dev_table = _kv_table(templates["dev"])
        assert prod_table["DeletionPolicy"] == "Retain"
        assert prod_table["Properties"]["DeletionProtectionEnabled"] is True
        assert dev_table["DeletionPolicy"] == "Delete"
        assert dev_table["Properties"]["DeletionProtectionEnabled"] is False

    def test_the_functions_admitting_requests_get_their_environment_s_limits(self, synthesized):
        for name, template in synthesized.templates.items():
            config = synthesized.configs[name]
            for function in ("api", "auth"):
                limits = json.loads(variables_of(template, function)["TTAI_LIMITS"])
                assert limits == {
                    "user": config.limits.user.model_dump(),
                    "service": config.limits.service.model_dump(),
                    "revocation_seconds": AUTHORIZER_CACHE_SECONDS,  # the authorizer caches nothing
                }, (name, function)
            table = resources(template, "AWS::DynamoDB::Table")[variable_target(template, "api", "TTAI_LIMITS_TABLE")]
            assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "exp", "Enabled": True}
            assert table["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
            assert "TTAI_LIMITS_TABLE" not in variables_of(template, "authorizer")  # its cache is why it cannot be

    def test_function_assets_hold_only_their_own_folder(self, synthesized):
        for template in synthesized.templates.values():
            for name, function in ttai_functions(template).items():
                asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
                asset = synthesized.outdir / f"asset.{asset_hash}"
                shipped = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
                source = PROJECT_ROOT / FUNCTIONS_DIR / name
                expected = {
                    p.relative_to(source).as_posix()
                    for p in source.rglob("*")
                    if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts
                }
                assert shipped == expected, name
