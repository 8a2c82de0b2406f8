"""The api function imports a router on the first request under its paths: the declared paths must be right."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from ttai.http.app import API_ROUTERS, LazyRouter, create_app


def _rules(lazy: LazyRouter) -> list[str]:
    router: Any = lazy.load()
    rules = []
    for rule, *_ in router._routes:
        rules.append(f"{lazy.prefix or ''}{rule}")
    return rules


@pytest.mark.parametrize("lazy", API_ROUTERS, ids=lambda lazy: lazy.module.rsplit(".", 1)[-1])
def test_every_route_of_a_lazy_router_lies_under_its_declared_paths(lazy: LazyRouter) -> None:
    rules = _rules(lazy)
    assert rules, f"{lazy.module} registers no route"
    for rule in rules:
        assert lazy.serves(rule), f"{rule} is outside {lazy.paths}: a cold start would answer 404 for it"


def test_no_two_lazy_routers_claim_the_same_path() -> None:
    for lazy in API_ROUTERS:
        for rule in _rules(lazy):
            claimants = [other.module for other in API_ROUTERS if other.serves(rule)]
            assert claimants == [lazy.module], f"{rule} is claimed by {claimants}"


_FRESH_PROCESS = """
import os
import subprocess
import sys
from ttai.http.app import API_ROUTERS, create_app
app = create_app()
print(sorted(lazy.module for lazy in API_ROUTERS if lazy.module in sys.modules))
app.load_routes("/api/v1/quotes/AAPL")
print(sorted(lazy.module for lazy in API_ROUTERS if lazy.module in sys.modules))
"""


def test_a_cold_start_imports_no_router_and_a_request_only_the_one_of_its_path() -> None:
    # A fresh interpreter: this one has imported every router already.
    out = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    at_import, after_request = out.stdout.splitlines()
    assert at_import == "[]"
    assert after_request == "['ttai.http.routes.market']"


def test_a_path_no_router_claims_loads_them_all() -> None:
    app = create_app()
    app.load_routes("/nowhere")
    assert all(lazy.module in sys.modules for lazy in API_ROUTERS)
    app.load_routes("/api/v1/quotes")  # nothing left to load: a no-op
