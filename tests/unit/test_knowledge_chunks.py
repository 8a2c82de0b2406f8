"""How a document is cut for embedding (ttai.services.chunking)."""

from __future__ import annotations

import itertools

import pytest

from ttai.services.chunking import CHUNK_MAX_CHARS, OVERLAP_CHARS, chunk_text


def _document(paragraphs: int) -> str:
    return "\n\n".join(
        f"Paragraph {p}. " + " ".join(f"word{p}x{w}." if w % 9 == 8 else f"word{p}x{w}" for w in range(60))
        for p in range(paragraphs)
    )


def test_chunks_are_bounded_ordered_and_together_hold_every_word() -> None:
    text = _document(40)
    chunks = chunk_text(text)
    assert len(chunks) > 5
    assert all(0 < len(chunk) <= CHUNK_MAX_CHARS for chunk in chunks)
    words = text.split()
    found = " ".join(chunks).split()
    assert set(found) == set(words)
    # In order: each word's first appearance follows the previous word's.
    positions = [found.index(word) for word in dict.fromkeys(words)]
    assert positions == sorted(positions)
    assert chunk_text(text) == chunks  # the same text, the same chunks (and so the same vector ids)


def test_each_chunk_after_the_first_begins_with_the_end_of_the_one_before() -> None:
    chunks = chunk_text(_document(20))
    for before, after in itertools.pairwise(chunks):
        carried = after.split()[0]
        assert carried in before[-OVERLAP_CHARS - 20 :].split()


def test_a_phrase_across_a_chunk_boundary_is_whole_in_one_chunk() -> None:
    words = [f"w{i}" for i in range(600)]
    chunks = chunk_text(" ".join(words))
    boundary = chunks[0].split()[-1]
    index = words.index(boundary)
    phrase = " ".join(words[index - 2 : index + 3])  # two words before the cut, two after
    assert any(phrase in chunk for chunk in chunks)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", []), ("  \n\n \t", []), ("one line", ["one line"]), ("x" * 3000, None)],
)
def test_edges(text: str, expected: list[str] | None) -> None:
    chunks = chunk_text(text)
    if expected is not None:
        assert chunks == expected
    else:  # a run with no break: fixed slices, nothing lost
        assert "".join(chunks) == text
        assert all(len(chunk) <= CHUNK_MAX_CHARS for chunk in chunks)
