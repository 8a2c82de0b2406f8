"""A stack of the fault tests' own: they stop its PostgreSQL and its AWS endpoint, which the session's shared
``stack`` must never see. Started once for the package (about two seconds); each test leaves it running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack


@pytest.fixture(scope="package")
def faulty() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


@pytest.fixture(autouse=True)
def _settled_faulty(request: pytest.FixtureRequest) -> None:
    """As the integration suite's ``_settled``: earlier tests' asynchronous invocations have run before this one."""
    if "faulty" in request.fixturenames:
        request.getfixturevalue("faulty").settle()
