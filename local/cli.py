"""``ttai``: command-line tools for the local stack (minting development tokens for now)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from local.dev import DEFAULT_STATE_FILE
from ttai.auth.sessions import SessionStore
from ttai.auth.tokens import KNOWN_SCOPES
from ttai.env import Env
from ttai.migrations import apply


def _running_stack_environ(state_file: Path) -> dict[str, str]:
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise SystemExit(f"no running dev stack: {state_file} does not exist (start one with `make dev`)") from None
    environ: dict[str, str] = state["environ"]
    return environ


def _token(args: argparse.Namespace) -> int:
    environ = _running_stack_environ(args.state_file)
    os.environ.update(environ)  # boto3 takes the stack's endpoint and fake credentials from the environment
    opened = SessionStore(Env.from_environ(environ)).open(args.user_id, scopes=tuple(args.scope), ttl_seconds=args.ttl)
    print(opened.token)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    environ = _running_stack_environ(args.state_file)
    os.environ.update(environ)
    report = apply(Env.from_environ(environ).DB)
    print(f"applied {report.applied or 'nothing'}; database at version {report.current}")
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
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ValueError as exc:
        print(f"ttai: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
