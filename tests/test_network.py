"""The cluster's network: custom-mode VPC, regional subnet with pod and service ranges, Cloud NAT."""

from __future__ import annotations

import functools

import pytest
from harness import ProgramRun, Registration, rejected, run_program, stack_config

NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
ROUTER = "gcp:compute/router:Router"
NAT = "gcp:compute/routerNat:RouterNat"

# The ranges each stack file declares, and the region its cluster location lies in.
EXPECTED = {
    "staging": {
        "region": "europe-west1",
        "subnet": "10.30.0.0/20",
        "pods": "10.32.0.0/14",
        "services": "10.36.0.0/20",
        "prefix": "shop-staging",
    },
    "production": {
        "region": "europe-west1",
        "subnet": "10.40.0.0/20",
        "pods": "10.44.0.0/14",
        "services": "10.48.0.0/20",
        "prefix": "shop-production",
    },
}


@functools.cache
def sampled_run() -> ProgramRun:
    """Staging with a flow-log sampling rate of its own."""
    config = stack_config("staging")
    config["platform:network"] = {**config["platform:network"], "flowLogSampling": 0.1}
    return run_program("staging", config)


def test_dev_registers_no_gcp_resource(dev: ProgramRun) -> None:
    assert [r.type for r in dev.resources if r.type.startswith("gcp:")] == []
    assert dev.of_type("platform:network:Network") == []


def test_the_vpc_is_custom_mode(gke_run: ProgramRun) -> None:
    vpc = gke_run.one(NETWORK)
    assert vpc.inputs["autoCreateSubnetworks"] is False
    assert vpc.inputs["routingMode"] == "REGIONAL"
    assert vpc.inputs["name"] == f"{EXPECTED[gke_run.stack]['prefix']}-vpc"
    assert vpc.inputs["project"] == stack_config(gke_run.stack)["gcp:project"]


def test_the_subnet_is_regional_in_the_vpc_with_the_configured_ranges(gke_run: ProgramRun) -> None:
    expected = EXPECTED[gke_run.stack]
    subnet = gke_run.one(SUBNET)
    assert subnet.inputs["region"] == expected["region"]
    assert subnet.inputs["ipCidrRange"] == expected["subnet"]
    assert subnet.inputs["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": expected["pods"]},
        {"rangeName": "services", "ipCidrRange": expected["services"]},
    ]
    vpc = gke_run.one(NETWORK)
    assert subnet.inputs["network"] == f"{vpc.name}-id"
    assert vpc.urn in subnet.dependencies


def test_the_subnet_has_private_google_access(gke_run: ProgramRun) -> None:
    assert gke_run.one(SUBNET).inputs["privateIpGoogleAccess"] is True


def test_flow_logs_sample_half_the_flows_by_default(gke_run: ProgramRun) -> None:
    assert gke_run.one(SUBNET).inputs["logConfig"] == {
        "aggregationInterval": "INTERVAL_5_SEC",
        "flowSampling": 0.5,
        "metadata": "INCLUDE_ALL_METADATA",
    }


def test_flow_log_sampling_comes_from_config() -> None:
    assert sampled_run().one(SUBNET).inputs["logConfig"]["flowSampling"] == 0.1


def _router_and_nat(run: ProgramRun) -> tuple[Registration, Registration]:
    return run.one(ROUTER), run.one(NAT)


def test_a_cloud_router_serves_the_vpc_in_the_cluster_region(gke_run: ProgramRun) -> None:
    router, _ = _router_and_nat(gke_run)
    vpc = gke_run.one(NETWORK)
    assert router.inputs["network"] == f"{vpc.name}-id"
    assert router.inputs["region"] == EXPECTED[gke_run.stack]["region"]
    assert router.inputs["name"] == f"{EXPECTED[gke_run.stack]['prefix']}-router"


def test_cloud_nat_gives_private_nodes_egress_with_auto_allocated_addresses(gke_run: ProgramRun) -> None:
    router, nat = _router_and_nat(gke_run)
    assert nat.inputs["router"] == router.inputs["name"]
    assert router.urn in nat.dependencies
    assert nat.inputs["region"] == EXPECTED[gke_run.stack]["region"]
    assert nat.inputs["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"
    assert nat.inputs["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}


def test_network_resources_are_children_of_the_network_component(gke_run: ProgramRun) -> None:
    component = gke_run.one("platform:network:Network")
    for typ in (NETWORK, SUBNET, ROUTER, NAT):
        assert gke_run.one(typ).parent == component.urn


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "podsCidr",
            "10.30.8.0/21",
            "platform:network.podsCidr: 10.30.8.0/21 overlaps network.subnetCidr (10.30.0.0/20); "
            "the subnet, pod, service and control-plane ranges must be disjoint",
        ),
        (
            "servicesCidr",
            "10.32.0.0/20",
            "platform:network.servicesCidr: 10.32.0.0/20 overlaps network.podsCidr (10.32.0.0/14); "
            "the subnet, pod, service and control-plane ranges must be disjoint",
        ),
    ],
)
def test_overlapping_ranges_are_rejected(key: str, value: str, message: str) -> None:
    config = stack_config("staging")
    config["platform:network"] = {**config["platform:network"], key: value}
    error, registered = rejected("staging", config)
    assert error == f"stack 'staging': {message}"
    assert registered == 0
