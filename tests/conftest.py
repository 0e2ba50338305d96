"""Shared fixtures: campaign files written by the tests, the shared datasets folder, a local Ray."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TESTS_AGENTS = Path(__file__).resolve().parent / "agents"


@pytest.fixture
def shared_datasets() -> Path:
    """../shared/datasets, or skip when the shared folder is absent."""
    path = SHARED / "datasets"
    if not path.is_dir():
        pytest.skip("../shared/datasets is absent")
    return path


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray (2 CPUs) whose workers can import the tests' evaluator modules."""
    import ray

    sys.path.insert(0, str(TESTS_AGENTS))
    pythonpath = os.pathsep.join([str(TESTS_AGENTS), os.environ.get("PYTHONPATH", "")])
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": pythonpath}},
    )
    yield ray
    ray.shutdown()
