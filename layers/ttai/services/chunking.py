"""A document cut into chunks for embedding: a few paragraphs each, overlapping a little, cut where the text breaks.

Why this size: Titan Text Embeddings V2 reads up to 8,192 tokens, but one vector per few paragraphs finds a phrase
far better than one per document, and a chunk's text travels back in the search answer (and in Vectorize metadata,
10 KiB at most). A chunk is at most ``CHUNK_MAX_CHARS`` characters; pieces are whole paragraphs where they fit, else
whole sentences, else whole words, else (a run of characters with no space) fixed slices. Each chunk after the first
starts with the last ``OVERLAP_CHARS`` or so of the one before (whole words), so a phrase cut by a boundary is still
whole in one of them. The same text always gives the same chunks, so indexing again writes the same vector ids.
"""

from __future__ import annotations

import re

CHUNK_MAX_CHARS = 1200
OVERLAP_CHARS = 150
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_WORDS = re.compile(r"\s+")


def _pieces(text: str, limit: int) -> list[tuple[str, str]]:
    """``text`` as pieces of at most ``limit`` characters, each split at the coarsest break that makes it fit, with
    the text that joined each to the one before: a paragraph break, a space, or nothing (a slice of a long word)."""
    pieces: list[tuple[str, str]] = []
    for paragraph in (p.strip() for p in _PARAGRAPHS.split(text)):
        if not paragraph:
            continue
        joiner = "\n\n"
        if len(paragraph) <= limit:
            pieces.append((paragraph, joiner))
            continue
        for sentence in (s for s in _SENTENCES.split(paragraph) if s):
            if len(sentence) <= limit:
                pieces.append((sentence, joiner))
                joiner = " "
                continue
            for word in (w for w in _WORDS.split(sentence) if w):
                for start in range(0, len(word), limit):
                    pieces.append((word[start : start + limit], joiner))
                    joiner = ""
                joiner = " "
    return pieces


def _tail(chunk: str, size: int) -> str:
    """The last ``size`` characters or so of ``chunk``, from a word's start."""
    if len(chunk) <= size:
        return chunk
    cut = chunk.find(" ", len(chunk) - size)
    return chunk[cut + 1 :] if cut != -1 else ""


def chunk_text(text: str, max_chars: int = CHUNK_MAX_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """The chunks of ``text``, in order; none for a text of whitespace only."""
    if not 0 <= overlap < max_chars // 2:
        raise ValueError("the overlap must be under half a chunk")
    chunks: list[str] = []
    current = ""
    for piece, joiner in _pieces(text, max_chars - overlap - 1):
        candidate = f"{current}{joiner}{piece}" if current else piece
        if len(candidate) <= max_chars:
            current = candidate
            continue
        chunks.append(current)
        carried = _tail(current, overlap)
        current = f"{carried} {piece}" if carried else piece
    if current:
        chunks.append(current)
    return chunks
