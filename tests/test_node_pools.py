"""Node pools and the node service account: hardened, autoscaled, spot pools tainted, least privilege."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest
from harness import ProgramRun, Registration, rejected, run_program, stack_config

POOL = "gcp:container/nodePool:NodePool"
ACCOUNT = "gcp:serviceaccount/account:Account"
MEMBER = "gcp:projects/iAMMember:IAMMember"
SPOT_TAINT = {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"}
NODE_ROLES = {
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
}
# (min, max) nodes per zone and the location policy each stack file's pools end up with.
SIZES = {
    "staging": {"base": (1.0, 2.0, "BALANCED"), "spot": (0.0, 4.0, "ANY")},
    "production": {"base": (1.0, 3.0, "BALANCED"), "spot": (0.0, 5.0, "ANY")},
}
PROJECTS = {"staging": "acme-shop-staging", "production": "acme-shop-prod"}
LOCATIONS = {"staging": "europe-west1-b", "production": "europe-west1"}
CLUSTER_NAMES = {"staging": "shop-staging", "production": "shop-production"}


def pool(run: ProgramRun, name: str) -> Registration:
    """The registered NodePool for the config pool `name` (its generated name starts with `name-`)."""
    found = [r for r in run.of_type(POOL) if r.inputs["namePrefix"] == f"{name}-"]
    assert len(found) == 1, [r.inputs["namePrefix"] for r in run.of_type(POOL)]
    return found[0]


def node_account(run: ProgramRun) -> Registration:
    component = run.one("platform:nodes:NodeServiceAccount")
    return next(r for r in run.of_type(ACCOUNT) if r.parent == component.urn)


def node_email(run: ProgramRun) -> str:
    return f"{CLUSTER_NAMES[run.stack]}-nodes@{PROJECTS[run.stack]}.iam.gserviceaccount.com"


@functools.cache
def customised_run() -> ProgramRun:
    """Staging with a long cluster name and pools that set labels, taints, zones, sizes and the kubelet port."""
    config = stack_config("staging")
    config["platform:cluster"] = {**config["platform:cluster"], "name": "shop-staging-with-a-long-cluster-name"}
    base, spot = config["platform:nodePools"]
    config["platform:nodePools"] = [
        {
            **base,
            "machineType": "n2-standard-8",
            "diskSizeGb": 200,
            "diskType": "pd-ssd",
            "nodeLocations": ["europe-west1-b", "europe-west1-c"],
            "labels": {"workload-type": "compute"},
            "taints": [{"key": "dedicated", "value": "compute", "effect": "PREFER_NO_SCHEDULE"}],
        },
        {
            **spot,
            "locationPolicy": "BALANCED",
            "kubeletReadOnlyPort": True,
            "labels": {"workload-type": "batch"},
            "taints": [{"key": "dedicated", "value": "batch", "effect": "PREFER_NO_SCHEDULE"}],
        },
    ]
    return run_program("staging", config)


# --------------------------------------------------------------------------- pools


def test_each_configured_pool_is_a_separate_node_pool_of_the_cluster(gke_run: ProgramRun) -> None:
    cluster = gke_run.one("gcp:container/cluster:Cluster")
    pools = gke_run.of_type(POOL)
    assert sorted(r.inputs["namePrefix"] for r in pools) == ["base-", "spot-"]
    for registered in pools:
        assert registered.inputs["cluster"] == CLUSTER_NAMES[gke_run.stack]
        assert cluster.urn in registered.dependencies
        assert registered.inputs["location"] == LOCATIONS[gke_run.stack]
        assert registered.inputs["project"] == PROJECTS[gke_run.stack]


def test_pool_names_are_generated_so_a_replacement_is_created_before_the_old_pool_goes(gke_run: ProgramRun) -> None:
    for registered in gke_run.of_type(POOL):
        assert "name" not in registered.inputs
        assert registered.delete_before_replace is False
    names = gke_run.outputs["nodePoolNames"]
    assert len(names) == 2
    assert re.fullmatch(r"base-[0-9a-f]{8}", names[0])
    assert re.fullmatch(r"spot-[0-9a-f]{8}", names[1])


def test_the_autoscaler_owns_the_size_so_a_new_minimum_does_not_replace_the_pool(gke_run: ProgramRun) -> None:
    for name, (minimum, _, _) in SIZES[gke_run.stack].items():
        registered = pool(gke_run, name)
        assert registered.inputs["initialNodeCount"] == minimum
        assert registered.ignore_changes == ("initialNodeCount",)


def test_pools_autoscale_per_zone_with_a_location_policy(gke_run: ProgramRun) -> None:
    for name, (minimum, maximum, policy) in SIZES[gke_run.stack].items():
        assert pool(gke_run, name).inputs["autoscaling"] == {
            "minNodeCount": minimum,
            "maxNodeCount": maximum,
            "locationPolicy": policy,
        }


def test_a_spot_pool_is_spot_and_carries_the_spot_taint(gke_run: ProgramRun) -> None:
    node_config = pool(gke_run, "spot").inputs["nodeConfig"]
    assert node_config["spot"] is True
    assert node_config["taints"] == [SPOT_TAINT]


def test_a_regular_pool_is_on_demand_and_untainted(gke_run: ProgramRun) -> None:
    node_config = pool(gke_run, "base").inputs["nodeConfig"]
    assert node_config["spot"] is False
    assert node_config["taints"] == []


def test_every_pool_is_repaired_and_upgraded_by_surge_without_losing_a_node(gke_run: ProgramRun) -> None:
    for registered in gke_run.of_type(POOL):
        assert registered.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
        assert registered.inputs["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 1.0, "maxUnavailable": 0.0}


def test_every_pool_runs_hardened_nodes_as_the_node_service_account(gke_run: ProgramRun) -> None:
    for registered in gke_run.of_type(POOL):
        node_config = registered.inputs["nodeConfig"]
        assert node_config["imageType"] == "COS_CONTAINERD"
        assert node_config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert node_config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert node_config["serviceAccount"] == node_email(gke_run)
        assert node_config["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
        # The kubelet's unauthenticated read-only port (10255) is closed.
        assert node_config["kubeletConfig"] == {"insecureKubeletReadonlyPortEnabled": "FALSE"}


def test_a_pool_can_open_the_kubelet_read_only_port_for_itself_only() -> None:
    run = customised_run()
    assert pool(run, "spot").inputs["nodeConfig"]["kubeletConfig"] == {"insecureKubeletReadonlyPortEnabled": "TRUE"}
    assert pool(run, "base").inputs["nodeConfig"]["kubeletConfig"] == {"insecureKubeletReadonlyPortEnabled": "FALSE"}


def test_machine_type_and_disk_defaults(gke_run: ProgramRun) -> None:
    # The stack files set only machineType; disk size and type are the model's defaults.
    for registered in gke_run.of_type(POOL):
        node_config = registered.inputs["nodeConfig"]
        assert node_config["machineType"] == "e2-standard-4"
        assert node_config["diskSizeGb"] == 100.0
        assert node_config["diskType"] == "pd-balanced"
        assert node_config["labels"] == {}
        assert "nodeLocations" not in registered.inputs


def test_machine_disk_labels_taints_and_zones_come_from_config() -> None:
    base = pool(customised_run(), "base")
    node_config = base.inputs["nodeConfig"]
    assert node_config["machineType"] == "n2-standard-8"
    assert node_config["diskSizeGb"] == 200.0
    assert node_config["diskType"] == "pd-ssd"
    assert node_config["labels"] == {"workload-type": "compute"}
    assert node_config["taints"] == [{"key": "dedicated", "value": "compute", "effect": "PREFER_NO_SCHEDULE"}]
    assert base.inputs["nodeLocations"] == ["europe-west1-b", "europe-west1-c"]


def test_a_spot_pool_keeps_its_own_taints_and_gets_the_spot_taint_too() -> None:
    spot = pool(customised_run(), "spot")
    assert spot.inputs["nodeConfig"]["taints"] == [
        {"key": "dedicated", "value": "batch", "effect": "PREFER_NO_SCHEDULE"},
        SPOT_TAINT,
    ]
    assert spot.inputs["autoscaling"]["locationPolicy"] == "BALANCED"


def test_pools_wait_for_the_node_roles_and_the_nat(gke_run: ProgramRun) -> None:
    # Nodes that boot before their IAM roles or egress exist fail to pull images and report nothing.
    bindings = {r.urn for r in gke_run.of_type(MEMBER) if r.inputs["member"] == f"serviceAccount:{node_email(gke_run)}"}
    nat = gke_run.one("gcp:compute/routerNat:RouterNat")
    assert len(bindings) == len(NODE_ROLES)
    for registered in gke_run.of_type(POOL):
        assert bindings <= set(registered.dependencies)
        assert nat.urn in registered.dependencies


# --------------------------------------------------------------------------- node service account


def test_the_nodes_have_a_dedicated_service_account(gke_run: ProgramRun) -> None:
    account = node_account(gke_run)
    assert account.inputs["accountId"] == f"{CLUSTER_NAMES[gke_run.stack]}-nodes"
    assert account.inputs["project"] == PROJECTS[gke_run.stack]
    assert gke_run.outputs["nodeServiceAccountEmail"] == node_email(gke_run)


def test_a_long_cluster_name_still_gives_a_valid_account_id() -> None:
    # Service account ids are 6-30 characters: the cluster name is cut to 24 before "-nodes".
    account = node_account(customised_run())
    assert account.inputs["accountId"] == "shop-staging-with-a-long-nodes"


def test_the_node_service_account_has_exactly_the_least_privilege_roles(gke_run: ProgramRun) -> None:
    component = gke_run.one("platform:nodes:NodeServiceAccount")
    bindings = [r for r in gke_run.of_type(MEMBER) if r.parent == component.urn]
    assert {r.inputs["role"] for r in bindings} == NODE_ROLES
    assert len(bindings) == len(NODE_ROLES)
    account = node_account(gke_run)
    for binding in bindings:
        assert binding.inputs["member"] == f"serviceAccount:{node_email(gke_run)}"
        assert binding.inputs["project"] == PROJECTS[gke_run.stack]
        assert account.urn in binding.dependencies


def test_dev_registers_no_pool_and_no_service_account(dev: ProgramRun) -> None:
    assert dev.of_type(POOL) == []
    assert dev.of_type(ACCOUNT) == []
    assert dev.of_type(MEMBER) == []


# --------------------------------------------------------------------------- rejected pool configs


def _with_base_pool(stack: str, **changes: Any) -> dict[str, Any]:
    config = stack_config(stack)
    base, *others = config["platform:nodePools"]
    config["platform:nodePools"] = [{**base, **changes}, *others]
    return config


def test_a_pool_whose_minimum_exceeds_its_maximum_is_rejected() -> None:
    error, registered = rejected("staging", _with_base_pool("staging", minNodes=3, maxNodes=2))
    assert error == (
        "stack 'staging': platform:nodePools[base].maxNodes: 2 is below minNodes (3); maxNodes must be >= minNodes"
    )
    assert registered == 0


def test_an_unknown_taint_effect_is_rejected() -> None:
    taints = [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
    error, registered = rejected("staging", _with_base_pool("staging", taints=taints))
    assert error == (
        "stack 'staging': platform:nodePools[base].taints[0].effect: "
        "input should be 'NO_SCHEDULE', 'PREFER_NO_SCHEDULE' or 'NO_EXECUTE' (got \"NoSchedule\")"
    )
    assert registered == 0


@pytest.mark.parametrize("zone", ["us-east1-b", "europe-west1"])
def test_a_pool_zone_outside_the_cluster_region_is_rejected(zone: str) -> None:
    error, registered = rejected("production", _with_base_pool("production", nodeLocations=["europe-west1-b", zone]))
    assert error == (
        f"stack 'production': platform:nodePools[base].nodeLocations[1]: "
        f"'{zone}' is not a zone of the cluster's region 'europe-west1'"
    )
    assert registered == 0
