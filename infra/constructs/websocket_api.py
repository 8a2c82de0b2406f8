"""Real time: the API Gateway WebSocket API, its stage and the connections table (storage.json `websockets`).

`$connect` takes a single-use ticket (`?ticket=`) through a REQUEST authorizer (the connect_authorizer function,
identity source the query string, never cached: a ticket opens one connection); `$connect`, `$default` and
`$disconnect` go to the realtime function. Functions bind the connections table for one purpose each (tickets,
connections, publish); only `connections` may post to clients (execute-api:ManageConnections on this API alone).
"""

from __future__ import annotations

import json

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs._policy import house_table, log_group
from infra.constructs.function import TtaiFunction
from infra.constructs.http_api import _AccessLogSettings
from infra.nag import acknowledge, logical_id, wildcard_finding
from infra.storage_layout import WebSocketBinding, WebSocketsLayout

STAGE = "live"
# Tickets: the api issues one (a put), the authorizer redeems it (a conditional delete that returns it).
ISSUE_ACTIONS = ("dynamodb:PutItem",)
REDEEM_ACTIONS = ("dynamodb:DeleteItem",)
# Publishers ask which channels' objects hold sockets: one BatchGetItem per 100 channels.
PUBLISH_ACTIONS = ("dynamodb:BatchGetItem",)
ROUTES = ("$connect", "$default", "$disconnect")
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "routeKey": "$context.routeKey",
    "eventType": "$context.eventType",
    "connectionId": "$context.connectionId",
    "status": "$context.status",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "error": "$context.error.message",
}


class WebSocketApi(Construct):
    """The API and its throttled, access-logged stage exist first (functions' variables name them); `route` adds
    the routes once the realtime and authorizer functions are built."""

    TABLE_ENV = "TTAI_CONNECTIONS_TABLE"
    URL_ENV = "TTAI_WEBSOCKET_URL"
    CALLBACK_URL_ENV = "TTAI_WEBSOCKET_CALLBACK_URL"

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, layout: WebSocketsLayout
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = house_table(
            self,
            "Connections",
            config,
            partition_key=dynamodb.Attribute(name=layout.partition_key.name, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=layout.sort_key.name, type=dynamodb.AttributeType.STRING),
            # Connections live at most 2 h (API Gateway's limit) and tickets 60 s: every row expires.
            ttl_attribute=layout.ttl_attribute,
        )
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=f"ttai-{config.name}-realtime",
            description=f"TTAI real time ({config.name})",
        )
        self.access_logs = log_group(self, "AccessLogs", config)
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=STAGE,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api.throttle_rate_limit, burst_limit=config.api.throttle_burst_limit
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS, separators=(",", ":"))),
            ),
        )

    def route(self, *, handler: TtaiFunction, authorizer: TtaiFunction) -> None:
        """`$connect` behind the ticket authorizer; the three routes to `handler`."""
        acknowledge(
            authorizer.function,
            "Serverless-LambdaDLQ",
            "API Gateway invokes the $connect authorizer synchronously and refuses the connection when it fails; "
            "there is no asynchronous invocation to dead-letter.",
        )
        acknowledge(
            handler.function,
            "Serverless-LambdaDLQ",
            "API Gateway invokes it synchronously for the WebSocket routes; its asynchronous invocations are the "
            "api's quote hand-offs, best effort by design: the quotes are cached whatever happens, the intraday job "
            "evaluates the alerts a lost hand-off missed, and a stale quote frame is worth no redelivery.",
        )
        integration = integrations.WebSocketLambdaIntegration("Realtime", handler.function)
        connect = self.api.add_route(
            "$connect",
            integration=integration,
            authorizer=authorizers.WebSocketLambdaAuthorizer(
                "Tickets",
                authorizer.function,
                authorizer_name="connect-ticket",
                identity_source=["route.request.querystring.ticket"],
            ),
        )
        self.routes = {"$connect": connect}
        for key in ROUTES[1:]:
            route = self.routes[key] = self.api.add_route(key, integration=integration)
            acknowledge(
                route,
                "AwsSolutions-APIG4",
                "API Gateway runs an authorizer on $connect only: every later message and the disconnect belong to "
                "a connection that $connect's ticket authorizer admitted.",
            )

    def bind(self, grantee: iam.IGrantable, binding: WebSocketBinding) -> dict[str, str]:
        """The connections table for the binding's purpose, and the variables naming what was granted."""
        variables = {self.TABLE_ENV: self.table.table_name}
        if binding.access == "tickets":
            self.table.grant(grantee, *ISSUE_ACTIONS)
            variables[self.URL_ENV] = self.stage.url
        elif binding.access == "redeem":
            self.table.grant(grantee, *REDEEM_ACTIONS)
        elif binding.access == "connections":
            self.table.grant_read_write_data(grantee)
            self.api.grant_manage_connections(grantee)
            principal = grantee.grant_principal
            if isinstance(principal, Construct):
                api = logical_id(self.api.node.default_child)  # type: ignore[arg-type]
                finding = wildcard_finding(
                    "Resource",
                    f"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{api}>/*/*/@connections/*",
                )
                acknowledge(
                    principal,
                    f"AwsSolutions-IAM5[{finding}]",
                    "Posting to and closing clients of this WebSocket API only: connection ids are made by API "
                    "Gateway at connect time, so the grant cannot name them.",
                )
            variables[self.CALLBACK_URL_ENV] = self.stage.callback_url
        else:
            self.table.grant(grantee, *PUBLISH_ACTIONS)
        return variables
