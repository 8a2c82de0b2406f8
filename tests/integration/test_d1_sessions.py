"""D1's Sessions API on the embedded PostgreSQL through the local Data API: statements in order, bookmarks that sort
oldest to newest, constraints and bookmarks accepted as Cloudflare's are."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.d1 import D1Database, D1SessionError

BOOKMARK = re.compile(r"^[0-9a-f]{16}-aurora$")


@pytest.fixture
def db(stack: LocalStack) -> D1Database:
    return stack.env.DB


@pytest.fixture
def rds_calls(stack: LocalStack) -> Iterator[CallCounter]:
    with CallCounter(stack.env.client("rds-data")) as counter:
        yield counter


@pytest.fixture
def table(db: D1Database) -> Iterator[str]:
    name = f"s_{uuid.uuid4().hex[:10]}"
    db.exec(f"CREATE TABLE {name} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text UNIQUE)")
    yield name
    db.exec(f"DROP TABLE {name}")


def test_a_sessions_statements_run_in_order_and_it_then_reports_a_bookmark(
    db: D1Database, table: str, rds_calls: CallCounter
) -> None:
    session = db.withSession("first-primary")
    assert session.getBookmark() is None  # nothing has run in it yet, as on Cloudflare
    assert rds_calls.total == 0

    inserted = session.prepare(f"INSERT INTO {table} (name) VALUES (?) RETURNING id").bind("a").first("id")
    session.batch([session.prepare(f"INSERT INTO {table} (name) VALUES (?)").bind(n) for n in ("b", "c")])
    rows = session.prepare(f"SELECT id, name FROM {table} ORDER BY id").all().results
    assert [r["name"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["id"] == inserted

    before = rds_calls.total
    first = session.get_bookmark()
    assert first is not None
    assert BOOKMARK.match(first)
    assert rds_calls.total == before + 1  # asking costs one statement

    db.prepare(f"INSERT INTO {table} (name) VALUES (?)").bind("d").run()
    later = session.getBookmark()
    assert later is not None
    assert later > first  # bookmarks sort oldest to newest


@pytest.mark.parametrize(
    "start",
    [
        None,
        "first-unconstrained",
        "first-primary",
        "00000001-00000002-00004e2f-4ba3e1d9c2b1a0f1e2d3c4b5a6978812",  # one Cloudflare issued before the cutover
    ],
)
def test_a_session_from_a_constraint_or_a_bookmark_sees_every_committed_write(
    db: D1Database, table: str, start: str | None
) -> None:
    writer = db.with_session("first-primary")
    writer.prepare(f"INSERT INTO {table} (name) VALUES (?)").bind("written").run()
    bookmark = writer.get_bookmark()
    assert bookmark is not None

    for session in (db.with_session(start), db.with_session(bookmark)):
        assert session.prepare(f"SELECT name FROM {table}").first("name") == "written"
        assert session.get_bookmark() is not None


@pytest.mark.parametrize(
    ("start", "named"),
    [
        ("first-primry", "unknown session constraint 'first-primry'"),
        ("", "1 to 1024 printable ASCII"),
        ("a bookmark", "without spaces"),
        (42, "got int"),
    ],
)
def test_neither_a_constraint_nor_a_bookmark_is_refused_before_any_call(
    db: D1Database, rds_calls: CallCounter, start: object, named: str
) -> None:
    with pytest.raises(D1SessionError, match=named):
        db.with_session(start)  # type: ignore[arg-type]
    assert rds_calls.total == 0
