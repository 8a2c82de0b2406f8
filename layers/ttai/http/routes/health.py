"""Liveness: answers without touching any AWS service, so it also measures a bare cold start."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

router = Router()  # type: ignore[no-untyped-call]


class Health(BaseModel):
    status: str


@router.get("/health", summary="Liveness (no authentication)")
def health() -> Health:
    return Health(status="ok")
