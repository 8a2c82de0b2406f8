"""``columnMetadata`` as the service reports it (JDBC types, precision and scale, serial types, nullability), and
the catalog lookups it needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from local.data_api.parameters import Typed, varchar
from local.data_api.results import Column, PgType

_JDBC_TYPES: dict[str, int] = {
    "bool": -7,
    "int2": 5,
    "int4": 4,
    "int8": -5,
    "oid": -5,
    "float4": 7,
    "float8": 8,
    "numeric": 2,
    "bpchar": 1,
    "varchar": 12,
    "text": 12,
    "name": 12,
    "bytea": -2,
    "date": 91,
    "time": 92,
    "timetz": 92,
    "timestamp": 93,
    "timestamptz": 93,
}
_JDBC_OTHER, _JDBC_ARRAY = 1111, 2003
_UNBOUNDED = 2147483647
_CASE_INSENSITIVE = frozenset(
    {"oid", "int2", "int4", "int8", "float4", "float8", "numeric", "bool", "date", "time", "timetz"}
    | {"timestamp", "timestamptz"}
)
_SIGNED = frozenset({"int2", "int4", "int8", "float4", "float8", "numeric"})
_SERIAL_NAMES = {"int2": "smallserial", "int4": "serial", "int8": "bigserial"}
_PRECISION = {"bool": 1, "int2": 5, "int4": 10, "oid": 10, "int8": 19, "float4": 8, "float8": 17, "date": 10}


def _precision_and_scale(name: str, typmod: int) -> tuple[int, int]:
    if name == "numeric":
        return (0, 0) if typmod < 0 else (((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF)
    if name in {"bpchar", "varchar"}:
        return (_UNBOUNDED, 0) if typmod < 0 else (typmod - 4, 0)
    if name in {"time", "timetz", "timestamp", "timestamptz"}:
        fraction = 6 if typmod < 0 else typmod
        width = {"time": 8, "timetz": 14, "timestamp": 19, "timestamptz": 25}[name]
        return width + (fraction + 1 if fraction else 0), fraction
    if name in {"text", "bytea", "json", "jsonb"}:
        return _UNBOUNDED, 0
    return _PRECISION.get(name, 0), 0


_TYPES_QUERY = (
    "SELECT t.oid, t.typname, t.typtype, e.oid, e.typname, e.typtype FROM pg_type t "
    "LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' WHERE t.oid = ANY($1::oid[])"
)
_TABLES_QUERY = "SELECT oid, relname FROM pg_class WHERE oid = ANY($1::oid[])"
_COLUMNS_QUERY = (
    "SELECT a.attrelid, a.attnum, a.attnotnull, "
    "a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%' "
    "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0"
)


def _oid_array(oids: Sequence[int]) -> Typed:
    return varchar("{" + ",".join(str(int(oid)) for oid in oids) + "}")


def load_types(conn: psycopg.Connection[Any], oids: Sequence[int]) -> dict[int, PgType]:
    """``pg_type`` facts for these OIDs, arrays with their element type."""
    found: dict[int, PgType] = {}
    for oid, name, kind, element_oid, element_name, element_kind in conn.execute(
        _TYPES_QUERY, [_oid_array(oids)]
    ).fetchall():
        element = PgType(int(element_oid), str(element_name), str(element_kind)) if element_oid else None
        found[int(oid)] = PgType(int(oid), str(name), str(kind), element)
    return found


def column_metadata(
    conn: psycopg.Connection[Any], columns: list[Column], types: dict[int, PgType]
) -> list[dict[str, Any]]:
    """``columnMetadata`` for a result's columns: the tables and column attributes they come from are looked up."""
    tables: dict[int, str] = {}
    attributes: dict[tuple[int, int], tuple[bool, bool]] = {}  # (table, column) -> (not null, auto increment)
    table_oids = sorted({c.table_oid for c in columns if c.table_oid})
    if table_oids:
        listed = [_oid_array(table_oids)]
        for oid, relname in conn.execute(_TABLES_QUERY, listed):
            tables[int(oid)] = str(relname)
        for relid, attnum, notnull, auto in conn.execute(_COLUMNS_QUERY, listed):
            attributes[(int(relid), int(attnum))] = (bool(notnull), bool(auto))
    metadata = []
    for column in columns:
        pg_type = types[column.type_oid]
        notnull, auto = attributes.get((column.table_oid, column.table_column), (False, False))
        type_name = pg_type.name
        if auto and type_name in _SERIAL_NAMES:
            type_name = _SERIAL_NAMES[type_name]
        precision, scale = _precision_and_scale(pg_type.name, column.typmod)
        element = pg_type.element
        metadata.append(
            {
                "name": column.name,
                "label": column.name,
                "type": _JDBC_ARRAY if element else _JDBC_TYPES.get(pg_type.name, _JDBC_OTHER),
                "typeName": type_name,
                "schemaName": "",
                "tableName": tables.get(column.table_oid, ""),
                "isAutoIncrement": auto,
                "isSigned": pg_type.name in _SIGNED,
                "isCurrency": False,
                "isCaseSensitive": pg_type.name not in _CASE_INSENSITIVE,
                "nullable": 0 if notnull else 1,
                "precision": precision,
                "scale": scale,
                "arrayBaseColumnType": _JDBC_TYPES.get(element.name, _JDBC_OTHER) if element else 0,
            }
        )
    return metadata
