"""The local stack's stand-in for Bedrock's embedding model: Titan's request and response shapes and refusals, with
lexical vectors (local.lexical_embeddings) that are deterministic, unit length and closer for shared words."""

from __future__ import annotations

import json
import math

import pytest

from local.bedrock import TITAN_TEXT_EMBEDDINGS_V2, BedrockError, invoke
from local.lexical_embeddings import lexical_embedding


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_an_embedding_is_titans_shape_unit_length_and_the_same_every_time() -> None:
    body = json.dumps({"inputText": "Selling covered calls", "dimensions": 256, "normalize": True}).encode()
    answer = invoke(TITAN_TEXT_EMBEDDINGS_V2, body)
    assert set(answer) == {"embedding", "embeddingsByType", "inputTextTokenCount"}
    assert len(answer["embedding"]) == 256
    assert answer["embeddingsByType"]["float"] == answer["embedding"]
    assert math.isclose(math.sqrt(sum(v * v for v in answer["embedding"])), 1.0)
    assert invoke(TITAN_TEXT_EMBEDDINGS_V2, body) == answer


def test_texts_sharing_words_are_closer_than_texts_sharing_none() -> None:
    query = lexical_embedding("covered call strike", 1024)
    near = lexical_embedding("A covered call caps the upside at the strike price.", 1024)
    far = lexical_embedding("Iron condors profit when volatility falls.", 1024)
    assert _cosine(query, near) > 0.3 > _cosine(query, far)


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        ("amazon.titan-embed-text-v1", {"inputText": "x"}, "model identifier is invalid"),
        (TITAN_TEXT_EMBEDDINGS_V2, {"inputText": ""}, "inputText"),
        (TITAN_TEXT_EMBEDDINGS_V2, {"inputText": "x", "dimensions": 768}, "dimensions"),
        (TITAN_TEXT_EMBEDDINGS_V2, {"inputText": "x", "texts": ["x"]}, "extraneous key"),
    ],
)
def test_what_bedrock_refuses_is_a_validation_exception(model: str, body: dict[str, object], message: str) -> None:
    with pytest.raises(BedrockError, match=message) as refused:
        invoke(model, json.dumps(body).encode())
    assert (refused.value.status, refused.value.shape) == (400, "ValidationException")
