"""python -m benchmarks.load [--users 200] [--seconds 60] [--soak] [--stress]: the load (or soak) run, its table and
checks.

Starts a dev server of its own (a fresh database in a temporary folder, loopback only), mints a session per
simulated user, runs the locust users headless for the given time at the usage profile's pacing of its busiest hour
(benchmarks.load.pacing, printed with the run; --stress: the old, ten times heavier pacing, which measures the
dev server's saturation throughput), then checks the writes: every journal entry answered 201 is in the database,
and the load's users hold no other entry (a retried request wrote nothing twice). Exit status 1 on any 5xx, lost or
duplicated write, or (with --enforce-budgets) a missed latency or memory budget.
"""

from __future__ import annotations

# ruff: noqa: I001 - locust is imported before the standard library on purpose (below)

# locust patches the standard library for gevent as it is imported: before anything opens a socket.
import locust  # noqa: F401 - imported first on purpose
from locust.env import Environment

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]  # locust's own dependency, without stubs

from benchmarks.load.locustfile import SHARED, Streamer, Trader, quotes_body
from benchmarks.load.pacing import Pacing, from_profile
from local.stack import free_port
from local.variables import runtime_environ

ROOT = Path(__file__).resolve().parents[2]
CACHED_QUOTES_P99_MS = 100.0
TENANT_LIST_P99_MS = 250.0
SOAK_GROWTH_MB = 50.0
STOP_TIMEOUT_S = 60.0
TENANT_LISTS = ("journal list", "watchlists list")


@dataclass(frozen=True)
class RequestStats:
    name: str
    requests: int
    failures: int
    server_errors: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Report:
    users: int
    seconds: float
    pacing: Pacing
    offered_per_second: float
    requests: list[RequestStats]
    server_errors: int
    writes: Writes
    rss_start_mb: float
    rss_end_mb: float
    errors: list[tuple[str, str, int]]  # locust's failures: request name, what happened, how often
    quote_misses: int  # quote reads that found a symbol missing (a quote expired before the next ingest)
    load_average: tuple[float, float, float]  # the machine's, at the end of the run (other work shares its 2 cores)

    @property
    def correct(self) -> bool:
        return self.server_errors == 0 and self.writes.correct


@contextmanager
def dev_server(workdir: Path) -> Iterator[tuple[str, dict[str, Any], int]]:
    """A `make dev` server of this run's own: its URL, its state file's content and its process id."""
    port = free_port()
    state_file = workdir / "state.json"
    command = [sys.executable, "-m", "local.dev", "--port", str(port), "--state-file", str(state_file)]
    process = subprocess.Popen(
        [*command, "--data-dir", str(workdir / "pgdata")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the dev server exited with {process.returncode} before answering")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200 and state_file.exists():
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the dev server did not answer /health within 120 s") from None
                time.sleep(0.2)
        yield url, json.loads(state_file.read_text()), process.pid
    finally:
        # Ctrl-C, as a developer stops it: a terminate or kill would leave its embedded PostgreSQL running.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def rss_mb(pid: int) -> float:
    """The resident memory of a process (and not its children), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _send(url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - loopback
        pass


# One read of each kind before the run: the dev server imports each route's module on its first request (as a
# cold Lambda would), and the run measures the busiest hour of a warm service, not the server's first seconds.
WARM_UP = ("/api/v1/quotes?symbols=AAPL", "/api/v1/journal?limit=20", "/api/v1/watchlists")


@dataclass(frozen=True)
class Writes:
    answered: int  # writes (Idempotency-Keys) answered 201
    lost: int  # answered 201, but the entry is not in the database
    extra: int  # in the database, but never answered to anyone
    duplicated: int  # one key answered with two different entries
    unanswered: int  # not answered 201 after every attempt

    @property
    def correct(self) -> bool:
        return self.lost == self.extra == self.duplicated == self.unanswered == 0


def _check_writes(environ: dict[str, str], user_ids: list[str]) -> Writes:
    """Every journal write of the run against what the load's users hold in the database."""
    from ttai.env import Env  # noqa: PLC0415 - after the run: the stack's endpoints are set by then

    answered = {entry_id for ids in SHARED.written.values() for entry_id in ids}
    db = Env.from_environ(environ).DB
    stored: set[int] = set()
    for user_id in user_ids:
        rows = db.prepare("SELECT id FROM trade_journal WHERE user_id = ?").bind(user_id).all().results
        stored |= {int(row["id"]) for row in rows}
    duplicated = sum(1 for ids in SHARED.written.values() if len(ids) > 1)
    return Writes(len(SHARED.written), len(answered - stored), len(stored - answered), duplicated, SHARED.unanswered)


def run(users: int, seconds: float, spawn_rate: float, pacing: Pacing) -> Report:
    with tempfile.TemporaryDirectory(prefix="ttai-load-") as scratch, dev_server(Path(scratch)) as (url, state, pid):
        environ: dict[str, str] = state["environ"]
        os.environ.update(runtime_environ(environ))
        from ttai.auth.sessions import SessionStore  # noqa: PLC0415 - needs the stack's endpoints
        from ttai.env import Env  # noqa: PLC0415

        sessions = SessionStore(Env.from_environ(environ))
        run_id = uuid.uuid4().hex[:6]
        user_ids = [f"load-{run_id}-{i}" for i in range(users)]
        SHARED.user_tokens = [sessions.open(user_id).token for user_id in user_ids]
        SHARED.service_token = state["service_token"]
        SHARED.written.clear()
        SHARED.unanswered = 0
        SHARED.quote_misses = 0
        SHARED.pacing = pacing
        # The reads are of cached quotes from the start.
        _send(url, SHARED.service_token, "PUT", "/api/v1/quotes", quotes_body(pacing.symbols_per_ingest))
        for path in WARM_UP:
            _send(url, SHARED.user_tokens[0], "GET", path)
        rss_start = rss_mb(pid)

        # Stopping lets each user finish the task it is in, so no write is cut off between the server storing it
        # and the client hearing its answer (which would look like a write nobody was answered about).
        environment = Environment(user_classes=[Trader, Streamer], host=url, stop_timeout=STOP_TIMEOUT_S)
        server_errors: Counter[str] = Counter()

        def count_5xx(name: str, response: Any = None, **_: Any) -> None:
            if response is not None and getattr(response, "status_code", 0) >= 500:
                server_errors[name] += 1

        environment.events.request.add_listener(count_5xx)  # type: ignore[no-untyped-call]
        runner = environment.create_local_runner()
        SHARED.ends_at = time.monotonic() + seconds
        runner.start(users + 1, spawn_rate=spawn_rate)
        gevent.spawn_later(seconds, runner.quit)
        started = time.monotonic()
        runner.greenlet.join()
        elapsed = time.monotonic() - started
        rss_end = rss_mb(pid)
        load_average = os.getloadavg()
        writes = _check_writes(environ, user_ids)

    stats = [
        RequestStats(
            name=name,
            requests=entry.num_requests,
            failures=entry.num_failures,
            server_errors=server_errors[name],
            per_second=entry.num_requests / elapsed if elapsed else 0.0,
            p50_ms=float(entry.get_response_time_percentile(0.50) or 0),
            p95_ms=float(entry.get_response_time_percentile(0.95) or 0),
            p99_ms=float(entry.get_response_time_percentile(0.99) or 0),
        )
        for (name, _method), entry in sorted(environment.stats.entries.items())
    ]
    total_5xx = sum(server_errors.values())
    errors = [(e.name, str(e.error), e.occurrences) for e in environment.stats.errors.values()]
    return Report(
        users,
        elapsed,
        pacing,
        pacing.offered_s(users),
        stats,
        total_5xx,
        writes,
        rss_start,
        rss_end,
        errors,
        SHARED.quote_misses,
        load_average,
    )


def budgets(report: Report, *, soak: bool) -> list[tuple[str, bool]]:
    """Each budget the issue sets, described with what was measured, and whether it held."""
    by_name = {stats.name: stats for stats in report.requests}
    results = []
    if soak:
        growth = report.rss_end_mb - report.rss_start_mb
        results.append(
            (f"dev server memory growth {growth:.1f} MB <= {SOAK_GROWTH_MB:.0f} MB", growth <= SOAK_GROWTH_MB)
        )
        return results
    if report.pacing.stress:
        return results  # a saturated server's latencies are its queue's; the budgets are for the profile's pacing
    if "quotes (cached)" in by_name:
        p99 = by_name["quotes (cached)"].p99_ms
        results.append(
            (f"cached quote reads p99 {p99:.0f} ms <= {CACHED_QUOTES_P99_MS:.0f} ms", p99 <= CACHED_QUOTES_P99_MS)
        )
    for name in TENANT_LISTS:
        if name in by_name:
            p99 = by_name[name].p99_ms
            results.append((f"{name} p99 {p99:.0f} ms <= {TENANT_LIST_P99_MS:.0f} ms", p99 <= TENANT_LIST_P99_MS))
    return results


def render(report: Report, *, soak: bool) -> str:
    header = f"{'request':<26}{'count':>8}{'fail':>6}{'5xx':>6}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
    lines = [*report.pacing.describe(report.users), "", f"{report.users} users for {report.seconds:.0f} s", header]
    lines.append("-" * len(header))
    lines += [
        f"{s.name:<26}{s.requests:>8}{s.failures:>6}{s.server_errors:>6}{s.per_second:>8.1f}"
        f"{s.p50_ms:>8.0f}{s.p95_ms:>8.0f}{s.p99_ms:>8.0f}"
        for s in report.requests
    ]
    total = sum(s.requests for s in report.requests)
    lines.append(f"{'all':<26}{total:>8}{'':>6}{report.server_errors:>6}{total / report.seconds:>8.1f}")
    served = total / report.seconds
    if report.pacing.stress:
        offered = report.offered_per_second
        lines.append(f"saturation throughput: {served:.1f} requests/s served of about {offered:.0f} offered")
    else:
        lines.append(f"throughput: {served:.1f} requests/s served of {report.offered_per_second:.1f} offered")
    lines.append("")
    w = report.writes
    lines.append(
        f"journal writes answered 201: {w.answered}; not in the database: {w.lost}; in it but never answered: "
        f"{w.extra}; one key answered with two entries: {w.duplicated}; never answered 201: {w.unanswered}"
    )
    lines += [f"  {count} x {name}: {error}" for name, error, count in report.errors]
    lines.append(f"quote reads that found a symbol missing (expired before the next ingest): {report.quote_misses}")
    lines.append(f"dev server RSS: {report.rss_start_mb:.0f} MB at the start, {report.rss_end_mb:.0f} MB at the end")
    one, five, fifteen = report.load_average
    lines.append(f"machine load average at the end: {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)")
    lines += [f"{'ok    ' if held else 'MISSED'} {text}" for text, held in budgets(report, soak=soak)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--users", type=int, default=None, help="simulated users (200; 50 with --soak)")
    parser.add_argument("--seconds", type=float, default=None, help="how long (60; 600 with --soak)")
    parser.add_argument("--spawn-rate", type=float, default=50.0, help="users started per second")
    parser.add_argument("--soak", action="store_true", help="a long run that reports the dev server's memory growth")
    parser.add_argument(
        "--stress",
        action="store_true",
        help="the old pacing (0.5-1.5 s between a user's tasks, ~10x the profile): the saturation throughput",
    )
    parser.add_argument("--enforce-budgets", action="store_true", help="exit 1 when a budget is missed too")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    users = args.users or (50 if args.soak else 200)
    seconds = args.seconds or (600.0 if args.soak else 60.0)
    report = run(users, seconds, args.spawn_rate, from_profile(stress=args.stress))
    print(render(report, soak=args.soak))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    missed = [text for text, held in budgets(report, soak=args.soak) if not held]
    if not report.correct or (args.enforce_budgets and missed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
