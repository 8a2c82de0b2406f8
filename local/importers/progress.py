"""A progress bar on standard error for long imports: redrawn at most five times a second, and only on a terminal
(a log or a test sees nothing but the final report)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 24
_INTERVAL = 0.2


class Progress:
    """``with Progress("positions", total=1_000_000, unit="rows") as bar: bar.advance(500)``."""

    def __init__(
        self, label: str, total: int | None = None, unit: str = "rows", *, stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty()
        self._started = time.monotonic()
        self._drawn = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self._enabled and now - self._drawn >= _INTERVAL:
            self._drawn = now
            self._draw(now)

    def close(self) -> None:
        if self._enabled:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()
            self._enabled = False

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._started, 1e-9)
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(share * _WIDTH)
            bar = f"[{'#' * filled}{'.' * (_WIDTH - filled)}] {share:4.0%} {self.done:,}/{self.total:,}"
        else:
            bar = f"{self.done:,}"
        self._stream.write(f"\r  {self.label}: {bar} {self.unit}, {rate:,.0f}/s ")
        self._stream.flush()
