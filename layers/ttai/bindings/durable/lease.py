"""One call at a time per object: a lease item per object in DynamoDB, fenced.

Acquiring is one conditional UpdateItem: take the lease if nobody holds it or the holder's lease has expired, set
``owner`` and ``expires`` and increment ``fence``. A call that finds the lease held waits (jittered backoff,
``wait_seconds`` at most) and then fails as *overloaded*, as Cloudflare fails calls an object cannot take.
Every write the holder makes afterwards is conditional on ``owner`` and ``fence`` still being its own (a
ConditionCheck in the same TransactWriteItems, or the release itself), so a holder whose lease expired and was
taken over can no longer write: its call fails as *retryable* and nothing of it is stored.

``lease_seconds`` must outlast the longest call (the host function's timeout): a call that runs past its lease
while another takes the object over loses its writes, and an invocation that dies holding the lease blocks its
object until the lease expires.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple, cast

from botocore.exceptions import ClientError

from ttai.bindings.common import error_code
from ttai.bindings.durable.items import LEASE_EXPIRES, LEASE_FENCE, LEASE_OWNER, LEASE_SORT_KEY, DurableTable
from ttai.errors import TtaiError

_NAMES = {"#owner": LEASE_OWNER, "#expires": LEASE_EXPIRES, "#fence": LEASE_FENCE}
_FIRST_WAIT_SECONDS = 0.005
_MAX_WAIT_SECONDS = 1.0  # polls back off to once a second: many waiters must not starve the holder


class ObjectOverloaded(TtaiError):
    """The object's lease stayed held for longer than a call may wait."""


class LeaseLost(TtaiError):
    """The lease expired and another invocation took the object over: this call's writes were not stored."""


class Lease(NamedTuple):
    """A held lease: the partition it covers, who holds it and the fence its writes are conditional on."""

    partition: str
    owner: str
    fence: int


class Leases:
    """Acquires and releases object leases in one table."""

    def __init__(
        self, table: DurableTable, dynamodb: Any, *, lease_seconds: float = 30.0, wait_seconds: float = 10.0
    ) -> None:
        self.table = table
        self._ddb = dynamodb
        self.lease_ms = int(lease_seconds * 1000)
        self.wait_seconds = wait_seconds

    def acquire(self, partition: str) -> Lease:
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_seconds  # real time: tests may freeze time.time()
        pause = _FIRST_WAIT_SECONDS
        while True:
            now_ms = int(time.time() * 1000)
            try:
                response = self._ddb.update_item(
                    TableName=self.table.name,
                    Key=self.table.key(partition, LEASE_SORT_KEY),
                    UpdateExpression="SET #owner = :owner, #expires = :expires ADD #fence :one",
                    ConditionExpression="attribute_not_exists(#owner) OR #expires < :now",
                    ExpressionAttributeNames=_NAMES,
                    ExpressionAttributeValues={
                        ":owner": {"S": owner},
                        ":expires": {"N": str(now_ms + self.lease_ms)},
                        ":now": {"N": str(now_ms)},
                        ":one": {"N": "1"},
                    },
                    ReturnValues="UPDATED_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                held = _item(exc)
                if held.get(LEASE_OWNER, {}).get("S") == owner:
                    # An earlier attempt of this request took the lease (botocore retried it): it is ours.
                    return Lease(partition, owner, int(held[LEASE_FENCE]["N"]))
                if time.monotonic() + pause > deadline:
                    raise ObjectOverloaded(
                        f"the object stayed busy for {self.wait_seconds:g} s: too many calls are queued for it"
                    ) from exc
                time.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
                pause = min(pause * 2, _MAX_WAIT_SECONDS)
                continue
            return Lease(partition, owner, int(response["Attributes"][LEASE_FENCE]["N"]))

    def _condition(self, lease: Lease) -> dict[str, Any]:
        return {
            "TableName": self.table.name,
            "Key": self.table.key(lease.partition, LEASE_SORT_KEY),
            "ConditionExpression": "#owner = :owner AND #fence = :fence",
            "ExpressionAttributeNames": {"#owner": LEASE_OWNER, "#fence": LEASE_FENCE},
            "ExpressionAttributeValues": {":owner": {"S": lease.owner}, ":fence": {"N": str(lease.fence)}},
        }

    def check_action(self, lease: Lease) -> dict[str, Any]:
        """A TransactWriteItems action that fails the transaction unless ``lease`` is still held."""
        return {"ConditionCheck": self._condition(lease)}

    def release_action(self, lease: Lease) -> dict[str, Any]:
        """A TransactWriteItems action that releases ``lease``, failing the transaction if it was lost."""
        update = self._condition(lease)
        update["UpdateExpression"] = "REMOVE #owner, #expires"
        update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        update["ExpressionAttributeNames"] = {**update["ExpressionAttributeNames"], "#expires": LEASE_EXPIRES}
        return {"Update": update}

    def release(self, lease: Lease) -> None:
        """Release with nothing to write (one UpdateItem); LeaseLost if it was taken over meanwhile."""
        update = self.release_action(lease)["Update"]
        try:
            self._ddb.update_item(**update)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            if self.released(lease, _item(exc)):
                return  # released by an earlier attempt of this request (botocore retried it): nothing to do
            raise LeaseLost("the object's lease expired and was taken over before the call ended") from exc

    @staticmethod
    def released(lease: Lease, item: Mapping[str, Any] | None) -> bool:
        """Whether the lease item, as a failed condition returned it, shows ``lease`` released by its holder.

        Only the holder removes its owner without changing the fence, and a takeover changes the fence: so an item
        with no owner and the same fence means the holder's release (and whatever was written with it) is done.
        """
        if not item or LEASE_OWNER in item:
            return False
        return bool(item.get(LEASE_FENCE, {}).get("N") == str(lease.fence))


def _item(exc: ClientError) -> dict[str, Any]:
    # ReturnValuesOnConditionCheckFailure puts the item in the error response (not in botocore's types).
    return cast(dict[str, Any], exc.response).get("Item") or {}
