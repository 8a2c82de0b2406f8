"""Durable Object ids: 64 hex digits, derived per namespace so an id of one namespace is refused by another.

An id is 32 bytes: a 24-byte body and an 8-byte tag, ``HMAC-SHA256(namespace key, body)``. ``id_from_name`` makes
the body from the name (HMAC of the name under the same key), so it is deterministic and differs between
namespaces; ``new_unique_id`` draws the body at random (192 bits: never collides in practice). ``id_from_string``
recomputes the tag, which refuses malformed ids and ids of another namespace (a forged tag passes one time in
2**64). The key derives from the namespace name: ids tell namespaces apart, they are not secrets or capabilities,
as on Cloudflare, where whoever holds an id may address the object.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from ttai.bindings.durable.errors import InvalidId, InvalidNamespace

ID_HEX_DIGITS = 64
_BODY_BYTES = 24
_TAG_BYTES = 8
_HEX = re.compile(r"^[0-9a-f]{64}$")
# Binding names, as in wrangler.toml and env: PUBSUB, PRICE_ALERT... (they also become part of the partition key).
NAMESPACE_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,62}$")


def check_namespace_name(name: object) -> str:
    if not isinstance(name, str) or not NAMESPACE_NAME.match(name):
        raise InvalidNamespace(f"a namespace is named like a binding (PUBSUB, PRICE_ALERT), not {name!r}")
    return name


class DurableObjectId:
    """One object's id: ``str(id)`` is its 64 hex digits; ``name`` is the name it came from, if any."""

    __slots__ = ("_hex", "name", "namespace")

    def __init__(self, namespace: str, hex_id: str, name: str | None = None) -> None:
        self.namespace = namespace
        self._hex = hex_id
        self.name = name

    def __str__(self) -> str:
        return self._hex

    def to_string(self) -> str:
        return self._hex

    def equals(self, other: DurableObjectId) -> bool:
        return self == other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DurableObjectId):
            return NotImplemented
        return (self.namespace, self._hex) == (other.namespace, other._hex)

    def __hash__(self) -> int:
        return hash((self.namespace, self._hex))

    def __repr__(self) -> str:
        named = f", name={self.name!r}" if self.name is not None else ""
        return f"DurableObjectId({self.namespace}, {self._hex}{named})"


class IdFactory:
    """Makes and checks the ids of one namespace."""

    __slots__ = ("_key", "namespace")

    def __init__(self, namespace: str) -> None:
        self.namespace = check_namespace_name(namespace)
        self._key = hashlib.sha256(b"ttai-durable-object-namespace\x00" + namespace.encode("ascii")).digest()

    def _tagged(self, body: bytes) -> str:
        tag = hmac.new(self._key, b"id\x00" + body, hashlib.sha256).digest()[:_TAG_BYTES]
        return (body + tag).hex()

    def from_name(self, name: str) -> DurableObjectId:
        if not isinstance(name, str):
            raise InvalidId(f"id_from_name takes a string, not {type(name).__name__}")
        try:
            raw = name.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidId("an object name must be valid Unicode text") from exc
        body = hmac.new(self._key, b"name\x00" + raw, hashlib.sha256).digest()[:_BODY_BYTES]
        return DurableObjectId(self.namespace, self._tagged(body), name)

    def unique(self) -> DurableObjectId:
        return DurableObjectId(self.namespace, self._tagged(secrets.token_bytes(_BODY_BYTES)))

    def from_string(self, hex_id: str, name: str | None = None) -> DurableObjectId:
        """The id written as ``hex_id``; raises InvalidId unless it is an id of this namespace.

        ``name`` (the host's use) must be the name the id was made from, or the id is refused.
        """
        if not isinstance(hex_id, str) or not _HEX.match(hex_id):
            raise InvalidId(f"a Durable Object id is {ID_HEX_DIGITS} lowercase hex digits, not {hex_id!r:.80}")
        body = bytes.fromhex(hex_id)[:_BODY_BYTES]
        if not hmac.compare_digest(self._tagged(body), hex_id):
            raise InvalidId(f"{hex_id} is not an id of namespace {self.namespace}")
        if name is not None and self.from_name(name).to_string() != hex_id:
            raise InvalidId(f"{hex_id} is not the id of the name {name!r:.80} in namespace {self.namespace}")
        return DurableObjectId(self.namespace, hex_id, name)
