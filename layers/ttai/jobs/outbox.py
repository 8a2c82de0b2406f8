"""The jobs' transactional outbox: a run's queue messages are stored in the ``outbox`` table by the very statement
that records the run as finished, then relayed to their queues and deleted.

So a run recorded as finished always has its messages (on the queue, or waiting in the outbox), and no message goes
out for a run that failed or was never recorded: a send that fails after the commit cannot lose them, and a run that
fails before it cannot leak them. ``relay`` sends what an invocation has just staged, right after the commit; rows a
failed send left behind are sent by ``relay_waiting``, which every later run calls before it starts (the hourly
intraday job bounds the wait in market hours). A row sent but not deleted (the delete failed) is sent again; every
consumer drops a second copy by its message id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from ttai.env import Env
from ttai.jobs.data import send_batches
from ttai.messages import AnyMessage, parse_message
from ttai.observability import logger

# What a relay looks at once: more waiting than this goes with the next run.
RELAY_MAX = 1000
_WAITING = "SELECT queue, body FROM outbox ORDER BY id LIMIT ?1"
_SENT = "DELETE FROM outbox WHERE message_id IN (SELECT jsonb_array_elements_text(?1::jsonb))"


class Outgoing(NamedTuple):
    """A message a run decided on, and the queue binding it goes to (NOTIFICATION_QUEUE, ANALYSIS_QUEUE)."""

    queue: str
    message: AnyMessage

    def staged(self) -> dict[str, Any]:
        """The row as the finishing statement stages it (one element of its JSON array)."""
        return {
            "queue": self.queue,
            "message_id": self.message.id,
            "user_id": self.message.user_id,
            "body": self.message.to_wire(),
        }


def staged_rows(outgoing: Sequence[Outgoing]) -> str:
    """The JSON array the finishing statement inserts into the outbox."""
    return json.dumps([o.staged() for o in outgoing], separators=(",", ":"))


def relay(env: Env, outgoing: Sequence[Outgoing]) -> int:
    """Send ``outgoing`` (already committed to the outbox) and delete what went out; returns how many were sent.

    Raises the queue's or the database's error when a send or the delete fails: what was not sent stays waiting.
    """
    by_queue: dict[str, list[dict[str, Any]]] = {}
    for item in outgoing:
        by_queue.setdefault(item.queue, []).append(item.message.to_wire())
    sent: list[str] = []
    try:
        for queue, bodies in by_queue.items():
            for batch in send_batches(bodies):
                env.queue(queue).send_batch([{"body": body} for body in batch])
                sent += [str(body["id"]) for body in batch]
    finally:
        if sent:
            env.DB.prepare(_SENT).bind(sent).run()
    return len(sent)


def relay_waiting(env: Env) -> int:
    """Send the oldest messages an earlier relay could not (at most ``RELAY_MAX``); returns how many were sent."""
    rows = env.DB.prepare(_WAITING).bind(RELAY_MAX).all().results
    if not rows:
        return 0
    waiting = [Outgoing(str(row["queue"]), parse_message(row["body"])) for row in rows]
    sent = relay(env, waiting)
    logger.info("outbox: waiting messages relayed", extra={"messages": sent})
    return sent
