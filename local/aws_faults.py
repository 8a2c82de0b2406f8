"""AWS refusing a call, injected through botocore's event hooks: how tests make a throttle or an outage happen.

The refusal takes the path a real one does after the wire: botocore builds the ``ClientError`` (or the client's
modelled exception for the code) from a parsed error response, so code under test sees exactly what AWS would give
it. Retries are not replayed: a before-call answer skips botocore's retry handler, as an error that outlived them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

# Whether a call's parameters are the ones to refuse (every call of the operation when not given).
Selector = Callable[[Mapping[str, Any]], bool]


class AwsFault:
    """While the block runs, ``client``'s calls of ``operation`` (those ``when`` selects) fail with ``code``."""

    def __init__(
        self,
        client: Any,
        operation: str,
        code: str,
        message: str = "refused by a test",
        *,
        status: int = 400,
        when: Selector | None = None,
    ) -> None:
        self._client = client
        service = client.meta.service_model.service_id.hyphenize()
        self._events = (f"before-parameter-build.{service}.{operation}", f"before-call.{service}.{operation}")
        self._code = code
        self._message = message
        self._status = status
        self._when = when
        self.refused = 0  # calls refused so far

    def _remember(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        # The call's own parameters: before-call sees them serialized, but shares this request context.
        context[self._key] = params

    def _refuse(
        self, params: Mapping[str, Any], context: Mapping[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        if self._when is not None and not self._when(context.get(self._key) or {}):
            return None
        self.refused += 1
        response = AWSResponse(params.get("url", ""), self._status, HTTPHeaders(), None)
        parsed = {
            "Error": {"Code": self._code, "Message": self._message},
            "ResponseMetadata": {"HTTPStatusCode": self._status, "RetryAttempts": 0},
        }
        return response, parsed

    @property
    def _key(self) -> str:
        return f"aws-fault-{id(self)}"

    def __enter__(self) -> AwsFault:
        remember, refuse = self._events
        # One unique id per registration: botocore ignores a second registration under an id it already holds.
        self._client.meta.events.register(remember, self._remember, unique_id=f"{self._key}-params")
        self._client.meta.events.register_first(refuse, self._refuse, unique_id=f"{self._key}-refusal")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        remember, refuse = self._events
        self._client.meta.events.unregister(remember, self._remember, unique_id=f"{self._key}-params")
        self._client.meta.events.unregister(refuse, self._refuse, unique_id=f"{self._key}-refusal")
