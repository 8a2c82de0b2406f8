"""The limits a function admits requests by, as TTAI_LIMITS gives them: read whole or refused with the reason."""

from __future__ import annotations

import json

import pytest

from ttai.auth.admission import Bucket, Limits
from ttai.errors import ConfigurationError

GOOD = {
    "user": {"rate_per_second": 10, "burst": 20},
    "service": {"rate_per_second": 50, "burst": 100},
    "revocation_seconds": 60,
}


def test_the_limits_read_as_infra_writes_them() -> None:
    limits = Limits.parse(json.dumps(GOOD, separators=(",", ":")))
    assert limits == Limits(user=Bucket(10.0, 20), service=Bucket(50.0, 100), revocation_seconds=60)
    assert limits.user.window_seconds == 2.0


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{", "not the limits' JSON"),
        (json.dumps({**GOOD, "service": None}), "not the limits' JSON"),
        (json.dumps({key: value for key, value in GOOD.items() if key != "revocation_seconds"}), "not the limits"),
        (json.dumps({**GOOD, "user": {"rate_per_second": 0, "burst": 1}}), "the user bucket needs a positive"),
        (json.dumps({**GOOD, "service": {"rate_per_second": 1, "burst": 0}}), "the service bucket needs a positive"),
        (json.dumps({**GOOD, "revocation_seconds": -1}), "cannot be negative"),
    ],
)
def test_limits_that_do_not_read_are_a_configuration_error_saying_why(text: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        Limits.parse(text)
