"""GKE Autopilot as a cluster mode: the same private cluster without node pools, pods admitted unchanged.

`autopilot` is the production fixture with `cluster.mode: autopilot` and no node pools. The cluster
tests run in both modes (parametrised over the Standard production run and the Autopilot one);
rejections run the whole program and check the exact line.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
from harness import ProgramRun, Registration, assert_rejected, run_program, stack_config

from components.planning.autopilot import MAX_RATIO, MIN_RATIO

CLUSTER = "gcp:container/cluster:Cluster"


def autopilot_config() -> dict[str, Any]:
    config = copy.deepcopy(stack_config("production"))
    config["platform:cluster"] = {**config["platform:cluster"], "mode": "autopilot"}
    config["platform:nodePools"] = []
    return config


@functools.cache
def autopilot_run() -> ProgramRun:
    return run_program("production", autopilot_config())


@pytest.fixture(params=("standard", "autopilot"))
def either(request: pytest.FixtureRequest, production: ProgramRun) -> ProgramRun:
    """The production fixture on GKE Standard and on GKE Autopilot."""
    return production if request.param == "standard" else autopilot_run()


def _cluster(run: ProgramRun) -> Registration:
    return run.one(CLUSTER)


# --------------------------------------------------------------------------- the cluster, in both modes


def test_the_cluster_is_private_with_the_dns_endpoint_in_both_modes(either: ProgramRun) -> None:
    inputs = _cluster(either).inputs
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is True
    dns = inputs["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]
    assert dns == {"allowExternalTraffic": True, "enableK8sTokensViaDns": False, "enableK8sCertsViaDns": False}
    assert "clusterDnsEndpoint" in either.outputs


def test_workload_identity_release_channel_and_maintenance_window_in_both_modes(either: ProgramRun) -> None:
    inputs = _cluster(either).inputs
    assert inputs["workloadIdentityConfig"] == {"workloadPool": "acme-shop-prod.svc.id.goog"}
    assert inputs["releaseChannel"] == {"channel": "STABLE"}
    assert inputs["maintenancePolicy"]["recurringWindow"]["recurrence"] == "FREQ=WEEKLY;BYDAY=SA,SU"
    assert inputs["deletionProtection"] is True
    assert _cluster(either).protect is True


def test_the_same_network_in_both_modes(either: ProgramRun, production: ProgramRun) -> None:
    subnets = [r.inputs["ipCidrRange"] for r in either.of_type("gcp:compute/subnetwork:Subnetwork")]
    assert subnets == [r.inputs["ipCidrRange"] for r in production.of_type("gcp:compute/subnetwork:Subnetwork")]
    assert _cluster(either).inputs["networkingMode"] == "VPC_NATIVE"


def test_everything_above_the_cluster_is_unchanged(production: ProgramRun) -> None:
    autopilot = autopilot_run()

    def kinds(run: ProgramRun) -> list[tuple[str, str, str | None]]:
        return sorted(
            (r.type, r.manifest.get("metadata", {}).get("name", ""), r.manifest.get("metadata", {}).get("namespace"))
            for r in run.resources
            if r.type.startswith("kubernetes:") and "Provider" not in r.type
        )

    assert kinds(autopilot) == kinds(production)


# --------------------------------------------------------------------------- what Autopilot changes


def test_autopilot_has_no_node_pools_and_runs_its_nodes_as_the_node_account() -> None:
    run = autopilot_run()
    inputs = _cluster(run).inputs
    assert inputs["enableAutopilot"] is True
    assert run.of_type("gcp:container/nodePool:NodePool") == []
    # No default pool to remove, no node settings Autopilot fixes itself.
    for field in ("removeDefaultNodePool", "initialNodeCount", "nodeConfig", "datapathProvider", "enableShieldedNodes"):
        assert field not in inputs, field
    defaults = inputs["clusterAutoscaling"]["autoProvisioningDefaults"]
    assert defaults["serviceAccount"].endswith("-nodes@acme-shop-prod.iam.gserviceaccount.com")
    assert run.outputs["nodePoolNames"] == []


def test_every_pod_passes_autopilot_request_rules_unchanged() -> None:
    run = autopilot_run()
    checked = 0
    for kind in ("Deployment", "StatefulSet"):
        for workload in run.k8s(kind):
            for container in workload.manifest["spec"]["template"]["spec"]["containers"]:
                requests = container["resources"]["requests"]
                cpu = float(requests["cpu"].removesuffix("m")) / (1000 if requests["cpu"].endswith("m") else 1)
                memory_gib = float(requests["memory"].removesuffix("Mi")) / 1024
                assert cpu >= 0.05 and memory_gib * 1024 >= 52
                assert MIN_RATIO <= memory_gib / cpu <= MAX_RATIO, workload.name
                assert requests["ephemeral-storage"] == container["resources"]["limits"]["ephemeral-storage"]
                checked += 1
    assert checked >= 3


def test_capacity_becomes_a_per_pod_admission_check() -> None:
    capacity = autopilot_run().outputs["capacity"]
    assert capacity["checked"] is True
    assert capacity["pods"]["storefront"] == {
        "cpuMillicores": 250,
        "memoryMiB": 256,
        "ephemeralStorageMiB": 320,
        "replicas": {"min": 3, "max": 12},
    }
    assert "pools" not in capacity


def test_cost_bills_pods_and_says_unknown_without_a_sourced_price() -> None:
    cost = autopilot_run().outputs["cost"]
    assert cost["pools"] == {}
    pods = cost["autopilotPods"]
    assert pods["monthlyUsd"] == "unknown"
    # (3 + 3 + 2) x 250m at the minimum; (12 + 10 + 8) x 250m at the maximum.
    assert pods["requested"]["min"]["vcpu"] == 2.0
    assert pods["requested"]["max"]["vcpu"] == 7.5
    assert cost["totalMonthlyUsd"] == {"min": "unknown", "max": "unknown"}


def test_no_headroom_or_compute_class_on_autopilot() -> None:
    run = autopilot_run()
    assert run.outputs["headroom"] == {}
    assert run.k8s("PriorityClass") == []
    assert run.k8s("ComputeClass") == []


def test_node_exporter_is_off_on_autopilot_only(production: ProgramRun) -> None:
    def exporter(run: ProgramRun) -> Any:
        [release] = [
            r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"
        ]
        return release.inputs["values"].get("nodeExporter")

    assert exporter(autopilot_run()) == {"enabled": False}
    assert exporter(production) is None


# --------------------------------------------------------------------------- rejections


def test_a_ratio_autopilot_would_change_is_refused_with_the_value_it_would_use() -> None:
    config = autopilot_config()
    config["platform:overrides"]["services"]["checkout"] = {
        **config["platform:overrides"]["services"].get("checkout", {}),
        "resources": {"requests": {"cpu": "1", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    }
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[checkout].resources.requests.memory: 256Mi for 1000m is 0.25 GiB per "
        "vCPU, below Autopilot's 1:1 CPU:memory ratio: it would raise the memory request to 1024Mi; request at least "
        "that (or less CPU)",
    )


def test_ephemeral_storage_above_autopilots_bound_is_refused() -> None:
    config = autopilot_config()
    config["platform:overrides"]["services"]["checkout"] = {
        **config["platform:overrides"]["services"].get("checkout", {}),
        "ephemeralStorage": "20Gi",
    }
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:services[checkout].ephemeralStorage: 20480Mi is outside Autopilot's 10Mi to "
        "10Gi for ephemeral storage",
    )


def test_node_pools_on_autopilot_are_refused() -> None:
    config = autopilot_config()
    config["platform:nodePools"] = copy.deepcopy(stack_config("production")["platform:nodePools"])
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:nodePools: an Autopilot cluster has no node pools (Google manages its nodes): "
        "remove nodePools",
    )
