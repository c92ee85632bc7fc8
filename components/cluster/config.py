"""Config of the cluster domain: the GKE cluster, its network and its node pools.

`ClusterConfig`, `NetworkConfig` and `NodePoolConfig` are the typed slices the cluster component
takes; the `check_*` functions below are the rules that relate their fields to each other. Rules
that reach into other domains (a service's spot placement needing a spot pool) live in
`config/checks.py`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, model_validator

from components.errors import Problem
from components.values import Cidr, DnsLabel, Labels, Model


class MaintenanceWindow(Model):
    """A recurring window (RFC 5545 RRULE) in which GKE may upgrade the control plane and nodes."""

    start_time: str = "2025-01-04T02:00:00Z"
    end_time: str = "2025-01-04T08:00:00Z"
    recurrence: str = "FREQ=WEEKLY;BYDAY=SA,SU"


class AuthorizedNetwork(Model):
    cidr_block: Cidr
    display_name: str


class ControlPlaneConfig(Model):
    """How the control plane is reached: the IAM-gated DNS endpoint and the IP endpoint."""

    # Google's front end serves the cluster's DNS name and admits only identities with the IAM
    # permission container.clusters.connect: no source-IP list, no runner inside the network.
    dns_endpoint: bool = True
    # private: the IP endpoint has only its internal address in the VPC. public: it also has a
    # public address, which admits only cluster.masterAuthorizedNetworks.
    ip_endpoint: Literal["private", "public"] = "private"


class ClusterConfig(Model):
    # existing: target a cluster you already have (kind, minikube) through a kubeconfig context
    # and create no GCP resources. gke: create the VPC, the cluster and its node pools.
    mode: Literal["existing", "gke"] = "existing"
    name: DnsLabel = "platform-${environment}"
    # A region ("europe-west1") makes a regional cluster; a zone ("europe-west1-b") a zonal one.
    location: str = "europe-west1"
    kubeconfig: str = "~/.kube/config"
    context: str = "kind-platform"
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    maintenance_window: MaintenanceWindow = MaintenanceWindow()
    master_ipv4_cidr: Cidr = "172.16.0.0/28"
    control_plane: ControlPlaneConfig = ControlPlaneConfig()
    master_authorized_networks: list[AuthorizedNetwork] = []
    binary_authorization: bool = False
    # BASIC is GKE's standard tier: workload configuration auditing in the security posture dashboard.
    security_posture: Literal["BASIC", "DISABLED"] = "BASIC"
    # Dataplane V2 (eBPF) enforces NetworkPolicy itself; off, the cluster falls back to Calico.
    dataplane_v2: bool = True
    # FQDNNetworkPolicy: egress to Google APIs and managed services named by host, not opened by CIDR.
    fqdn_network_policy: bool = True
    # The Secret Manager add-on: pods mount Secret Manager secrets through the CSI driver.
    secret_manager: bool = True

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: Any) -> Any:
        # privateEndpoint predates controlPlane; say where it went rather than just 'unknown key'.
        if isinstance(data, dict) and "privateEndpoint" in data:
            raise ValueError(
                "privateEndpoint was replaced by controlPlane.ipEndpoint: write "
                "'controlPlane: {ipEndpoint: private}' (privateEndpoint: true) or "
                "'controlPlane: {ipEndpoint: public}' (privateEndpoint: false)"
            )
        return data

    @property
    def regional(self) -> bool:
        return re.fullmatch(r"[a-z]+-[a-z]+\d+", self.location) is not None

    @property
    def region(self) -> str:
        return self.location if self.regional else self.location.rsplit("-", 1)[0]


class NetworkConfig(Model):
    subnet_cidr: Cidr = "10.10.0.0/20"
    pods_cidr: Cidr = "10.16.0.0/14"
    services_cidr: Cidr = "10.20.0.0/20"
    # The proxy-only subnet regional Gateway classes need (a /23 is Google's recommended size).
    proxy_only_cidr: Cidr = "10.24.0.0/23"
    # Reserved for Private Service Access (Cloud SQL, Memorystore): Google's producer networks take
    # their private addresses from it, peered with the VPC. Only used when a data service is managed.
    private_services_cidr: Cidr = "10.200.0.0/20"
    flow_log_sampling: float = Field(0.5, ge=0.0, le=1.0)


class Taint(Model):
    key: str
    value: str = ""
    effect: Literal["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"]


class NodePoolConfig(Model):
    name: DnsLabel
    spot: bool = False
    machine_type: str = "e2-standard-4"
    disk_size_gb: int = Field(100, ge=20, le=65536)
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-balanced"
    # Per zone, as GKE's autoscaler counts them.
    min_nodes: int = Field(1, ge=0, le=1000)
    max_nodes: int = Field(3, ge=1, le=1000)
    # BALANCED spreads nodes evenly over zones; ANY favours zones with free (spot) capacity.
    location_policy: Literal["BALANCED", "ANY"] | None = None
    # Zones for the pool's nodes; empty means the cluster's zone, or GKE's default three for a region.
    node_locations: list[str] = []
    labels: Labels = {}
    taints: list[Taint] = []
    # The kubelet's unauthenticated read-only port (10255) exposes pod specs and metrics to anything on the node network.
    kubelet_read_only_port: bool = False

    @property
    def effective_location_policy(self) -> str:
        return self.location_policy or ("ANY" if self.spot else "BALANCED")


# --------------------------------------------------------------------------- rules


def check_cluster(cluster: ClusterConfig, *, production: bool, project: str | None) -> Iterator[Problem]:
    if not re.fullmatch(r"[a-z]+-[a-z]+\d+(-[a-z])?", cluster.location):
        yield (
            "cluster.location",
            f"'{cluster.location}' is neither a GCP region (europe-west1) nor a zone (europe-west1-b)",
        )
    elif production and cluster.mode == "gke" and not cluster.regional:
        yield (
            "cluster.location",
            (
                f"production clusters must be regional (a region such as '{cluster.region}'), got zone '{cluster.location}'"
            ),
        )
    if production and cluster.mode != "gke":
        yield "cluster.mode", "production must create its GKE cluster: set mode to 'gke'"
    if cluster.mode == "gke" and not project:
        yield "cluster.mode", "mode 'gke' needs a GCP project: run `pulumi config set gcp:project <project-id>`"
    if cluster.mode == "gke" and len(cluster.name) > 40:
        yield "cluster.name", f"'{cluster.name}' has {len(cluster.name)} characters; GKE cluster names have at most 40"
    yield from check_control_plane(cluster)
    if cluster.fqdn_network_policy and not cluster.dataplane_v2:
        yield (
            "cluster.fqdnNetworkPolicy",
            "FQDN network policies need Dataplane V2: set dataplaneV2 to true, or fqdnNetworkPolicy to false",
        )


def check_control_plane(cluster: ClusterConfig) -> Iterator[Problem]:
    access = cluster.control_plane
    if not access.dns_endpoint and access.ip_endpoint == "public" and not cluster.master_authorized_networks:
        yield (
            "cluster.controlPlane.dnsEndpoint",
            "with the DNS endpoint off, a public IP endpoint needs masterAuthorizedNetworks to say who may "
            "reach it: keep dnsEndpoint true, list the networks, or set ipEndpoint to private",
        )


def check_network(network: NetworkConfig, cluster: ClusterConfig) -> Iterator[Problem]:
    ranges = [
        ("network.subnetCidr", network.subnet_cidr),
        ("network.podsCidr", network.pods_cidr),
        ("network.servicesCidr", network.services_cidr),
        ("network.proxyOnlyCidr", network.proxy_only_cidr),
        ("network.privateServicesCidr", network.private_services_cidr),
        ("cluster.masterIpv4Cidr", cluster.master_ipv4_cidr),
    ]
    for i, (path, cidr) in enumerate(ranges):
        for other_path, other in ranges[:i]:
            if ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(other)):
                yield (
                    path,
                    f"{cidr} overlaps {other_path} ({other}); the subnet, pod, service and control-plane ranges must be disjoint",
                )
    if ipaddress.ip_network(network.private_services_cidr).prefixlen > 24:
        yield (
            "network.privateServicesCidr",
            "Private Service Access needs at least a /24 (Cloud SQL takes a /24 per region); use /24 to /16",
        )
    if ipaddress.ip_network(cluster.master_ipv4_cidr).prefixlen != 28:
        yield "cluster.masterIpv4Cidr", "the control-plane range of a private cluster must be a /28"


def check_node_pools(pools: list[NodePoolConfig], cluster: ClusterConfig, *, production: bool) -> Iterator[Problem]:
    for index, pool in enumerate(pools):
        path = f"nodePools[{index}]"
        if pool.min_nodes > pool.max_nodes:
            yield (
                f"{path}.maxNodes",
                f"{pool.max_nodes} is below minNodes ({pool.min_nodes}); maxNodes must be >= minNodes",
            )
        if len(pool.name) > 30:
            yield (
                f"{path}.name",
                "at most 30 characters: GKE appends a random suffix to keep replacements create-before-delete",
            )
        for z_index, zone in enumerate(pool.node_locations):
            if not re.fullmatch(rf"{re.escape(cluster.region)}-[a-z]", zone):
                yield (
                    f"{path}.nodeLocations[{z_index}]",
                    f"'{zone}' is not a zone of the cluster's region '{cluster.region}'",
                )
        for t_index, taint in enumerate(pool.taints):
            if taint.key == "cloud.google.com/gke-spot":
                yield (
                    f"{path}.taints[{t_index}].key",
                    "the spot taint is added to every spot pool by the platform; do not declare it",
                )
    if cluster.mode == "gke":
        if not pools:
            yield "nodePools", "mode 'gke' needs at least one node pool"
        elif not any(not pool.spot for pool in pools):
            yield (
                "nodePools",
                "declare at least one regular (spot: false) pool so that critical services have on-demand nodes",
            )
        elif production and not any(not p.spot and p.min_nodes >= 1 for p in pools):
            yield "nodePools", "production needs an on-demand baseline: a regular pool with minNodes >= 1"
