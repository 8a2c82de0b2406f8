"""Requests checked against botocore's ``rds-data`` model, as the service checks them before doing anything."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, Shape, StringShape, StructureShape

from local.data_api.errors import service_model


def validate_request(operation: str, request: Any) -> list[str]:
    """What is wrong with ``request`` (decoded JSON) for ``operation``'s input shape; empty when it conforms.

    Checks what the model declares: required members, member names, JSON types, one member per union, string
    lengths, enum values and base64 for blobs. Unknown members are reported too (the service would ignore them;
    here a misspelt option is a bug worth failing on).
    """
    problems: list[str] = []
    _validate(service_model().operation_model(operation).input_shape, request, "", problems)
    return problems


def _validate(shape: Shape, value: Any, path: str, problems: list[str]) -> None:  # noqa: PLR0912 - a case per type
    where = path or "request"
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object")
            return
        members: Mapping[str, Shape] = shape.members
        problems.extend(f"{_member(path, key)}: unknown member" for key in value if key not in members)
        if shape.metadata.get("union"):
            chosen = [key for key, item in value.items() if item is not None and key in members]
            if len(chosen) != 1:
                problems.append(f"{where}: exactly one of {', '.join(members)} must be set, found {len(chosen)}")
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(f"{_member(path, name)}: required member is missing")
        for key, item in value.items():
            if key in members and item is not None:
                _validate(members[key], item, _member(path, key), problems)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list")
            return
        for index, item in enumerate(value):
            if item is None and shape.member.type_name not in {"structure", "list"}:
                continue  # the array shapes document null elements
            _validate(shape.member, item, f"{where}[{index}]", problems)
    elif isinstance(shape, StringShape):
        _validate_string(shape, value, where, problems)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean")
    elif kind in {"integer", "long"}:
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            problems.append(f"{where}: expected a 64-bit integer")
    elif kind in {"double", "float"}:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}: expected a number")
    elif kind == "blob" and (not isinstance(value, str) or b64decode(value) is None):
        problems.append(f"{where}: expected base64-encoded bytes")


def _validate_string(shape: StringShape, value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string")
        return
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        problems.append(f"{where}: length {len(value)} is below the minimum of {low}")
    if high is not None and len(value) > high:
        problems.append(f"{where}: length {len(value)} is above the maximum of {high}")
    enum = shape.enum
    if enum and value not in enum:
        problems.append(f"{where}: {value!r} is not one of {', '.join(enum)}")


def _member(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
