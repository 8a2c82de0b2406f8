"""Screeners and their stored runs as the API takes and gives them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from ttai.models.analyses import bounded_document
from ttai.models.base import Output, Strict
from ttai.models.text import Identifier, Text
from ttai.models.times import StoredInstant
from ttai.models.workflows import WorkflowStarted

CRITERIA_MAX_BYTES = 16 * 1024
ScreenerName = Annotated[
    Identifier, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$", examples=["weekly csp"])
]
ScreenerType = Literal["stock", "csp"]
NotifyChannel = Literal["discord", "email", "push"]  # the channels user_preferences allows

# A Cron Trigger's five fields (minute hour day-of-month month day-of-week), each a list of *, n, n-m, with an
# optional /step; months and weekdays may be named (JAN, MON). Bounds per field, Sunday as 0 or 7.
_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = {
    3: ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    4: ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
}
_CRON_PART = re.compile(r"(?P<range>\*|(?P<start>\w+)(?:-(?P<end>\w+))?)(?:/(?P<step>\d{1,2}))?", re.ASCII)


def _cron_value(token: str, field: int) -> int:
    names = _CRON_NAMES.get(field, ())
    if token.upper() in names:
        return names.index(token.upper()) + _CRON_BOUNDS[field][0]
    low, high = _CRON_BOUNDS[field]
    if not token.isdigit() or not low <= int(token) <= high:
        raise ValueError(f"cron field {field + 1} takes values {low}-{high}, got {token!r}")
    return int(token)


def _cron(expression: str) -> str:
    """The expression with its fields separated by single spaces (the form stored), or ValueError."""
    if not expression.isascii():  # str.isdigit and int() take other scripts' digits, which no cron reader does
        raise ValueError("a schedule is written in ASCII")
    fields = expression.split()
    if len(fields) != len(_CRON_BOUNDS):
        raise ValueError("a schedule is a cron expression of five fields: minute hour day month weekday")
    for index, field in enumerate(fields):
        for part in field.split(","):
            match = _CRON_PART.fullmatch(part)
            if match is None or match["step"] == "0":
                raise ValueError(f"cron field {index + 1} cannot read {part!r}")
            if match["start"] is not None:
                start = _cron_value(match["start"], index)
                if match["end"] is not None and _cron_value(match["end"], index) < start:
                    raise ValueError(f"cron field {index + 1} has a range that runs backwards: {part!r}")
    return " ".join(fields)


def _distinct(channels: list[str]) -> list[str]:
    return list(dict.fromkeys(channels))


class ScreenerIn(Strict):
    description: Annotated[Text, Field(max_length=2000)] | None = None
    type: ScreenerType
    criteria: Annotated[dict[str, Any], bounded_document(CRITERIA_MAX_BYTES)]
    auto_run: StrictBool = False
    schedule: Annotated[str, Field(max_length=100), AfterValidator(_cron)] | None = None
    notify_channels: Annotated[list[NotifyChannel], Field(max_length=10), AfterValidator(_distinct)] = Field(
        default_factory=list
    )


class Screener(Output):
    name: str
    description: str | None
    type: str
    criteria: dict[str, Any]
    auto_run: bool
    schedule: str | None
    notify_channels: list[str]
    created_at: StoredInstant
    updated_at: StoredInstant


class ScreenerRun(BaseModel):
    """One stored run of a screener: the criteria as they were, and what matched."""

    model_config = ConfigDict(defer_build=True)

    id: int
    criteria: Any
    results: list[Any]
    candidates_found: int
    created_at: StoredInstant


class ScreenerRunStarted(WorkflowStarted):
    """A run started: a ScreenerWorkflow evaluates it and stores it under the screener's results (its
    ``message_id`` is the run's id)."""

    screener: str
