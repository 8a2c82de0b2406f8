"""One row per measurement, with its budget when it has one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    group: str
    name: str
    measured: float
    unit: str
    budget: str = ""
    ok: bool | None = None  # None: reported, no budget

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.2f}"


def print_table(rows: list[Row]) -> None:
    header = ("group", "measurement", "measured", "budget", "")
    lines = [
        (r.group, r.name, f"{_fmt(r.measured)} {r.unit}", r.budget, {True: "ok", False: "MISSED", None: ""}[r.ok])
        for r in rows
    ]
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    for i, line in enumerate([header, *lines]):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
