"""What the collections a user keeps by name share (watchlists, screeners): one row per (user_id, name), listed by
name in keyset pages, read, created or replaced whole, deleted; every write audited."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ttai.cursors import CursorKind, Page, Row
from ttai.errors import NotFound
from ttai.services.tenancy import TenantRepository, audited

Item = TypeVar("Item", bound=BaseModel)
Body = TypeVar("Body", bound=BaseModel)
_IDENTIFIER = re.compile(r"[a-z_]+")


class NamedTable:
    """A collection's table and its statements. ``written`` are the columns a body replaces, named as the body's fields;
    every such table has ``id``, ``user_id``, ``name``, ``created_at`` and ``updated_at`` besides, and is unique on
    (user_id, name). ``entity`` names its rows in audit events and messages."""

    def __init__(self, table: str, entity: str, written: tuple[str, ...], cursor: CursorKind) -> None:
        if not all(_IDENTIFIER.fullmatch(name) for name in (table, entity, *written)):
            raise ValueError(f"table and column names are lower_snake constants, got {table!r} {written!r}")
        self.entity = entity
        self.written = written
        self.cursor = cursor
        columns = ", ".join(("id", "name", *written, "created_at", "updated_at"))
        values = ", ".join(f"?{n}" for n in range(4, 4 + len(written)))
        replaced = ", ".join(f"{column} = EXCLUDED.{column}" for column in written)
        # Checked constants (above), never input.
        self.list = f"""
SELECT {columns} FROM {table}
WHERE user_id = ?1 AND (?2::text IS NULL OR name > ?2)
ORDER BY name LIMIT ?3
"""  # noqa: S608
        self.get = f"SELECT {columns} FROM {table} WHERE user_id = ?1 AND name = ?2"  # noqa: S608
        self.put = audited(
            f"""INSERT INTO {table} (user_id, name, {", ".join(written)}) VALUES (?1, ?3, {values})
    ON CONFLICT (user_id, name) DO UPDATE SET {replaced}
    RETURNING {columns}""",  # noqa: S608
            action=f"{entity}.put",
            entity=entity,
        )
        self.delete = audited(
            f"DELETE FROM {table} WHERE user_id = ?1 AND name = ?3 RETURNING id",  # noqa: S608
            action=f"{entity}.delete",
            entity=entity,
        )


class NamedRepository(TenantRepository, Generic[Item, Body]):
    """The caller's rows of one ``NamedTable``, as ``model``s."""

    table: NamedTable
    model: type[Item]

    def _item(self, row: Row) -> Item:
        return self.model.model_validate({k: v for k, v in row.items() if k != "id"})

    def list(self, limit: int, cursor: str | None) -> Page[Item]:
        def fetch(after: tuple[Any, ...], count: int) -> Sequence[Row]:
            return self.db.prepare(self.table.list).bind(self.user_id, *after, count).all().results

        return self.page(self.table.cursor, cursor, limit, fetch, self._item)

    def get(self, name: str) -> Item:
        row = self.db.prepare(self.table.get).bind(self.user_id, name).first()
        if row is None:
            raise NotFound(f"no {self.table.entity} named {name!r}")
        return self._item(row)

    def put(self, name: str, body: Body) -> Item:
        values = [getattr(body, column) for column in self.table.written]
        row = self.audited_statement(self.table.put, name, *values).first()
        assert row is not None  # an upsert always returns its row
        return self._item(row)

    def delete(self, name: str) -> None:
        if self.audited_statement(self.table.delete, name).first() is None:
            raise NotFound(f"no {self.table.entity} named {name!r}")
