"""Workers AI's text embeddings (``env.AI.run(model, {"text": [...]})``) on an Amazon Bedrock embedding model.

``Ai(model, dimensions, bedrock=client).run(model, {"text": "..." | [...]})`` -> ``{"shape": [n, dimensions],
"data": [[...], ...]}``, Workers AI's output for its embedding models (without ``pooling``, which Titan has no
choice of). The model is the one the binding was given (storage.json's ai section, Titan Text Embeddings V2):
Workers AI's own models (``@cf/baai/bge-base-en-v1.5``...) do not run on Bedrock, and asking for one is refused
with an error that says so rather than answered by another model, whose vectors would not be comparable.

Titan V2 embeds one text per InvokeModel call (``{"inputText", "dimensions", "normalize": true}`` ->
``{"embedding", "inputTextTokenCount"}``), so a run of n texts is n calls, made a few at a time. Limits, refused
before any call: 1 to 100 texts a run (Workers AI's for its embedding models), each non-empty and at most 50,000
characters (Titan's; it also stops at 8,192 tokens, which Bedrock checks).

Locally the stack points the client at a stand-in Bedrock endpoint (local/bedrock.py) whose vectors are lexical,
not semantic: see there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ttai.bindings.common import error_code, unavailable
from ttai.errors import BindingError

MAX_TEXTS = 100  # Workers AI's embedding models take at most 100 texts a run
MAX_TEXT_CHARS = 50_000  # Titan Text Embeddings V2's input limit in characters (and 8,192 tokens)
CONCURRENT_CALLS = 8  # InvokeModel calls in flight for one run: a document's chunks embed in a fraction of the time
DEPENDENCY = "the embedding model"


class AiError(BindingError):
    """A run Workers AI or Bedrock would refuse: another model, inputs of the wrong shape, a text too long."""


class Ai:
    """``env.AI``: the embedding model ``model`` (a Bedrock model id) at ``dimensions``, through ``bedrock``
    (a bedrock-runtime client)."""

    def __init__(self, model: str, dimensions: int, *, bedrock: Any) -> None:
        self.model = model
        self.dimensions = dimensions
        self._bedrock = bedrock

    def __repr__(self) -> str:
        return f"Ai({self.model!r}, dimensions={self.dimensions})"

    def run(self, model: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The embeddings of ``inputs["text"]`` (one string or a list), in order: ``{"shape", "data"}``."""
        if model != self.model:
            raise AiError(
                f"model {model!r} is not available here: this AI binding runs {self.model} on Amazon Bedrock "
                f"({self.dimensions} dimensions); Workers AI's own models do not run on AWS"
            )
        texts = _texts(inputs)
        if len(texts) == 1:
            data = [self._embed(texts[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(CONCURRENT_CALLS, len(texts))) as pool:
                data = list(pool.map(self._embed, texts))
        return {"shape": [len(data), self.dimensions], "data": data}

    def _embed(self, text: str) -> list[float]:
        body = json.dumps({"inputText": text, "dimensions": self.dimensions, "normalize": True})
        try:
            response = self._bedrock.invoke_model(
                modelId=self.model, body=body, contentType="application/json", accept="application/json"
            )
        except Exception as exc:
            translated = unavailable(exc, DEPENDENCY)
            if translated is not None:
                raise translated from exc
            if error_code(exc) == "ValidationException":  # an input Bedrock refuses: the caller's misuse, not ours
                raise AiError(f"{self.model} refused the input as malformed") from exc
            raise
        answer = json.loads(response["body"].read())
        embedding = answer.get("embedding") if isinstance(answer, dict) else None
        if not isinstance(embedding, list) or len(embedding) != self.dimensions:
            # Bedrock answers Titan's shape; anything else is an endpoint that is not the model asked for.
            raise AiError(f"{self.model} answered without an embedding of {self.dimensions} numbers")
        return [float(value) for value in embedding]


def _texts(inputs: Mapping[str, Any]) -> list[str]:
    if not isinstance(inputs, Mapping) or set(inputs) != {"text"}:
        raise AiError('an embedding run takes {"text": a string or a list of strings}, and nothing else')
    given = inputs["text"]
    texts: Sequence[Any] = [given] if isinstance(given, str) else given
    if not isinstance(texts, list | tuple) or not 1 <= len(texts) <= MAX_TEXTS:
        raise AiError(f"text is a string or a list of 1 to {MAX_TEXTS} strings")
    for position, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise AiError(f"text[{position}] is not a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise AiError(f"text[{position}] has {len(text)} characters; the model takes at most {MAX_TEXT_CHARS}")
    return list(texts)
