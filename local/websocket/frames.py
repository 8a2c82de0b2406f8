"""API Gateway's 32 KB WebSocket frame quota, which aiohttp cannot enforce on its own (it limits whole messages).

A message may be up to 128 KB, but only as frames of at most 32 KB each; a larger frame closes the connection with
1009 even when the message it carries is small enough (so a browser, which never fragments, cannot send more than
32 KB). ``FrameSizeGuard`` sits between aiohttp's socket protocol and its WebSocket reader, reads each frame header as
it arrives, and reports an oversized data frame before any of its payload reaches the reader; from then on it passes
only control frames (the client's close reply), so nothing more is delivered while the connection closes.

aiohttp has no public hook for this: the guard is installed by a RequestHandler subclass that wraps the parser
given to ``set_parser`` (what ``WebSocketResponse.prepare`` calls), and served by a ``web.Server`` subclass. The
gateway's tests send oversized frames, so an aiohttp release that changes this seam fails them loudly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

_CONTROL_OPCODES = 0x8  # close, ping and pong are 0x8 and above; data frames (continuation, text, binary) below


class FrameSizeGuard:
    """Feeds aiohttp's WebSocket reader, measuring every client frame on the way (RFC 6455 section 5.2)."""

    def __init__(self, reader: Any, limit: int, on_oversized: Callable[[int], None]) -> None:
        self._reader = reader
        self._limit = limit
        self._on_oversized = on_oversized
        self._header = bytearray()
        self._remaining = 0  # payload bytes of the current frame still to come
        self._passing = True  # whether the current frame goes to the reader
        self.tripped = False

    def _header_length(self) -> int | None:
        """The full header's length once its first two bytes are known."""
        if len(self._header) < 2:
            return None
        second = self._header[1]
        length_flag = second & 0x7F
        extended = 2 if length_flag == 126 else 8 if length_flag == 127 else 0
        return 2 + extended + (4 if second & 0x80 else 0)

    def _payload_length(self) -> int:
        length_flag = self._header[1] & 0x7F
        if length_flag == 126:
            return int.from_bytes(self._header[2:4], "big")
        if length_flag == 127:
            return int.from_bytes(self._header[2:10], "big")
        return length_flag

    def _frame_started(self) -> None:
        opcode = self._header[0] & 0x0F
        length = self._payload_length()
        is_data = opcode < _CONTROL_OPCODES
        if is_data and length > self._limit and not self.tripped:
            self.tripped = True
            self._on_oversized(length)
        self._passing = not (is_data and self.tripped)
        self._remaining = length

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        passed = bytearray()
        view = memoryview(data)
        position = 0
        while position < len(view):
            if self._remaining:
                take = min(self._remaining, len(view) - position)
                if self._passing:
                    passed += view[position : position + take]
                position += take
                self._remaining -= take
                continue
            needed = self._header_length()
            while needed is None or len(self._header) < needed:
                if position == len(view):
                    break
                self._header.append(view[position])
                position += 1
                needed = self._header_length()
            if needed is None or len(self._header) < needed:
                break  # the rest of the header comes with the next chunk
            self._frame_started()
            if self._passing:
                passed += self._header
            self._header.clear()
        if not passed:
            return False, b""
        result: tuple[bool, bytes] = self._reader.feed_data(bytes(passed))
        return result

    def feed_eof(self) -> None:
        self._reader.feed_eof()


class GuardedRequestHandler(web.RequestHandler):
    """aiohttp's per-connection protocol, with a FrameSizeGuard in front of the WebSocket reader once upgraded."""

    __slots__ = ("_frame_limit", "on_oversized_frame")

    def __init__(self, manager: web.Server, *, frame_limit: int, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._frame_limit = frame_limit
        # Set by the gateway before the upgrade: what to do when a client frame is over the limit.
        self.on_oversized_frame: Callable[[int], None] | None = None

    def set_parser(self, parser: Any, *args: Any, **kwargs: Any) -> None:
        # The protocol only calls feed_data and feed_eof on its parser, which the guard provides.
        guard: Any = FrameSizeGuard(parser, self._frame_limit, self._oversized)
        super().set_parser(guard, *args, **kwargs)

    def _oversized(self, length: int) -> None:
        if self.on_oversized_frame is not None:
            self.on_oversized_frame(length)


class GuardedServer(web.Server):
    """A low-level aiohttp server whose connections are GuardedRequestHandlers."""

    def __init__(self, handler: Any, *, frame_limit: int, **handler_kwargs: Any) -> None:
        super().__init__(handler)
        self._frame_limit = frame_limit
        self._handler_kwargs = handler_kwargs

    def __call__(self) -> web.RequestHandler:
        return GuardedRequestHandler(
            self, loop=asyncio.get_running_loop(), frame_limit=self._frame_limit, **self._handler_kwargs
        )
