"""``ctx.storage``: Cloudflare's KV-backed Durable Object storage API, synchronous, over one DynamoDB partition.

A storage object lives for one call, under the object's lease. Reads are strongly consistent and remembered for
the call; writes are staged and reach DynamoDB when the call ends, in one TransactWriteItems together with the
lease's release, so a call's writes are atomic and durable before its result is returned (Cloudflare's write
coalescing and output gate, for the whole call). A call's reads see its own staged writes.

DynamoDB takes at most 100 actions and 4 MB in one transaction. When staged writes would pass that, the ones
staged so far are committed first (fenced by the lease, which stays held), so a call that writes more than a
transaction holds is atomic per transaction, not as a whole; a ``transaction()`` is never split and is refused
(TransactionTooLarge) when its own writes do not fit in one.

Limits as Cloudflare's KV backend: 128 keys per get / put / delete, values up to 128 KiB in their stored form
(items.py); keys up to 1,023 bytes of UTF-8 (Cloudflare: 2 KiB; DynamoDB's sort key holds 1,024 bytes and the
storage prefix takes one). Everything is checked before any AWS call.
"""

from __future__ import annotations

import builtins
import heapq
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar, overload

from botocore.exceptions import ClientError

from ttai.bindings.common import retry_unprocessed
from ttai.bindings.durable import alarms
from ttai.bindings.durable.alarms import AlarmTrigger
from ttai.bindings.durable.errors import (
    InvalidAlarm,
    InvalidKey,
    InvalidListOptions,
    InvalidTransaction,
    TooManyKeys,
    TransactionTooLarge,
)
from ttai.bindings.durable.items import (
    ALARM_SORT_KEY,
    STORAGE_END,
    STORAGE_PREFIX,
    AlarmItem,
    DurableTable,
    StoredValue,
)
from ttai.bindings.durable.keys import (
    MAX_KEYS,
    alarm_ms,
    ceiling,
    check_key,
    check_text,
    clip,
    key_list,
    prefix_end,
)
from ttai.bindings.durable.lease import Lease, LeaseLost, Leases

T = TypeVar("T")
TRANSACT_MAX_ACTIONS = 100
TRANSACT_MAX_BYTES = 4 * 1024 * 1024
BATCH_GET_MAX = 100
_UNPROCESSED_RETRIES = 6
DEPENDENCY = "durable object storage"
_MISSING: Any = object()
_LIST_OPTIONS = {
    "start": "start",
    "start_after": "start_after",
    "startAfter": "start_after",
    "end": "end",
    "prefix": "prefix",
    "reverse": "reverse",
    "limit": "limit",
}


class _Unchanged:
    """The alarm has no staged change."""


UNCHANGED = _Unchanged()
AlarmChange = AlarmItem | None | _Unchanged  # None: delete the alarm


class _Snapshot(NamedTuple):
    writes: dict[str, StoredValue | None]
    alarm: AlarmChange


class ObjectAddress(NamedTuple):
    """Which object a storage belongs to, and the lease its writes are fenced by."""

    namespace: str
    hex_id: str
    partition: str
    lease: Lease


class DurableObjectStorage:
    """The storage of one object for one call (``ctx.storage``)."""

    def __init__(
        self,
        address: ObjectAddress,
        *,
        table: DurableTable,
        dynamodb: Any,
        leases: Leases,
        trigger: AlarmTrigger,
        alarm_handler: bool,
    ) -> None:
        self._address = address
        self._table = table
        self._ddb = dynamodb
        self._leases = leases
        self._trigger = trigger
        self._alarm_handler = alarm_handler
        self._writes: dict[str, StoredValue | None] = {}  # staged, None = delete
        self._known: dict[str, StoredValue | None] = {}  # what DynamoDB holds, as read (or written) this call
        self._alarm_loaded = False
        self._alarm_stored: AlarmItem | None = None
        self._alarm_change: AlarmChange = UNCHANGED
        self._alarm_running: AlarmItem | None = None
        self._txn: _Snapshot | None = None

    # ------------------------------------------------------------------ reads

    @overload
    def get(self, key: str) -> Any: ...
    @overload
    def get(self, key: Sequence[str]) -> dict[str, Any]: ...

    def get(self, key: str | Sequence[str]) -> Any:
        """The value of ``key`` or None; a list of keys (at most 128) gives a dict of the found ones in key order."""
        if isinstance(key, str):
            check_key(key)
            stored = self._read([key])[key]
            return stored.value() if stored is not None else None
        keys = key_list(key, "get")
        found = self._read(keys)
        return {k: stored.value() for k, stored in sorted(found.items()) if stored is not None}

    def list(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        start: str | None = None,
        start_after: str | None = None,
        end: str | None = None,
        prefix: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """Keys and values in UTF-8 byte order: ``start`` inclusive or ``start_after`` exclusive, ``end``
        exclusive, ``prefix``, ``reverse`` (bounds keep their meaning) and ``limit``. ``options`` may be the mapping
        Worker code passes (``startAfter`` or ``start_after``...)."""
        chosen: dict[str, Any] = {
            "start": start,
            "start_after": start_after,
            "end": end,
            "prefix": prefix,
            "reverse": reverse,
            "limit": limit,
        }
        for name, value in (options or {}).items():
            if name not in _LIST_OPTIONS:
                raise InvalidListOptions(f"unknown list option {name!r}: one of {', '.join(sorted(_LIST_OPTIONS))}")
            chosen[_LIST_OPTIONS[name]] = value
        return {key: stored.value() for key, stored in self._list(**chosen)}

    def _read(self, keys: Sequence[str]) -> dict[str, StoredValue | None]:
        found: dict[str, StoredValue | None] = {}
        missing = []
        for key in dict.fromkeys(keys):
            if key in self._writes:
                found[key] = self._writes[key]
            elif key in self._known:
                found[key] = self._known[key]
            else:
                missing.append(key)
        if len(missing) == 1:
            response = self._ddb.get_item(
                TableName=self._table.name,
                Key=self._table.storage_key(self._address.partition, missing[0]),
                ConsistentRead=True,
            )
            item = response.get("Item")
            self._known[missing[0]] = found[missing[0]] = self._table.stored_of(item) if item else None
        elif missing:
            for start in range(0, len(missing), BATCH_GET_MAX):
                chunk = missing[start : start + BATCH_GET_MAX]
                for key in chunk:
                    self._known[key] = found[key] = None
                for item in self._batch_get(chunk):
                    key = self._table.key_of(item)
                    self._known[key] = found[key] = self._table.stored_of(item)
        return found

    def _batch_get(self, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
        partition = self._address.partition
        request: dict[str, Any] = {
            self._table.name: {
                "Keys": [self._table.storage_key(partition, key) for key in keys],
                "ConsistentRead": True,
            }
        }
        responses = retry_unprocessed(
            lambda pending: self._ddb.batch_get_item(RequestItems=pending),
            request,
            leftover="UnprocessedKeys",
            dependency=DEPENDENCY,
            attempts=_UNPROCESSED_RETRIES + 1,
        )
        for response in responses:
            yield from response.get("Responses", {}).get(self._table.name, [])

    def _list(
        self,
        *,
        start: str | None,
        start_after: str | None,
        end: str | None,
        prefix: str | None,
        reverse: bool,
        limit: int | None,
    ) -> Iterator[tuple[str, StoredValue]]:
        if start is not None and start_after is not None:
            raise InvalidListOptions("list takes start or start_after, not both")
        for name, bound in (("start", start), ("start_after", start_after), ("end", end), ("prefix", prefix)):
            if bound is not None:
                check_text(bound, f"list option {name}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidListOptions(f"list limit must be a positive integer, got {limit!r}")
        if not isinstance(reverse, bool):
            raise InvalidListOptions(f"list reverse must be True or False, got {reverse!r}")
        low = max(b for b in (start, start_after, prefix, "") if b is not None)
        high = end
        if prefix is not None:
            after_prefix = prefix_end(prefix)
            if after_prefix is not None:
                high = after_prefix if high is None else min(high, after_prefix)

        def wanted(key: str) -> bool:
            if key < low or (start_after is not None and key <= start_after):
                return False
            return (high is None or key < high) and (prefix is None or key.startswith(prefix))

        staged = sorted(((k, v) for k, v in self._writes.items() if wanted(k)), reverse=reverse)
        # Each staged key in range can hide or replace one stored key; the two bounds can each cost one more.
        page = limit + len(staged) + 2 if limit is not None else None
        stored = ((k, v) for k, v in self._query(low, high, reverse, page) if wanted(k))
        emitted = 0
        last: str | None = None
        # Staged entries come first among equal keys (heapq.merge is stable), so they win over what is stored.
        for key, value in heapq.merge(staged, stored, key=lambda kv: kv[0], reverse=reverse):
            if key == last:
                continue
            last = key
            if value is None:
                continue
            yield key, value
            emitted += 1
            if limit is not None and emitted >= limit:
                return

    def _query(
        self, low: str, high: str | None, reverse: bool, page: int | None
    ) -> Iterator[tuple[str, StoredValue | None]]:
        """Stored keys and values from ``low`` (inclusive) up to ``high`` (the bound may let a few more through),
        in order."""
        for item in self._items(low, high, reverse, page):
            key, stored = self._table.key_of(item), self._table.stored_of(item)
            self._known[key] = stored
            yield key, stored

    def _items(
        self, low: str, high: str | None, reverse: bool, page: int | None, *, keys_only: bool = False
    ) -> Iterator[dict[str, Any]]:
        lower = STORAGE_PREFIX + clip(low)
        upper = STORAGE_END if high is None else ceiling(high)
        if lower > upper:
            return  # DynamoDB refuses BETWEEN with bounds the wrong way round; the range is empty anyway
        lay = self._table.layout
        request: dict[str, Any] = {
            "TableName": self._table.name,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#pk": lay.partition_attr, "#sk": lay.sort_attr},
            "ExpressionAttributeValues": {
                ":pk": {"S": self._address.partition},
                ":low": {"S": lower},
                ":high": {"S": upper},
            },
            "ConsistentRead": True,
            "ScanIndexForward": not reverse,
        }
        if page is not None:
            request["Limit"] = page
        if keys_only:
            request["ProjectionExpression"] = "#sk"
        while True:
            response = self._ddb.query(**request)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    # ----------------------------------------------------------------- writes

    @overload
    def put(self, key: str, value: Any) -> None: ...
    @overload
    def put(self, key: Mapping[str, Any]) -> None: ...

    def put(self, key: str | Mapping[str, Any], value: Any = _MISSING) -> None:
        """Store ``value`` under ``key``, or every entry of a mapping (at most 128)."""
        if isinstance(key, str):
            if value is _MISSING:
                raise TypeError("put(key, value) needs a value; put(entries) takes a mapping")
            check_key(key)
            entries = {key: StoredValue.of(value)}
        elif isinstance(key, Mapping):
            if value is not _MISSING:
                raise TypeError("put(entries) takes only the mapping")
            if len(key) > MAX_KEYS:
                raise TooManyKeys(f"put takes at most {MAX_KEYS} entries, got {len(key)}")
            entries = {}
            for name, item in key.items():
                check_key(name)
                entries[name] = StoredValue.of(item)
        else:
            raise InvalidKey(f"put takes a key and a value, or a mapping of entries, not {type(key).__name__}")
        for name, stored in entries.items():
            self._stage(name, stored)

    @overload
    def delete(self, key: str) -> bool: ...
    @overload
    def delete(self, key: Sequence[str]) -> int: ...

    def delete(self, key: str | Sequence[str]) -> bool | int:
        """Delete ``key`` (True if it existed) or a list of keys (at most 128; how many existed)."""
        if isinstance(key, str):
            check_key(key)
            return self._delete([key]) == 1
        return self._delete(key_list(key, "delete"))

    def _delete(self, keys: builtins.list[str]) -> int:
        found = self._read(keys)
        count = 0
        for key, stored in found.items():
            if stored is None:
                continue
            count += 1
            if key in self._known and self._known[key] is None:
                del self._writes[key]  # only ever staged, never stored: nothing to delete in DynamoDB
            else:
                self._stage(key, None)
        return count

    def delete_all(self) -> None:
        """Delete every key, and the alarm (as Cloudflare does from compatibility date 2026-02-24)."""
        stored = [self._table.key_of(item) for item in self._items("", None, False, None, keys_only=True)]
        present = set(stored)
        for key in builtins.list(self._writes):
            if key not in present:
                del self._writes[key]  # staged only: nothing in DynamoDB to delete
        for key in stored:
            self._stage(key, None)
        self._change_alarm(None)

    def sync(self) -> None:
        """Commit the writes staged so far now (the lease stays held); a call's writes are committed at its end
        anyway, so this only matters before something outside storage must see them."""
        if self._txn is not None:
            raise InvalidTransaction("sync() cannot run inside a transaction")
        self._flush()

    # ------------------------------------------------------------ transactions

    def transaction(self, fn: Callable[[DurableObjectTransaction], T]) -> T:
        """Run ``fn(txn)``: its writes are kept only if it returns and did not call ``txn.rollback()``.

        Storage calls made on ``ctx.storage`` inside ``fn`` are part of the transaction too (as on Cloudflare's
        SQLite backend). Transactions do not nest.
        """
        if self._txn is not None:
            raise InvalidTransaction("transactions do not nest: call the inner work on the outer txn")
        self._txn = _Snapshot(dict(self._writes), self._alarm_change)
        txn = DurableObjectTransaction(self)
        try:
            result = fn(txn)
        except BaseException:
            self._restore()
            raise
        finally:
            txn._closed = True
        if txn._rolled_back:
            self._restore()
        self._txn = None
        return result

    def _restore(self) -> None:
        assert self._txn is not None
        self._writes, self._alarm_change = dict(self._txn.writes), self._txn.alarm
        self._txn = None

    # ------------------------------------------------------------------ alarms

    def get_alarm(self) -> int | None:
        """The alarm's time in ms since the epoch, or None (also while the alarm itself runs, until it sets one)."""
        change = self._alarm_change
        if not isinstance(change, _Unchanged):
            return change.due_ms if change is not None else None
        if self._alarm_running is not None:
            return None
        alarm = self._stored_alarm()
        return alarm.due_ms if alarm is not None else None

    def set_alarm(self, scheduled_time: float | datetime) -> None:
        """Replace the object's alarm with one at ``scheduled_time`` (ms since the epoch, or an aware datetime);
        a time in the past fires as soon as possible."""
        if not self._alarm_handler:
            raise InvalidAlarm("this Durable Object class has no alarm() handler, so it cannot set an alarm")
        self._change_alarm(AlarmItem(alarm_ms(scheduled_time), 0, None))

    def delete_alarm(self) -> None:
        """Delete the alarm, if any. Inside alarm() this also stops the running alarm from being retried."""
        self._change_alarm(None)

    def _stored_alarm(self) -> AlarmItem | None:
        """The alarm item as stored (read once per call); the host's view, get_alarm() is the object's."""
        if not self._alarm_loaded:
            response = self._ddb.get_item(
                TableName=self._table.name,
                Key=self._table.key(self._address.partition, ALARM_SORT_KEY),
                ConsistentRead=True,
            )
            self._alarm_stored = self._table.alarm_of(response.get("Item"))
            self._alarm_loaded = True
        return self._alarm_stored

    def _change_alarm(self, change: AlarmItem | None) -> None:
        stored = self._stored_alarm()
        if change is None and stored is None:
            self._alarm_change = UNCHANGED  # nothing stored: dropping a staged alarm is all there is to do
            return
        if isinstance(self._alarm_change, _Unchanged):
            self._make_room(extra_actions=1, extra_bytes=0)
        self._alarm_change = change

    def _rearm_alarm(self, alarm: AlarmItem) -> None:
        """Write ``alarm`` again so its trigger is armed anew (a trigger arrived before the alarm was due)."""
        self._stored_alarm()
        if isinstance(self._alarm_change, _Unchanged):
            self._make_room(extra_actions=1, extra_bytes=0)
        self._alarm_change = alarm._replace(schedule=None)

    def _begin_alarm_run(self, alarm: AlarmItem) -> None:
        """The host is about to run ``alarm``: reads see it consumed (get_alarm() is None until one is set)."""
        self._alarm_loaded, self._alarm_stored, self._alarm_running = True, alarm, alarm

    def _end_alarm_run(self, *, failed: bool) -> str:
        """Decide what becomes of the alarm that ran (kept, retried or deleted); returns the outcome."""
        alarm = self._alarm_running
        assert alarm is not None, "begin_alarm_run was not called"
        if not isinstance(self._alarm_change, _Unchanged):
            return "replaced" if self._alarm_change is not None else "deleted"
        change, outcome = alarms.after_run(alarm, failed=failed, now_ms=int(time.time() * 1000))
        self._make_room(extra_actions=1, extra_bytes=0)
        self._alarm_change = change
        return outcome

    # ------------------------------------------------------------------ commit

    def _stage(self, key: str, stored: StoredValue | None) -> None:
        partition = self._address.partition
        extra_actions = 0 if key in self._writes else 1
        extra_bytes = self._table.item_bytes(partition, key, stored)
        if key in self._writes:
            extra_bytes -= self._table.item_bytes(partition, key, self._writes[key])
        self._make_room(extra_actions=extra_actions, extra_bytes=extra_bytes)
        self._writes[key] = stored

    def _load(self, writes: Mapping[str, StoredValue | None], alarm: AlarmChange) -> tuple[int, int]:
        partition = self._address.partition
        actions = len(writes) + (0 if isinstance(alarm, _Unchanged) else 1) + 1  # + the lease's action
        size = sum(self._table.item_bytes(partition, key, stored) for key, stored in writes.items())
        return actions, size

    def _make_room(self, *, extra_actions: int, extra_bytes: int) -> None:
        """Commit early what may be committed, so the staged writes plus these still fit one transaction."""

        def fits(writes: Mapping[str, StoredValue | None], alarm: AlarmChange) -> bool:
            actions, size = self._load(writes, alarm)
            return actions + extra_actions <= TRANSACT_MAX_ACTIONS and size + extra_bytes <= TRANSACT_MAX_BYTES

        if fits(self._writes, self._alarm_change):
            return
        if self._txn is None:
            self._flush()
            return
        # Inside a transaction only what was staged before it began may be committed early.
        before = self._txn
        own = {k: v for k, v in self._writes.items() if k not in before.writes or before.writes[k] is not v}
        own_alarm = self._alarm_change if self._alarm_change is not before.alarm else UNCHANGED
        if not fits(own, own_alarm):
            raise TransactionTooLarge(
                f"a transaction's writes must fit one DynamoDB transaction ({TRANSACT_MAX_ACTIONS - 1} writes and "
                f"{TRANSACT_MAX_BYTES // (1024 * 1024)} MB), which Cloudflare does not limit; split it"
            )
        self._commit(before.writes, before.alarm, release=False)
        self._writes, self._alarm_change = own, own_alarm
        self._txn = _Snapshot({}, UNCHANGED)

    def _flush(self) -> None:
        self._commit(self._writes, self._alarm_change, release=False)
        self._writes, self._alarm_change = {}, UNCHANGED

    def _close(self) -> None:
        """End of the call: commit every staged write and release the lease, in one request."""
        assert self._txn is None, "a transaction is still open"
        self._commit(self._writes, self._alarm_change, release=True)
        self._writes, self._alarm_change = {}, UNCHANGED

    def _commit(self, writes: Mapping[str, StoredValue | None], alarm: AlarmChange, *, release: bool) -> None:
        address, table = self._address, self._table
        actions: builtins.list[dict[str, Any]] = []
        if isinstance(alarm, AlarmItem):
            # Armed before the write: a wake-up for an alarm that was never stored is ignored by the host.
            alarm = alarm._replace(schedule=self._trigger.arm(address.namespace, address.hex_id, alarm.due_ms))
            actions.append({"Put": {"TableName": table.name, "Item": table.alarm_item(address.partition, alarm)}})
        elif alarm is None:
            actions.append({"Delete": {"TableName": table.name, "Key": table.key(address.partition, ALARM_SORT_KEY)}})
        for key, stored in writes.items():
            if stored is None:
                actions.append({"Delete": {"TableName": table.name, "Key": table.storage_key(address.partition, key)}})
            else:
                actions.append(
                    {"Put": {"TableName": table.name, "Item": table.storage_item(address.partition, key, stored)}}
                )
        if not actions:
            if release:
                self._leases.release(address.lease)
            return
        actions.append(
            self._leases.release_action(address.lease) if release else self._leases.check_action(address.lease)
        )
        try:
            # The token makes botocore's retry of a transaction that did commit a no-op rather than a lost lease.
            self._ddb.transact_write_items(TransactItems=actions, ClientRequestToken=uuid.uuid4().hex)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            fence = reasons[-1] if reasons else {}
            if fence.get("Code") != "ConditionalCheckFailed":
                raise
            # A retry of a transaction that did commit fails on the lease it released; DynamoDB's token prevents
            # that, emulators may not. A released lease with our fence means the first attempt committed.
            if not (release and self._leases.released(address.lease, fence.get("Item"))):
                raise LeaseLost(
                    "the object's lease expired and was taken over: this call's writes were not stored"
                ) from exc
        self._known.update(writes)
        if not isinstance(alarm, _Unchanged):
            previous, self._alarm_stored = self._alarm_stored, alarm
            if previous is not None and previous.schedule and (alarm is None or alarm.schedule != previous.schedule):
                self._trigger.disarm(previous.schedule)


class DurableObjectTransaction:
    """The ``txn`` a transaction callback receives: storage methods plus ``rollback()``."""

    def __init__(self, storage: DurableObjectStorage) -> None:
        self._storage = storage
        self._rolled_back = False
        self._closed = False

    def _live(self) -> DurableObjectStorage:
        if self._rolled_back:
            raise InvalidTransaction("this transaction was rolled back; its txn takes no more operations")
        if self._closed:
            raise InvalidTransaction("this transaction has ended")
        return self._storage

    def rollback(self) -> None:
        """Discard every write of the transaction when the callback returns."""
        self._live()
        self._rolled_back = True

    def get(self, key: Any) -> Any:
        return self._live().get(key)

    def put(self, key: Any, value: Any = _MISSING) -> None:
        self._live().put(key, value)

    def delete(self, key: Any) -> Any:
        return self._live().delete(key)

    def list(self, options: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        return self._live().list(options, **kwargs)

    def get_alarm(self) -> int | None:
        return self._live().get_alarm()

    def set_alarm(self, scheduled_time: float | datetime) -> None:
        self._live().set_alarm(scheduled_time)

    def delete_alarm(self) -> None:
        self._live().delete_alarm()
