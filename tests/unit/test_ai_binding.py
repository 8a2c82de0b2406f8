"""env.AI on Bedrock, call by call against botocore's Stubber: the InvokeModel request Titan Text Embeddings V2 takes,
its response read back, and every refusal made before a call. (moto 5.2.5 serves bedrock-runtime, but its
InvokeModel answers ``{}`` for every model; the local stack's stand-in endpoint is tested through the API.)"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from ttai.bindings.ai import MAX_TEXT_CHARS, MAX_TEXTS, Ai, AiError
from ttai.errors import Throttled

MODEL = "amazon.titan-embed-text-v2:0"


@pytest.fixture
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _titan_answer(embedding: list[float]) -> dict[str, Any]:
    payload = json.dumps({"embedding": embedding, "inputTextTokenCount": 3}).encode()
    return {"body": StreamingBody(io.BytesIO(payload), len(payload)), "contentType": "application/json"}


def _titan_request(text: str, dimensions: int) -> dict[str, Any]:
    body = json.dumps({"inputText": text, "dimensions": dimensions, "normalize": True})
    return {"modelId": MODEL, "body": body, "contentType": "application/json", "accept": "application/json"}


def test_a_text_is_one_invoke_model_in_titans_shape_answered_as_workers_ai(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    # Stubber fails any call whose parameters differ from these, and any call beyond this one.
    stubber.add_response("invoke_model", _titan_answer([0.6, 0.8, 0.0, 0.0]), _titan_request("covered calls", 4))
    result = Ai(MODEL, 4, bedrock=client).run(MODEL, {"text": "covered calls"})
    assert result == {"shape": [1, 4], "data": [[0.6, 0.8, 0.0, 0.0]]}


class _Bedrock:
    """InvokeModel answering each text with a vector of its own (calls run on several threads, in any order)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def invoke_model(self, **request: Any) -> dict[str, Any]:
        text = json.loads(request["body"])["inputText"]
        self.texts.append(text)
        return _titan_answer([float(len(text)), 0.0, 0.0, 1.0])


def test_a_run_of_several_texts_is_one_call_each_and_answers_in_the_order_asked() -> None:
    bedrock = _Bedrock()
    texts = ["a", "bb", "ccc", "dddd", "eeeee"] * 4
    result = Ai(MODEL, 4, bedrock=bedrock).run(MODEL, {"text": texts})
    assert sorted(bedrock.texts) == sorted(texts)
    assert result["shape"] == [20, 4]
    assert [vector[0] for vector in result["data"]] == [float(len(text)) for text in texts]


def test_an_answer_without_an_embedding_of_the_dimensions_asked_for_is_an_error(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_response("invoke_model", _titan_answer([1.0, 0.0]), _titan_request("x", 4))
    with pytest.raises(AiError, match="without an embedding of 4 numbers"):
        Ai(MODEL, 4, bedrock=client).run(MODEL, {"text": "x"})


def test_bedrock_throttling_is_a_retryable_503_and_a_refused_input_a_binding_error(
    bedrock: tuple[Any, Stubber],
) -> None:
    client, stubber = bedrock
    stubber.add_client_error("invoke_model", "ThrottlingException", "Too many requests", 429)
    stubber.add_client_error("invoke_model", "ValidationException", "Malformed input request", 400)
    ai = Ai(MODEL, 4, bedrock=client)
    with pytest.raises(Throttled):
        ai.run(MODEL, {"text": "x"})
    with pytest.raises(AiError, match="refused the input"):
        ai.run(MODEL, {"text": "x"})


@pytest.mark.parametrize(
    ("model", "inputs", "reason"),
    [
        ("@cf/baai/bge-base-en-v1.5", {"text": "x"}, "Workers AI's own models do not run on AWS"),
        (MODEL, {"prompt": "x"}, "takes"),
        (MODEL, {"text": []}, "1 to 100"),
        (MODEL, {"text": ["x"] * (MAX_TEXTS + 1)}, "1 to 100"),
        (MODEL, {"text": ["x", "  "]}, r"text\[1\] is not a non-empty string"),
        (MODEL, {"text": ["x", 3]}, r"text\[1\] is not a non-empty string"),
        (MODEL, {"text": "x" * (MAX_TEXT_CHARS + 1)}, "at most 50000"),
    ],
)
def test_runs_bedrock_would_refuse_are_refused_before_any_call(
    bedrock: tuple[Any, Stubber], model: str, inputs: dict[str, Any], reason: str
) -> None:
    client, _ = bedrock  # no response queued: any call fails the test
    with pytest.raises(AiError, match=reason):
        Ai(MODEL, 4, bedrock=client).run(model, inputs)
