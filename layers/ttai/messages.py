"""Seed 000's queue messages as one discriminated union, validated when they are sent and when they arrive.

On the wire they are JSON objects in the seed's camelCase (``userId``); in Python they are snake_case models.
Every message carries an ``id`` made when it is created: the consumer's idempotency key, so a message delivered
twice (SQS is at-least-once) or sent twice by a retrying producer takes effect once.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from ttai.models.times import Timestamp

Channel = Literal["discord", "email", "push"]
UserId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")]
# A symbol as a message carries it: its sender normalized it (models.market.Symbol), so only its length is checked,
# against models.market.SYMBOL_MAX_LENGTH (not imported: that module would cost every producer's cold start ~15 ms;
# tests/unit/test_consumer_dispatch.py keeps the two equal).
WIRE_SYMBOL_MAX_LENGTH = 21
WireSymbol = Annotated[str, Field(min_length=1, max_length=WIRE_SYMBOL_MAX_LENGTH)]


def _new_id() -> str:
    return uuid.uuid4().hex


class _Message(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True
    )

    id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9:._-]+$")] = Field(
        default_factory=_new_id
    )
    user_id: UserId

    def to_wire(self) -> dict[str, Any]:
        """The JSON object a queue carries."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


ANALYSIS_SYMBOLS_MAX = 500  # symbols one analysis workflow takes (3 durable operations each, of Lambda's 3,000)
RECOMMENDATION_MAX = 500


class AnalysisComplete(_Message):
    type: Literal["analysis_complete"] = "analysis_complete"
    symbol: WireSymbol
    recommendation: Annotated[str, Field(min_length=1, max_length=RECOMMENDATION_MAX)]
    workflow_id: Annotated[str, Field(min_length=1, max_length=128)]
    # An analysis workflow of several symbols announces them in one message, so its user is told once; ``symbol``
    # is then the first of them and ``recommendation`` sums up the calls. Absent on a single symbol's message.
    symbols: Annotated[list[WireSymbol], Field(min_length=1, max_length=ANALYSIS_SYMBOLS_MAX)] | None = None


class AlertTriggered(_Message):
    type: Literal["alert_triggered"] = "alert_triggered"
    alert_id: Annotated[int, Field(ge=1)]
    symbol: WireSymbol
    condition: Annotated[str, Field(min_length=1, max_length=200)]
    current_value: float


class ScreenerComplete(_Message):
    type: Literal["screener_complete"] = "screener_complete"
    screener_id: Annotated[int, Field(ge=1)]
    result_count: Annotated[int, Field(ge=0)]


class Notification(_Message):
    type: Literal["notification"] = "notification"
    channel: Channel
    title: Annotated[str, Field(min_length=1, max_length=256)]
    body: Annotated[str, Field(min_length=1, max_length=4000)]
    data: dict[str, Any] | None = None


# Tasks (TASK_QUEUE): work the API asks for and the consumer does. ``user_id`` is who asked.
class ScreenerRunRequested(_Message):
    type: Literal["screener_run"] = "screener_run"
    screener_id: Annotated[int, Field(ge=1)]


class JobRunRequested(_Message):
    type: Literal["job_run"] = "job_run"
    job_type: Annotated[str, Field(pattern=r"^[a-z][a-z-]{1,31}$")]
    scheduled_time: Timestamp


class KnowledgeIndexRequested(_Message):
    """A document stored under the user's knowledge/ to chunk, embed and upsert into their namespace."""

    type: Literal["knowledge_index"] = "knowledge_index"
    document_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")]


# Any message of the union, told apart by its ``type`` when parsed.
AnyMessage = Annotated[
    AnalysisComplete
    | AlertTriggered
    | ScreenerComplete
    | Notification
    | ScreenerRunRequested
    | JobRunRequested
    | KnowledgeIndexRequested,
    Field(discriminator="type"),
]


@cache
def _adapter() -> TypeAdapter[AnyMessage]:
    # Built on the first parse: producers (the api, the scheduler) import this module only to make messages.
    return TypeAdapter(AnyMessage)


def parse_message(body: Any) -> AnyMessage:
    """A message from its wire form (a dict, or JSON text); raises pydantic's ValidationError if malformed."""
    if isinstance(body, str | bytes):
        return _adapter().validate_json(body)
    return _adapter().validate_python(body)
