"""Seed 000's pub/sub on Durable Objects, sharded by channel so a publish reaches exactly the channel's subscribers.

- ``PubSub`` (``PUBSUB``, one object per channel: ``get_by_name("quotes:AAPL")``): its sockets are the channel's
  subscribers. ``publish(data)`` sends each ``{"channel", "data", "timestamp"}``: one Query page per 1 MB of
  subscribers and one PostToConnection each, posted in parallel once the call ends.
- ``Subscriptions`` (``SUBSCRIPTIONS``, one object per user): the home of that user's connections. It reads their
  ``{"action": "subscribe" | "unsubscribe", "channels": [...]}`` frames, checks each channel (channels.py), has the
  channel's PubSub object accept or release the socket, keeps the connection's channels in its attachment and
  answers ``{"type": "subscribed" | "unsubscribed", "channels"}`` and one ``{"type": "error", "channel", "error":
  {"code", "message"}}`` per channel refused. Subscribing to ``user:{own id}`` starts the user's portfolio monitor.

Why not the seed's single object with every socket and the channels in attachments: each publish would read every
connection of every channel, and one object would serialise every subscribe and publish of the system.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ttai.bindings.durable import DurableObject, DurableObjectError, InvalidWebSocket
from ttai.observability import logger
from ttai.realtime import channels
from ttai.realtime.channels import Refusal

# A connection's channels live in its attachment (at most 2,048 bytes): 50 of the longest names fit.
MAX_SUBSCRIPTIONS = 50
MAX_CHANNELS_PER_FRAME = MAX_SUBSCRIPTIONS
MAX_FRAME_CHARACTERS = 16 * 1024
_PARALLEL_CALLS = 8


def frame(channel: str, data: Any) -> str:
    """What a subscriber receives: seed 000's message, the timestamp in ms since the epoch."""
    return json.dumps(
        {"channel": channel, "data": data, "timestamp": int(time.time() * 1000)},
        separators=(",", ":"),
        allow_nan=False,
    )


class PubSub(DurableObject):
    """One channel: its sockets are its subscribers."""

    def subscribe(self, ws: Any) -> None:
        try:
            self.ctx.accept_websocket(ws)
        except InvalidWebSocket as exc:
            if "already accepted" not in str(exc):
                raise
            # Subscribed already (a retried subscribe): nothing to do.

    def unsubscribe(self, ws: Any) -> bool:
        return self.ctx.release_websocket(ws)

    def publish(self, data: Any) -> int:
        """Send ``data`` to every subscriber; returns how many there were."""
        channel = self.ctx.id.name
        if channel is None:
            raise ValueError("publish to a channel's object by its name: PUBSUB.get_by_name(channel)")
        message = frame(channel, data)
        sockets = self.ctx.get_websockets()
        for ws in sockets:
            ws.send(message)
        return len(sockets)

    def subscribers(self) -> int:
        return len(self.ctx.get_websockets())


class Subscriptions(DurableObject):
    """One user's connections: subscribe and unsubscribe frames in, subscriptions on PubSub objects out."""

    def connect(self, ws: Any, user_id: str) -> None:
        """Take a connection ``$connect`` let in for ``user_id`` (whose object this is)."""
        ws.serialize_attachment({"user": user_id, "channels": []})  # set before the accept: written with it
        self.ctx.accept_websocket(ws)

    def web_socket_message(self, ws: Any, message: str) -> None:
        state = ws.deserialize_attachment() or {}
        user_id, held = state.get("user"), list(state.get("channels") or [])
        request = _request(message)
        if isinstance(request, str):
            ws.send(_error(None, "bad_request", request))
            return
        action, asked = request
        if not isinstance(user_id, str):
            ws.send(_error(None, "not_connected", "this connection was not opened through $connect"))
            return
        accepted: list[str] = []
        refused: list[Refusal] = []
        wanted: list[str] = []
        for name in asked:
            resolved = channels.resolve(name, user_id)
            if isinstance(resolved, Refusal):
                refused.append(resolved)
            elif resolved not in wanted:
                wanted.append(resolved)
        if action == "subscribe":
            fresh = [c for c in wanted if c not in held]
            room = MAX_SUBSCRIPTIONS - len(held)
            refused += [
                Refusal(c, "too_many_channels", f"a connection subscribes to at most {MAX_SUBSCRIPTIONS} channels")
                for c in fresh[max(room, 0) :]
            ]
            fresh = fresh[: max(room, 0)]
            done, failed = self._on_channels(ws, fresh, "subscribe")
            held += done
            accepted = [c for c in wanted if c in held]
            refused += failed
        else:
            leaving = [c for c in wanted if c in held]
            done, failed = self._on_channels(ws, leaving, "unsubscribe")
            held = [c for c in held if c not in done]
            accepted = [c for c in wanted if c not in held]
            refused += failed
        ws.serialize_attachment({"user": user_id, "channels": held})
        if accepted:
            ws.send(json.dumps({"type": f"{action}d", "channels": accepted}, separators=(",", ":")))
        for refusal in refused:
            ws.send(_error(refusal.channel, refusal.code, refusal.message))
        own = channels.user_channel(user_id)
        if action == "subscribe" and own in done:
            self._start_monitor(user_id)

    def _on_channels(self, ws: Any, names: list[str], method: str) -> tuple[list[str], list[Refusal]]:
        """Call ``method(ws)`` on each channel's PubSub object, several at once; the channels done and refused."""

        def call(name: str) -> Refusal | None:
            try:
                getattr(self.env.PUBSUB.get_by_name(name), method)(ws)
            except DurableObjectError as exc:
                logger.warning(f"{method} failed", extra={"channel": name, "error": exc.name})
                return Refusal(name, "unavailable", f"could not {method}; try again")
            return None

        if not names:
            return [], []
        if len(names) == 1:
            outcomes = [call(names[0])]
        else:
            with ThreadPoolExecutor(min(len(names), _PARALLEL_CALLS)) as pool:
                outcomes = list(pool.map(call, names))
        done = [n for n, refusal in zip(names, outcomes, strict=True) if refusal is None]
        return done, [refusal for refusal in outcomes if refusal is not None]

    def _start_monitor(self, user_id: str) -> None:
        try:
            self.env.PORTFOLIO_MONITOR.get_by_name(user_id).start()
        except DurableObjectError as exc:
            # The pushes wait for the next subscribe; the subscription itself stands.
            logger.warning("portfolio monitor not started", extra={"error": exc.name})

    def web_socket_close(self, ws: Any, code: int, reason: str, was_clean: bool) -> None:
        # The hub has already removed the connection from every channel's object; only a log line is left to do.
        logger.info("connection closed", extra={"code": code, "was_clean": was_clean})


def _request(message: str) -> tuple[str, list[Any]] | str:
    """``(action, channels)`` of a client frame, or why it cannot be read."""
    if len(message) > MAX_FRAME_CHARACTERS:
        return f"a frame is at most {MAX_FRAME_CHARACTERS} characters"
    try:
        body = json.loads(message)
    except ValueError:
        return 'frames are JSON: {"action": "subscribe", "channels": ["quotes:AAPL"]}'
    if not isinstance(body, dict) or body.get("action") not in ("subscribe", "unsubscribe"):
        return 'the action is "subscribe" or "unsubscribe"'
    asked = body.get("channels")
    if not isinstance(asked, list) or not asked:
        return "channels is a non-empty list of channel names"
    if len(asked) > MAX_CHANNELS_PER_FRAME:
        return f"a frame names at most {MAX_CHANNELS_PER_FRAME} channels"
    return str(body["action"]), asked


def _error(channel: str | None, code: str, message: str) -> str:
    body: dict[str, Any] = {"type": "error", "error": {"code": code, "message": message}}
    if channel is not None:
        body["channel"] = channel
    return json.dumps(body, separators=(",", ":"))
