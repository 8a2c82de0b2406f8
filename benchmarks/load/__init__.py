"""``make load`` / ``make soak``: the running system under many clients at once (locust, headless, loopback only).

The locust users live in :mod:`benchmarks.load.locustfile`; :mod:`benchmarks.load.__main__` starts a dev server of
its own, mints the users' tokens, runs them for a bounded time, then checks that every write that was answered 2xx
is in the database exactly once and prints throughput and latency percentiles per request type.
"""
