"""What the realtime pieces share: the Durable Object classes by binding name, the ``env`` objects see, and the
context the WebSocket route handlers run with.

``RealtimeEnv`` is ``env`` with the realtime namespaces (``PUBSUB``, ``SUBSCRIPTIONS``, ``PRICE_ALERT``,
``PORTFOLIO_MONITOR``) served by a host in-process (the durable host's own objects, which must not invoke the host
function through Lambda for one another); every other attribute is the base Env's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ttai.bindings.durable import DurableObject, DurableObjectNamespace, DurableObjectStub, Transport
from ttai.bindings.durable.connections import ConnectionHub
from ttai.realtime.portfolio import PortfolioMonitor
from ttai.realtime.price_alerts import PriceAlert
from ttai.realtime.publish import Publisher
from ttai.realtime.pubsub import PubSub, Subscriptions

# The durable host's classes for real time, by the binding names Worker code uses.
CLASSES: dict[str, type[DurableObject]] = {
    "PUBSUB": PubSub,
    "SUBSCRIPTIONS": Subscriptions,
    "PRICE_ALERT": PriceAlert,
    "PORTFOLIO_MONITOR": PortfolioMonitor,
}


class RealtimeEnv:
    """``env`` with the realtime Durable Object namespaces (objects and handlers read ``env.PUBSUB``...)."""

    def __init__(self, base: Any, namespaces: Mapping[str, DurableObjectNamespace]) -> None:
        self._base = base
        self._namespaces = dict(namespaces)

    def __getattr__(self, name: str) -> Any:
        namespaces = self.__dict__.get("_namespaces", {})
        if name in namespaces:
            return namespaces[name]
        return getattr(self.__dict__["_base"], name)


Home = Callable[[Any, str], DurableObjectStub]


def subscriptions_home(env: Any, user_id: str) -> DurableObjectStub:
    """TTAI's connections belong to their user's Subscriptions object."""
    stub: DurableObjectStub = env.SUBSCRIPTIONS.get_by_name(user_id)
    return stub


class Realtime:
    """The realtime function's context: its env, the connections hub, the transport to the durable host (a
    synchronous invoke deployed, the host in-process locally) that WebSocket events are delivered through, and
    ``home``: the object whose ``connect(ws, user_id)`` takes a user's new connection (and then receives its
    messages). ``connect`` must not send on it: API Gateway answers 410 until ``$connect`` has returned, which the
    hub would take for a client that has gone."""

    def __init__(self, env: Any, *, hub: ConnectionHub, host: Transport, home: Home = subscriptions_home) -> None:
        self.env = env
        self.hub = hub
        self.host = host
        self._home = home
        self.publisher = Publisher(env.PUBSUB, hub)

    def home(self, user_id: str) -> DurableObjectStub:
        return self._home(self.env, user_id)
