"""The whole program, run per stack under mocks: it completes and registers a sane graph."""

from __future__ import annotations

from harness import FIXTURE_DIR, ProgramRun, assert_rejected, project_name


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
    # The stack resource is named `<project>-<stack>`, the project being the one whose files ran.
    assert platform.parent.endswith(f"pulumi:pulumi:Stack::{project_name(FIXTURE_DIR)}-{run.stack}")
    orphans = [r.urn for r in run.resources if r is not platform and r.parent not in urns]
    assert orphans == []


def test_bad_config_stops_before_any_resource_is_registered() -> None:
    from harness import stack_config

    config = stack_config("production")
    config["platform:servics"] = []
    assert_rejected(
        "production",
        config,
        (
            "stack 'production': platform:servics: unknown key; did you mean 'services'? allowed: environment, app, "
            "domain, cluster, network, nodePools, namespaces, configMaps, secrets, services, ingress, addons, dataServices, dataTls, backup, timing, overrides, catalogFiles or a key named by a 'config' secret"
        ),
    )


def test_every_kubernetes_object_waits_for_every_node_pool(gke_run: ProgramRun) -> None:
    # Directly or through what it depends on (its Namespace, a Helm release): nothing is created
    # into a cluster that has no nodes yet.
    by_urn = {r.urn: r for r in gke_run.resources}
    pools = {r.urn for r in gke_run.of_type("gcp:container/nodePool:NodePool")}
    assert len(pools) == 2

    def closure(urn: str, seen: set[str]) -> set[str]:
        for dependency in by_urn[urn].dependencies:
            if dependency not in seen and dependency in by_urn:
                seen.add(dependency)
                closure(dependency, seen)
        return seen

    objects = [
        r
        for r in gke_run.resources
        if r.custom and r.type.startswith("kubernetes:") and not r.type.startswith("pulumi:")
    ]
    assert len(objects) > 50
    early = [r.urn for r in objects if not pools <= closure(r.urn, set())]
    assert early == []


def test_every_kubernetes_object_uses_the_platforms_provider(run: ProgramRun) -> None:
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    objects = [r for r in run.resources if r.custom and r.type.startswith("kubernetes:")]
    assert {r.provider.rsplit("::", 1)[0] for r in objects} == {provider.urn}
