"""Shared fixtures: the whole program run once per stack under Pulumi mocks, per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ProgramRun, shared_run

STACKS = ("dev", "staging", "production")


def stack_run(stack: str) -> ProgramRun:
    """The program's registrations and outputs for one of the fixture catalog's stacks (one run per session)."""
    return shared_run(stack)


@pytest.fixture(params=STACKS)
def run(request: pytest.FixtureRequest) -> ProgramRun:
    """Parametrised over every stack."""
    return stack_run(request.param)


@pytest.fixture
def dev() -> ProgramRun:
    return stack_run("dev")


@pytest.fixture
def staging() -> ProgramRun:
    return stack_run("staging")


@pytest.fixture
def production() -> ProgramRun:
    return stack_run("production")


@pytest.fixture(params=("staging", "production"))
def gke_run(request: pytest.FixtureRequest) -> ProgramRun:
    """The stacks that create a GKE cluster."""
    return stack_run(request.param)
