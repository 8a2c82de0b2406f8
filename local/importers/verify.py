"""The verification report every import ends with: per table, namespace or prefix, what the source holds and what
the target holds, as counts and checksums, with the rows or entries that differ named.

A checksum is order-free: the sum, modulo 2^256, of the SHA-256 of each entry's key and canonical content. Each
side is read once, in whatever order it pages in, and the two sums are compared. The same sums are kept for 256
buckets (by the first byte of the SHA-256 of the key), so when the totals differ only the buckets that differ are
read again to name the entries: memory stays proportional to the difference, not to the data.

Exit codes: 0 everything arrived and matches; 1 a mismatch (the target differs from what the source says it should
hold); 3 it matches, but something was refused, skipped as unmapped, or left behind, and the report lists it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

BUCKETS = 256
_MODULUS = 1 << 256
SAMPLE = 20  # entries named per kind of difference in the text report (the JSON report names up to DETAIL_LIMIT)
MERGE_SAMPLE = 5
DETAIL_LIMIT = 10_000

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_INCOMPLETE = 3


def bucket_of(key: str) -> int:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()[0]


def entry_digest(key: str, canonical: str) -> int:
    """The entry's contribution to a checksum: its key and canonical content, hashed together."""
    raw = key.encode("utf-8", "surrogateescape") + b"\x00" + canonical.encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.sha256(raw).digest(), "big")


@dataclass
class Tally:
    """A count and an order-free checksum of one side's entries, whole and per bucket."""

    count: int = 0
    total: int = 0
    bucket_counts: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    bucket_totals: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, key: str, digest: int, sign: int = 1) -> None:
        bucket = bucket_of(key)
        self.count += sign
        self.total = (self.total + sign * digest) % _MODULUS
        self.bucket_counts[bucket] += sign
        self.bucket_totals[bucket] = (self.bucket_totals[bucket] + sign * digest) % _MODULUS

    def remove(self, key: str, digest: int) -> None:
        self.add(key, digest, sign=-1)

    @property
    def checksum(self) -> str:
        return f"{self.total:064x}"

    def matches(self, other: Tally) -> bool:
        return self.count == other.count and self.total == other.total

    def differing_buckets(self, other: Tally) -> set[int]:
        return {
            b
            for b in range(BUCKETS)
            if self.bucket_counts[b] != other.bucket_counts[b] or self.bucket_totals[b] != other.bucket_totals[b]
        }


@dataclass(frozen=True, slots=True)
class Refusal:
    key: str
    reason: str


@dataclass
class Listing:
    """A kind of difference: how many, and the first ``DETAIL_LIMIT`` of them."""

    count: int = 0
    items: list[Any] = field(default_factory=list)

    def add(self, item: Any) -> None:
        self.count += 1
        if len(self.items) < DETAIL_LIMIT:
            self.items.append(item)


@dataclass
class Comparison:
    """One table, namespace or prefix: the source as it should arrive, the target as it is."""

    kind: str  # "table", "namespace", "prefix"
    name: str  # the target's name
    source_name: str  # the source's name for the same thing
    read: int = 0  # entries read from the source
    source: Tally = field(default_factory=Tally)  # what should arrive (read less skipped, merged and refused)
    target: Tally = field(default_factory=Tally)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count (expired KV entries...)
    merged: Listing = field(default_factory=Listing)  # (kept key, [merged keys])
    refused: Listing = field(default_factory=Listing)  # Refusal
    repaired: dict[str, Listing] = field(default_factory=dict)  # what was repaired -> keys
    missing: Listing = field(default_factory=Listing)  # keys the source has and the target lacks
    extra: Listing = field(default_factory=Listing)  # keys the target has and the source does not
    different: Listing = field(default_factory=Listing)  # keys on both sides whose content differs
    deleted: Listing = field(default_factory=Listing)  # keys the import removed: the source no longer has them
    extra_is_mismatch: bool = True  # D1: a table must equal its source; KV and R2: the target may hold more
    written: dict[str, int] = field(default_factory=dict)  # "inserted", "updated", "unchanged", "copied"...
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def repair(self, what: str, key: str) -> None:
        self.repaired.setdefault(what, Listing()).add(key)

    def count_written(self, what: str, count: int = 1) -> None:
        self.written[what] = self.written.get(what, 0) + count

    @property
    def matched(self) -> bool:
        return self.source.matches(self.target) and not self.missing.count and not self.different.count

    @property
    def complete(self) -> bool:
        return not self.refused.count


@dataclass
class Report:
    """What an import did and found: every comparison, what was not imported and why."""

    title: str
    source: str  # the dump, file or bucket, with its digest where there is one
    target: str
    comparisons: list[Comparison] = field(default_factory=list)
    not_imported: dict[str, str] = field(default_factory=dict)  # source name -> why (by design)
    unmapped: dict[str, str] = field(default_factory=dict)  # source name -> what is left behind (not by design)
    dry_run: bool = False
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # where the seconds went (reading, writing, verifying)

    @property
    def exit_code(self) -> int:
        if self.dry_run:
            return EXIT_OK
        if any(not c.matched for c in self.comparisons):
            return EXIT_MISMATCH
        if self.unmapped or any(not c.complete for c in self.comparisons):
            return EXIT_INCOMPLETE
        return EXIT_OK

    def status(self, comparison: Comparison) -> str:
        if self.dry_run:
            return "dry run"
        if not comparison.matched:
            return "MISMATCH"
        return "ok" if comparison.complete else "ok, refused"

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "phases": {name: round(seconds, 3) for name, seconds in self.phases.items()},
            "not_imported": self.not_imported,
            "unmapped": self.unmapped,
            "comparisons": [_comparison_json(c, self.status(c)) for c in self.comparisons],
        }

    def lines(self) -> Iterator[str]:
        """The report as text: a table, then the details of whatever is not plainly ok."""
        yield f"{self.title}{' (dry run: nothing was written)' if self.dry_run else ''}"
        yield f"  source: {self.source}"
        yield f"  target: {self.target}"
        header = ("", "source", "skipped", "merged", "refused", "expected", "target", "checksum (source)", "target", "")
        rows = [header]
        for c in self.comparisons:
            rows.append(
                (
                    f"{c.kind} {c.name}" if c.source_name == c.name else f"{c.kind} {c.name} <- {c.source_name}",
                    f"{c.read:,}",
                    f"{sum(c.skipped.values()):,}",
                    f"{c.merged.count:,}",
                    f"{c.refused.count:,}",
                    f"{c.source.count:,}",
                    f"{c.target.count:,}",
                    c.source.checksum[:16],
                    c.target.checksum[:16] if c.source.checksum != c.target.checksum else "same",
                    self.status(c),
                )
            )
        yield from _aligned(rows)
        for name, why in {**self.not_imported, **self.unmapped}.items():
            yield f"  not imported: {name}: {why}"
        for c in self.comparisons:
            yield from _details(c)
        spent = "".join(f", {name} {seconds:.1f} s" for name, seconds in self.phases.items())
        yield f"{self._verdict()} ({self.seconds:.1f} s{spent})"

    def _verdict(self) -> str:
        code = self.exit_code
        if self.dry_run:
            return "dry run: nothing written"
        if code == EXIT_MISMATCH:
            return "MISMATCH: the target does not hold what the source says it should (exit 1)"
        if code == EXIT_INCOMPLETE:
            return "verified, but not everything was imported: see the refused and unmapped entries above (exit 3)"
        return "verified: the target holds everything the source does"


def _aligned(rows: Sequence[tuple[str, ...]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row[1:-1], 1)]
        yield "  " + "  ".join([*cells, row[-1]]).rstrip()


def _details(c: Comparison) -> Iterator[str]:
    label = f"{c.kind} {c.name}"
    if c.written:
        yield f"  {label}: " + ", ".join(f"{what} {n:,}" for what, n in c.written.items())
    for reason, n in c.skipped.items():
        yield f"  {label}: skipped {n:,} ({reason})"
    groups = len(c.merged.items)
    for kept, merged in c.merged.items[:MERGE_SAMPLE]:
        yield f"  {label}: merged {', '.join(merged)} into {kept}"
    if groups > MERGE_SAMPLE:
        yield f"  {label}: ... {groups - MERGE_SAMPLE:,} more merged groups (all of them in --report FILE)"
    for refusal in c.refused.items[:SAMPLE]:
        yield f"  {label}: refused {refusal.key}: {refusal.reason}"
    yield from _more(label, "refused", c.refused)
    for what, keys in c.repaired.items():
        shown = ", ".join(keys.items[:SAMPLE]) + (" ..." if keys.count > SAMPLE else "")
        yield f"  {label}: repaired {keys.count:,} ({what}): {shown}"
    for kind, listing in (
        ("missing in the target", c.missing),
        ("different", c.different),
        ("deleted from the target (gone from the source)", c.deleted),
    ):
        if listing.count:
            shown = ", ".join(str(k) for k in listing.items[:SAMPLE]) + (" ..." if listing.count > SAMPLE else "")
            yield f"  {label}: {listing.count:,} {kind}: {shown}"
    if c.extra.count:
        what = "only in the target" if c.extra_is_mismatch else "only in the target (kept; not from this source)"
        shown = ", ".join(str(k) for k in c.extra.items[:SAMPLE]) + (" ..." if c.extra.count > SAMPLE else "")
        yield f"  {label}: {c.extra.count:,} {what}: {shown}"
    for note in c.notes:
        yield f"  {label}: {note}"


def _more(label: str, what: str, listing: Listing) -> Iterable[str]:
    if listing.count > SAMPLE:
        more = listing.count - SAMPLE
        yield f"  {label}: ... {more:,} more {what} (all of them in --report FILE, up to {DETAIL_LIMIT:,})"


def _comparison_json(c: Comparison, status: str) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "name": c.name,
        "source_name": c.source_name,
        "status": status,
        "read": c.read,
        "expected": {"count": c.source.count, "checksum": c.source.checksum},
        "target": {"count": c.target.count, "checksum": c.target.checksum},
        "written": c.written,
        "skipped": c.skipped,
        "merged": {"count": c.merged.count, "groups": [{"kept": k, "merged": m} for k, m in c.merged.items]},
        "refused": {"count": c.refused.count, "rows": [{"key": r.key, "reason": r.reason} for r in c.refused.items]},
        "repaired": {what: {"count": keys.count, "keys": keys.items} for what, keys in c.repaired.items()},
        "missing": {"count": c.missing.count, "keys": c.missing.items},
        "extra": {"count": c.extra.count, "keys": c.extra.items, "is_mismatch": c.extra_is_mismatch},
        "different": {"count": c.different.count, "keys": c.different.items},
        "deleted": {"count": c.deleted.count, "keys": c.deleted.items},
        "notes": c.notes,
    }


def write_json(report: Report, path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        json.dump(report.as_json(), out, indent=2, ensure_ascii=False)
        out.write("\n")
