"""app.py: one stage per environment, `-c env=NAME` picks one, and an unknown name stops synth with a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest

from infra.application import build_app
from infra.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_unknown_environment_fails_synth_and_names_the_known_ones(tmp_path: Path):
    environ = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        # What `cdk synth -c env=nope` hands the app.
        "CDK_CONTEXT_JSON": json.dumps({"env": "nope"}),
    }
    result = subprocess.run(
        [sys.executable, "app.py"],
        check=False,
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "unknown environment 'nope': cdk.json defines dev, staging, prod" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("*.template.json"))


def test_selecting_an_environment_builds_only_that_stage(cdk_context, tmp_path: Path):
    app = cdk.App(outdir=str(tmp_path), context={**cdk_context, "env": "staging"})
    stages = build_app(app, root=PROJECT_ROOT)
    assert list(stages) == ["staging"]
    assert [child.node.id for child in app.node.children if isinstance(child, cdk.Stage)] == ["staging"]
    assert stages["staging"].stack.stack_name == "ttai-staging"
