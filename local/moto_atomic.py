"""moto made to behave as DynamoDB does where the bindings rely on it.

- Atomic requests: DynamoDB applies each request atomically; moto server does not. It answers on many threads with
  no lock around its DynamoDB backend, so two conditional writes to one item can both pass their condition (a race
  that lets two callers take one Durable Object lease at once). Serialising moto's DynamoDB requests restores the
  guarantee locally; moto holds the GIL while it works anyway, so it costs little.
- Transactions that cost what they touch: before each action of a TransactWriteItems, moto deep-copies the whole
  table, to roll back on a failure. With a few thousand items (a thousand WebSocket connections and their sockets)
  every accept then copies the table three times, and a thousand accepts take minutes and gigabytes. With requests
  serialised, a rollback only has to put back the items the transaction touched: they are saved before it runs and
  restored if it fails, and the tables are no longer copied. Errors are moto's own, unchanged.
- Memory that does not grow per request: every moto model instance is appended to its class's ``instances_tracked``
  list for as long as the process lives (moto's debugging dump reads it), and DynamoDB makes items on every write
  (an UpdateItem copies its item), so a dev server kept every copy: about a kilobyte per authorized request, whose
  limits UpdateItem is a write. DynamoDB's models stop being tracked here; nothing of ours reads that list.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_LOCK = threading.Lock()


def make_dynamodb_requests_atomic() -> None:
    """Patch moto (in this process, where ThreadedMotoServer runs) to handle one DynamoDB request at a time, and its
    transactions to roll back item by item (see the module docstring)."""
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415 - moto is imported only where it runs

    original = DynamoHandler.call_action
    if getattr(original, "ttai_atomic", False):
        return

    @functools.wraps(original)
    def atomic(self: Any) -> Any:
        with _LOCK:
            return original(self)

    atomic.ttai_atomic = True  # type: ignore[attr-defined]
    setattr(DynamoHandler, "call_action", atomic)  # noqa: B010 - replacing a method mypy sees as read-only
    _roll_back_item_by_item()
    _track_no_dynamodb_instances()


class _Untracked(list[Any]):
    """An ``instances_tracked`` that keeps nothing."""

    def append(self, instance: Any) -> None:
        del instance


def _track_no_dynamodb_instances() -> None:
    import moto.dynamodb.models  # noqa: F401, PLC0415 - registers the DynamoDB models in model_data
    from moto.core.model_instances import model_data  # noqa: PLC0415

    for model in model_data["dynamodb"].values():
        setattr(model, "instances_tracked", _Untracked())  # noqa: B010 - moto's models are typed as plain objects


class _TablesNotCopied:
    """Stands in for the ``copy`` module inside moto's DynamoDB models: a Table is not copied (its items are saved
    one by one instead), anything else is."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)


def _roll_back_item_by_item() -> None:
    from moto.dynamodb import models  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    models.copy = _TablesNotCopied(Table)  # type: ignore[assignment,attr-defined]

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = _touched_items(self, transact_items)
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(saved):
                if attributes is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    setattr(backend, "transact_write_items", transact_write_items)  # noqa: B010


def _touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], Any]]:
    """(table, key, the item's attributes or None) for each item the transaction names, before it runs."""
    saved = []
    for action in transact_items:
        if len(action) != 1:
            continue  # moto refuses it before writing anything
        operation = next(iter(action.values()))
        table_name = operation.get("TableName")
        if table_name not in backend.tables:
            continue
        table = backend.tables[table_name]
        source = operation.get("Item") if "Item" in operation else operation.get("Key")
        if not isinstance(source, dict):
            continue
        key = {name: source[name] for name in (table.hash_key_attr, table.range_key_attr) if name and name in source}
        try:
            item = backend.get_item(table_name, key)
        except Exception:  # noqa: BLE001, S112 - a malformed key: moto refuses the transaction before it writes
            continue
        saved.append((table_name, key, copy.deepcopy(item.to_json()["Attributes"]) if item is not None else None))
    return saved
