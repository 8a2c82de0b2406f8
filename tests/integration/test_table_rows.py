"""Reading whole tables through the Data API: pages sized under its 1 MiB response limit, big rows in slices,
composite keys, parents before children; in and out of a transaction."""

from __future__ import annotations

import json
import uuid

import pytest

from local.stack import LocalStack
from ttai.bindings.d1 import D1Database
from ttai.services.tables import PAGE_ROWS, TableError, discover, row_texts


@pytest.fixture
def db(stack: LocalStack) -> D1Database:
    database = stack.create_database(f"rows_{uuid.uuid4().hex[:8]}")
    database.exec(
        """
        CREATE TABLE parent (a text, b bigint, body text NOT NULL, PRIMARY KEY (a, b));
        CREATE TABLE child (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a text, b bigint,
                            FOREIGN KEY (a, b) REFERENCES parent (a, b));
        CREATE TABLE aaa_grandchild (id bigint PRIMARY KEY, child_id bigint REFERENCES child (id));
        CREATE TABLE keyless (x int)
        """
    )
    return database


def test_pages_fit_the_response_limit_and_big_rows_come_in_slices(stack: LocalStack, db: D1Database) -> None:
    # 600 rows of 8 KB (about 4.8 MB: five responses at least), two of them over the 64 KB row limit.
    db.prepare(
        "INSERT INTO parent SELECT CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END, g,"
        " CASE WHEN g IN (7, 300) THEN repeat('é', 40000) ELSE repeat('x', 8000) END FROM generate_series(1, 600) g"
    ).run()
    (parent,) = [t for t in discover(db) if t.name == "parent"]
    assert parent.primary_key == ("a", "b")
    assert stack.data_api is not None
    before = stack.data_api.requests["ExecuteStatement"]
    rows = [json.loads(text) for text in row_texts(db, parent)]
    calls = stack.data_api.requests["ExecuteStatement"] - before
    assert [(r["a"], r["b"]) for r in rows] == sorted((("even" if g % 2 == 0 else "odd"), g) for g in range(1, 601))
    assert {r["b"] for r in rows if r["body"] == "é" * 40000} == {7, 300}
    assert all(r["body"] == "x" * 8000 for r in rows if r["b"] not in {7, 300})
    assert 7 <= calls <= 40  # about 90 rows a response, plus the slices of the two big rows

    with db.transaction() as tx:
        assert [json.loads(t)["b"] for t in row_texts(db, parent, tx=tx)] == [r["b"] for r in rows]


def test_a_where_clause_and_dropped_fields(db: D1Database) -> None:
    db.prepare("INSERT INTO parent SELECT 'k', g, 'body ' || g FROM generate_series(1, 2500) g").run()
    (parent,) = [t for t in discover(db) if t.name == "parent"]
    texts = list(row_texts(db, parent, where="b % ?1 = 0", params=(7,), drop_fields=("body",)))
    assert [json.loads(t) for t in texts] == [{"a": "k", "b": b} for b in range(7, 2501, 7)]
    assert len(list(row_texts(db, parent, page_rows=10))) == 2500
    assert PAGE_ROWS >= 10


def test_tables_come_parents_first_and_keyless_ones_are_refused(db: D1Database) -> None:
    tables = discover(db)
    names = [t.name for t in tables]
    assert names.index("parent") < names.index("child") < names.index("aaa_grandchild")
    (child,) = [t for t in tables if t.name == "child"]
    assert child.identity_columns == ("id",)
    assert child.references == ("parent",)
    (keyless,) = [t for t in tables if t.name == "keyless"]
    with pytest.raises(TableError, match="no primary key"):
        list(row_texts(db, keyless))
