"""jsii and the CDK CLI get node 22 (jsii's supported line) from the wheel, so nothing silences jsii's node warnings."""

from __future__ import annotations

import subprocess

from infra.paths import PROJECT_ROOT
from infra.toolchain import node_bin


def test_the_wheel_brings_node_22_with_npx():
    result = subprocess.run(
        [str(node_bin() / "node"), "--version"], check=True, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.startswith("v22."), result.stdout
    assert (node_bin() / "npx").is_file()


def test_make_runs_everything_on_that_node_and_silences_no_warning():
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "export PATH := $(CURDIR)/$(NODE_BIN):$(PATH)" in makefile
    assert "from infra.toolchain import node_bin" in makefile
    assert "JSII_SILENCE" not in makefile
