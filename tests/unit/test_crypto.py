"""AES-256-GCM sealing of broker tokens: owner-bound, tamper-evident, rotation-aware."""

from __future__ import annotations

import pytest

from ttai.auth.crypto import NONCE_BYTES, Sealed, TokenCipher, TokenDecryptionError, key_id_of
from ttai.errors import ConfigurationError

OLD, NEW = "o" * 64, "n" * 64


def test_a_sealed_token_opens_for_its_owner_and_hides_its_plaintext() -> None:
    cipher = TokenCipher([NEW])
    sealed = cipher.seal("access-token-value", user_id="user-1")
    assert sealed.key_id == key_id_of(NEW) == cipher.current_key_id
    assert b"access-token-value" not in sealed.blob
    assert len(sealed.blob) == NONCE_BYTES + len("access-token-value") + 16  # nonce, ciphertext, GCM tag
    assert cipher.open(sealed, user_id="user-1") == "access-token-value"


def test_the_same_token_seals_differently_each_time() -> None:
    cipher = TokenCipher([NEW])
    first, second = cipher.seal("t", user_id="u"), cipher.seal("t", user_id="u")
    assert first.blob[:NONCE_BYTES] != second.blob[:NONCE_BYTES]
    assert first.blob != second.blob


def test_another_user_cannot_open_it() -> None:
    cipher = TokenCipher([NEW])
    sealed = cipher.seal("secret", user_id="user-1")
    with pytest.raises(TokenDecryptionError, match="does not open"):
        cipher.open(sealed, user_id="user-2")


@pytest.mark.parametrize("position", [0, NONCE_BYTES, -1])
def test_a_flipped_bit_anywhere_is_detected(position: int) -> None:
    cipher = TokenCipher([NEW])
    sealed = cipher.seal("secret", user_id="u")
    tampered = bytearray(sealed.blob)
    tampered[position] ^= 0x01
    with pytest.raises(TokenDecryptionError):
        cipher.open(Sealed(sealed.key_id, bytes(tampered)), user_id="u")


def test_after_rotation_old_values_open_and_new_ones_use_the_new_key() -> None:
    sealed_before = TokenCipher([OLD]).seal("kept", user_id="u")
    rotated = TokenCipher([NEW, OLD])
    assert rotated.open(sealed_before, user_id="u") == "kept"
    assert rotated.seal("kept", user_id="u").key_id == key_id_of(NEW)


def test_a_value_sealed_under_a_forgotten_key_says_so() -> None:
    sealed = TokenCipher([OLD]).seal("lost", user_id="u")
    with pytest.raises(TokenDecryptionError, match="no key"):
        TokenCipher([NEW]).open(sealed, user_id="u")


def test_short_key_material_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        TokenCipher(["short"])
