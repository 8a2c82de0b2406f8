"""Read-through for cache misses with one upstream fetch per key across every container.

A container that misses ``quote:AAPL`` first claims ``claim:quote:AAPL`` (KV ``put_if_absent``: one conditional
PutItem on the table, so the claim is atomic across containers, not only threads). The one that gets the claim
fetches, writes the value to its tier and leaves the claim to expire (it outlives nothing: the value it guards
expires later); what the source did not have is marked ``absent`` on the claim, so nobody waits for it. The others
poll the value and the claim together (one BatchGetItem per 50 keys) until the value appears, the claim says absent,
or the claim is released (the fetch failed: they try to claim it themselves), or they have waited long enough.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ttai.bindings.kv import BULK_GET_MAX, MIN_EXPIRATION_TTL, KVNamespace
from ttai.services.cache import claim_key

PENDING = "pending"  # a claim's value (JSON), while its holder fetches
ABSENT = "absent"  # ... once the source said it has no such thing
CLAIM_TTL = MIN_EXPIRATION_TTL  # as short as KV allows; a claim is left to expire after a successful fetch
WAIT_SECONDS = 12.0  # longer than one TastyTrade call may take (its 10 s budget), shorter than the api's timeout
_POLL_FIRST, _POLL_MAX = 0.05, 0.4
_PARALLEL_CLAIMS = 10  # botocore's default connection pool per client


@dataclass
class ReadThrough:
    """Fetches missing keys once: ``fetch(ids)`` returns {id: value} for the ids the source has and has already
    stored them in the cache; ``value_key(id)`` is where each value lives in KV."""

    kv: KVNamespace
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wait_seconds: float = WAIT_SECONDS

    def load(
        self,
        ids: Sequence[str],
        value_key: Callable[[str], str],
        fetch: Callable[[list[str]], Mapping[str, Any]],
    ) -> dict[str, Any]:
        """The values of ``ids`` (raw JSON as cached, or as ``fetch`` returned them); ids nobody has are absent."""
        found: dict[str, Any] = {}
        claimed, waiting = self._claim(list(dict.fromkeys(ids)), value_key)
        if claimed:
            found |= self._fetch(claimed, value_key, fetch)
        deadline = self.clock() + self.wait_seconds
        poll = _POLL_FIRST
        while waiting:
            values, released, absent = self._poll(waiting, value_key)
            found |= values
            waiting = [i for i in waiting if i not in values and i not in released and i not in absent]
            if released:  # the fetch that held them failed: try again, as the claimant this time
                mine, others = self._claim(sorted(released), value_key)
                if mine:
                    found |= self._fetch(mine, value_key, fetch)
                waiting += others
            if not waiting or self.clock() + poll > deadline:
                break
            self.sleep(poll)
            poll = min(poll * 2, _POLL_MAX)
        return found

    def _claim(self, ids: list[str], value_key: Callable[[str], str]) -> tuple[list[str], list[str]]:
        def claim(i: str) -> bool:
            return self.kv.put_if_absent(claim_key(value_key(i)), json.dumps(PENDING), expiration_ttl=CLAIM_TTL)

        if len(ids) == 1:
            won = [claim(ids[0])]
        else:  # conditional writes have no batch form: run them side by side
            from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only multi-symbol misses need it

            with ThreadPoolExecutor(max_workers=min(_PARALLEL_CLAIMS, len(ids))) as pool:
                won = list(pool.map(claim, ids))
        return [i for i, w in zip(ids, won, strict=True) if w], [i for i, w in zip(ids, won, strict=True) if not w]

    def _fetch(
        self, ids: list[str], value_key: Callable[[str], str], fetch: Callable[[list[str]], Mapping[str, Any]]
    ) -> dict[str, Any]:
        try:
            got = dict(fetch(ids))
        except BaseException:
            for i in ids:  # let the next caller try instead of waiting out our claim
                self.kv.delete(claim_key(value_key(i)))
            raise
        absent = [i for i in ids if i not in got]
        if absent:
            marked = json.dumps(ABSENT)
            self.kv.put_many({claim_key(value_key(i)): marked for i in absent}, expiration_ttl=CLAIM_TTL)
        return got

    def _poll(self, ids: list[str], value_key: Callable[[str], str]) -> tuple[dict[str, Any], set[str], set[str]]:
        """Values that appeared, ids whose claim is gone (released: the fetch failed), and ids the source lacks."""
        values: dict[str, Any] = {}
        released: set[str] = set()
        absent: set[str] = set()
        per_request = BULK_GET_MAX // 2
        for start in range(0, len(ids), per_request):
            chunk = ids[start : start + per_request]
            keys = [k for i in chunk for k in (value_key(i), claim_key(value_key(i)))]
            got = self.kv.get(keys, "json")
            for i in chunk:
                value, claim = got[value_key(i)], got[claim_key(value_key(i))]
                if value is not None:
                    values[i] = value
                elif claim is None:
                    released.add(i)
                elif claim == ABSENT:
                    absent.add(i)
        return values, released, absent
