"""``/api/v1/knowledge``: add a document to the caller's knowledge base (indexed off the request) and search it.

Every route acts on the caller's own documents only: their id comes from the token, and their chunks live in a
namespace of their own (``ttai.services.knowledge``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ttai.http import deps
from ttai.http.openapi import responses
from ttai.http.replies import accepted
from ttai.models.knowledge import (
    QUERY_MAX_CHARS,
    SEARCH_DEFAULT_TOP_K,
    SEARCH_MAX_TOP_K,
    KnowledgeDocumentIn,
    KnowledgeDocumentQueued,
    KnowledgeSearch,
)
from ttai.models.text import Text
from ttai.services.knowledge import KnowledgeService

router = Router()  # type: ignore[no-untyped-call]
SearchQuery = Annotated[Text, Query(min_length=1, max_length=QUERY_MAX_CHARS, description="what to look for")]
TopK = Annotated[int, Query(ge=1, le=SEARCH_MAX_TOP_K, description="how many chunks, closest first")]


def _service() -> KnowledgeService:
    return KnowledgeService(deps.env(), deps.tenant(router).user_id)


@router.post(
    "/knowledge",
    summary="Add a document to the caller's knowledge base: stored now, searchable once indexed (queued)",
    responses=responses(success=HTTPStatus.ACCEPTED),
)
def add_document(body: KnowledgeDocumentIn) -> Response[KnowledgeDocumentQueued]:
    return accepted(_service().add(body))


@router.get(
    "/knowledge/search",
    summary="The caller's document chunks closest in meaning to the query, closest first",
    responses=responses(),
)
def search_knowledge(q: SearchQuery, top_k: TopK = SEARCH_DEFAULT_TOP_K) -> KnowledgeSearch:
    if not q.strip():
        from ttai.errors import InvalidField  # noqa: PLC0415 - the refusal alone needs it

        raise InvalidField("q", "the query needs some text besides whitespace")
    return _service().search(q, top_k)
