"""The auth function's resolver: the two public steps of signing in with TastyTrade (``ttai.http.routes.auth``), and
syncing a user's positions from TastyTrade (the one other route that opens a user's broker tokens, so their key stays
in this function)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import Router

from ttai.http import deps
from ttai.http.app import create_resolver
from ttai.http.openapi import responses
from ttai.http.routes.auth import signin
from ttai.models.positions import BrokerSyncResult

router = Router()  # type: ignore[no-untyped-call]


@router.post(
    "/api/v1/positions/sync",
    summary="Sync the caller's positions from their TastyTrade accounts (a full sync: the ones gone are closed)",
    responses=responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def sync_positions() -> BrokerSyncResult:
    return deps.broker_positions().sync(deps.tenant(router))


def create_app() -> APIGatewayHttpResolver:
    return create_resolver((signin, None), (router, None))


app = create_app()
