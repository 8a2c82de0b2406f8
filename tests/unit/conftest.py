"""Unit tests run on fakes and pure functions: any attempt to open a socket fails the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_socket


@pytest.fixture(autouse=True)
def _no_sockets() -> Iterator[None]:
    pytest_socket.disable_socket()
    yield
    # Integration tests may run in the same session after this one.
    pytest_socket.enable_socket()
