"""Alerts and the events they fired, as the API takes and gives them (decimals go out as exact strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from ttai.models.base import Output, Strict
from ttai.models.market import Symbol
from ttai.models.text import Text
from ttai.models.times import StoredInstant

AlertType = Literal["price", "delta", "dte", "news", "earnings", "assignment_risk"]
AlertStatus = Literal["active", "triggered", "cancelled"]
AlertStatusFilter = Literal["active", "triggered", "cancelled", "all"]
Channel = Literal["discord", "email", "push"]
# numeric(18, 6) in the schema: at most 12 digits before the point and 6 after.
Threshold = Annotated[Decimal, Field(max_digits=18, decimal_places=6, allow_inf_nan=False)]
# The value an alert event records is numeric(18, 6) too: its magnitude must stay under 10^12.
RECORDABLE_VALUE_LIMIT = 10**12
# Types whose condition compares a number, so a threshold is required; news and earnings fire on events.
THRESHOLD_REQUIRED: frozenset[str] = frozenset({"price", "delta", "dte"})


def _unique_channels(channels: list[Channel]) -> list[Channel]:
    return list(dict.fromkeys(channels))  # first occurrence wins, order kept


class AlertIn(Strict):
    symbol: Symbol
    alert_type: AlertType
    condition: Literal["above", "below"]
    # validate_default: the check below must also run when the threshold is left out.
    threshold: Threshold | None = Field(default=None, validate_default=True)
    message_template: Annotated[Text, Field(min_length=1, max_length=1000)] | None = None
    channels: Annotated[list[Channel], Field(max_length=10), AfterValidator(_unique_channels)] = Field(
        default_factory=list
    )

    @field_validator("threshold")
    @classmethod
    def _threshold_fits_the_type(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        alert_type = info.data.get("alert_type")  # absent when the type itself was invalid (reported there)
        if value is None:
            if alert_type in THRESHOLD_REQUIRED:
                raise ValueError(f"a {alert_type} alert needs a threshold")
            return value
        if alert_type == "price" and value < 0:
            raise ValueError("a price threshold cannot be negative")
        if alert_type == "delta" and not -1 <= value <= 1:
            raise ValueError("a delta threshold is between -1 and 1")
        if alert_type == "dte" and (value < 0 or value > 3650 or value != value.to_integral_value()):
            raise ValueError("a dte threshold is a whole number of days from 0 to 3650")
        return value


class Alert(Output):
    id: int
    symbol: str
    alert_type: str
    condition: str
    threshold: Decimal | None
    message_template: str | None
    channels: list[str]
    status: AlertStatus
    triggered_at: StoredInstant | None
    cancelled_at: StoredInstant | None
    created_at: StoredInstant
    updated_at: StoredInstant


class AlertEvent(Output):
    id: int
    alert_id: int
    symbol: str
    alert_type: str
    message: str
    current_value: Decimal | None
    details: dict[str, Any] | list[Any] | None
    channels_notified: list[str]
    triggered_at: StoredInstant


def recordable(value: float) -> bool:
    """Whether an alert event can record ``value`` (a quote priced past it would fail the event's insert forever)."""
    return abs(value) < RECORDABLE_VALUE_LIMIT


def fires(condition: str, value: float, threshold: float) -> bool:
    """Whether a value meets an alert's condition: ``above`` at value >= threshold, ``below`` at value <= threshold."""
    return value >= threshold if condition == "above" else value <= threshold
