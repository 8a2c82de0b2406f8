"""``ttai import kv | d1 | r2``: Cloudflare's data into the running dev stack, each import ending with its
verification report (text on stdout, JSON with ``--report FILE``) and its exit code (0 verified, 1 mismatch,
2 the import could not run, 3 verified but something was refused or left behind).

``SOURCES`` is the extension point: a new source (Vectorize vectors, say) is a module with an ``import_...``
function returning a ``verify.Report`` and an ``ImportCommand`` here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.importers.verify import Report
    from ttai.bindings.d1 import D1Database

EXIT_CANNOT_RUN = 2
SOURCE_KEY_VARIABLES = ("R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY")


@dataclass(frozen=True)
class StackAccess:
    """How a command reaches the running dev stack (given by ``local.cli``, which owns the state file)."""

    environ: Callable[[Path], dict[str, str]]
    database: Callable[[Path, Mapping[str, str], str | None], AbstractContextManager[D1Database]]

    def env_of(self, args: argparse.Namespace) -> dict[str, str]:
        environ = self.environ(args.state_file)
        os.environ.update(environ)  # boto3 takes the stack's endpoints and credentials from the environment
        return environ


@dataclass(frozen=True)
class ImportCommand:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, StackAccess], Report]


def _kv_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a JSON file as `wrangler kv bulk put` takes it")
    parser.add_argument("--namespace", default="KV", help="the KV binding to write through (default KV)")
    parser.add_argument("--workers", type=_positive, default=8, help="writes in flight (default 8)")


def _kv_run(args: argparse.Namespace, stack: StackAccess) -> Report:
    from local.importers.kv import import_kv  # noqa: PLC0415
    from ttai.bindings.kv import KVNamespace  # noqa: PLC0415
    from ttai.env import Env  # noqa: PLC0415

    env = Env.from_environ(stack.env_of(args))
    binding = getattr(env, args.namespace, None) if args.namespace.isidentifier() else None
    if not isinstance(binding, KVNamespace):
        raise ValueError(f"{args.namespace} is not a KV binding of the stack (KV is)")
    return import_kv(binding, args.file, namespace=args.namespace, workers=args.workers)


def _d1_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dump", type=Path, help="what `wrangler d1 export` wrote (a SQLite SQL dump)")
    parser.add_argument("--database", default=None, help="a database to create (or reuse) and fill, migrated first")
    parser.add_argument("--dry-run", action="store_true", help="do everything in a transaction that is rolled back")
    parser.add_argument("--no-resume", action="store_true", help="write tables already imported from this dump again")
    parser.add_argument(
        "--onto-existing", action="store_true", help="upsert by id into tables that hold rows no import wrote"
    )
    parser.add_argument("--prune", action="store_true", help="delete rows the dump no longer has (a delta run)")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the dump's SQLite copy goes (default: tmp)")


def _d1_run(args: argparse.Namespace, stack: StackAccess) -> Report:
    from local.importers.d1 import D1Options, import_d1  # noqa: PLC0415
    from ttai.migrations import apply  # noqa: PLC0415

    environ = stack.env_of(args)
    options = D1Options(
        dry_run=args.dry_run, resume=not args.no_resume, onto_existing=args.onto_existing, prune=args.prune
    )
    with stack.database(args.state_file, environ, args.database) as db:
        if args.database is not None:
            apply(db)
        return import_d1(db, args.dump, options, work_dir=args.work_dir)


def _r2_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint", required=True, help="the source's S3 API, https://<account>.r2.cloudflarestorage.com"
    )
    parser.add_argument("--bucket", required=True, help="the source bucket")
    parser.add_argument("--prefix", default="", help="only keys under this prefix")
    parser.add_argument("--region", default="auto", help="the source's region (R2: auto)")
    parser.add_argument(
        "--profile",
        default=None,
        help="an AWS CLI profile holding the source's keys (default: R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY)",
    )
    parser.add_argument("--workers", type=_positive, default=4, help="objects copied at once (default 4)")


def _r2_run(args: argparse.Namespace, stack: StackAccess) -> Report:
    from local.importers.r2 import import_r2  # noqa: PLC0415
    from ttai.env import Env  # noqa: PLC0415

    session = _source_session(args, dict(os.environ))  # before the stack's variables replace AWS_* credentials
    env = Env.from_environ(stack.env_of(args))
    source = session.client("s3", endpoint_url=args.endpoint, region_name=args.region)
    return import_r2(env.R2, source, args.bucket, prefix=args.prefix, workers=args.workers)


def _source_session(args: argparse.Namespace, environ: Mapping[str, str]) -> Any:
    import boto3  # noqa: PLC0415

    if args.profile:
        return boto3.Session(profile_name=args.profile)
    key_id, secret = (environ.get(name) for name in SOURCE_KEY_VARIABLES)
    if not key_id or not secret:
        raise ValueError(
            "the source's keys: pass --profile NAME, or set R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY "
            "(an R2 API token's S3 credentials)"
        )
    return boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


SOURCES: tuple[ImportCommand, ...] = (
    ImportCommand("kv", "a `wrangler kv bulk put` file, through a KV binding", _kv_arguments, _kv_run),
    ImportCommand("d1", "a `wrangler d1 export` into our PostgreSQL schema", _d1_arguments, _d1_run),
    ImportCommand("r2", "objects of an S3-compatible bucket (R2's S3 API) into R2's bucket", _r2_arguments, _r2_run),
)


def add_import_commands(commands: Any, stack: StackAccess) -> None:
    """``ttai import <source>`` for each of ``SOURCES``."""
    group = commands.add_parser("import", help="Cloudflare's data into the running dev stack, verified")
    sources = group.add_subparsers(dest="source", required=True)
    for source in SOURCES:
        parser = sources.add_parser(source.name, help=source.help)
        source.arguments(parser)
        parser.add_argument("--report", type=Path, default=None, help="also write the report as JSON to this file")
        parser.set_defaults(run=_runner(source, stack))


def _runner(source: ImportCommand, stack: StackAccess) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from local.importers.d1 import ImportRefused  # noqa: PLC0415
        from local.importers.d1_target import TargetError  # noqa: PLC0415
        from local.importers.verify import write_json  # noqa: PLC0415

        try:
            report = source.run(args, stack)
        except (ImportRefused, TargetError, ValueError, OSError) as exc:
            print(f"ttai import {source.name}: {exc}", file=sys.stderr)
            return EXIT_CANNOT_RUN
        for line in report.lines():
            print(line)
        if args.report is not None:
            write_json(report, str(args.report))
        return report.exit_code

    return run
