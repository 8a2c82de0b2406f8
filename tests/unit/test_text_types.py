"""The text types models share (ttai.models.text): what each accepts is exactly what is stored, unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ttai.models.text import EmailAddress, Identifier, SingleLine, Text, UrlText

TEXT: TypeAdapter[str] = TypeAdapter(Text)
SINGLE_LINE: TypeAdapter[str] = TypeAdapter(SingleLine)
IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
URL: TypeAdapter[str] = TypeAdapter(UrlText)
EMAIL: TypeAdapter[str] = TypeAdapter(EmailAddress)

CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))]
# Whitespace str.strip() removes that is not a control character.
SPACES = [" ", "\u00a0", "\u1680", "\u2000", "\u2009", "\u202f", "\u3000"]


def refused(adapter: TypeAdapter[str], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize(
    "value",
    ["iron condor", "Apple Inc.", "Société Générale", "日本", "a", "weekly csp 📈", "x" * 1000],
)
def test_single_line_text_is_kept_as_given(value: str) -> None:
    assert SINGLE_LINE.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "a\tb",
        "a\nb",
        "a\r",
        "\x00",
        "a\x1b[31m",
        "\x7f",
        "a\x85b",
        "a\u2028b",
        "a\u2029",
        " a",
        "a ",
        "a\u00a0",
        "\ud800",
    ],
)
def test_single_line_text_refuses_controls_separators_surrogates_and_surrounding_whitespace(value: str) -> None:
    assert refused(SINGLE_LINE, value)


def test_free_text_keeps_tabs_line_breaks_and_surrounding_whitespace() -> None:
    value = "  first line\r\n\tsecond line \u2028third\n"
    assert TEXT.validate_python(value) == value


@pytest.mark.parametrize("value", ["a\x00b", "\x07", "\x1b[2J", "a\x7f", "\x9b", "\x0b", "\x0c", "\udfff"])
def test_free_text_refuses_other_control_characters(value: str) -> None:
    assert refused(TEXT, value)


@pytest.mark.parametrize("value", ["tech", "weekly csp", "a.b-c_d", "wf:2026/01@x"])
def test_identifiers_are_printable_ascii_with_inner_spaces(value: str) -> None:
    assert IDENTIFIER.validate_python(value) == value


@pytest.mark.parametrize("value", ["tech ", " tech", "te\tch", "tech\n", "téch", "a\u00a0b", "\x00"])
def test_identifiers_refuse_anything_else(value: str) -> None:
    assert refused(IDENTIFIER, value)


def test_urls_are_printable_ascii_without_spaces() -> None:
    url = "https://discord.com/api/webhooks/112233445566778899/Abc_DEF-ghi"
    assert URL.validate_python(url) == url
    for bad in ("", f" {url}", f"{url}\n", url.replace("/api", "/a pi"), url.replace("discord", "dïscord")):
        assert refused(URL, bad), repr(bad)


@pytest.mark.parametrize("value", ["alice@example.com", "a.b+tag@sub.example.co.uk", "x@xn--bcher-kva.example"])
def test_email_addresses_ses_can_send_to_are_kept(value: str) -> None:
    assert EMAIL.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "alice@example.com\nBcc: x@example.com",
        " alice@example.com",
        "alice@example.com ",
        "alice",
        "@example.com",
        "alice@",
        "a@b@c",
        "alice@exämple.com",
        "a" * 310 + "@example.com",
    ],
)
def test_email_addresses_that_are_not_one_plain_address_are_refused(value: str) -> None:
    assert refused(EMAIL, value)


def test_no_message_quotes_the_value() -> None:
    secret = "https://discord.com/api/webhooks/1/s3cr3t\t"
    for adapter in (URL, SINGLE_LINE, IDENTIFIER, EMAIL):
        with pytest.raises(ValidationError) as error:
            adapter.validate_python(secret)
        assert "s3cr3t" not in str(error.value.errors(include_input=False, include_url=False))


@settings(max_examples=100, deadline=None)
@given(
    base=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    position=st.integers(min_value=0, max_value=40),
    unwanted=st.sampled_from([*CONTROLS, "\u2028", "\u2029"]),
)
def test_a_control_character_anywhere_is_refused_by_every_one_line_type(
    base: str, position: int, unwanted: str
) -> None:
    value = base[:position] + unwanted + base[position:]
    for adapter in (SINGLE_LINE, IDENTIFIER, URL, EMAIL):
        assert refused(adapter, value), (adapter, value)


@settings(max_examples=100, deadline=None)
@given(
    base=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    space=st.sampled_from([*SPACES, "\t", "\n", "\r"]),
    at_start=st.booleans(),
)
def test_whitespace_at_either_end_is_refused_by_every_one_line_type(base: str, space: str, at_start: bool) -> None:
    value = space + base if at_start else base + space
    for adapter in (SINGLE_LINE, IDENTIFIER, URL, EMAIL):
        assert refused(adapter, value), (adapter, value)


@settings(max_examples=100, deadline=None)
@given(value=st.text(max_size=60))
def test_what_any_type_accepts_it_returns_unchanged(value: str) -> None:
    for adapter in (TEXT, SINGLE_LINE, IDENTIFIER, URL, EMAIL):
        if not refused(adapter, value):
            assert adapter.validate_python(value) == value
