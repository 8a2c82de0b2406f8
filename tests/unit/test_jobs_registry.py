"""Jobs are named by "module:function" and imported when they run: every name must resolve."""

from __future__ import annotations

import importlib
import inspect

import pytest

from ttai.jobs import JOBS
from ttai.models.jobs import JOB_TYPES


@pytest.mark.parametrize("job_type", sorted(JOBS))
def test_every_registered_job_names_a_function_that_exists(job_type: str) -> None:
    runner = JOBS[job_type].runner
    assert isinstance(runner, str)
    module, _, function = runner.partition(":")
    target = getattr(importlib.import_module(module), function)
    assert list(inspect.signature(target).parameters) == ["ctx"]


def test_the_api_and_the_registry_know_the_same_job_types() -> None:
    assert set(JOBS) == set(JOB_TYPES)
