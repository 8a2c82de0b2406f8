"""Real time on API Gateway's WebSocket API and the Durable Object host: seed 000's pub/sub and seed 002's price
alerts and portfolio monitor.

- tickets.py: single-use connect tickets and the ``$connect`` authorizer that redeems them;
- routes.py: the realtime function's handler (``$connect``, ``$default``, ``$disconnect``, quote batches);
- channels.py: channel names and who may subscribe; pubsub.py: ``PubSub`` (one object per channel) and
  ``Subscriptions`` (one per user, the home of their connections);
- price_alerts.py: ``PriceAlert`` (one per symbol); portfolio.py: ``PortfolioMonitor`` (one per user);
- publish.py: the publisher and the points that publish (quote ingest, consumer events, job runs);
- runtime.py: the classes by binding name, ``RealtimeEnv`` and the handlers' context.

The WebSocket side of the Durable Object binding (the connections table, ``ws`` handles, the output gate) is in
ttai.bindings.durable (connections.py, websocket.py).
"""
