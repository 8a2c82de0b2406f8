"""``/api/v1/preferences``: the caller's preferences, read (defaults until saved) and replaced whole."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from ttai.http import deps
from ttai.http.openapi import responses
from ttai.models.account import Preferences
from ttai.models.preferences import PreferencesIn
from ttai.services.preferences import PreferencesRepository

router = Router()  # type: ignore[no-untyped-call]


def _repository() -> PreferencesRepository:
    env = deps.env()
    # The local Discord sink listens on 127.0.0.1; anywhere else a webhook must be Discord's.
    local = env.settings.environment == "local"
    return PreferencesRepository(env.DB, deps.tenant(router), allow_loopback_webhooks=local)


@router.get("/preferences", summary="The caller's preferences (the defaults until first saved)")
def get_preferences() -> Preferences:
    return _repository().get()


@router.put(
    "/preferences",
    summary="Replace the caller's preferences (a Discord webhook left out or sent back masked is kept)",
    responses=responses(HTTPStatus.CONFLICT),
)
def put_preferences(body: PreferencesIn) -> Preferences:
    return _repository().put(body)
