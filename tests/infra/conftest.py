"""Synthesizes the app once per test session, with every environment of cdk.json, for all infra tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.toolchain import node_bin

# jsii on node 22 (its supported line) also when pytest runs outside make, which puts that node first on PATH.
os.environ.setdefault("JSII_NODE", str(node_bin() / "node"))

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.application import build_app
from infra.config import EnvironmentConfig, load_environment, read_cdk_context
from infra.layer_build import AUTH_LAYER_GROUP, SCHEDULER_LAYER_GROUP, WORKFLOWS_LAYER_GROUP, ensure_layer
from infra.paths import PROJECT_ROOT
from infra.stack import TtaiStage
from infra.storage_layout import StorageLayout, load_storage_layout

ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Synthesized:
    app: cdk.App
    outdir: Path
    stages: dict[str, TtaiStage]
    templates: dict[str, Template]
    configs: dict[str, EnvironmentConfig]


@pytest.fixture(scope="session")
def cdk_context() -> dict[str, Any]:
    return read_cdk_context(PROJECT_ROOT)


@pytest.fixture(scope="session")
def layout() -> StorageLayout:
    return load_storage_layout(PROJECT_ROOT)


@pytest.fixture(scope="session")
def layer_dir() -> Path:
    return ensure_layer(PROJECT_ROOT)


@pytest.fixture(scope="session")
def auth_layer_dir() -> Path:
    return ensure_layer(PROJECT_ROOT, AUTH_LAYER_GROUP)


@pytest.fixture(scope="session")
def scheduler_layer_dir() -> Path:
    return ensure_layer(PROJECT_ROOT, SCHEDULER_LAYER_GROUP)


@pytest.fixture(scope="session")
def workflows_layer_dir() -> Path:
    return ensure_layer(PROJECT_ROOT, WORKFLOWS_LAYER_GROUP)


@pytest.fixture(scope="session")
def synthesized(cdk_context: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir), context=cdk_context)
    stages = build_app(app, root=PROJECT_ROOT)
    app.synth()
    return Synthesized(
        app=app,
        outdir=outdir,
        stages=stages,
        templates={name: Template.from_stack(stage.stack) for name, stage in stages.items()},
        configs={name: load_environment(cdk_context, name) for name in stages},
    )


@pytest.fixture(params=ENVIRONMENTS)
def env_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def template(synthesized: Synthesized, env_name: str) -> Template:
    return synthesized.templates[env_name]


@pytest.fixture
def config(synthesized: Synthesized, env_name: str) -> EnvironmentConfig:
    return synthesized.configs[env_name]
