"""Durable Object classes the conformance tests drive through stubs, as Worker code would."""

from __future__ import annotations

import threading
import time
from typing import Any

from ttai.bindings.durable import AlarmInfo, DurableObject, DurableObjectState

# Set by a test before it makes the calls that use them (an object has no other way to meet a test's threads).
rendezvous: threading.Barrier | None = None
release: threading.Event | None = None
alarm_fired: threading.Event | None = None


class Counter(DurableObject):
    constructed = 0  # class state outlives a call (module state in a warm container), unlike instance fields

    def __init__(self, ctx: DurableObjectState, env: Any) -> None:
        super().__init__(ctx, env)
        type(self).constructed += 1
        self.memory: Any = None

    def add(self, n: int) -> int:
        total = (self.ctx.storage.get("total") or 0) + n
        self.ctx.storage.put("total", total)
        return int(total)

    def total(self) -> int:
        return int(self.ctx.storage.get("total") or 0)

    def stored(self, key: str) -> Any:
        return self.ctx.storage.get(key)

    def ping(self) -> str:
        return "pong"

    def whoami(self) -> dict[str, Any]:
        return {"id": str(self.ctx.id), "name": self.ctx.id.name, "env": self.env}

    def remember(self, value: Any) -> None:
        self.memory = value
        self.ctx.storage.put("memory", value)

    def recall(self) -> dict[str, Any]:
        return {"field": self.memory, "stored": self.ctx.storage.get("memory")}

    def fail_after_write(self, message: str) -> None:
        self.ctx.storage.put("written before the error", True)
        raise ValueError(message)

    def meet(self) -> int:
        assert rendezvous is not None
        return rendezvous.wait(timeout=10)

    def hold(self, value: Any) -> Any:
        assert release is not None
        self.ctx.storage.put("held", value)
        release.wait(timeout=10)
        return value

    def unsendable(self) -> Any:
        return (1, 2)

    def _private(self) -> str:
        return "never over RPC"

    def alarm(self, info: AlarmInfo) -> None:
        self.ctx.storage.put("alarm ran", True)


class Store(DurableObject):
    """Storage operations, one RPC method each."""

    def get(self, key: Any) -> Any:
        return self.ctx.storage.get(key)

    def put(self, *args: Any) -> None:
        self.ctx.storage.put(*args)

    def delete(self, key: Any) -> Any:
        return self.ctx.storage.delete(key)

    def keys(self, options: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        return list(self.ctx.storage.list(options, **kwargs))

    def entries(self, **kwargs: Any) -> dict[str, Any]:
        return self.ctx.storage.list(**kwargs)

    def delete_all(self) -> None:
        self.ctx.storage.delete_all()

    def write_then_read(self) -> dict[str, Any]:
        """Reads inside one call see that call's staged writes and deletes."""
        storage = self.ctx.storage
        storage.put({"b": 2, "c": 3})
        deleted = storage.delete("a")
        return {"deleted": deleted, "a": storage.get("a"), "list": storage.list(), "c": storage.get("c")}

    def staged_list(self, deletes: list[str], puts: dict[str, Any], **options: Any) -> list[str]:
        self.ctx.storage.delete(deletes)
        self.ctx.storage.put(puts)
        return list(self.ctx.storage.list(**options))

    def put_one_by_one(self, count: int) -> None:
        for n in range(count):
            self.ctx.storage.put(f"many:{n:04d}", n)

    def transfer(self, amount: int, fail: bool) -> None:
        """Move ``amount`` from a to b in a transaction; a write made before it stays whatever happens."""
        storage = self.ctx.storage
        storage.put("before", "kept")

        def move(txn: Any) -> None:
            txn.put("a", txn.get("a") - amount)
            txn.put("b", txn.get("b") + amount)
            if fail:
                raise RuntimeError("the transfer failed half-way")

        storage.transaction(move)

    def rolled_back(self) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def work(txn: Any) -> str:
            txn.put("a", "in txn")
            seen["inside"] = txn.get("a")
            txn.rollback()
            try:
                txn.get("a")
            except Exception as exc:  # noqa: BLE001 - reported back to the test
                seen["after rollback"] = type(exc).__name__
            return "returned"

        seen["result"] = self.ctx.storage.transaction(work)
        seen["after"] = self.ctx.storage.get("a")
        return seen

    def nested(self) -> None:
        self.ctx.storage.transaction(lambda txn: self.ctx.storage.transaction(lambda inner: None))

    def big_transaction(self, count: int) -> None:
        def work(txn: Any) -> None:
            for n in range(count):
                txn.put(f"txn:{n:04d}", n)

        self.ctx.storage.transaction(work)

    def set_alarm(self, when: float) -> int | None:
        self.ctx.storage.set_alarm(when)
        return self.ctx.storage.get_alarm()

    def get_alarm(self) -> int | None:
        return self.ctx.storage.get_alarm()

    def accept(self) -> None:
        self.ctx.accept_websocket(object(), ["room"])

    def alarm(self, info: AlarmInfo) -> None:
        return None


class Alarmed(DurableObject):
    """Records every alarm run in storage; ``mode`` (stored) decides how the handler ends."""

    def set(self, when: float) -> int | None:
        self.ctx.storage.set_alarm(when)
        return self.ctx.storage.get_alarm()

    def get(self) -> int | None:
        return self.ctx.storage.get_alarm()

    def delete(self) -> None:
        self.ctx.storage.delete_alarm()

    def mode(self, mode: str) -> None:
        self.ctx.storage.put("mode", mode)

    def runs(self) -> list[list[Any]]:
        return list(self.ctx.storage.get("runs") or [])

    def alarm(self, info: AlarmInfo) -> None:
        storage = self.ctx.storage
        storage.put("runs", [*(storage.get("runs") or []), [info.retry_count, info.is_retry, storage.get_alarm()]])
        mode = storage.get("mode")
        if alarm_fired is not None:
            alarm_fired.set()
        if mode == "fail":
            raise RuntimeError("the alarm handler failed")
        if mode == "delete then fail":
            storage.delete_alarm()
            raise RuntimeError("the alarm handler failed after deleting its alarm")
        if mode == "reschedule":
            storage.set_alarm(time.time() * 1000 + 60_000)


class NoAlarm(DurableObject):
    def set(self, when: float) -> None:
        self.ctx.storage.set_alarm(when)


CLASSES: dict[str, type[DurableObject]] = {
    "COUNTER": Counter,
    "STORE": Store,
    "ALARMED": Alarmed,
    "NO_ALARM": NoAlarm,
}
