"""Real time on API Gateway's WebSocket API and the Durable Object host: seed 000's pub/sub and seed 002's price
alerts and portfolio monitor.

- tickets.py: single-use connect tickets and the ``$connect`` authorizer that redeems them;
- routes.py: the realtime function's handler (``$connect``, ``$default``, ``$disconnect``, quote batches);
- channels.py: channel names and who may subscribe; pubsub.py: ``PubSub`` (one object per channel) and
  ``Subscriptions`` (one per user, the home of their connections);
- price_alerts.py: ``PriceAlert`` (one per symbol); portfolio.py: ``PortfolioMonitor`` (one per user);
- publish.py: the publisher and the points that publish (quote ingest, consumer events, job runs);
- runtime.py: the classes by binding name, ``RealtimeEnv`` and the handlers' context.

The WebSocket side of the Durable Object binding (the connections table, ``ws`` handles, the output gate, the
signed @connections client) is in ttai.bindings.durable (connections.py, websocket.py, connections_api.py).

Wired in storage.json's functions (``deployed.py`` builds each function's part from its env): the durable host
function (``DurableObjectHost(runtime.CLASSES, ...)``, its alarm queue as event source, its objects calling each other
in-process), the realtime function (``routes.handle`` on the WebSocket API's ``$connect``, ``$default`` and
``$disconnect``, and the api's quote batches) and the ``$connect`` authorizer (``tickets.authorize_connect``, identity
source ``route.request.querystring.ticket``, no result caching); the api issues tickets and hands quote batches off
(``publish.QuoteHandOff`` with ``LambdaEvents``), the consumer and scheduler publish through ``publish.UserEvents``.
``local.realtime.LocalRealtime`` assembles the same parts with tables of its own, for tests with extra classes.
"""
