"""LOCAL STAND-IN for an embedding model: deterministic lexical vectors (feature hashing), not semantic ones.

Bedrock cannot run on this machine and nothing may be downloaded, so the local stack's Bedrock endpoint
(local/bedrock.py) answers with these instead. A text becomes the counts of its words, word pairs and character
trigrams, each hashed (BLAKE2b) into one of ``dimensions`` buckets with a sign, weighted sublinearly and L2-normalized:
the same text always gives the same vector, and texts sharing words score a higher cosine than texts that share none.
That is enough to find a document by a phrase it contains, which is what local runs and tests need. It knows no
synonyms and no meaning ("stock" and "equity" are unrelated here), so rankings differ from Titan's: never compare
scores or tune thresholds against it. Search results made from it say so (ttai.services.knowledge).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import unicodedata
from collections import Counter

_WORD = re.compile(r"\w+")
# The commonest English function words carry no topic; left in, they would dominate short queries.
_STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were will with".split()  # noqa: SIM905 - a sentence reads better than 27 quoted words
)
_WEIGHTS = {"w": 1.0, "p": 0.7, "c": 0.25}  # words, word pairs, character trigrams


def _features(text: str) -> Counter[str]:
    normalized = unicodedata.normalize("NFKC", text).casefold()
    words = [word for word in _WORD.findall(normalized) if word not in _STOP_WORDS]
    features: Counter[str] = Counter(f"w:{word}" for word in words)
    features.update(f"p:{first} {second}" for first, second in itertools.pairwise(words))
    for word in words or [normalized.strip()]:
        padded = f" {word} "
        features.update(f"c:{padded[i : i + 3]}" for i in range(len(padded) - 2))
    return features


def lexical_embedding(text: str, dimensions: int) -> list[float]:
    """The unit vector of ``text``'s hashed lexical features (a zero vector only for a text with no characters
    but spaces, which the endpoint refuses before it gets here)."""
    vector = [0.0] * dimensions
    for feature, count in _features(text).items():
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "big") % dimensions
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[bucket] += sign * _WEIGHTS[feature[0]] * (1.0 + math.log(count))
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector


def token_count(text: str) -> int:
    """Words and punctuation marks: a rough stand-in for Titan's inputTextTokenCount."""
    return len(re.findall(r"\w+|[^\w\s]", text))
