"""Cold import of each function module plus its first boto3 client, beside a bare Powertools hello world.

Each sample is a fresh interpreter (what a Lambda cold start pays after the runtime's own start); samples of
the function and the baseline alternate so that machine noise falls on both alike. Median of N.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.report import Row

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = int(os.environ.get("BENCH_COLD_SAMPLES", "15"))
BUDGET_RATIO = 1.3

_TIMED = """
import time
_t0 = time.perf_counter()
{body}
print((time.perf_counter() - _t0) * 1000)
"""

BASELINE = """
import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
app = APIGatewayHttpResolver()
@app.get("/hello")
def hello():
    return {"message": "hello"}
def handler(event, context):
    return app.resolve(event, context)
boto3.client("dynamodb")
"""

FUNCTION = """
import {module}
from ttai.env import Env
Env.from_environ().client("dynamodb")
"""

FUNCTIONS = {"api": "functions.api.index", "authorizer": "functions.authorizer.index"}


def _environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTAI_", "AWS_", "POWERTOOLS_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "layers")]),
        PYTHONDONTWRITEBYTECODE="",  # a deployed layer ships no .pyc either way; measure with the cache warm
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        TTAI_ENVIRONMENT="dev",
        TTAI_KV_TABLE="ttai-dev-kv",
        TTAI_SECRET_JWT_SECRET="arn:aws:secretsmanager:us-east-1:000000000000:secret:jwt",  # noqa: S106 - an ARN
        POWERTOOLS_SERVICE_NAME="bench",
        POWERTOOLS_METRICS_NAMESPACE="TTAI",
    )
    return env


def _sample(body: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _TIMED.format(body=body)],
        capture_output=True,
        text=True,
        check=True,
        env=_environ(),
        cwd=ROOT,
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure() -> dict[str, float]:
    bodies = {"hello world (baseline)": BASELINE}
    bodies.update({name: FUNCTION.format(module=module) for name, module in FUNCTIONS.items()})
    for body in bodies.values():
        _sample(body)  # warm the OS file cache and write bytecode once
    samples: dict[str, list[float]] = {name: [] for name in bodies}
    for _ in range(SAMPLES):
        for name, body in bodies.items():
            samples[name].append(_sample(body))
    return {name: statistics.median(values) for name, values in samples.items()}


def run() -> list[Row]:
    medians = measure()
    baseline = medians.pop("hello world (baseline)")
    rows = [Row("cold import", "hello world (baseline)", baseline, "ms", f"median of {SAMPLES}")]
    for name, value in medians.items():
        ratio = value / baseline
        rows.append(Row("cold import", f"{name} function", value, "ms"))
        rows.append(Row("cold import", f"{name} / baseline", ratio, "x", f"<= {BUDGET_RATIO}x", ratio <= BUDGET_RATIO))
    return rows
