"""``ttai``: command-line tools for the local stack (tokens, migrations, workflows), for dead-letter queues anywhere,
and the stack's HTTP routes."""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from pydantic import ValidationError

from local import dlq
from local.dev import DEFAULT_STATE_FILE
from local.functions import LocalFunction
from local.importers.cli import StackAccess, add_import_commands
from local.variables import function_environ, runtime_environ
from ttai import aws
from ttai.auth.sessions import SessionStore
from ttai.auth.tokens import KNOWN_SCOPES
from ttai.env import Env
from ttai.layout import function_specs, storage_layout
from ttai.models.bars import MAX_BARS_PER_REQUEST, SOURCE_PATTERN, BarBatch, BarIn
from ttai.models.times import in_range
from ttai.services.bars import BarRepository

if TYPE_CHECKING:
    from ttai.bindings.d1 import D1Database

BODY_PREVIEW = 300
CSV_COLUMNS = ("date", "open", "high", "low", "close", "volume")


def _running_stack_environ(state_file: Path) -> dict[str, str]:
    """Every variable of the running stack's functions together (what an operator's tool may use)."""
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise SystemExit(f"no running dev stack: {state_file} does not exist (start one with `make dev`)") from None
    environ: dict[str, str] = state["environ"]
    return environ


def _running_function(state_file: Path, name: str) -> LocalFunction:
    """The running stack's function ``name``, invoked here with its own variables as the stack invokes it."""
    environ = _running_stack_environ(state_file)
    os.environ.update(runtime_environ(environ))  # boto3 takes the stack's endpoints and credentials from here
    spec = function_specs()[name]
    return LocalFunction.from_spec(spec, function_environ(spec, environ))


def _workflow_control_url(state_file: Path) -> str:
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise SystemExit(f"no running dev stack: {state_file} does not exist (start one with `make dev`)") from None
    url: str = state["workflows_url"]
    return url


def _workflows(args: argparse.Namespace) -> int:
    """Ask the running dev stack's workflow runner (local.workflows.control) and print its answer."""
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    base = _workflow_control_url(args.state_file)
    if not base.startswith("http://127.0.0.1:"):
        raise ValueError(f"the state file names {base!r}, not the dev stack's loopback endpoint")
    path = "/instances" if args.verb == "list" else f"/instances/{_instance_id(args.id)}"
    command = args.verb not in {"list", "status"}
    url = f"{base}{path}/{args.verb}" if command else f"{base}{path}"
    request = urllib.request.Request(url, method="POST" if command else "GET")  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the dev stack's loopback URL
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        print(f"ttai workflows {args.verb}: {json.loads(exc.read()).get('error')}", file=sys.stderr)
        return 1
    if args.verb == "list" and not args.json:
        print(f"{'WORKFLOW':<10}  {'ID':<48}  {'STATUS':<16}  CREATED")
        for row in answer:
            print(f"{row['workflow']:<10}  {row['id']:<48}  {row['status']:<16}  {row['created_at']}")
        return 0
    print(json.dumps(answer, indent=2, default=str))
    return 0


def _instance_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,99}", text):
        raise ValueError(f"{text!r} is not a workflow instance id")
    return text


def _add_workflow_commands(commands: Any) -> None:
    group = commands.add_parser("workflows", help="workflow instances on the running dev stack")
    verbs = group.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="every instance, newest first, with its status")
    listing.add_argument("--json", action="store_true")
    for verb, text in (
        ("status", "an instance's status, error and output"),
        ("pause", "pause a running instance (after the step it is in)"),
        ("resume", "resume a paused instance"),
        ("terminate", "stop an instance for good"),
    ):
        verbs.add_parser(verb, help=text).add_argument("id")
    group.set_defaults(run=_workflows)


def _token(args: argparse.Namespace) -> int:
    environ = _running_stack_environ(args.state_file)
    os.environ.update(environ)  # boto3 takes the stack's endpoint and fake credentials from the environment
    opened = SessionStore(Env.from_environ(environ)).open(args.user_id, scopes=tuple(args.scope), ttl_seconds=args.ttl)
    print(opened.token)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    report = _running_function(args.state_file, "migrate")({})
    print(f"applied {report['applied'] or 'nothing'}; database at version {report['current']}")
    return 0


def _dead_letter_queues(args: argparse.Namespace) -> tuple[Any, list[dlq.DeadLetterQueue]]:
    """An SQS client and the DLQs: of the given --queue-url queues (default AWS credentials) or the dev stack's."""
    sources: Mapping[str, str]
    if args.queue_url:
        sources = {url.rstrip("/").rsplit("/", 1)[-1]: url for url in args.queue_url}
    else:
        environ = _running_stack_environ(args.state_file)
        os.environ.update(environ)
        sources = Env.from_environ(environ).settings.queue_urls
    sqs = boto3.client("sqs")
    return sqs, dlq.dead_letter_queues(sqs, sources)


def _dlq_list(args: argparse.Namespace) -> int:
    sqs, queues = _dead_letter_queues(args)
    rows = [(q.source, q.name, dlq.depth(sqs, q)) for q in queues]
    width = max([len("QUEUE"), *(len(source) for source, _, _ in rows)])
    dlq_width = max([len("DEAD-LETTER QUEUE"), *(len(name) for _, name, _ in rows)])
    print(f"{'QUEUE':<{width}}  {'DEAD-LETTER QUEUE':<{dlq_width}}  {'MESSAGES':>8}  {'IN FLIGHT':>9}")
    for source, name, depth in rows:
        print(f"{source:<{width}}  {name:<{dlq_width}}  {depth.visible:>8}  {depth.in_flight:>9}")
    return 0


def _dlq_show(args: argparse.Namespace) -> int:
    sqs, queues = _dead_letter_queues(args)
    queue = dlq.select(queues, args.queue)
    letters = dlq.peek(sqs, queue, limit=args.limit)
    if args.json:
        print(json.dumps([{**asdict(letter), "sent_at": letter.sent_at.isoformat()} for letter in letters], indent=2))
        return 0
    print(f"{queue.name}: {len(letters)} message(s) shown, left in the queue")
    for letter in letters:
        body = letter.body if args.full or len(letter.body) <= BODY_PREVIEW else letter.body[:BODY_PREVIEW] + "..."
        print(
            f"- {letter.message_id}  sent {letter.sent_at.isoformat(timespec='seconds')}  "
            f"received {letter.receive_count}x  {letter.content_type or 'json'}\n  {body}"
        )
    return 0


def _dlq_redrive(args: argparse.Namespace) -> int:
    sqs, queues = _dead_letter_queues(args)
    queue = dlq.select(queues, args.queue)
    report = dlq.redrive(sqs, queue, limit=args.limit)
    print(f"moved {report.moved} message(s) from {queue.name} back to {queue.source}")
    for message_id, reason in report.not_sent.items():
        print(f"  not sent, still in the DLQ: {message_id} ({reason})", file=sys.stderr)
    for message_id, reason in report.not_deleted.items():
        print(f"  sent but not deleted, now in both queues: {message_id} ({reason})", file=sys.stderr)
    return 1 if report.not_sent or report.not_deleted else 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _add_dlq_commands(commands: Any) -> None:
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument(
        "--queue-url",
        action="append",
        default=[],
        help="a deployed source queue (repeatable; default AWS credentials); default: the running dev stack's queues",
    )
    group = commands.add_parser("dlq", help="dead-letter queues: list, show, redrive")
    verbs = group.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", parents=[target], help="messages in each queue's DLQ")
    listing.set_defaults(run=_dlq_list)
    show = verbs.add_parser("show", parents=[target], help="read a DLQ's messages without consuming them")
    show.add_argument("queue", help="binding (TASK_QUEUE), short name (tasks) or queue name")
    show.add_argument("--limit", type=_positive, default=10)
    show.add_argument("--full", action="store_true", help=f"whole bodies (default: the first {BODY_PREVIEW} chars)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_dlq_show)
    redrive = verbs.add_parser("redrive", parents=[target], help="move a DLQ's messages back to their queue")
    redrive.add_argument("queue", help="binding (TASK_QUEUE), short name (tasks) or queue name")
    redrive.add_argument("--limit", type=_positive, default=None, help="at most this many (default: all)")
    redrive.set_defaults(run=_dlq_redrive)


def _at(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (2026-03-09T13:30:00Z)") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone: add Z or an offset")
    try:
        return in_range(moment).astimezone(UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not {exc}") from None


def _jobs_run(args: argparse.Namespace) -> int:
    """``--at``: exactly what the schedule would do at that time (the scheduler function, the calendar applies);
    without it: a manual run now, which runs whatever the day."""
    from local.scheduler import schedule_payload  # noqa: PLC0415 - only this command needs the jobs package
    from ttai.jobs import JOBS, run_job  # noqa: PLC0415
    from ttai.observability import logger  # noqa: PLC0415

    environ = _running_stack_environ(args.state_file)
    os.environ.update(environ)
    if args.job_type not in JOBS:
        raise ValueError(f"unknown job type {args.job_type!r}: one of {', '.join(sorted(JOBS))}")
    # The logger was made before the stack's variables were read: give it the stack's level while the job runs,
    # so the summary printed below is not buried under the run's INFO lines.
    level = logger.log_level
    logger.setLevel(environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))
    try:
        if args.at is not None:
            cron = next((s.cron for s in storage_layout().schedules if s.job == args.job_type), None)
            if cron is None:
                raise ValueError(f"{args.job_type} has no schedule in storage.json: run it without --at")
            payload = schedule_payload(args.job_type, cron, args.at)
            result = _running_function(args.state_file, "scheduler")(payload)
        else:
            now = datetime.fromtimestamp(int(time.time()), UTC)
            result = run_job(Env.from_environ(environ), args.job_type, now, trigger="manual").summary()
    finally:
        logger.setLevel(level)
    print(json.dumps(result, indent=2, default=str))
    if "workflow_id" in result:  # the backup's schedule starts its workflow: `ttai workflows status ID` follows it
        return 0
    return 0 if result.get("status") in {"success", "skipped", "partial"} else 1


def _read_bars(path: Path, symbol: str) -> list[BarIn]:
    """The CSV's rows as bars; ValueError naming the line of the first bad row (nothing is stored then)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip().lower() for name in reader.fieldnames or ()]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: the header needs {', '.join(CSV_COLUMNS)}; missing {', '.join(missing)}")
        bars: list[BarIn] = []
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            values = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            try:
                volume = int(values["volume"])
            except ValueError:
                raise ValueError(f"{path}:{line}: volume {values['volume']!r} is not a whole number") from None
            try:
                bar = BarIn.model_validate({"symbol": symbol, **{c: values[c] for c in CSV_COLUMNS}, "volume": volume})
            except ValidationError as exc:
                raise ValueError(f"{path}:{line}: {exc}") from None
            day = bar.date.isoformat()
            if day in seen:
                raise ValueError(f"{path}:{line}: {day} is already on line {seen[day]}")
            seen[day] = line
            bars.append(bar)
    if not bars:
        raise ValueError(f"{path}: no bars")
    return bars


def _bars_import(args: argparse.Namespace) -> int:
    if not re.fullmatch(SOURCE_PATTERN, args.source):
        raise ValueError(f"--source {args.source!r} must match {SOURCE_PATTERN}")
    bars = _read_bars(args.file, args.symbol)
    environ = _running_stack_environ(args.state_file)
    os.environ.update(environ)
    repository = BarRepository(Env.from_environ(environ).DB)
    stored = 0
    for start in range(0, len(bars), MAX_BARS_PER_REQUEST):
        stored += repository.upsert(BarBatch(bars=bars[start : start + MAX_BARS_PER_REQUEST], source=args.source))
    print(f"stored {stored} bars of {bars[0].symbol} ({bars[0].date} to {bars[-1].date}) from {args.file}")
    return 0


def _knowledge_add(args: argparse.Namespace) -> int:
    """Each file as a document of ``--user``'s knowledge base, added as POST /api/v1/knowledge adds one (the api
    function's bindings): stored and queued; the running stack's consumer indexes it."""
    from local.knowledge_samples import document_title  # noqa: PLC0415 - only this command needs them
    from ttai.models.knowledge import KnowledgeDocumentIn  # noqa: PLC0415
    from ttai.services.knowledge import KnowledgeService  # noqa: PLC0415

    if args.title is not None and len(args.files) > 1:
        raise ValueError("--title names one document: give one file with it")
    documents = []
    for path in args.files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable UTF-8 text file ({type(exc).__name__})") from None
        title = args.title or document_title(text, path.stem)
        try:
            documents.append((path, KnowledgeDocumentIn(title=title, text=text, tags=args.tag)))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
            raise ValueError(f"{path}: {problems}") from None
    environ = _running_stack_environ(args.state_file)
    os.environ.update(runtime_environ(environ))  # boto3 takes the stack's endpoints and credentials from here
    env = Env.from_environ(function_environ(function_specs()["api"], environ))
    service = KnowledgeService(env, args.user)
    for path, document in documents:  # every file checked before any is added
        queued = service.add(document)
        print(f"{path}: document {queued.document_id} ({queued.title!r}) of {args.user} queued for indexing")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from ttai.services.backups import run_backup  # noqa: PLC0415

    environ = _running_stack_environ(args.state_file)
    os.environ.update(environ)
    result = run_backup(Env.from_environ(environ), datetime.now(UTC))
    print(json.dumps(result, indent=2))
    return 0


def _created_database(server_uri: str, name: str) -> str:
    """A libpq URI for database ``name`` on the dev stack's server, created if it does not exist."""
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"database name {name!r}: use lower-case letters, digits and underscores (max 63)")
    with psycopg.connect(server_uri, autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(server_uri, dbname=name)


@contextmanager
def _stack_database(state_file: Path, environ: Mapping[str, str], name: str | None) -> Iterator[D1Database]:
    """The running dev stack's database, or database ``name`` created on the same PostgreSQL and served, while the
    block runs, through a Data API endpoint of this command's own."""
    from local.data_api import LocalDataApi  # noqa: PLC0415
    from ttai.bindings.d1 import D1Database  # noqa: PLC0415

    if name in {None, environ.get("TTAI_DB_NAME")}:
        yield Env.from_environ(environ).DB
        return
    assert name is not None
    server = json.loads(state_file.read_text()).get("postgres_uri")
    if not server:
        raise SystemExit("the dev stack's state file has no postgres_uri: restart `make dev`")
    endpoint = LocalDataApi(
        {name: _created_database(server, name)},
        cluster_arn=environ["TTAI_DB_CLUSTER_ARN"],
        secret_arn=environ["TTAI_DB_SECRET_ARN"],
    )
    endpoint.start()
    try:
        client = aws.client("rds-data", endpoint.endpoint_url, environ.get("AWS_REGION"))
        yield D1Database(environ["TTAI_DB_CLUSTER_ARN"], environ["TTAI_DB_SECRET_ARN"], name, client=client)
    finally:
        endpoint.stop()


def _restore(args: argparse.Namespace) -> int:
    """Restore a backup into an empty database of the running dev stack (its own, or ``--database``, created on
    the same PostgreSQL and served through a Data API endpoint of this command's own)."""
    from ttai.services.backups import BackupError, restore  # noqa: PLC0415

    environ = _running_stack_environ(args.state_file)
    os.environ.update(environ)
    env = Env.from_environ(environ)
    prefix = args.key.removesuffix("manifest.json")
    try:
        with _stack_database(args.state_file, environ, args.database) as db:
            report = restore(db, env.R2, prefix)
    except BackupError as exc:
        print(f"ttai restore: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {report.rows} rows of {report.tables} tables from {report.prefix}; schema at {report.schema_version}"
    )
    return 0


def _routes(args: argparse.Namespace) -> int:
    from local.routes import as_json, http_routes, table  # noqa: PLC0415 - imports every function and router

    routes = http_routes()
    print(as_json(routes) if args.json else table(routes))
    unanswered = [f"{route.method} {route.path} ({route.function})" for route in routes if route.handler is None]
    if unanswered:
        print(f"ttai routes: no handler answers {', '.join(unanswered)}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ttai", description=__doc__)
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE, help="written by `make dev`")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="mint a session token on the running dev stack")
    token.add_argument("user_id")
    token.add_argument("--scope", action="append", default=[], choices=sorted(KNOWN_SCOPES))
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (default 24 h, minimum 60)")
    token.set_defaults(run=_token)
    migrate = commands.add_parser("migrate", help="apply pending migrations to the running dev stack's database")
    migrate.set_defaults(run=_migrate)
    _add_dlq_commands(commands)
    _add_workflow_commands(commands)
    jobs = commands.add_parser("jobs", help="scheduled jobs on the running dev stack").add_subparsers(
        dest="jobs_command", required=True
    )
    run = jobs.add_parser("run", help="run a job now (manual), or --at TIME exactly as its schedule would then")
    run.add_argument("job_type", help="analysis, pre-market, intraday, end-of-day, weekly")
    run.add_argument("--at", type=_at, default=None, help="ISO 8601 with a zone, e.g. 2026-03-09T13:30:00Z")
    run.set_defaults(run=_jobs_run)
    bars = commands.add_parser("bars", help="daily price bars").add_subparsers(dest="bars_command", required=True)
    bars_import = bars.add_parser("import", help="store a CSV of date,open,high,low,close,volume for one symbol")
    bars_import.add_argument("file", type=Path)
    bars_import.add_argument("--symbol", required=True)
    bars_import.add_argument("--source", default="csv", help="where the bars came from (default csv)")
    bars_import.set_defaults(run=_bars_import)
    knowledge = commands.add_parser("knowledge", help="the knowledge base on the running dev stack").add_subparsers(
        dest="knowledge_command", required=True
    )
    knowledge_add = knowledge.add_parser("add", help="add text or Markdown files to a user's knowledge base")
    knowledge_add.add_argument("files", type=Path, nargs="+", metavar="FILE")
    knowledge_add.add_argument("--user", default="dev-user", help="whose knowledge base (default dev-user)")
    knowledge_add.add_argument("--title", default=None, help="default: the first '# ' heading, else the file name")
    knowledge_add.add_argument("--tag", action="append", default=[], help="a tag (repeat for more)")
    knowledge_add.set_defaults(run=_knowledge_add)
    backup = commands.add_parser("backup", help="write every table of the running dev stack to backups/<now>/")
    backup.set_defaults(run=_backup)
    restore = commands.add_parser("restore", help="load a backup into an empty database of the running dev stack")
    restore.add_argument("key", help="the backup's folder, backups/<time>/ (or its manifest.json)")
    restore.add_argument("--database", default=None, help="a database to create and fill (default: the stack's own)")
    restore.set_defaults(run=_restore)
    add_import_commands(commands, StackAccess(environ=_running_stack_environ, database=_stack_database))
    routes = commands.add_parser("routes", help="every HTTP route: method, path, handler (file:line), Lambda function")
    routes.add_argument("--json", action="store_true")
    routes.set_defaults(run=_routes)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, dlq.DeadLetterError) as exc:
        print(f"ttai: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
