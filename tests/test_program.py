"""The whole program, run per stack under mocks: it completes and registers a sane graph."""

from __future__ import annotations

from harness import ProgramRun


def test_every_stack_runs_and_exports_its_environment(run: ProgramRun) -> None:
    assert run.outputs["environment"] == run.stack


def test_urns_are_unique(run: ProgramRun) -> None:
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns))


def test_every_resource_is_parented_inside_the_platform(run: ProgramRun) -> None:
    # Only the Platform component hangs off the stack; everything else has a registered parent,
    # so URNs stay stable and `pulumi stack` shows one tree.
    urns = {r.urn for r in run.resources}
    platform = run.one("platform:index:Platform")
    assert platform.parent.endswith(f"pulumi:pulumi:Stack::platform-{run.stack}")
    orphans = [r.urn for r in run.resources if r is not platform and r.parent not in urns]
    assert orphans == []
