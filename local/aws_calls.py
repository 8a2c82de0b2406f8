"""Counting AWS API calls through botocore's event hooks: the yardstick for "one round trip where one is enough"."""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import Any


class CallCounter:
    """Counts API calls (not HTTP retries) made by the given boto3 clients while the block runs."""

    def __init__(self, *clients: Any) -> None:
        self._clients = clients
        self.calls: Counter[str] = Counter()

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def __enter__(self) -> CallCounter:
        for client in self._clients:
            client.meta.events.register("before-call", self._count, unique_id=f"call-counter-{id(self)}")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call", self._count, unique_id=f"call-counter-{id(self)}")

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def by_operation(self) -> dict[str, int]:
        return dict(self.calls)
