"""Daily price bars under /api/v1: written by feeds with the service scope (the analysis job reads them)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from ttai.http import deps
from ttai.http.principal import current_principal
from ttai.models.bars import BarBatch, BarsStored
from ttai.services.bars import BarRepository

router = Router()  # type: ignore[no-untyped-call]


@router.put("/bars", summary="Store daily bars, replacing any of the same symbol and day (service scope)")
def put_bars(batch: BarBatch) -> BarsStored:
    current_principal(router).require("service")
    return BarsStored(stored=BarRepository(deps.env().DB).upsert(batch))
