"""Connect tickets: how a browser, which cannot set headers on a WebSocket, proves who it is at ``$connect`` without
putting its session token in a URL (URLs end up in logs).

``POST /api/v1/realtime/ticket`` (signed in) issues a ticket: 32 random bytes, valid for 60 seconds, good for one
connection. The WebSocket URL carries it (``?ticket=``); the ``$connect`` REQUEST authorizer redeems it. Only its
SHA-256 is stored (in the connections table, ``ticket#<digest>``), so the table holds nothing a reader could
connect with. Redeeming is one conditional DeleteItem (the ticket exists and has not expired) returning the old
item: of two connects racing with one ticket exactly one gets the user, and a forged or reused ticket costs that one
request; one that is not even shaped like a ticket costs none.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from botocore.exceptions import ClientError

from ttai.bindings.common import reports_unavailable
from ttai.bindings.durable.connections import DEPENDENCY, ROW_SORT_KEY, TICKET_PREFIX, USER
from ttai.errors import ConfigurationError, Unauthorized
from ttai.layout import WebSocketLayout, storage_layout
from ttai.observability import logger

TICKET_BYTES = 32
_TICKET = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes of URL-safe base64, unpadded
EXPIRES = "expires"
QUERY_PARAMETER = "ticket"
# The $connect authorizer's identity source (CDK WebSocketLambdaAuthorizer identity_source).
IDENTITY_SOURCE = f"route.request.querystring.{QUERY_PARAMETER}"


class Ticket(NamedTuple):
    ticket: str
    url: str  # the WebSocket URL with the ticket in its query
    expires_at: datetime


class TicketOffice:
    """Issues and redeems connect tickets in the connections table."""

    def __init__(
        self, table: str, *, dynamodb: Any, websocket_url: str | None = None, layout: WebSocketLayout | None = None
    ) -> None:
        """``websocket_url``: where tickets are issued (the api), the URL a ticket opens; None where they are only
        redeemed (the $connect authorizer)."""
        if websocket_url is not None and not websocket_url.startswith(("wss://", "ws://")):
            raise ValueError(f"a WebSocket URL starts wss:// (ws:// locally), not {websocket_url!r:.80}")
        self.table = table
        self.dynamodb = dynamodb
        self.websocket_url = websocket_url
        self.layout = layout or storage_layout().websockets

    def _key(self, ticket: str) -> dict[str, Any]:
        digest = hashlib.sha256(ticket.encode("ascii")).hexdigest()
        return {
            self.layout.partition_attr: {"S": TICKET_PREFIX + digest},
            self.layout.sort_attr: {"S": ROW_SORT_KEY},
        }

    @reports_unavailable(DEPENDENCY)  # DynamoDB away or throttling: a 503 naming the connections, not a 500
    def issue(self, user_id: str) -> Ticket:
        """A new single-use ticket for ``user_id`` (one PutItem)."""
        if self.websocket_url is None:
            raise ConfigurationError("this ticket office issues no tickets: it was given no WebSocket URL")
        ticket = secrets.token_urlsafe(TICKET_BYTES)
        now = time.time()
        expires_ms = int(now * 1000) + self.layout.ticket_seconds * 1000
        item = self._key(ticket)
        item[USER] = {"S": user_id}
        item[EXPIRES] = {"N": str(expires_ms)}
        # TTL deletes it some time after it stopped being valid; validity is checked on the expiry, not on TTL.
        item[self.layout.ttl_attr] = {"N": str(int(now) + self.layout.ticket_seconds + 60)}
        self.dynamodb.put_item(TableName=self.table, Item=item)
        separator = "&" if "?" in self.websocket_url else "?"
        return Ticket(
            ticket=ticket,
            url=f"{self.websocket_url}{separator}{QUERY_PARAMETER}={quote(ticket)}",
            expires_at=datetime.fromtimestamp(expires_ms / 1000, UTC),
        )

    def redeem(self, ticket: object) -> str | None:
        """The user a valid, unused ticket was issued to, using it up; None for anything else."""
        if not isinstance(ticket, str) or not _TICKET.match(ticket):
            return None
        try:
            old = self.dynamodb.delete_item(
                TableName=self.table,
                Key=self._key(ticket),
                ConditionExpression="attribute_exists(#user) AND #expires > :now",
                ExpressionAttributeNames={"#user": USER, "#expires": EXPIRES},
                ExpressionAttributeValues={":now": {"N": str(int(time.time() * 1000))}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return None
        return str(old["Attributes"][USER]["S"])


def authorize_connect(event: dict[str, Any], office: TicketOffice) -> dict[str, Any]:
    """The WebSocket API's ``$connect`` REQUEST authorizer: an IAM policy allowing this connection for the ticket's
    user (principalId, and ``user_id`` in the context every later event of the connection carries), or
    ``Unauthorized`` (API Gateway answers 401 and never upgrades). Its results must not be cached (a ticket is
    single-use): ``results_cache_ttl`` 0."""
    query = event.get("queryStringParameters") or {}
    user_id = office.redeem(query.get(QUERY_PARAMETER))
    if user_id is None:
        logger.info("WebSocket connect refused: no valid ticket")
        raise Unauthorized("Unauthorized")  # the message API Gateway reads as 401
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
    return {
        "principalId": user_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"user_id": user_id},
    }
