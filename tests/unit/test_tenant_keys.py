"""User ids inside KV and object keys: escaped segments, so no user's keys or prefixes reach another user's."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ttai.auth.tokens import USER_ID_PATTERN
from ttai.bindings.kv_rules import _check_key
from ttai.layout import storage_layout
from ttai.services.cache import CacheKeys
from ttai.tenant_keys import (
    KV_SEPARATOR,
    OBJECT_SEPARATOR,
    user_id_from_segment,
    user_object_prefix,
    user_objects_prefix,
    user_segment,
)

ID_MAX = 128
FIRST = string.ascii_letters + string.digits
PUNCTUATION = "._@:-"
REST = FIRST + PUNCTUATION
PER_USER_PURPOSES = sorted(p for p, template in storage_layout().bucket_prefixes.items() if "{user_id}" in template)
SYMBOL = "BRK.B"
SESSION = "S" * 32
PROPERTY = settings(max_examples=400, database=None)


@st.composite
def user_ids(draw: st.DrawFn, max_size: int = ID_MAX) -> str:
    """Any id tokens accept: a letter or digit, then up to ``max_size - 1`` of letters, digits and . _ @ : -."""
    return draw(st.sampled_from(FIRST)) + draw(st.text(REST, max_size=max_size - 1))


def extensions(max_size: int) -> st.SearchStrategy[str]:
    """What may follow an id inside a longer one; it starts with punctuation (``:bob``, ``.bob``) half the time,
    the case where a key separator could end the shorter id."""
    return st.builds(
        str.__add__,
        st.one_of(st.sampled_from(PUNCTUATION), st.sampled_from(REST)),
        st.text(REST, max_size=max_size - 1),
    )


@st.composite
def two_users(draw: st.DrawFn) -> tuple[str, str]:
    """Two distinct valid ids; half the time one extends the other (``alice`` and ``alice:bob``), the case where
    a prefix could cover the other's keys."""
    first = draw(user_ids(max_size=ID_MAX // 2))
    if draw(st.booleans()):
        second = first + draw(extensions(ID_MAX - len(first)))
    else:
        second = draw(user_ids().filter(lambda other: other != first))
    return (first, second) if draw(st.booleans()) else (second, first)


def kv_keys(user_id: str) -> list[str]:
    """One key of every user-scoped kind CacheKeys makes (the analysis index is listed by symbol, not by user)."""
    return [
        CacheKeys.user_analysis(user_id, SYMBOL),
        CacheKeys.session(user_id, SESSION),
        CacheKeys.watchlist(user_id, "tech"),
        CacheKeys.positions(user_id),
    ]


def object_keys(user_id: str) -> list[str]:
    return [user_object_prefix(purpose, user_id) + "report.json" for purpose in PER_USER_PURPOSES]


def prefixes(user_id: str) -> list[str]:
    """Every prefix a user's data is listed by: their KV prefix, their bucket parent, each per-user purpose."""
    return [
        CacheKeys.user_prefix(user_id),
        user_objects_prefix(user_id),
        *(user_object_prefix(purpose, user_id) for purpose in PER_USER_PURPOSES),
    ]


# ------------------------------------------------------------------ segments


def test_an_ordinary_id_is_its_own_segment_so_existing_keys_stay_valid() -> None:
    for user_id in ("alice", "u1", "alice.bob", "alice@example.com", "alice-", "A_9"):
        assert user_segment(user_id, KV_SEPARATOR) == user_segment(user_id, OBJECT_SEPARATOR) == user_id
    assert CacheKeys.session("alice", "s1") == "user:alice:session:s1"
    assert user_object_prefix("exports", "alice@example.com") == "users/alice@example.com/exports/"


def test_the_separator_and_the_escape_character_are_percent_encoded() -> None:
    assert user_segment("alice:bob", KV_SEPARATOR) == "alice%3Abob"
    assert CacheKeys.user_prefix("alice:bob") == "user:alice%3Abob:"
    # ':' separates nothing in object keys, so ids from Cloudflare's R2 layout keep their objects' names.
    assert user_object_prefix("uploads", "alice:bob") == "users/alice:bob/uploads/"
    assert user_segment("a/b%", OBJECT_SEPARATOR) == "a%2Fb%25"


@pytest.mark.parametrize("separator", ["", "::", "a", "7", "%"])
def test_a_separator_must_be_one_character_the_encoding_can_escape(separator: str) -> None:
    with pytest.raises(ValueError, match="cannot separate"):
        user_segment("alice", separator)


def test_an_empty_id_never_becomes_a_key() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        CacheKeys.user_prefix("")
    with pytest.raises(ValueError, match="non-empty"):
        user_objects_prefix("")


@given(user_id=st.text(min_size=1), separator=st.sampled_from([KV_SEPARATOR, OBJECT_SEPARATOR]))
@PROPERTY
def test_a_segment_holds_no_separator_and_decodes_to_its_id(user_id: str, separator: str) -> None:
    segment = user_segment(user_id, separator)
    assert separator not in segment
    assert user_id_from_segment(segment) == user_id


def test_storage_json_ends_every_user_segment_with_a_slash_under_one_parent() -> None:
    assert PER_USER_PURPOSES == ["exports", "uploads", "user_knowledge"]
    for purpose in PER_USER_PURPOSES:
        assert user_object_prefix(purpose, "alice").startswith(user_objects_prefix("alice"))
    assert user_objects_prefix("alice:bob") == "users/alice:bob/"


# ---------------------------------------------------------------- isolation


@given(users=two_users())
@example(users=("alice", "alice:bob"))
@example(users=("alice", "alice.bob"))
@example(users=("alice", "alice@x"))
@example(users=("alice", "alice-"))
@example(users=("alice:bob", "alice"))
@example(users=("alice:", "alice::"))
@example(users=("a:session", "a"))
@PROPERTY
def test_no_key_or_prefix_of_one_user_reaches_another(users: tuple[str, str]) -> None:
    mine, theirs = users
    assert USER_ID_PATTERN.fullmatch(mine)
    assert USER_ID_PATTERN.fullmatch(theirs)
    assert mine != theirs
    for one, other in ((mine, theirs), (theirs, mine)):
        other_names = kv_keys(other) + object_keys(other) + prefixes(other)
        for prefix in prefixes(one):
            assert [name for name in other_names if name.startswith(prefix)] == []
    assert not set(kv_keys(mine) + object_keys(mine)) & set(kv_keys(theirs) + object_keys(theirs))
    assert CacheKeys.analysis_index(SYMBOL, mine) != CacheKeys.analysis_index(SYMBOL, theirs)


@given(user_id=user_ids())
@PROPERTY
def test_a_users_prefixes_cover_every_key_of_theirs(user_id: str) -> None:
    assert all(key.startswith(CacheKeys.user_prefix(user_id)) for key in kv_keys(user_id))
    assert all(key.startswith(user_objects_prefix(user_id)) for key in object_keys(user_id))
    index = CacheKeys.analysis_index(SYMBOL, user_id)
    assert index.startswith(CacheKeys.analysis_index_prefix(SYMBOL))
    assert CacheKeys.analysis_index_user(SYMBOL, index) == user_id


def test_keys_of_the_longest_most_escaped_id_are_valid_kv_keys() -> None:
    user_id = "a" + ":" * (ID_MAX - 1)  # every ':' triples in the segment
    assert USER_ID_PATTERN.fullmatch(user_id)
    longest_name = "w" * 100  # WatchlistName's limit
    for key in (
        *kv_keys(user_id),
        CacheKeys.watchlist(user_id, longest_name),
        CacheKeys.analysis_index(SYMBOL, user_id),
    ):
        _check_key(key)
    assert re.fullmatch(r"user:a(%3A){127}:watchlist:w{100}", CacheKeys.watchlist(user_id, longest_name))
