"""TTAI's own workflows on the local runner, each playing its durable function for the stack: the variables a
deployed function would see name a function ARN per workflow, and an ``Env`` in this process whose binding names
that ARN reaches the runner instead of Lambda (``ttai.bindings.workflows.backend.host``). Each workflow's runs see
the ``Env`` of its own function (storage.json's spec that names the workflow), as they would deployed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.workflows import LocalWorkflows, VirtualClock, WallClock
from ttai.env import WORKFLOW_ARN_SUFFIX
from ttai.workflows import WORKFLOWS, workflow_class

ALIAS = "live"  # the alias the deployed stack invokes each workflow function through


def function_arn(stack_name: str, workflow: str, *, region: str, account: str) -> str:
    """The qualified ARN the local stack gives workflow ``workflow``'s stand-in function."""
    return f"arn:aws:lambda:{region}:{account}:function:{stack_name}-{workflow}-workflow:{ALIAS}"


def workflow_environ(stack_name: str, *, region: str, account: str) -> dict[str, str]:
    """``TTAI_<BINDING>_ARN`` for every workflow binding."""
    return {
        f"TTAI_{binding}{WORKFLOW_ARN_SUFFIX}": function_arn(stack_name, spec.name, region=region, account=account)
        for binding, spec in WORKFLOWS.items()
    }


def host_workflows(
    root: Path, clock: VirtualClock | WallClock, envs: Mapping[str, Any], environ: Mapping[str, str]
) -> LocalWorkflows:
    """Every TTAI workflow registered under its name, its runs seeing ``envs[binding]`` (its function's Env), and
    serving the ARN ``environ`` gives its binding; the executions a previous runner over ``root`` left unfinished
    resume."""
    local = LocalWorkflows(root, clock=clock)
    for binding, spec in WORKFLOWS.items():
        local.register(spec.name, workflow_class(binding), env=envs[binding])
        local.serve(spec.name, environ[f"TTAI_{binding}{WORKFLOW_ARN_SUFFIX}"])
    return local
