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
from components.values import Cidr, Cpu, DnsLabel, Labels, Memory, Model


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
    # and create no GCP resources. gke: create the VPC, a GKE Standard cluster and its node pools.
    # autopilot: create the VPC and a GKE Autopilot cluster, whose nodes Google manages (no node pools).
    mode: Literal["existing", "gke", "autopilot"] = "existing"
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
    def creates_cluster(self) -> bool:
        """The platform creates the network and a GKE cluster (Standard or Autopilot)."""
        return self.mode != "existing"

    @property
    def autopilot(self) -> bool:
        return self.mode == "autopilot"

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


# Kubernetes' own sandbox image, which does nothing: the placeholder pods that keep headroom warm run it.
# 3.10.1 is the pause version kubeadm pins for Kubernetes 1.35 (cmd/kubeadm/app/constants PauseVersion); the
# digest is the one registry.k8s.io serves for that tag, as pinned by several public repositories (searched
# 2026-12-07: "registry.k8s.io/pause:3.10.1@sha256:278fb9db...").
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1@sha256:278fb9dbcca9518083ad1e11276933a2e96f23de604a3a08cc3c80002767d24c"


class HeadroomSize(Model):
    """Placeholder pods of this size keep spare room on the pool; a service's new pods preempt them at once."""

    cpu: Cpu = Field(description="CPU each placeholder pod reserves")
    memory: Memory = Field(description="Memory each placeholder pod reserves")
    replicas: int = Field(1, ge=1, le=100, description="How many placeholder pods")


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
    headroom: Literal["auto", "off"] | HeadroomSize = Field(
        "auto",
        description="Spare capacity kept warm by low-priority placeholder pods: 'auto' (production: what its "
        "routed services' scale-up to maxReplicas needs beyond the pool's free room; elsewhere none), 'off', "
        "or {cpu, memory, replicas}",
    )
    compute_class: DnsLabel | None = Field(
        None,
        description="The GKE ComputeClass this pool serves (its label and NoSchedule taint): the pool then runs only "
        "that class's pods; a class with spot and on-demand pools gives spot-fallback placement",
    )

    @property
    def effective_location_policy(self) -> str:
        return self.location_policy or ("ANY" if self.spot else "BALANCED")


def compute_classes(pools: list[NodePoolConfig]) -> dict[str, list[NodePoolConfig]]:
    """ComputeClass name -> its pools, in declaration order."""
    classes: dict[str, list[NodePoolConfig]] = {}
    for pool in pools:
        if pool.compute_class is not None:
            classes.setdefault(pool.compute_class, []).append(pool)
    return classes


def fallback_classes(pools: list[NodePoolConfig]) -> list[str]:
    """The ComputeClasses that can fall back: a spot pool and an on-demand pool among their pools."""
    return [
        name
        for name, members in compute_classes(pools).items()
        if any(p.spot for p in members) and any(not p.spot for p in members)
    ]


# Reserved for the platform: GKE's label and taint that tie a manually created pool to a ComputeClass.
COMPUTE_CLASS_KEY = "cloud.google.com/compute-class"


# --------------------------------------------------------------------------- rules


def check_cluster(cluster: ClusterConfig, *, production: bool, project: str | None) -> Iterator[Problem]:
    if not re.fullmatch(r"[a-z]+-[a-z]+\d+(-[a-z])?", cluster.location):
        yield (
            "cluster.location",
            f"'{cluster.location}' is neither a GCP region (europe-west1) nor a zone (europe-west1-b)",
        )
    elif production and cluster.creates_cluster and not cluster.regional:
        yield (
            "cluster.location",
            (
                f"production clusters must be regional (a region such as '{cluster.region}'), got zone '{cluster.location}'"
            ),
        )
    if production and not cluster.creates_cluster:
        yield "cluster.mode", "production must create its GKE cluster: set mode to 'gke' or 'autopilot'"
    if cluster.creates_cluster and not project:
        yield (
            "cluster.mode",
            f"mode '{cluster.mode}' needs a GCP project: run `pulumi config set gcp:project <project-id>`",
        )
    if cluster.creates_cluster and len(cluster.name) > 40:
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
            if taint.key == COMPUTE_CLASS_KEY:
                yield (
                    f"{path}.taints[{t_index}].key",
                    "the ComputeClass taint comes from computeClass; set that instead",
                )
        if COMPUTE_CLASS_KEY in pool.labels:
            yield f"{path}.labels", "the ComputeClass label comes from computeClass; set that instead"
    for name, members in compute_classes(pools).items():
        if all(p.spot for p in members) or not any(p.spot for p in members):
            first = next(i for i, p in enumerate(pools) if p.compute_class == name)
            yield (
                f"nodePools[{first}].computeClass",
                f"ComputeClass '{name}' needs a spot pool and an on-demand pool to fall back to; "
                f"its pools ({', '.join(p.name for p in members)}) are all {'spot' if members[0].spot else 'on-demand'}",
            )
    if cluster.autopilot and pools:
        yield "nodePools", "an Autopilot cluster has no node pools (Google manages its nodes): remove nodePools"
    if cluster.mode == "gke":
        # Pools of a ComputeClass run only that class's pods: the other services need pools of their own.
        shared = [pool for pool in pools if pool.compute_class is None]
        if not pools:
            yield "nodePools", "mode 'gke' needs at least one node pool"
        elif not any(not pool.spot for pool in shared):
            yield (
                "nodePools",
                "declare at least one regular (spot: false) pool outside any computeClass so that critical "
                "services have on-demand nodes",
            )
        elif production and not any(not p.spot and p.min_nodes >= 1 for p in shared):
            yield "nodePools", "production needs an on-demand baseline: a regular pool with minNodes >= 1"
