"""The cursor codec: what it issues opens again, for the same list and caller only; anything else is InvalidCursor."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ttai.cursors import (
    DAY,
    INSTANT,
    ROW_ID,
    ROW_ID_MAX,
    TAG_BYTES,
    VERSION,
    CursorCodec,
    CursorKind,
    InvalidCursor,
    TextField,
    required_codec,
)
from ttai.errors import BadRequest, ConfigurationError
from ttai.models.times import EARLIEST, LATEST

KEY = "k" * 64
RECENT = CursorKind("recent", (INSTANT, ROW_ID))
BY_NAME = CursorKind("by_name", (TextField(100),))
BY_DAY = CursorKind("by_day", (DAY, ROW_ID))
KINDS = (RECENT, BY_NAME, BY_DAY)
LATE = datetime(2026, 11, 20, 15, 30, 0, 123456, tzinfo=UTC)
SCOPE = ("user-1", None)


def codec(*keys: str) -> CursorCodec:
    return CursorCodec(lambda: list(keys or (KEY,)))


def signed(payload: bytes, kind: CursorKind, scope: tuple[Any, ...], key: str = KEY) -> str:
    """A cursor whose tag is genuine whatever the payload: what a holder of the key could make."""
    context = json.dumps([VERSION, kind.name, list(scope)], separators=(",", ":")).encode()
    tag = hmac.new(key.encode(), context + b"\n" + payload, hashlib.sha256).digest()[:TAG_BYTES]
    return base64.urlsafe_b64encode(bytes([VERSION]) + tag + payload).decode().rstrip("=")


# ------------------------------------------------------------------ what it issues


@pytest.mark.parametrize(
    ("kind", "position"),
    [
        (RECENT, (LATE, 1)),
        (RECENT, (datetime(1970, 1, 1, tzinfo=UTC), ROW_ID_MAX)),
        (BY_NAME, ("tech",)),
        (BY_NAME, ("x" * 100,)),
        (BY_NAME, ("é ✓ 𝄞",)),
        (BY_DAY, (date(1, 1, 1), 7)),
        (BY_DAY, (date(9999, 12, 31), 7)),
    ],
)
def test_a_cursor_opens_to_the_position_it_was_issued_for(kind: CursorKind, position: tuple[Any, ...]) -> None:
    cursors = codec()
    cursor = cursors.encode(kind, position, scope=SCOPE)
    assert cursor.isascii()
    assert "=" not in cursor
    assert cursors.decode(kind, cursor, scope=SCOPE) == position


@pytest.mark.parametrize(
    ("kind", "stored", "opened"),
    [
        # Rows written before the house range was checked, as the D1 binding reads them back: a datetime or date
        # Python holds opens as itself; the text of one it cannot hold opens as PostgreSQL's literal for it.
        (RECENT, datetime(1900, 1, 1, tzinfo=UTC), datetime(1900, 1, 1, tzinfo=UTC)),
        (
            RECENT,
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        (RECENT, "infinity", "infinity"),
        (RECENT, "-infinity", "-infinity"),
        (RECENT, "+10000-01-01 13:59:59", "10000-01-01 13:59:59+00"),
        (RECENT, "-0043-03-13 12:00:00", "0044-03-15 12:00:00+00 BC"),
        (RECENT, "0000-12-29 10:00:00", "0001-12-31 10:00:00+00 BC"),
        (BY_DAY, date(1, 1, 1), date(1, 1, 1)),
        (BY_DAY, "infinity", "infinity"),
        (BY_DAY, "+10000-01-01", "10000-01-01"),
        (BY_DAY, "-0043-03-13", "0044-03-15 BC"),
    ],
)
def test_a_stored_value_outside_the_house_range_is_carried(kind: CursorKind, stored: Any, opened: Any) -> None:
    cursors = codec()
    assert cursors.decode(kind, cursors.encode(kind, (stored, 7), scope=SCOPE), scope=SCOPE) == (opened, 7)


def test_an_instant_is_issued_in_utc_and_opens_as_the_same_instant() -> None:
    cursors = codec()
    new_york = LATE.astimezone(timezone(timedelta(hours=-5)))
    [opened, _] = cursors.decode(RECENT, cursors.encode(RECENT, (new_york, 1), scope=SCOPE), scope=SCOPE)
    assert opened == new_york
    assert opened.utcoffset() == timedelta(0)


def test_a_cursor_is_compact() -> None:
    # Version, 16-byte tag and ["2026-11-20T15:30:00.123456+00:00",1]: base64 of 55 bytes.
    assert len(codec().encode(RECENT, (LATE, 1), scope=SCOPE)) == 74


@pytest.mark.parametrize(
    ("kind", "position"),
    [
        (RECENT, (LATE,)),  # too few values
        (RECENT, (LATE.replace(tzinfo=None), 1)),  # naive
        (RECENT, ("yesterday", 1)),  # text that is no stored instant
        (RECENT, ("2026-11-20 15:30:00", 1)),  # a year Python holds is never stored as text
        (RECENT, (LATE, 0)),  # ids start at 1
        (RECENT, (LATE, True)),
        (BY_NAME, ("",)),
        (BY_NAME, ("x" * 101,)),
        (BY_NAME, ("a\x00b",)),
        (BY_DAY, (LATE, 1)),  # a datetime is not a date
    ],
)
def test_a_position_outside_its_declaration_is_never_issued(kind: CursorKind, position: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError, match=r".") as refused:
        codec().encode(kind, position, scope=SCOPE)
    assert not isinstance(refused.value, InvalidCursor)  # a bug of the caller, not a 400


# ------------------------------------------------------------------ what it refuses


def test_a_cursor_opens_only_for_its_kind_scope_and_key() -> None:
    cursor = codec().encode(RECENT, (LATE, 1), scope=SCOPE)
    for kind, scope, cursors in (
        (CursorKind("other", RECENT.fields), SCOPE, codec()),  # another list of the same shape
        (RECENT, ("user-2", None), codec()),  # another caller
        (RECENT, ("user-1", "AAPL"), codec()),  # the same list, filtered differently
        (RECENT, ("user-1",), codec()),
        (RECENT, SCOPE, codec("another key")),
    ):
        with pytest.raises(InvalidCursor):
            cursors.decode(kind, cursor, scope=scope)


def test_the_scope_parts_cannot_be_shifted_into_one_another() -> None:
    cursor = codec().encode(BY_NAME, ("a",), scope=("ab", "c"))
    for scope in (("a", "bc"), ("abc",), ("ab", "c", None)):
        with pytest.raises(InvalidCursor):
            codec().decode(BY_NAME, cursor, scope=scope)


def test_a_date_in_the_scope_reads_as_its_iso_text() -> None:
    cursor = codec().encode(BY_DAY, (date(2026, 1, 2), 1), scope=("u", date(2026, 1, 1)))
    assert codec().decode(BY_DAY, cursor, scope=("u", "2026-01-01")) == (date(2026, 1, 2), 1)
    with pytest.raises(TypeError):
        codec().encode(BY_DAY, (date(2026, 1, 2), 1), scope=("u", object()))  # type: ignore[arg-type]


def test_every_altered_character_is_refused() -> None:
    cursors = codec()
    cursor = cursors.encode(BY_NAME, ("tech",), scope=SCOPE)
    for i, char in enumerate(cursor):
        for other in {"A", "B", "_"} - {char}:
            altered = cursor[:i] + other + cursor[i + 1 :]
            if base64.urlsafe_b64decode(altered + "==") == base64.urlsafe_b64decode(cursor + "=="):
                continue  # the last character's unused low bits: the same bytes
            with pytest.raises(InvalidCursor):
                cursors.decode(BY_NAME, altered, scope=SCOPE)
    for cut in (cursor[:-1], cursor[:20], cursor + "A", cursor + "AAAA"):
        with pytest.raises(InvalidCursor):
            cursors.decode(BY_NAME, cut, scope=SCOPE)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "!!!!",
        "é",
        "a" * 5000,
        "AQ",  # the version alone
        base64.urlsafe_b64encode(json.dumps({"k": "by_name", "p": ["tech"]}).encode()).decode(),  # the old format
        base64.urlsafe_b64encode(bytes([2]) + bytes(TAG_BYTES) + b'["tech"]').decode(),  # another version
        "AQ==",
    ],
)
def test_what_was_never_issued_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as refused:
        codec().decode(BY_NAME, cursor, scope=SCOPE)
    assert isinstance(refused.value, BadRequest)  # mapped to a 400 with the other caller errors
    assert str(refused.value) == "the cursor is not one this API issued for this list"


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (BY_NAME, b'["tech"'),
        (BY_NAME, b"\xff\xfe"),
        (BY_NAME, b'{"p":["tech"]}'),
        (BY_NAME, b"[123]"),
        (BY_NAME, b'[{"x":1}]'),
        (BY_NAME, b"[true]"),
        (BY_NAME, b'["' + b"x" * 101 + b'"]'),
        (BY_NAME, b'["a\\u0000"]'),
        (BY_NAME, b'["\\ud800"]'),
        (BY_NAME, b'["a","b"]'),
        (BY_NAME, b"[" * 100_000 + b"]" * 100_000),
        (RECENT, b'["9999-12-31T23:59:59-14:00",1]'),  # overflows when normalised to UTC
        (RECENT, b'["2026-11-20T15:30:00+01:00",1]'),  # never issued: instants are issued in UTC
        (RECENT, b'["2026-11-20T15:30:00",1]'),
        (RECENT, b'["+10000-13-01 00:00:00",1]'),  # a stored instant's form, but no such month
        (RECENT, b'["-4714-01-01 00:00:00",1]'),  # before PostgreSQL's first day
        (RECENT, b'["+294277-01-01 00:00:00",1]'),  # after its last
        (RECENT, b'["+10000-01-01",1]'),  # a stored date's form, not an instant's
        (RECENT, b'["2026-11-20T15:30:00+00:00",1.0]'),
        (RECENT, b'["2026-11-20T15:30:00+00:00",0]'),
        (RECENT, b'["2026-11-20T15:30:00+00:00",9223372036854775808]'),
        (RECENT, b'["2026-11-20T15:30:00+00:00",true]'),
        (RECENT, b'["2026-11-20T15:30:00+00:00",' + b"9" * 5000 + b"]"),
        (BY_DAY, b'["2026-02-30",1]'),
        (BY_DAY, b'["2026-1-1",1]'),
        (BY_DAY, b'["+10000-02-30",1]'),
        (BY_DAY, b'["+10000-01-01 00:00:00",1]'),
        (BY_DAY, b"[20260101,1]"),
    ],
)
def test_a_genuine_tag_over_a_position_outside_the_declaration_is_still_refused(
    kind: CursorKind, payload: bytes
) -> None:
    # What a leaked key, or a declaration changed since the cursor was issued, could present.
    with pytest.raises(InvalidCursor):
        codec().decode(kind, signed(payload, kind, SCOPE), scope=SCOPE)


def test_a_cursor_issued_under_the_previous_key_still_opens_and_new_ones_use_the_current() -> None:
    before = codec("old key").encode(BY_NAME, ("tech",), scope=SCOPE)
    rotated = codec("new key", "old key")
    assert rotated.decode(BY_NAME, before, scope=SCOPE) == ("tech",)
    after = rotated.encode(BY_NAME, ("tech",), scope=SCOPE)
    assert codec("new key").decode(BY_NAME, after, scope=SCOPE) == ("tech",)
    with pytest.raises(InvalidCursor):
        codec("old key").decode(BY_NAME, after, scope=SCOPE)


def test_the_key_is_read_once_and_only_when_a_cursor_is_made_or_opened() -> None:
    reads: list[int] = []

    def keys() -> list[str]:
        reads.append(1)
        return [KEY]

    cursors = CursorCodec(keys)
    assert reads == []
    cursor = cursors.encode(BY_NAME, ("tech",), scope=SCOPE)
    cursors.decode(BY_NAME, cursor, scope=SCOPE)
    assert reads == [1]


def test_a_codec_without_a_key_or_a_service_without_a_codec_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        CursorCodec(lambda: [""]).encode(BY_NAME, ("tech",), scope=SCOPE)
    with pytest.raises(ConfigurationError):
        required_codec(None)


# ------------------------------------------------------------------ properties

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    cursor=st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")),
        st.binary(max_size=200).map(lambda raw: base64.urlsafe_b64encode(bytes([VERSION]) + raw).decode()),
    ),
)
def test_any_text_opens_as_invalid_cursor_and_nothing_else(kind: CursorKind, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        codec().decode(kind, cursor, scope=SCOPE)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), position=_json)
def test_any_signed_json_opens_as_its_declared_types_or_as_invalid_cursor(kind: CursorKind, position: Any) -> None:
    payload = json.dumps(position, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        opened = codec().decode(kind, signed(payload, kind, SCOPE), scope=SCOPE)
    except InvalidCursor:
        return
    # A stored instant or date Python cannot hold opens as PostgreSQL's literal for it: text.
    types = {RECENT: ({datetime, str}, {int}), BY_NAME: ({str},), BY_DAY: ({date, str}, {int})}[kind]
    assert all(type(value) in allowed for value, allowed in zip(opened, types, strict=True))


@settings(max_examples=200, deadline=None)
@given(
    # The house range, as the naive bounds hypothesis takes, in UTC.
    instant=st.datetimes(
        min_value=EARLIEST.replace(tzinfo=None),
        max_value=(LATEST - timedelta(microseconds=1)).replace(tzinfo=None),
        timezones=st.just(UTC),
    ),
    row_id=st.integers(1, ROW_ID_MAX),
    # Names come from the database: valid UTF-8 (no lone surrogates) and no NUL.
    name=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=100),
    user=st.text(max_size=40),
)
def test_every_declared_position_round_trips(instant: datetime, row_id: int, name: str, user: str) -> None:
    cursors = codec()
    for kind, position in ((RECENT, (instant, row_id)), (BY_NAME, (name,)), (BY_DAY, (instant.date(), row_id))):
        assert cursors.decode(kind, cursors.encode(kind, position, scope=(user,)), scope=(user,)) == position
