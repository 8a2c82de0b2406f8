"""The two bases every edge model builds on: ``Strict`` for what callers send, ``Output`` for what the API answers.

Both defer building their validators to first use, so a cold start pays only for the models its request touches
(building all of them at import cost ~60 ms).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Input: unknown fields refused, immutable once validated, no NaN or Infinity in any float."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class Output(BaseModel):
    """A shape the API answers with (or a service returns): read from what is stored, so nothing is refused."""

    model_config = ConfigDict(defer_build=True)
