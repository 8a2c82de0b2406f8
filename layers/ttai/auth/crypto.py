"""AES-256-GCM for the broker tokens we store: a random nonce per value, the owner's user_id as associated data.

The key comes from the TOKEN_ENCRYPTION_KEY secret. Its material is stretched to 256 bits with HKDF-SHA256, and
each sealed value records the id of the key that sealed it, so after a rotation (Secrets Manager keeps the
previous version) old values still open and are re-sealed with the current key on their next write.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ttai.errors import ConfigurationError, TtaiError

NONCE_BYTES = 12  # GCM's standard nonce; random per value (at most 2^32 values per key keeps collisions negligible)
_HKDF_INFO = b"ttai/oauth-token-encryption/v1"
_MIN_MATERIAL_BYTES = 32


class TokenDecryptionError(TtaiError):
    """A sealed value that does not open: wrong owner, unknown key, or tampered bytes."""


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    blob: bytes  # nonce || ciphertext || tag


def key_id_of(material: str) -> str:
    """A stable, non-secret name for a key: the first 16 hex digits of SHA-256 of its material."""
    return hashlib.sha256(b"ttai-key-id:" + material.encode("utf-8")).hexdigest()[:16]


def _derive(material: str) -> bytes:
    raw = material.encode("utf-8")
    if len(raw) < _MIN_MATERIAL_BYTES:
        raise ConfigurationError(f"TOKEN_ENCRYPTION_KEY must hold at least {_MIN_MATERIAL_BYTES} bytes of material")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(raw)


def _associated_data(user_id: str) -> bytes:
    return b"ttai/oauth-token/" + user_id.encode("utf-8")


class TokenCipher:
    """Seals with the current key; opens with any key it was given (current first, then previous versions)."""

    def __init__(self, materials: Sequence[str]) -> None:
        if not materials:
            raise ConfigurationError("TokenCipher needs at least one key")
        self._keys = {key_id_of(m): AESGCM(_derive(m)) for m in materials}
        self.current_key_id = key_id_of(materials[0])

    def seal(self, plaintext: str, *, user_id: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._keys[self.current_key_id].encrypt(
            nonce, plaintext.encode("utf-8"), _associated_data(user_id)
        )
        return Sealed(key_id=self.current_key_id, blob=blob)

    def open(self, sealed: Sealed, *, user_id: str) -> str:
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise TokenDecryptionError(f"no key {sealed.key_id} in TOKEN_ENCRYPTION_KEY's current or previous version")
        nonce, body = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        try:
            return key.decrypt(nonce, body, _associated_data(user_id)).decode("utf-8")
        except InvalidTag as exc:
            raise TokenDecryptionError("the sealed token does not open for this user") from exc
