"""The GitHub workflows' structure: no stored AWS keys, actions pinned by commit, least permissions per job, the OIDC
token only where a deploy runs, one deploy of an environment at a time, prod behind its environment.

actionlint and zizmor check the rest (make workflows-lint, part of make lint).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import load_ci_settings, read_cdk_context
from infra.paths import PROJECT_ROOT

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
AWS_KEY_INPUTS = ("aws-access-key-id", "aws-secret-access-key", "aws-session-token")
DEPLOY = re.compile(r"\bmake deploy\b")


def _load(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    assert WORKFLOWS, "no workflow in .github/workflows"
    return {path.name: _load(path) for path in WORKFLOWS}


def _jobs(workflows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{name}:{job_id}": job for name, workflow in workflows.items() for job_id, job in workflow["jobs"].items()}


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def _deploy_jobs(workflows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: job for name, job in _jobs(workflows).items() if DEPLOY.search(_runs(job))}


def _environment(job: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    if isinstance(environment, dict):
        environment = environment.get("name")
    return None if environment is None else str(environment)


def test_no_stored_aws_keys(workflows):
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        for key_input in AWS_KEY_INPUTS:
            assert key_input not in text, f"{path.name} passes {key_input}: AWS access is through OIDC only"
        assert not re.search(r"secrets\.AWS_", text), f"{path.name} reads an AWS secret"
    for name, job in _jobs(workflows).items():
        for step in job.get("steps", []):
            assert not set(step.get("with", {})) & set(AWS_KEY_INPUTS), name


def test_every_action_is_pinned_to_a_commit(workflows):
    jobs = _jobs(workflows).values()
    uses = [step["uses"] for job in jobs for step in job.get("steps", []) if "uses" in step]
    uses += [job["uses"] for job in jobs if "uses" in job]
    assert uses
    assert [use for use in uses if not PINNED.match(use)] == []


def test_checkout_keeps_no_credentials(workflows):
    checkouts = [
        step
        for job in _jobs(workflows).values()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


def test_permissions_are_empty_by_default_and_declared_per_job(workflows):
    for name, workflow in workflows.items():
        assert workflow.get("permissions") == {}, f"{name} must start from no permissions"
    for name, job in _jobs(workflows).items():
        assert isinstance(job.get("permissions"), dict), f"{name} declares no permissions"
        assert set(job["permissions"].values()) <= {"read", "write", "none"}
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert writes <= {"id-token"}, f"{name} writes {writes}"


def test_only_deploy_jobs_get_an_oidc_token_and_each_runs_in_its_environment(workflows):
    deploys = _deploy_jobs(workflows)
    assert deploys
    for name, job in _jobs(workflows).items():
        has_token = job["permissions"].get("id-token") == "write"
        assert has_token == (name in deploys), f"{name}: id-token write is for deploy jobs alone"
    for name, job in deploys.items():
        environment = _environment(job)
        assert environment, f"{name} deploys outside a GitHub environment, so no deploy role trusts it"
        assert f"ENV={environment}" in _runs(job), f"{name} runs in {environment} but deploys elsewhere"


def test_deploy_environments_are_the_ones_the_ci_stack_trusts(workflows):
    trusted = set(load_ci_settings(read_cdk_context(PROJECT_ROOT)).deploy_environments)
    assert {_environment(job) for job in _deploy_jobs(workflows).values()} == trusted


def test_two_deploys_of_one_environment_never_overlap(workflows):
    groups: dict[str, str] = {}
    for name, job in _deploy_jobs(workflows).items():
        concurrency = job.get("concurrency")
        assert isinstance(concurrency, dict), f"{name} has no concurrency group"
        assert concurrency["cancel-in-progress"] is False, f"{name} would cancel a deploy half-way"
        environment = _environment(job)
        assert concurrency["group"] == f"deploy-{environment}"
        assert "${{" not in concurrency["group"], "one group per environment, whatever the branch"
        groups[name] = concurrency["group"]
    assert len(set(groups.values())) == len(groups)


def test_prod_deploys_from_main_behind_its_environment_and_staging_from_pull_requests(workflows):
    by_environment = {_environment(job): job for job in _deploy_jobs(workflows).values()}
    prod, staging = by_environment["prod"], by_environment["staging"]
    assert "github.ref == 'refs/heads/main'" in prod["if"]
    assert "github.event_name == 'push'" in prod["if"]
    assert "github.event_name == 'pull_request'" in staging["if"]
    # Forks' pull requests are tested but never deployed.
    assert "github.event.pull_request.head.repo.full_name == github.repository" in staging["if"]
    assert "make --no-print-directory -s diff ENV=staging" in _runs(staging)
    assert "GITHUB_STEP_SUMMARY" in _runs(staging)
    for job in (prod, staging):
        assert job["needs"] == "test"


def test_make_test_runs_on_every_push_and_pull_request(workflows):
    [ci] = [workflow for workflow in workflows.values() if "test" in workflow["jobs"]]
    assert set(ci["on"]) >= {"push", "pull_request"}
    assert ci["on"]["push"] is None, "every branch"
    assert "make test" in _runs(ci["jobs"]["test"])
    cached = {step["with"]["path"] for step in ci["jobs"]["test"]["steps"] if "actions/cache@" in step.get("uses", "")}
    assert "~/.cache/uv" in cached
