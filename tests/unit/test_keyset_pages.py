"""The one keyset-paging helper: a page is at most ``limit`` rows, the next cursor continues after its last row, and
the response-size budget cuts a page short; ``keyset_rows`` reads every row a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ttai.cursors import (
    INSTANT,
    ROW_ID,
    CursorCodec,
    CursorKind,
    InvalidCursor,
    Row,
    keyset_page,
    keyset_rows,
)
from ttai.errors import ConfigurationError

NEWEST = CursorKind("newest", (INSTANT, ROW_ID), ("created_at", "id"))
START = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
SCOPE = ("user-1", "AAPL")


def codec() -> CursorCodec:
    return CursorCodec(lambda: ["k" * 64])


class Table:
    """Rows newest first, as a query ordered by (created_at DESC, id DESC) returns them; records what it was asked."""

    def __init__(self, count: int, sizes: Sequence[int] = ()) -> None:
        self.rows: list[Row] = [
            {"id": n, "created_at": START + timedelta(minutes=n // 2), "size": sizes[n - 1] if sizes else 1}
            for n in range(count, 0, -1)
        ]
        self.asked: list[tuple[tuple[Any, ...], int]] = []

    def fetch(self, after: tuple[Any, ...], count: int) -> list[Row]:
        self.asked.append((after, count))
        at, after_id = after
        rows = [r for r in self.rows if after_id is None or (r["created_at"], r["id"]) < (at, after_id)][:count]
        # What budget_fits computes: the size of the rows before each one, against the budget (here 10).
        before = 0
        for row in rows:
            row["fits"] = before < 10
            before += row["size"]
        return rows


def pages(table: Table, limit: int, *, within_budget: bool = False, scope: tuple[Any, ...] = SCOPE) -> list[list[int]]:
    """Every page of the table, as ids, following next_cursor to the end."""
    found: list[list[int]] = []
    cursor = None
    while True:
        page = keyset_page(
            codec(), NEWEST, scope, cursor, limit, table.fetch, lambda r: r["id"], within_budget=within_budget
        )
        found.append(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def test_pages_hold_limit_rows_and_the_last_page_has_no_cursor() -> None:
    table = Table(7)
    assert pages(table, 3) == [[7, 6, 5], [4, 3, 2], [1]]
    # One row more than the page is asked for, and each page starts after the last row of the one before.
    assert [count for _, count in table.asked] == [4, 4, 4]
    assert table.asked[0][0] == (None, None)
    assert table.asked[1][0] == (START + timedelta(minutes=2), 5)


def test_a_full_last_page_issues_no_cursor_to_an_empty_one() -> None:
    assert pages(Table(6), 3) == [[6, 5, 4], [3, 2, 1]]
    assert pages(Table(0), 3) == [[]]


def test_the_budget_ends_a_page_before_the_first_row_that_does_not_fit() -> None:
    # Sizes by id: 1..8 -> 4 each; a page of 3 holds what fits in 10 bytes of rows before it (three rows: 0, 4, 8).
    table = Table(8, sizes=[4] * 8)
    assert pages(table, 5, within_budget=True) == [[8, 7, 6], [5, 4, 3], [2, 1]]
    # Without the option the same rows page by the limit alone.
    assert pages(Table(8, sizes=[4] * 8), 5) == [[8, 7, 6, 5, 4], [3, 2, 1]]


def test_a_page_cut_by_the_budget_continues_even_when_no_row_is_past_the_limit() -> None:
    table = Table(3, sizes=[20, 20, 20])
    assert pages(table, 100, within_budget=True) == [[3], [2], [1]]


def test_a_cursor_continues_only_the_list_it_was_issued_for() -> None:
    table = Table(5)
    page = keyset_page(codec(), NEWEST, SCOPE, None, 2, table.fetch, lambda r: r["id"])
    assert page.next_cursor is not None
    with pytest.raises(InvalidCursor):
        keyset_page(codec(), NEWEST, ("user-2", "AAPL"), page.next_cursor, 2, table.fetch, lambda r: r["id"])
    other = CursorKind("other", NEWEST.fields, NEWEST.columns)
    with pytest.raises(InvalidCursor):
        keyset_page(codec(), other, SCOPE, page.next_cursor, 2, table.fetch, lambda r: r["id"])
    assert len(table.asked) == 1  # a refused cursor reaches no query


def test_an_empty_cursor_is_the_first_page_and_a_missing_codec_is_a_configuration_error() -> None:
    assert keyset_page(codec(), NEWEST, SCOPE, "", 2, Table(1).fetch, lambda r: r["id"]).items == [1]
    with pytest.raises(ConfigurationError):
        keyset_page(None, NEWEST, SCOPE, None, 2, Table(3).fetch, lambda r: r["id"])


def test_a_kind_without_its_columns_cannot_issue_a_cursor() -> None:
    bare = CursorKind("bare", NEWEST.fields)
    with pytest.raises(ValueError, match="names 0 columns for 2 fields"):
        keyset_page(codec(), bare, SCOPE, None, 2, Table(3).fetch, lambda r: r["id"])


@pytest.mark.parametrize(("count", "page_size", "calls"), [(0, 3, 1), (5, 3, 2), (6, 3, 3), (7, 10, 1)])
def test_keyset_rows_reads_every_row_once_until_a_short_page(count: int, page_size: int, calls: int) -> None:
    table = Table(count)
    ids = [row["id"] for row in keyset_rows(table.fetch, ("created_at", "id"), page_size)]
    assert ids == list(range(count, 0, -1))
    assert len(table.asked) == calls
    assert all(asked == page_size for _, asked in table.asked)
