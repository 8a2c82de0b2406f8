"""The knowledge base: a user's documents, chunked, embedded (env.AI) and searchable by meaning (env.VECTORIZE).

Adding a document (``add``) stores it under the user's ``knowledge/`` prefix in the bucket and queues a
``knowledge_index`` task; nothing is embedded on the request path. The consumer (``index``) reads it back, cuts it
into chunks (``ttai.services.chunking``), embeds them a hundred at a time and upserts one vector per chunk, id
``<document>:<chunk>``, with the chunk's text, title and tags as metadata. A retried task writes the same ids again.

Tenancy: every user's vectors are in a namespace of their own, the SHA-256 of their id in hex (a namespace is at
most 64 bytes; a user id may be 128 characters). A namespace is applied before the search, so a user's search
never sees, ranks or counts another's chunks.

The index row (``wrangler vectorize create``) is made the first time it is needed, by the first document indexed
or the first search: a migration that wrote it would make every database a restore targets non-empty.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from ttai.bindings.r2 import R2HTTPMetadata, R2ObjectBody
from ttai.bindings.vectorize import VectorizeIndexExists, VectorizeIndexNotFound, create_vector_index
from ttai.errors import ConfigurationError
from ttai.messages import KnowledgeIndexRequested
from ttai.models.knowledge import (
    SEARCH_DEFAULT_TOP_K,
    KnowledgeDocumentIn,
    KnowledgeDocumentQueued,
    KnowledgeMatch,
    KnowledgeSearch,
)
from ttai.services.chunking import chunk_text
from ttai.tenant_keys import user_namespace, user_object_prefix

if TYPE_CHECKING:
    from collections.abc import Callable

    from ttai.bindings.ai import Ai
    from ttai.env import Env

PURPOSE = "user_knowledge"  # storage.json's bucket purpose: users/{user_id}/knowledge/
EMBED_BATCH = 100  # texts per AI.run (Workers AI's limit)
UPSERT_BATCH = 1000  # vectors per upsert (Vectorize's limit)
STAND_IN_NOTE = (
    "LOCAL STAND-IN embeddings: lexical (hashed words and character trigrams), not the model's; they find shared "
    "words, not meaning, and their scores are not comparable to the deployed model's"
)


def vector_id(document_id: str, chunk: int) -> str:
    return f"{document_id}:{chunk}"


class KnowledgeService:
    """One user's knowledge base, on a function's bindings: R2 and TASK_QUEUE to add, AI and VECTORIZE to index and
    search (each is built when first used, so adding needs no AI binding and searching no bucket)."""

    def __init__(self, env: Env, user_id: str) -> None:
        self.env = env
        self.user_id = user_id
        self.namespace = user_namespace(user_id)

    def document_key(self, document_id: str) -> str:
        return f"{user_object_prefix(PURPOSE, self.user_id)}{document_id}.json"

    # ------------------------------------------------------------------ add (the request path)

    def add(self, document: KnowledgeDocumentIn, *, document_id: str | None = None) -> KnowledgeDocumentQueued:
        """Store ``document`` and queue its indexing; ``document_id`` replaces that document (samples), else a
        new one is made."""
        document_id = document_id or uuid.uuid4().hex
        stored = {"title": document.title, "tags": document.tags, "text": document.text}
        key = self.document_key(document_id)
        self.env.R2.put(
            key, json.dumps(stored, ensure_ascii=False), http_metadata=R2HTTPMetadata(content_type="application/json")
        )
        task = KnowledgeIndexRequested(user_id=self.user_id, document_id=document_id)
        try:
            self.env.TASK_QUEUE.send(task.to_wire())
        except BaseException:
            # No document without its indexing task: one never indexed is found by no search, yet kept. The
            # caller's retry stores and queues it again (a task without its document indexes nothing).
            self._forget(key)
            raise
        return KnowledgeDocumentQueued(document_id=document_id, title=document.title, message_id=task.id)

    def _forget(self, key: str) -> None:
        try:
            self.env.R2.delete(key)
        except Exception as exc:  # noqa: BLE001 - the send's error is the one to answer; this one is logged
            from ttai.errors import describe_error  # noqa: PLC0415
            from ttai.observability import logger  # noqa: PLC0415

            logger.error(
                "a knowledge document without its task was not deleted",
                extra={"key": key, "error": describe_error(exc)},
            )

    # ------------------------------------------------------------------ index (the consumer)

    def index(self, document_id: str) -> dict[str, Any]:
        """Chunk, embed and upsert the stored document; ``{"indexed": False}`` when it is no longer stored."""
        found = self.env.R2.get(self.document_key(document_id))
        if not isinstance(found, R2ObjectBody):
            return {"indexed": False, "reason": "document not found"}
        stored = json.loads(found.text())
        chunks = chunk_text(stored["text"])
        ai = self._ai()
        vectors: list[dict[str, Any]] = []
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            embedded = ai.run(ai.model, {"text": batch})["data"]
            for offset, (text, values) in enumerate(zip(batch, embedded, strict=True)):
                chunk = start + offset
                metadata = {
                    "document_id": document_id,
                    "title": stored["title"],
                    "chunk": chunk,
                    "text": text,
                    "tags": stored["tags"],
                }
                vectors.append(
                    {
                        "id": vector_id(document_id, chunk),
                        "values": values,
                        "namespace": self.namespace,
                        "metadata": metadata,
                    }
                )
        for written in _batches(vectors, UPSERT_BATCH):
            self._with_index(partial(self.env.VECTORIZE.upsert, written))
        return {"indexed": True, "chunks": len(chunks)}

    # ------------------------------------------------------------------ search (the request path)

    def search(self, query: str, top_k: int = SEARCH_DEFAULT_TOP_K) -> KnowledgeSearch:
        """The caller's chunks closest in meaning to ``query``, closest first."""
        ai = self._ai()
        [vector] = ai.run(ai.model, {"text": [query]})["data"]
        try:
            result = self.env.VECTORIZE.query(vector, top_k=top_k, namespace=self.namespace, return_metadata="all")
        except VectorizeIndexNotFound:
            self._create_index_or_raise()
            result = {"matches": []}  # a new index holds nothing yet
        matches = [
            KnowledgeMatch(
                document_id=match["metadata"]["document_id"],
                title=match["metadata"]["title"],
                chunk=match["metadata"]["chunk"],
                text=match["metadata"]["text"],
                tags=match["metadata"].get("tags", []),
                score=match["score"],
            )
            for match in result["matches"]
        ]
        note = STAND_IN_NOTE if self.env.settings.environment == "local" else None
        return KnowledgeSearch(query=query, embedding_model=ai.model, matches=matches, note=note)

    # ------------------------------------------------------------------ the index

    def _ai(self) -> Ai:
        ai = self.env.AI
        if ai.dimensions != self.env.VECTORIZE.dimensions:
            raise ConfigurationError(
                f"the embedding model makes {ai.dimensions}-dimension vectors and Vectorize index "
                f"{self.env.VECTORIZE.name} holds {self.env.VECTORIZE.dimensions}: storage.json must agree"
            )
        return ai

    def _with_index(self, write: Callable[[], object]) -> None:
        try:
            write()
        except VectorizeIndexNotFound:
            self._create_index_or_raise()
            write()

    def _create_index_or_raise(self) -> None:
        """Create the bound index; if one of that name exists already, it is configured otherwise, and the binding's
        own error (which says how) rises instead."""
        index = self.env.VECTORIZE
        try:
            create_vector_index(
                self.env.DB,
                index.name,
                dimensions=index.dimensions,
                metric=index.metric,
                description="The knowledge base: chunks of users' documents, one namespace per user",
            )
        except VectorizeIndexExists:
            # Made meanwhile by another container (then this reads it), or configured otherwise (then this raises
            # VectorizeIndexNotFound saying how).
            index.describe()


def _batches(vectors: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(vectors), size):
        yield vectors[start : start + size]
