"""A user's id inside KV keys and object keys: one escaped segment, so no user's keys or prefixes reach another's
(and, digested, as their Vectorize namespace: ``user_namespace``).

User ids keep the alphabet tokens accept (``[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}``): people moving from Cloudflare
bring ids from TastyTrade and from seed 000's D1 that may hold ``:``, ``.`` or ``@``, and narrowing the alphabet
would lock them out. Instead the id is escaped where it becomes a key segment: ``%`` and the segment's separator
are percent-encoded (``:`` as ``%3A`` in KV keys, ``/`` as ``%2F`` in object keys), everything else is kept.

Why that is enough: the encoding is injective (``%`` is escaped too, so every ``%`` in a segment starts an escape)
and a segment never holds its separator, so ``user:{segment}:`` ends exactly where the segment does. A key of
another user starts ``user:{their segment}:``; for it to start with ``user:{mine}:`` the first separator after
``user:`` would have to fall at the same place in both, making the segments, hence the ids, equal. The same holds
for ``users/{segment}/`` in the bucket.

An id without ``%`` and the separator maps to itself, so every key of an ordinary id stays what it was; object
keys of every valid id stay as Cloudflare's R2 layout had them (``/`` and ``%`` are not in the alphabet). Only KV
keys of ids holding ``:`` change: their cached analyses are computed again and their sessions sign in again.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

from ttai.layout import storage_layout

ESCAPE = "%"
KV_SEPARATOR = ":"
OBJECT_SEPARATOR = "/"
_USER_PLACEHOLDER = "{user_id}"


def _escaped(character: str) -> str:
    return f"%{ord(character):02X}"


def user_segment(user_id: str, separator: str) -> str:
    """``user_id`` as one key segment that ``separator`` ends: ``%`` and ``separator`` percent-encoded."""
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("a user id in a key is a non-empty string")
    if len(separator) != 1 or separator.isalnum() or separator == ESCAPE:
        raise ValueError(f"{separator!r} cannot separate key segments")
    return user_id.replace(ESCAPE, _escaped(ESCAPE)).replace(separator, _escaped(separator))


def user_id_from_segment(segment: str) -> str:
    """The user id a segment made by ``user_segment`` (with either separator) stands for."""
    return unquote(segment, errors="strict")


def user_object_prefix(purpose: str, user_id: str) -> str:
    """The bucket prefix of one per-user purpose in storage.json (``users/{segment}/exports/`` for exports)."""
    template = storage_layout().bucket_prefixes[purpose]
    if _USER_PLACEHOLDER + OBJECT_SEPARATOR not in template:
        raise ValueError(f"storage.json: the {purpose} prefix {template!r} has no {_USER_PLACEHOLDER}/ segment")
    return template.replace(_USER_PLACEHOLDER, user_segment(user_id, OBJECT_SEPARATOR))


def user_objects_prefix(user_id: str) -> str:
    """``users/{segment}/``: the parent of every per-user prefix in storage.json (what export and erasure list)."""
    heads = {
        template[: template.index(_USER_PLACEHOLDER) + len(_USER_PLACEHOLDER) + 1]
        for template in storage_layout().bucket_prefixes.values()
        if _USER_PLACEHOLDER in template
    }
    if len(heads) != 1 or not next(iter(heads)).endswith(_USER_PLACEHOLDER + OBJECT_SEPARATOR):
        raise ValueError(f"storage.json: per-user prefixes must share one parent ending {_USER_PLACEHOLDER}/")
    return heads.pop().replace(_USER_PLACEHOLDER, user_segment(user_id, OBJECT_SEPARATOR))


def user_namespace(user_id: str) -> str:
    """The Vectorize namespace of a user's vectors (the knowledge base): the SHA-256 of their id in 64 hex digits, as
    a namespace is at most 64 bytes and an id up to 128 characters. A digest, not an escape, so no id reaches
    another's namespace short of a SHA-256 collision."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()
