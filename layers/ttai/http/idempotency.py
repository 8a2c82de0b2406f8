"""Idempotency-Key on the API's writes (seed 004): a client that retries a POST, PUT, PATCH or DELETE with the same
key gets the first answer again, and nothing changes twice.

A key is the caller's: the record is keyed by the verified user id and the key together, so two users' keys never
meet. The request it guards is fingerprinted (method, path, query and body): the same key with another request
within the record's 24 hours is a 422. A second request while the first still runs is a 409 to retry. An answer of
5xx is not kept (the record is dropped), so a retry after a fault runs again. Records live in the idempotency table
through Powertools' DynamoDB persistence layer, as the queue consumer's do, under a prefix of their own; a request
with a key costs two DynamoDB calls (claim, then store the answer), one without a key none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import cache
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from ttai.env import Env

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_MAX_LENGTH = 255  # printable ASCII, as the IETF draft's examples and Stripe's keys are
KEY_PREFIX = "ttai-http"

Refuse = Callable[[HTTPStatus, str, str], dict[str, Any]]


class _NotKept(Exception):
    """Carries an answer out of the guarded call so that it is given but not kept."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("an answer of 5xx is not kept")
        self.result = result


def _header(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if k.lower() == HEADER), None)


def _user_id(event: Mapping[str, Any]) -> str | None:
    context = event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
    user_id = context.get("user_id")
    return user_id if isinstance(user_id, str) and user_id else None


def _fingerprint(event: Mapping[str, Any], method: str) -> str:
    digest = hashlib.sha256()
    for part in (method, event.get("rawPath") or "", event.get("rawQueryString") or "", event.get("body") or ""):
        digest.update(str(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= KEY_MAX_LENGTH and all("\x21" <= ch <= "\x7e" for ch in key)


@cache
def _store(env: Env) -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - only requests with a key need it
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
    )

    from ttai.errors import ConfigurationError  # noqa: PLC0415
    from ttai.layout import storage_layout  # noqa: PLC0415

    table = env.settings.idempotency_table
    if not table:
        raise ConfigurationError("Idempotency-Key needs TTAI_IDEMPOTENCY_TABLE (the function's IDEMPOTENCY binding)")
    spec = storage_layout().idempotency
    persistence = DynamoDBPersistenceLayer(
        table_name=table, key_attr=spec.key_attr, expiry_attr=spec.ttl_attr, boto3_client=env.client("dynamodb")
    )
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="fingerprint",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=spec.expires_after_seconds,
        hash_function="sha256",
        response_hook=_replayed,
    )
    return persistence, config


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools' hook on a replay: the kept answer says it is one."""
    del idempotent_data
    if isinstance(response, dict):
        response.setdefault("headers", {})[REPLAYED_HEADER] = "true"
    return response


def answer(
    event: Mapping[str, Any], context: Any, resolve: Callable[[], dict[str, Any]], refuse: Refuse
) -> dict[str, Any]:
    """``resolve()``'s answer, or the kept answer of an earlier request with this caller's Idempotency-Key.

    A public operation (signing in) has no caller to keep a key for, and a read needs none: both just resolve.
    """
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    key = _header(event)
    user_id = _user_id(event)
    if key is None or user_id is None or method not in WRITE_METHODS:
        return resolve()
    if not _valid_key(key):
        return refuse(
            HTTPStatus.BAD_REQUEST,
            "bad_request",
            f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} printable ASCII characters without spaces",
        )
    return _once(event, context, method, f"{user_id}\n{key}", resolve, refuse)


def _once(
    event: Mapping[str, Any],
    context: Any,
    method: str,
    key: str,
    resolve: Callable[[], dict[str, Any]],
    refuse: Refuse,
) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.idempotency import idempotent_function  # noqa: PLC0415
    from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    from ttai.env import Env  # noqa: PLC0415

    persistence, config = _store(Env.from_environ())
    if hasattr(context, "get_remaining_time_in_millis"):  # an in-progress record expires with its invocation
        config.register_lambda_context(context)

    def run(request: dict[str, str]) -> dict[str, Any]:
        del request  # what identifies the request; the answer comes from the resolver
        result = resolve()
        if int(result.get("statusCode", 500)) >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise _NotKept(result)
        return result

    once = idempotent_function(
        run, data_keyword_argument="request", persistence_store=persistence, config=config, key_prefix=KEY_PREFIX
    )
    refused: dict[str, Any]
    try:
        kept: dict[str, Any] = once(request={"key": key, "fingerprint": _fingerprint(event, method)})
    except _NotKept as not_kept:
        return not_kept.result
    except IdempotencyValidationError:
        return refuse(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request in the last 24 hours; use a new key",
        )
    except IdempotencyAlreadyInProgressError:
        refused = refuse(HTTPStatus.CONFLICT, "conflict", "a request with this Idempotency-Key is still in progress")
    except IdempotencyPersistenceLayerError:
        refused = refuse(
            HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", "the idempotency store is unavailable; retry in 1 second"
        )
    else:
        return kept
    refused["headers"]["Retry-After"] = "1"
    return refused
