"""API Gateway's @connections API as the hub uses it: PostToConnection and DeleteConnection, signed (SigV4,
``execute-api``) HTTP requests on one pooled connection set.

Why not boto3's ``apigatewaymanagementapi`` client: a publish is one post per subscriber, and botocore's per-call
machinery (validation, serialisation, event hooks, response parsing) costs about as much CPU again as signing and
sending the request; on this machine a publish to 1,000 subscribers took 2.2 s through boto3 and 1.7 s this way
(``make bench``), and on Lambda that CPU is billed time. The wire is what boto3 sends: ``POST|DELETE
{callback_url}/@connections/{url-encoded id}``, and API Gateway's answers read the same way: 410 (GoneException)
is a connection that has gone, 429 and 5xx are retried with backoff (standard mode, 3 attempts), anything else
is a :class:`ConnectionsApiError` naming the status and API Gateway's error type, never its message (a request
that could not be sent at all is one too, status 0).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

from ttai.errors import TtaiError

POST = "PostToConnection"
DELETE = "DeleteConnection"
ATTEMPTS = 3
_RETRIED = frozenset({429, 500, 502, 503, 504})
_GONE = 410


class ConnectionsApiError(TtaiError):
    """@connections refused a request (not 410): ``status`` and API Gateway's ``error_type``."""

    def __init__(self, operation: str, status: int, error_type: str) -> None:
        super().__init__(f"{operation} answered {status} {error_type}")
        self.operation = operation
        self.status = status
        self.error_type = error_type


class ConnectionsApi:
    """A stage's @connections endpoint (``callback_url``: ``https://{api}.execute-api.{region}.amazonaws.com/{stage}``).

    ``credentials`` is a botocore credentials object (a function's role, from the environment when not given);
    ``pool_size`` connections are kept alive, as many as the hub posts in parallel. ``requests`` counts the
    requests made, by operation (what ``make bench`` reports per publish).
    """

    def __init__(
        self,
        callback_url: str,
        *,
        region: str,
        credentials: Any = None,
        pool_size: int = 32,
        timeout_seconds: float = 5.0,
    ) -> None:
        import urllib3  # noqa: PLC0415 - botocore's HTTP library, in the runtime with it; loaded by the hub's users only

        if credentials is None:
            import botocore.session  # noqa: PLC0415

            credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            raise TtaiError("no AWS credentials to sign @connections requests with")
        self.callback_url = callback_url.rstrip("/")
        self.region = region
        self._credentials = credentials
        self._http = urllib3.PoolManager(
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=2.0, read=timeout_seconds),
            retries=False,
        )
        self._http_error: type[Exception] = urllib3.exceptions.HTTPError
        self.requests: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> bool:
        """PostToConnection; False when the connection has gone (410)."""
        return self._send(POST, "POST", connection_id, data)

    def delete(self, connection_id: str) -> bool:
        """DeleteConnection; False when the connection had already gone (410)."""
        return self._send(DELETE, "DELETE", connection_id, b"")

    def _send(self, operation: str, method: str, connection_id: str, data: bytes) -> bool:
        from botocore.auth import SigV4Auth  # noqa: PLC0415 - in the runtime with boto3
        from botocore.awsrequest import AWSRequest  # noqa: PLC0415

        url = f"{self.callback_url}/@connections/{quote(connection_id, safe='')}"
        for attempt in range(1, ATTEMPTS + 1):
            request = AWSRequest(method=method, url=url, data=data)
            SigV4Auth(self._credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
            with self._count_lock:
                self.requests[operation] += 1
            try:
                response = self._http.request(method, url, body=data or None, headers=dict(request.headers))
            except self._http_error as exc:
                if attempt == ATTEMPTS:
                    raise ConnectionsApiError(operation, 0, type(exc).__name__) from exc
                continue
            status = response.status
            if status < 300:
                return True
            if status == _GONE:
                return False
            if status not in _RETRIED or attempt == ATTEMPTS:
                raise ConnectionsApiError(operation, status, response.headers.get("x-amzn-ErrorType", "unknown"))
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not a secret
        raise AssertionError("unreachable: the last attempt returns or raises")
