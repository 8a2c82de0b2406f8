"""The knowledge base as the API takes and gives it: a document to add, what was queued, and search answers.

Limits (each a 422 naming the field, before anything is stored): a document's text is 1 byte to 256 KiB of UTF-8
(its chunks are embedded off the request, within the consumer's time), its title 1 to 200 characters on one
line, at most 10 tags of 1 to 32 characters ([a-z0-9-]); a search's query is 1 to 1,000 characters and asks for
1 to 20 chunks (Vectorize's top_k with metadata).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from ttai.models.base import Output, Strict
from ttai.models.text import SingleLine, Text

DOCUMENT_MAX_BYTES = 256 * 1024
TITLE_MAX_CHARS = 200
TAGS_MAX = 10
QUERY_MAX_CHARS = 1000
SEARCH_DEFAULT_TOP_K = 5
SEARCH_MAX_TOP_K = 20  # Vectorize's top_k when all metadata is returned
DOCUMENT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"


def _within_document_size(text: str) -> str:
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > DOCUMENT_MAX_BYTES:
        raise ValueError(f"a document is at most {DOCUMENT_MAX_BYTES} bytes of UTF-8, not {size}")
    if not text.strip():
        raise ValueError("a document needs some text besides whitespace")
    return text


DocumentText = Annotated[Text, Field(min_length=1), AfterValidator(_within_document_size)]
Tag = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9-]*$")]
DocumentId = Annotated[str, Field(pattern=DOCUMENT_ID_PATTERN)]


class KnowledgeDocumentIn(Strict):
    """A document for the caller's knowledge base: plain text or Markdown."""

    title: Annotated[SingleLine, Field(min_length=1, max_length=TITLE_MAX_CHARS)]
    text: DocumentText
    tags: Annotated[list[Tag], Field(max_length=TAGS_MAX)] = Field(default_factory=list)


class KnowledgeDocumentQueued(Output):
    """A document stored and queued for indexing: searchable once the consumer has embedded it."""

    document_id: str
    title: str
    message_id: str = Field(description="the knowledge_index task's id on TASK_QUEUE (its idempotency key)")
    status: Literal["queued"] = "queued"


class KnowledgeMatch(Output):
    """One chunk of one of the caller's documents, closest first."""

    document_id: str
    title: str
    chunk: int = Field(description="the chunk's position in its document, from 0")
    text: str
    tags: list[str]
    score: float = Field(description="cosine similarity of the query's and the chunk's embeddings, -1 to 1")


class KnowledgeSearch(Output):
    query: str
    embedding_model: str
    matches: list[KnowledgeMatch]
    note: str | None = Field(
        default=None, description="set when the embeddings are a local stand-in's (make dev, tests), not the model's"
    )
