"""Strings the models take, checked as they will be stored: what each kind of text may hold.

Code that later reads a stored string often cleans it first (``urlsplit`` drops tabs and line breaks, ``strip``
and ``split`` eat whitespace), so a check made on a cleaned copy passes what the next reader chokes on: a webhook
URL with a tab validates, is stored whole, and every post to it fails. These types check the raw value and never
change it; what passes is exactly what is stored and what every reader gets back. Messages name the rule, never
the value (a URL may be a credential).

- ``Text``: free text (notes, descriptions, templates). Line breaks and tabs are fine; other control characters
  (NUL, which PostgreSQL refuses, escape sequences, C1 controls) and unpaired surrogates are not.
- ``SingleLine``: a label shown on one line (a strategy, a company name): no control characters at all, no line or
  paragraph separators, and no whitespace at either end.
- ``Identifier``: a name that keys a row or appears in a path (a watchlist's name): printable ASCII, no whitespace
  at either end. Models narrow it further with a pattern.
- ``UrlText``: a URL: printable ASCII with no whitespace anywhere (RFC 3986 has no raw spaces or controls).
- ``EmailAddress``: an address SES can send to: printable ASCII (SES takes no SMTPUTF8; a non-ASCII domain travels
  as punycode), no whitespace, one ``@`` with something on each side, at most 320 characters.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

# C0 controls, DEL, C1 controls (NEL among them), the Unicode line and paragraph separators, unpaired surrogates.
_NOT_ON_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# The same less tab, line feed and carriage return, which free text may hold.
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_PRINTABLE_ASCII = re.compile("[\x21-\x7e]*")  # no space: callers that allow inner spaces check it themselves
_EMAIL = re.compile("[^@]+@[^@]+")
EMAIL_MAX_LENGTH = 320  # RFC 3696 errata: 64 for the local part, 1 for "@", 255 for the domain


def check_text(value: str) -> str:
    if _NOT_IN_TEXT.search(value):
        raise ValueError("text cannot hold control characters other than tabs and line breaks")
    return value


def check_single_line(value: str) -> str:
    if _NOT_ON_ONE_LINE.search(value):
        raise ValueError("must be one line without control characters (no tabs or line breaks)")
    if value != value.strip():
        raise ValueError("must not start or end with whitespace")
    return value


def check_identifier(value: str) -> str:
    if not _PRINTABLE_ASCII.fullmatch(value.replace(" ", "")):
        raise ValueError("must be printable ASCII, without tabs, line breaks or other control characters")
    if value != value.strip():
        raise ValueError("must not start or end with whitespace")
    return value


def check_url(value: str) -> str:
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise ValueError("a URL is printable ASCII with no spaces, tabs, line breaks or other control characters")
    return value


def check_email_address(value: str) -> str:
    if len(value) > EMAIL_MAX_LENGTH:
        raise ValueError(f"an email address is at most {EMAIL_MAX_LENGTH} characters")
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise ValueError("an email address is printable ASCII with no spaces or control characters")
    if not _EMAIL.fullmatch(value):
        raise ValueError("an email address has one @ with a name before it and a domain after it")
    return value


Text = Annotated[str, AfterValidator(check_text)]
SingleLine = Annotated[str, AfterValidator(check_single_line)]
Identifier = Annotated[str, AfterValidator(check_identifier)]
UrlText = Annotated[str, AfterValidator(check_url), Field(min_length=1)]
EmailAddress = Annotated[str, AfterValidator(check_email_address)]
