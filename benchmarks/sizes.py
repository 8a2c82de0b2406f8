"""What ships: the layer zips and each function's own asset."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import Row
from infra.layer_build import AUTH_LAYER_GROUP, SCHEDULER_LAYER_GROUP, ensure_layer, zipped_size

ROOT = Path(__file__).resolve().parents[1]
LAYER_BUDGET_BYTES = 5 * 1024 * 1024


def run() -> list[Row]:
    layer = zipped_size(ensure_layer(ROOT))
    auth_layer = zipped_size(ensure_layer(ROOT, AUTH_LAYER_GROUP))
    calendar_layer = zipped_size(ensure_layer(ROOT, SCHEDULER_LAYER_GROUP))
    rows = [
        Row("artefacts", "layer zip", layer / 1024 / 1024, "MiB", "<= 5 MiB", layer <= LAYER_BUDGET_BYTES),
        Row(
            "artefacts",
            "auth layer zip (cryptography)",
            auth_layer / 1024 / 1024,
            "MiB",
            "<= 5 MiB",
            auth_layer <= LAYER_BUDGET_BYTES,
        ),
        Row(
            "artefacts",
            "scheduler layer zip (holidays)",
            calendar_layer / 1024 / 1024,
            "MiB",
            "<= 5 MiB",
            calendar_layer <= LAYER_BUDGET_BYTES,
        ),
    ]
    for folder in sorted(p for p in (ROOT / "functions").iterdir() if p.is_dir() and not p.name.startswith("_")):
        rows.append(Row("artefacts", f"{folder.name} function asset zip", zipped_size(folder) / 1024, "KiB"))
    return rows
