"""knowledge_index: chunk, embed and upsert a document a user added (``ttai.services.knowledge``).

Idempotent on its own: the vectors' ids come from the document and the chunk, so a retry after a partial run writes
the same vectors again. A document removed before its task ran is acknowledged and skipped.
"""

from __future__ import annotations

from typing import Any

from ttai.env import Env
from ttai.messages import KnowledgeIndexRequested
from ttai.observability import logger
from ttai.services.knowledge import KnowledgeService


def handle(env: Env, message: KnowledgeIndexRequested) -> dict[str, Any]:
    result = KnowledgeService(env, message.user_id).index(message.document_id)
    if not result["indexed"]:
        logger.info("knowledge document gone before it was indexed", extra={"document_id": message.document_id})
    return result
