"""How API Gateway reads a WebSocket Lambda REQUEST authorizer: its identity sources, and the IAM policy it returns.

- An identity source that is missing or empty: 401, and the authorizer is never called.
- The authorizer raises ``Unauthorized`` (as a Lambda ``raise Exception("Unauthorized")``): 401.
- A policy that does not allow ``execute-api:Invoke`` on the methodArn, or denies it explicitly: 403.
- Anything else wrong (another error, no principalId, a context value that is an object or a list, a result over
  8 KB): 500, as AWS reports an authorizer configuration error.
- Allowed: ``principalId`` and the context (values as strings, as REST-style authorizers pass them on) reach every
  later event of the connection under ``requestContext.authorizer``, with ``integrationLatency`` in ms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from local.websocket.events import Handshake

MAX_RESULT_BYTES = 8 * 1024
_HEADER = "route.request.header."
_QUERY = "route.request.querystring."


class AuthorizerRefusal(Exception):
    """The upgrade is refused with this HTTP status before it happens."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_identity_source(sources: Sequence[str]) -> tuple[str, ...]:
    """Identity sources as CDK's WebSocketLambdaAuthorizer takes them (``route.request.header.X`` or
    ``route.request.querystring.X``); anything else is a configuration error."""
    for source in sources:
        prefix = next((p for p in (_HEADER, _QUERY) if source.startswith(p)), None)
        if prefix is None or not source.removeprefix(prefix):
            raise ValueError(
                f"unsupported identity source {source!r}: use route.request.header.<name> or "
                "route.request.querystring.<name>"
            )
    return tuple(sources)


def identity_present(sources: Sequence[str], handshake: Handshake) -> bool:
    for source in sources:
        if source.startswith(_HEADER):
            value = handshake.header(source.removeprefix(_HEADER))
        else:
            value = handshake.query_value(source.removeprefix(_QUERY))
        if not value:
            return False
    return True


def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters (``/`` and ``:`` included), ``?`` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(statement: dict[str, Any], method_arn: str) -> bool:
    actions = _as_list(statement.get("Action", []))
    resources = _as_list(statement.get("Resource", []))
    action_ok = any(
        isinstance(a, str) and _wildcard(a, ignore_case=True).fullmatch("execute-api:Invoke") for a in actions
    )
    resource_ok = any(isinstance(r, str) and _wildcard(r, ignore_case=False).fullmatch(method_arn) for r in resources)
    return action_ok and resource_ok


def policy_allows(policy: Any, method_arn: str) -> bool:
    """An explicit Deny that matches wins; otherwise an Allow must match; otherwise denied."""
    if not isinstance(policy, dict):
        raise AuthorizerRefusal(500, "Internal server error")
    statements = _as_list(policy.get("Statement", []))
    if not all(isinstance(s, dict) for s in statements):
        raise AuthorizerRefusal(500, "Internal server error")
    matching = [s for s in statements if _matches(s, method_arn)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect") == "Allow" for s in matching)


def _context_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise AuthorizerRefusal(500, "Internal server error")  # objects and lists are not allowed in the context


def authorizer_context(result: Any, method_arn: str, latency_ms: int) -> dict[str, Any]:
    """What an allowed connection carries as ``requestContext.authorizer``; raises AuthorizerRefusal otherwise."""
    if not isinstance(result, dict) or not isinstance(result.get("principalId"), str):
        raise AuthorizerRefusal(500, "Internal server error")
    if len(json.dumps(result, default=str).encode()) > MAX_RESULT_BYTES:
        raise AuthorizerRefusal(500, "Internal server error")
    if not policy_allows(result.get("policyDocument"), method_arn):
        raise AuthorizerRefusal(403, "Forbidden")
    context = result.get("context") or {}
    if not isinstance(context, dict):
        raise AuthorizerRefusal(500, "Internal server error")
    values = {str(key): _context_value(value) for key, value in context.items()}
    return {**values, "principalId": result["principalId"], "integrationLatency": latency_ms}


def refusal_for_error(error: BaseException) -> AuthorizerRefusal:
    """A Lambda authorizer that raises ``Unauthorized`` means 401; any other failure is a 500."""
    if str(error) == "Unauthorized":
        return AuthorizerRefusal(401, "Unauthorized")
    return AuthorizerRefusal(500, "Internal server error")
