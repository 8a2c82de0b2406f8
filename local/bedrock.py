"""A stand-in Amazon Bedrock runtime on 127.0.0.1 for the embedding model: InvokeModel as botocore sends and reads it.

``POST /model/{modelId}/invoke`` with Titan Text Embeddings V2's body (``inputText``, ``dimensions`` of 256, 512 or
1024, ``normalize``) answers Titan's response (``embedding``, ``embeddingsByType``, ``inputTextTokenCount``), or
Bedrock's ValidationException for a body or model it would refuse. The vectors are NOT Titan's: they come from
``local.lexical_embeddings``, a lexical LOCAL STAND-IN (feature hashing), since Bedrock cannot run here. moto 5.2.5
serves bedrock-runtime too, but its InvokeModel answers ``{}`` for every model, which no embedding code can use.

``invocations`` counts the calls (tests assert calls per operation).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import unquote

from local.lexical_embeddings import lexical_embedding, token_count
from local.service import LoopbackHttpService

TITAN_TEXT_EMBEDDINGS_V2 = "amazon.titan-embed-text-v2:0"
TITAN_DIMENSIONS = (256, 512, 1024)
TITAN_MAX_CHARS = 50_000
_PREFIX, _SUFFIX = "/model/", "/invoke"


class BedrockError(Exception):
    def __init__(self, status: int, shape: str, message: str) -> None:
        super().__init__(message)
        self.status, self.shape, self.message = status, shape, message


def invoke(model_id: str, body: bytes) -> dict[str, Any]:
    """What Bedrock answers to InvokeModel of ``model_id`` with ``body``, embeddings made lexically."""
    if model_id != TITAN_TEXT_EMBEDDINGS_V2:
        raise BedrockError(400, "ValidationException", "The provided model identifier is invalid.")
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BedrockError(
            400, "ValidationException", "Malformed input request, please reformat your input and try again."
        ) from None
    text = request.get("inputText") if isinstance(request, dict) else None
    dimensions = request.get("dimensions", 1024) if isinstance(request, dict) else None
    problems = []
    if not isinstance(text, str) or not text.strip():
        problems.append("inputText: expected a non-empty string")
    elif len(text) > TITAN_MAX_CHARS:
        problems.append(f"inputText: expected maxLength: {TITAN_MAX_CHARS}, actual: {len(text)}")
    if dimensions not in TITAN_DIMENSIONS:
        problems.append(f"dimensions: {dimensions} is not a valid enum value")
    unknown = (
        set(request) - {"inputText", "dimensions", "normalize", "embeddingTypes"}
        if isinstance(request, dict)
        else set()
    )
    problems += [f"extraneous key [{key}] is not permitted" for key in sorted(unknown)]
    if problems:
        raise BedrockError(
            400,
            "ValidationException",
            f"Malformed input request: {', '.join(problems)}, please reformat your input and try again.",
        )
    assert isinstance(text, str)
    assert isinstance(dimensions, int)
    embedding = lexical_embedding(text, dimensions)
    return {"embedding": embedding, "embeddingsByType": {"float": embedding}, "inputTextTokenCount": token_count(text)}


class LocalBedrock(LoopbackHttpService):
    """The stand-in endpoint; point a bedrock-runtime client at ``base_url`` (AWS_ENDPOINT_URL_BEDROCK_RUNTIME)."""

    def __init__(self) -> None:
        self.invocations = 0
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(_Handler):
            bedrock: ClassVar[LocalBedrock] = endpoint

        return Handler

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        try:
            if method != "POST" or not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
                raise BedrockError(404, "UnknownOperationException", f"no operation at {method} {path}")
            with self._lock:
                self.invocations += 1
            result = invoke(unquote(path[len(_PREFIX) : -len(_SUFFIX)]), body)
        except BedrockError as error:
            headers["x-amzn-ErrorType"] = error.shape
            return error.status, headers, json.dumps({"message": error.message}).encode()
        return 200, headers, json.dumps(result).encode()


class _Handler(BaseHTTPRequestHandler):
    bedrock: ClassVar[LocalBedrock]
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.bedrock.answer(self.command, self.path.split("?")[0], body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and ``make dev`` print their own story."""
