"""The HTTP API: a throttled, access-logged stage; sign-in goes to the auth function, all else to the api function."""

from __future__ import annotations

import json

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from constructs import Construct

from infra.config import CorsSettings, EnvironmentConfig
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


# Why each public route may skip the authorizer (cdk-nag AwsSolutions-APIG4).
_PUBLIC_ROUTE_REASONS = {
    ("GET", "/health"): "load balancers and uptime checks call it without a session, and it returns no tenant data.",
    ("GET", "/auth/login"): (
        "signing in starts here, before the user has a token; it only stores a one-time state and redirects to "
        "TastyTrade's authorization page, and returns no tenant data."
    ),
    ("GET", "/auth/callback"): (
        "it is the OAuth redirect target TastyTrade sends the browser back to, before the user has a token; it "
        "accepts only a code with a one-time state it issued and returns just the new session of the account "
        "that signed in, no other tenant data."
    ),
    **dict.fromkeys(
        (("GET", "/dashboard"), ("GET", "/dashboard/app.js"), ("GET", "/dashboard/app.css")),
        "the jobs dashboard's static page, script and stylesheet, the same for everyone: the page signs in through "
        "/auth/login and calls the authorized API routes with its session cookie, and returns no data itself.",
    ),
}


def _cors_preflight(cors: CorsSettings) -> apigwv2.CorsPreflightOptions | None:
    """cdk.json's allow-list as the API's CORS configuration; none at all when no origin is listed."""
    if not cors.allow_origins:
        return None
    return apigwv2.CorsPreflightOptions(
        allow_origins=list(cors.allow_origins),
        allow_methods=[apigwv2.CorsHttpMethod(method) for method in cors.allow_methods],
        allow_headers=list(cors.allow_headers),
        expose_headers=list(cors.expose_headers) or None,
        allow_credentials=cors.allow_credentials,
        max_age=cdk.Duration.seconds(cors.max_age_seconds),
    )


class HttpApi(Construct):
    """Every route needs the session authorizer except the ones listed in PUBLIC_ROUTES.

    The sign-in routes and the broker routes (positions synced with the caller's TastyTrade tokens) go to the auth
    function, everything else (POST /auth/logout included) to the api function.
    """

    HEALTH_ROUTE = ("GET", "/health")
    SIGN_IN_ROUTES = (("GET", "/auth/login"), ("GET", "/auth/callback"))
    # Authorized routes of the auth function: they use the caller's broker tokens, whose key only it holds.
    BROKER_ROUTES = (("POST", "/api/v1/positions/sync"),)
    DASHBOARD_ROUTES = (("GET", "/dashboard"), ("GET", "/dashboard/app.js"), ("GET", "/dashboard/app.css"))
    PUBLIC_ROUTES = (HEALTH_ROUTE, *SIGN_IN_ROUTES, *DASHBOARD_ROUTES)
    # Where TastyTrade sends the browser back with the authorization code: the OAuth redirect URI's path.
    CALLBACK_PATH = "/auth/callback"
    # None: a browser sends its session cookie and an API client its Authorization header, and API Gateway answers
    # 401 without calling the authorizer when any listed source is missing. Without one, caching must be off.
    IDENTITY_SOURCES: tuple[str, ...] = ()
    PROXY_PATH = "/{proxy+}"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        api_function: TtaiFunction,
        auth_function: TtaiFunction,
        authorizer_function: TtaiFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.authorizer = authorizers.HttpLambdaAuthorizer(
            "SessionAuthorizer",
            authorizer_function.function,
            authorizer_name=f"ttai-{config.name}-session",
            # SIMPLE answers {"isAuthorized": ..., "context": ...} with payload format 2.0.
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            identity_source=list(self.IDENTITY_SOURCES),
            results_cache_ttl=cdk.Duration.seconds(0),
        )
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"ttai-{config.name}",
            description=f"TTAI data layer ({config.name})",
            create_default_stage=False,
            # A route added without an authorizer gets this one: forgetting it can never make a route public.
            default_authorizer=self.authorizer,
            cors_preflight=_cors_preflight(config.api.cors),
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
        sign_in = integrations.HttpLambdaIntegration("Auth", auth_function.function)
        for method, path in self.PUBLIC_ROUTES:
            for route in self.api.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod(method)],
                integration=sign_in if (method, path) in self.SIGN_IN_ROUTES else integration,
                authorizer=apigwv2.HttpNoneAuthorizer(),
            ):
                acknowledge(
                    route,
                    "AwsSolutions-APIG4",
                    f"{method} {path} is deliberately public: {_PUBLIC_ROUTE_REASONS[(method, path)]}",
                )
        for method, path in self.BROKER_ROUTES:
            self.api.add_routes(path=path, methods=[apigwv2.HttpMethod(method)], integration=sign_in)
        self.api.add_routes(path=self.PROXY_PATH, methods=[apigwv2.HttpMethod.ANY], integration=integration)

        for function in (api_function, auth_function, authorizer_function):
            acknowledge(
                function.function,
                "Serverless-LambdaDLQ",
                "API Gateway invokes this function synchronously and returns its error to the caller; "
                "a dead-letter queue only ever receives events from asynchronous invocations.",
            )

    @property
    def url(self) -> str:
        return self.stage.url

    @property
    def callback_url(self) -> str:
        """The OAuth redirect URI. It names the API, not the stage, so a function may carry it without a cycle:
        routes and integrations depend on the functions, the API resource itself on nothing."""
        return f"{self.api.api_endpoint}{self.CALLBACK_PATH}"
