"""Cold import of each function module plus its first boto3 client, beside a bare Powertools hello world.

Each sample is a fresh interpreter (what a Lambda cold start pays after the runtime's own start); samples of
the function and the baseline alternate so that machine noise falls on both alike. Median of N.

Both run with Lambda's view of the world: only the standard library, what the runtime provides (boto3 and its
dependencies) and what the built layer contains can be imported. Without that, optional imports that find
development packages here (PyJWT picks up ``cryptography`` from moto's dependencies) would be measured although
they never happen on Lambda.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.report import Row
from infra.layer_build import ensure_layer
from ttai.layout import function_specs

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = int(os.environ.get("BENCH_COLD_SAMPLES", "15"))
BUDGET_RATIO = 1.3

# What the Lambda Python runtime itself provides besides the standard library.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})

_TIMED = """
import importlib.abc, sys, time

class _LambdaImportScope(importlib.abc.MetaPathFinder):
    allowed = frozenset({allowed!r})

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in self.allowed or top in sys.stdlib_module_names or top.startswith("_"):
            return None
        raise ModuleNotFoundError(f"No module named {{name!r}} (not in the layer or the runtime)", name=name)

sys.meta_path.insert(0, _LambdaImportScope())
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

# Each function traffic starts (migrate runs only at deploy): its handler module and the dependency groups of the
# layers it has besides the shared one, from its spec, as the stack wires them.
FUNCTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    name: (spec.module, spec.layers) for name, spec in function_specs().items() if name != "migrate"
}


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
        PYDANTIC_DISABLE_PLUGINS="__all__",  # as the stack sets it on every function
    )
    return env


def importable_on_lambda(groups: tuple[str, ...] = ()) -> frozenset[str]:
    """Top-level names a function can import on Lambda: its layers' packages, the runtime's, its own folder."""
    names = set(RUNTIME_PROVIDED | {"functions"})
    for site in [ensure_layer(ROOT) / "python", *(ensure_layer(ROOT, group) / "python" for group in groups)]:
        names |= {p.name.removesuffix(".py") for p in site.iterdir() if not p.name.endswith(".dist-info")}
    return frozenset(names)


def _sample(body: str, allowed: frozenset[str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _TIMED.format(body=body, allowed=sorted(allowed))],
        capture_output=True,
        text=True,
        check=True,
        env=_environ(),
        cwd=ROOT,
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure() -> dict[str, float]:
    runs = {"hello world (baseline)": (BASELINE, importable_on_lambda())}
    for name, (module, groups) in FUNCTIONS.items():
        runs[name] = (FUNCTION.format(module=module), importable_on_lambda(groups))
    for body, allowed in runs.values():
        _sample(body, allowed)  # warm the OS file cache and write bytecode once
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(SAMPLES):
        for name, (body, allowed) in runs.items():
            samples[name].append(_sample(body, allowed))
    return {name: statistics.median(values) for name, values in samples.items()}


def _instructions(body: str, allowed: frozenset[str]) -> int:
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            _TIMED.format(body=body, allowed=sorted(allowed)),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_environ(),
        cwd=ROOT,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no instruction count: {out.stderr[-500:]}")
    return int(found.group(1))


def measure_instructions() -> dict[str, float]:
    """Each function's import + first client in instructions (callgrind), over the hello world's, both net of
    the interpreter's own start. Instructions are not time, but they do not move with the machine's load, so
    this ratio is the same on a busy laptop and in CI; the timed medians above are the budget's own measure."""
    scope = importable_on_lambda()
    start = _instructions("pass", scope)
    baseline = _instructions(BASELINE, scope) - start
    return {
        name: (_instructions(FUNCTION.format(module=module), importable_on_lambda(groups)) - start) / baseline
        for name, (module, groups) in FUNCTIONS.items()
    }


def run() -> list[Row]:
    medians = measure()
    baseline = medians.pop("hello world (baseline)")
    rows = [Row("cold import", "hello world (baseline)", baseline, "ms", f"median of {SAMPLES}")]
    for name, value in medians.items():
        ratio = value / baseline
        rows.append(Row("cold import", f"{name} function", value, "ms"))
        rows.append(Row("cold import", f"{name} / baseline", ratio, "x", f"<= {BUDGET_RATIO}x", ratio <= BUDGET_RATIO))
    if shutil.which("valgrind") is None:
        print("cold import in instructions: skipped, valgrind is not installed (apt-get install valgrind)")
        return rows
    for name, ratio in measure_instructions().items():
        rows.append(Row("cold import (instructions)", f"{name} / baseline", ratio, "x", "load-independent"))
    return rows
