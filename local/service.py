"""What every local stand-in shares: started and stopped explicitly, or around a ``with`` block."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from concurrent.futures import Future, wait
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class Service(ABC):
    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class BackgroundService(Service):
    """A stand-in whose work runs on one daemon thread (``_run``) from ``start()`` until ``stop()`` sets ``_stop``."""

    thread_name = "local-service"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _run(self) -> None:
        """The thread's work; it returns soon after ``self._stop`` is set (wait on it rather than sleeping)."""

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


class LoopbackHttpService(Service):
    """A stand-in HTTP service on a free 127.0.0.1 port, served by a daemon thread until stopped."""

    _server: ThreadingHTTPServer | None = None

    @abstractmethod
    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class, bound to this instance."""

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"


class PendingWork:
    """Asynchronous invocations still running, so a test (or a stop) can wait for all of them, and for those they
    started in turn."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._futures: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def track(self, future: Future[Any]) -> None:
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._futures.discard(future)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every one tracked so far (and any it started) has run."""
        while True:
            with self._lock:
                pending = set(self._futures)
            if not pending:
                return
            _, not_done = wait(pending, timeout=timeout)
            if not_done:
                raise TimeoutError(f"{len(not_done)} {self._what} still running after {timeout:g} s")
