"""What a symbol may be, and its canonical form."""

from __future__ import annotations

import pytest

from ttai.models.market import normalize_symbol


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("aapl", "AAPL"),
        (" MSFT ", "MSFT"),
        ("BRK.B", "BRK.B"),
        ("BRK/B", "BRK/B"),
        ("$SPX", "$SPX"),
        ("^VIX", "^VIX"),
        ("/ES", "/ES"),
        ("AAPL  240119C00190000", "AAPL  240119C00190000"),
        ("AAPL240119C00190000", "AAPL  240119C00190000"),
        ("spy250117p00500000", "SPY   250117P00500000"),
        ("GOOGL 240119P00100000", "GOOGL 240119P00100000"),
    ],
)
def test_valid_symbols_normalize(raw: str, canonical: str) -> None:
    assert normalize_symbol(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "A B",
        "AAPL;DROP",
        "TOOLONGX",
        "1ABC",
        "AAPL  241399C00190000",  # month 13
        "AAPL  240119X00190000",  # neither call nor put
        "AAPL  240119C0019000",  # strike of 7 digits
        "quote:AAPL",
        "A" * 22,
    ],
)
def test_invalid_symbols_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"symbol|ticker|expiration"):
        normalize_symbol(raw)
