"""Headroom: placeholder pods below every service's priority keep room warm so a scale-up needs no new node.

`busy` is the production fixture with storefront allowed to 40 replicas: its scale-up then outgrows
the base pool's free room at its minimum. Figures are hand-computed from the capacity model: an
e2-standard-4 node offers 3520m / 13022 MiB after reservations and DaemonSets; the base pool keeps
3 nodes (1 per zone, 3 zones) at its minimum; every service pod requests 250m / 256Mi.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
from harness import ProgramRun, Registration, run_program, stack_config

POOL = "gcp:container/nodePool:NodePool"


def _busy_config(headroom: Any = None, stack: str = "production") -> dict[str, Any]:
    config = copy.deepcopy(stack_config(stack))
    overrides = config["platform:overrides"]["services"]
    overrides.setdefault("storefront", {})["autoscaling"] = {"minReplicas": 3, "maxReplicas": 40}
    if headroom is not None:
        config["platform:nodePools"][0]["headroom"] = headroom
    return config


@functools.cache
def busy_run() -> ProgramRun:
    return run_program("production", _busy_config())


@functools.cache
def cold_run() -> ProgramRun:
    return run_program("production", _busy_config("off"))


@pytest.fixture
def busy() -> ProgramRun:
    return busy_run()


def _placeholders(run: ProgramRun) -> list[Registration]:
    return [d for d in run.k8s("Deployment") if d.manifest["metadata"]["namespace"] == "platform-headroom"]


# --------------------------------------------------------------------------- sizing


def test_production_sizes_headroom_for_the_routed_services_whole_scale_up(busy: ProgramRun) -> None:
    # Need: storefront 3 -> 40 (37 pods) + checkout 3 -> 10 (7 pods) = 44 x 250m = 11000m, more than the
    # 3 x 3520m - 6 x 250m = 9060m free at the minimum; placeholders hold all of it (they take free room too).
    room = busy.outputs["headroom"]["base"]
    assert room["pods"] == 44
    assert room["perPod"] == {"cpuMillicores": 250, "memoryMiB": 256, "ephemeralStorageMiB": 320}
    assert room["for"] == ["storefront", "checkout"]
    # 11000m - 9060m = 1940m beyond the free room: one more node.
    assert room["extraNodes"] == 1


def test_placeholders_run_pause_on_the_pool_below_every_service(busy: ProgramRun) -> None:
    [deployment] = _placeholders(busy)
    spec = deployment.manifest["spec"]
    assert spec["replicas"] == 44
    pod = spec["template"]["spec"]
    assert pod["priorityClassName"] == "platform-headroom"
    [pool] = [r for r in busy.of_type(POOL) if r.inputs["namePrefix"] == "base-"]
    assert pod["nodeSelector"]["cloud.google.com/gke-nodepool"].startswith("base-")
    [container] = pod["containers"]
    assert container["image"].startswith("registry.k8s.io/pause:3.10.1@sha256:")
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "320Mi"}
    assert container["resources"]["limits"] == container["resources"]["requests"]
    # Pending placeholders never hold up `pulumi up`.
    assert deployment.manifest["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert pool.inputs["namePrefix"] == "base-"


def test_the_placeholders_priority_is_below_every_services_and_never_preempts(busy: ProgramRun) -> None:
    [priority] = busy.k8s("PriorityClass", "platform-headroom")
    assert priority.manifest["value"] == -10
    assert priority.manifest["preemptionPolicy"] == "Never"
    assert priority.manifest["globalDefault"] is False
    # Services keep Kubernetes' default priority 0: no PriorityClass of their own.
    services = [d for d in busy.k8s("Deployment") if d.manifest["metadata"]["namespace"] != "platform-headroom"]
    assert services
    for deployment in services:
        assert "priorityClassName" not in deployment.manifest["spec"]["template"]["spec"]
    assert busy.k8s("PriorityClass") == [priority]


def test_placeholders_carry_no_disruption_budget(busy: ProgramRun) -> None:
    budgets = [p for p in busy.k8s("PodDisruptionBudget") if p.manifest["metadata"]["namespace"] == "platform-headroom"]
    assert budgets == []


def test_headroom_removes_the_node_wait_from_the_scale_up(busy: ProgramRun) -> None:
    scale = busy.outputs["timing"]["services"]["storefront"]["scaleUp"]
    # Without it: 37 x 250m = 9250m > 9060m free, one node: scan 10 + provisioning 90 + image pull 10.
    assert scale["nodesNeeded"] == 0
    assert scale["secondsWithoutHeadroom"] - scale["seconds"] == 110
    cold = cold_run().outputs["timing"]["services"]["storefront"]["scaleUp"]
    assert cold["nodesNeeded"] == 1
    assert cold["seconds"] == scale["secondsWithoutHeadroom"]


def test_headroom_off_keeps_no_placeholders() -> None:
    run = cold_run()
    assert _placeholders(run) == []
    assert run.k8s("PriorityClass") == []
    assert run.outputs["headroom"] == {}


def test_cost_shows_what_headroom_costs(busy: ProgramRun) -> None:
    cost = busy.outputs["cost"]
    # One e2-standard-4 at $0.14743092/h, 730 h; added to the minimum total only (at the maximum the pools are full).
    assert cost["headroom"]["base"] == {
        "placeholderPods": 44,
        "extraNodes": 1,
        "monthlyUsd": round(0.14743092 * 730, 2),
    }
    assert cost["headroomMonthlyUsd"] == {"min": round(0.14743092 * 730, 2), "max": 0.0}
    cold = cold_run().outputs["cost"]
    assert cost["totalMonthlyUsd"]["min"] == pytest.approx(cold["totalMonthlyUsd"]["min"] + 0.14743092 * 730, abs=0.02)


# --------------------------------------------------------------------------- other environments and sizes


def test_staging_keeps_no_headroom_by_default(staging: ProgramRun) -> None:
    assert staging.outputs["headroom"] == {}
    assert staging.k8s("PriorityClass") == []


def test_an_explicit_size_on_a_spot_pool_tolerates_its_taint() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:nodePools"][1]["headroom"] = {"cpu": "500m", "memory": "1Gi", "replicas": 2}
    run = run_program("staging", config)
    [deployment] = _placeholders(run)
    pod = deployment.manifest["spec"]["template"]["spec"]
    assert deployment.manifest["spec"]["replicas"] == 2
    assert pod["containers"][0]["resources"]["requests"] == {
        "cpu": "500m",
        "memory": "1024Mi",
        "ephemeral-storage": "64Mi",
    }
    assert pod["nodeSelector"]["cloud.google.com/gke-nodepool"].startswith("spot-")
    assert pod["tolerations"] == [
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]


def test_no_headroom_on_an_existing_cluster_by_default(dev: ProgramRun) -> None:
    assert dev.outputs["headroom"] == {}


def test_an_existing_clusters_described_pool_keeps_an_explicit_headroom() -> None:
    # The e2e harness's kwok pools: placeholders pinned by the pool's own name, preempted by any service.
    config = copy.deepcopy(stack_config("dev"))
    config["platform:nodePools"] = [{"name": "regular", "headroom": {"cpu": "250m", "memory": "256Mi", "replicas": 2}}]
    run = run_program("dev", config)
    [deployment] = _placeholders(run)
    pod = deployment.manifest["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-nodepool": "regular"}
    assert pod["priorityClassName"] == "platform-headroom"
    assert deployment.manifest["spec"]["replicas"] == 2
    assert run.outputs["headroom"]["regular"]["pods"] == 2


def test_only_the_pause_placeholders_are_excused_from_probes(busy: ProgramRun) -> None:
    from gates import _is_headroom_placeholder, manifests

    excused = {m.body["metadata"]["name"] for m in manifests(busy) if _is_headroom_placeholder(m)}
    assert excused == {"headroom-base"}
    [placeholder] = [m for m in manifests(busy) if m.body["metadata"].get("name") == "headroom-base"]
    other_image = copy.deepcopy(placeholder.body)
    other_image["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.36"
    assert not _is_headroom_placeholder(type(placeholder)(other_image, placeholder.resource_name))
