"""Cloudflare Vectorize on pgvector (Aurora PostgreSQL through the Data API): see ``index`` for the mapping."""

from __future__ import annotations

from ttai.bindings.vectorize.errors import (
    InvalidFilter,
    InvalidOption,
    InvalidVector,
    MetadataIndexExists,
    MetadataIndexNotFound,
    VectorizeError,
    VectorizeIndexExists,
    VectorizeIndexNotFound,
    VectorizeLimitExceeded,
)
from ttai.bindings.vectorize.index import VectorizeIndex, create_vector_index, delete_vector_index
from ttai.bindings.vectorize.model import VectorizeQueryOptions, VectorizeVector

__all__ = [
    "InvalidFilter",
    "InvalidOption",
    "InvalidVector",
    "MetadataIndexExists",
    "MetadataIndexNotFound",
    "VectorizeError",
    "VectorizeIndex",
    "VectorizeIndexExists",
    "VectorizeIndexNotFound",
    "VectorizeLimitExceeded",
    "VectorizeQueryOptions",
    "VectorizeVector",
    "create_vector_index",
    "delete_vector_index",
]
