"""Who is calling: read only from the Lambda authorizer's context, never from the request itself."""

from __future__ import annotations

from typing import NamedTuple

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from ttai.errors import Forbidden, Unauthorized


class Principal(NamedTuple):  # a NamedTuple: immutable, and cheaper than a dataclass to define at cold start
    user_id: str
    session_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this operation needs the {scope!r} scope")


def current_principal(app: BaseRouter) -> Principal:
    """The verified caller; Unauthorized if the request did not pass the authorizer (a wiring fault)."""
    context = app.current_event.raw_event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
    user_id, session_id = context.get("user_id"), context.get("session_id")
    if not isinstance(user_id, str) or not user_id or not isinstance(session_id, str):
        raise Unauthorized("the request carries no verified identity")
    return Principal(user_id=user_id, session_id=session_id, scopes=frozenset(str(context.get("scopes", "")).split()))
