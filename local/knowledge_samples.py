"""Sample documents for ``make dev``'s knowledge base, so a search answers on the first start.

They are short notes written for this project (``local/knowledge_samples/*.md``), not trading advice, titled
"Sample: ..." and tagged ``sample`` wherever they show. Each has a fixed document id (``sample-<file>``), so every
start replaces them rather than adding copies. They go in as ``ttai knowledge add`` puts a file: stored and queued
through the api function's bindings, then indexed by the consumer.
"""

from __future__ import annotations

from pathlib import Path

from ttai.env import Env
from ttai.models.knowledge import KnowledgeDocumentIn
from ttai.services.knowledge import KnowledgeService

SAMPLES_DIR = Path(__file__).with_name("knowledge_samples")
SAMPLE_TAG = "sample"


def document_title(text: str, fallback: str) -> str:
    """A Markdown document's first heading (``# Title``), else ``fallback``."""
    for line in text.splitlines():
        if line.startswith("# ") and line[2:].strip():
            return line[2:].strip()
    return fallback


def load_samples(env: Env, user_id: str) -> list[str]:
    """Store and queue every sample for ``user_id``; their document ids."""
    service = KnowledgeService(env, user_id)
    added = []
    for path in sorted(SAMPLES_DIR.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        title = f"Sample: {document_title(text, path.stem)}"
        document = KnowledgeDocumentIn(title=title, text=text, tags=[SAMPLE_TAG])
        added.append(service.add(document, document_id=f"sample-{path.stem}").document_id)
    return added
