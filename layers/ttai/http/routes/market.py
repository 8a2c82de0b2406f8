"""Quotes, option chains and company info under /api/v1."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.params import SymbolPath, symbol_list, symbol_path, symbols_query
from ttai.http.principal import current_principal
from ttai.models.market import (
    MAX_SYMBOLS_PER_REQUEST,
    CompanyInfo,
    OptionChain,
    Quote,
    QuoteBatch,
    QuotesResponse,
)
from ttai.models.times import CalendarDate

router = Router()  # type: ignore[no-untyped-call]


class Stored(BaseModel):
    stored: int


@router.get("/quotes", summary="Current quotes for up to 500 symbols")
def get_quotes(symbols: Annotated[str, symbols_query(MAX_SYMBOLS_PER_REQUEST)]) -> QuotesResponse:
    current_principal(router)
    return deps.market().quotes(symbol_list(symbols))


@router.get("/quotes/<symbol>", summary="The current quote for one symbol", responses=responses(HTTPStatus.NOT_FOUND))
def get_quote(symbol: SymbolPath) -> Quote:
    current_principal(router)
    return deps.market().quote(symbol_path(symbol))


@router.put("/quotes", summary="Ingest quotes into the hot tier (service scope)")
def put_quotes(batch: QuoteBatch) -> Stored:
    current_principal(router).require("service")
    return Stored(stored=deps.market().ingest_quotes(batch))


@router.get(
    "/chains/<symbol>",
    summary="The option chain of a symbol, for one expiration or all",
    responses=responses(HTTPStatus.NOT_FOUND),
)
def get_chain(symbol: SymbolPath, expiration: Annotated[CalendarDate | None, Query()] = None) -> OptionChain:
    current_principal(router)
    return deps.market().chain(symbol_path(symbol), expiration)


@router.put("/chains", summary="Ingest an option chain into the warm tier (service scope)")
def put_chain(chain: OptionChain) -> Stored:
    current_principal(router).require("service")
    deps.market().ingest_chain(chain)
    return Stored(stored=1)


@router.get("/company/<symbol>", summary="Company information for a symbol", responses=responses(HTTPStatus.NOT_FOUND))
def get_company(symbol: SymbolPath) -> CompanyInfo:
    current_principal(router)
    return deps.market().company(symbol_path(symbol))


@router.put("/company", summary="Ingest company information into the cold tier (service scope)")
def put_company(info: CompanyInfo) -> Stored:
    current_principal(router).require("service")
    deps.market().ingest_company(info)
    return Stored(stored=1)
