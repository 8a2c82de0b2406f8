"""The HTTP API: a throttled, access-logged default stage in front of the api function, behind the authorizer."""

from __future__ import annotations

import json

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import log_group
from infra.constructs.function import TtaiFunction
from infra.nag import acknowledge

# One JSON object per request (HTTP API context variables), so Logs Insights can query fields directly.
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "error": "$context.error.message",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat | None:
        return self._format


class HttpApi(Construct):
    """Every route needs the session authorizer except the ones listed in PUBLIC_ROUTES."""

    PUBLIC_ROUTES = (("GET", "/health"),)
    IDENTITY_SOURCE = "$request.header.Authorization"
    PROXY_PATH = "/{proxy+}"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        api_function: TtaiFunction,
        authorizer_function: TtaiFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.authorizer = authorizers.HttpLambdaAuthorizer(
            "SessionAuthorizer",
            authorizer_function.function,
            authorizer_name=f"ttai-{config.name}-session",
            # SIMPLE answers {"isAuthorized": ..., "context": ...} with payload format 2.0.
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=[self.IDENTITY_SOURCE],
            results_cache_ttl=cdk.Duration.seconds(config.api.authorizer_cache_ttl_seconds),
        )
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"ttai-{config.name}",
            description=f"TTAI data layer ({config.name})",
            create_default_stage=False,
            # A route added without an authorizer gets this one: forgetting it can never make a route public.
            default_authorizer=self.authorizer,
        )
        self.access_logs = log_group(self, "AccessLogs", config)
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api.throttle_rate_limit, burst_limit=config.api.throttle_burst_limit
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS, separators=(",", ":"))),
            ),
        )

        integration = integrations.HttpLambdaIntegration("Api", api_function.function)
        for method, path in self.PUBLIC_ROUTES:
            for route in self.api.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod(method)],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer(),
            ):
                acknowledge(
                    route,
                    "AwsSolutions-APIG4",
                    f"{method} {path} is deliberately public: load balancers and uptime checks call it "
                    "without a session, and it returns no tenant data.",
                )
        self.api.add_routes(path=self.PROXY_PATH, methods=[apigwv2.HttpMethod.ANY], integration=integration)

        for function in (api_function, authorizer_function):
            acknowledge(
                function.function,
                "Serverless-LambdaDLQ",
                "API Gateway invokes this function synchronously and returns its error to the caller; "
                "a dead-letter queue only ever receives events from asynchronous invocations.",
            )

    @property
    def url(self) -> str:
        return self.stage.url
