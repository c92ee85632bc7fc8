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
    """RFC 3339 start of the first window."""
    end_time: str = "2025-01-04T08:00:00Z"
    """RFC 3339 end of the first window."""
    recurrence: str = "FREQ=WEEKLY;BYDAY=SA,SU"
    """RFC 5545 RRULE for the repeats."""


class AuthorizedNetwork(Model):
    cidr_block: Cidr
    """An IPv4 CIDR."""
    display_name: str
    """A label for it."""


class ControlPlaneConfig(Model):
    """How the control plane is reached: the IAM-gated DNS endpoint and the IP endpoint."""

    # Google's front end serves the cluster's DNS name and admits only identities with the IAM
    # permission container.clusters.connect: no source-IP list, no runner inside the network.
    dns_endpoint: bool = True
    """Serve the control plane on its DNS endpoint, open to any network and gated by IAM (`container.clusters.connect`); the provider's kubeconfig then targets it."""
    # private: the IP endpoint has only its internal address in the VPC. public: it also has a
    # public address, which admits only cluster.masterAuthorizedNetworks.
    ip_endpoint: Literal["private", "public"] = "private"
    """`private`: the IP endpoint has only its VPC address. `public`: it also has a public address, admitting only `masterAuthorizedNetworks`. With `dnsEndpoint: false`, `public` needs at least one authorized network. Replaces the former `privateEndpoint` (`true` = `private`)."""


class ClusterConfig(Model):
    # existing: target a cluster you already have (kind, minikube) through a kubeconfig context
    # and create no GCP resources. gke: create the VPC, a GKE Standard cluster and its node pools.
    # autopilot: create the VPC and a GKE Autopilot cluster, whose nodes Google manages (no node pools).
    mode: Literal["existing", "gke", "autopilot"] = "existing"
    """`existing`: use a cluster you already have (kind, minikube) through `kubeconfig` + `context`, and create no GCP resource. `gke`: create the VPC, a GKE Standard cluster and node pools. `autopilot`: create the VPC and a GKE Autopilot cluster (Google runs the nodes; no node pools). Production must be `gke` or `autopilot`."""
    name: DnsLabel = "platform-${environment}"
    """GKE cluster name, at most 40 characters."""
    # A region ("europe-west1") makes a regional cluster; a zone ("europe-west1-b") a zonal one.
    location: str = "europe-west1"
    """A region (`europe-west1`) makes a regional cluster, a zone (`europe-west1-b`) a zonal one. Production must be regional."""
    kubeconfig: str = "~/.kube/config"
    """Existing mode: the kubeconfig file the provider reads (never the ambient default)."""
    context: str = "kind-platform"
    """Existing mode: the kubeconfig context to use, e.g. `kind-platform` or `minikube`."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    """GKE release channel."""
    maintenance_window: MaintenanceWindow = MaintenanceWindow()
    """Recurring window in which GKE may upgrade the control plane and nodes."""
    master_ipv4_cidr: Cidr = "172.16.0.0/28"
    """The /28 for the private control plane; must not overlap the network ranges."""
    control_plane: ControlPlaneConfig = ControlPlaneConfig()
    """How the control plane is reached (gke mode)."""
    master_authorized_networks: list[AuthorizedNetwork] = []
    """CIDRs allowed to reach the IP endpoint; empty means no outside network. The DNS endpoint does not use them."""
    binary_authorization: bool = False
    """Enforce the project's Binary Authorization policy on the cluster."""
    # BASIC is GKE's standard tier: workload configuration auditing in the security posture dashboard.
    security_posture: Literal["BASIC", "DISABLED"] = "BASIC"
    """GKE security posture: `BASIC` (standard tier) audits workload configurations. Workload vulnerability scanning is always written as disabled: GKE has shut both tiers down."""
    # Dataplane V2 (eBPF) enforces NetworkPolicy itself; off, the cluster falls back to Calico.
    dataplane_v2: bool = True
    """Dataplane V2 (eBPF) enforces NetworkPolicy; `false` uses Calico instead. Changing it replaces the cluster."""
    # FQDNNetworkPolicy: egress to Google APIs and managed services named by host, not opened by CIDR.
    fqdn_network_policy: bool = True
    """Allow `FQDNNetworkPolicy` egress rules by host name. Needs `dataplaneV2`."""
    # The Secret Manager add-on: pods mount Secret Manager secrets through the CSI driver.
    secret_manager: bool = True
    """GKE's Secret Manager add-on: mount Secret Manager secrets into pods through its CSI driver."""

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
    """Primary range of the regional subnet (nodes)."""
    pods_cidr: Cidr = "10.16.0.0/14"
    """Secondary range for pods."""
    services_cidr: Cidr = "10.20.0.0/20"
    """Secondary range for Services."""
    # The proxy-only subnet regional Gateway classes need (a /23 is Google's recommended size).
    proxy_only_cidr: Cidr = "10.24.0.0/23"
    """The proxy-only subnet (`REGIONAL_MANAGED_PROXY`) created for a regional Gateway class; must not overlap the other ranges."""
    # Reserved for Private Service Access (Cloud SQL, Memorystore): Google's producer networks take
    # their private addresses from it, peered with the VPC. Only used when a data service is managed.
    private_services_cidr: Cidr = "10.200.0.0/20"
    """Reserved for Private Service Access (a `/24` to `/16`): Cloud SQL and Memorystore take their private addresses from it. Used only when a data service is `managed`; must not overlap the other ranges."""
    flow_log_sampling: float = Field(0.5, ge=0.0, le=1.0)
    """VPC flow-log sampling rate, 0 to 1."""


class Taint(Model):
    key: str
    """Taint key."""
    value: str = ""
    """Taint value."""
    effect: Literal["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"]
    """Taint effect."""


class HeadroomSize(Model):
    """Placeholder pods of this size keep spare room on the pool; a service's new pods preempt them at once."""

    cpu: Cpu = Field(description="CPU each placeholder pod reserves")
    memory: Memory = Field(description="Memory each placeholder pod reserves")
    replicas: int = Field(1, ge=1, le=100, description="How many placeholder pods")


class NodePoolConfig(Model):
    name: DnsLabel
    """Pool name (at most 30 characters). The GKE pool's name is generated from `<cluster>-<name>-` plus a random suffix, so a replacement creates the new pool before deleting the old one."""
    spot: bool = False
    """Spot VMs. The platform taints every spot pool `cloud.google.com/gke-spot=true:NoSchedule` itself."""
    machine_type: str = "e2-standard-4"
    """Compute Engine machine type; must be in the capacity check's table."""
    disk_size_gb: int = Field(100, ge=20, le=65536)
    """Boot disk size, 20-65536 GB."""
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-balanced"
    """Boot disk type."""
    # Per zone, as GKE's autoscaler counts them.
    min_nodes: int = Field(1, ge=0, le=1000)
    """Autoscaler minimum, per zone. Spot pools may use 0."""
    max_nodes: int = Field(3, ge=1, le=1000)
    """Autoscaler maximum, per zone; must be >= `minNodes`."""
    # BALANCED spreads nodes evenly over zones; ANY favours zones with free (spot) capacity.
    location_policy: Literal["BALANCED", "ANY"] | None = None
    """`BALANCED` spreads over zones, `ANY` favours zones with free capacity. Default: `ANY` for spot pools, `BALANCED` otherwise."""
    # Zones for the pool's nodes; empty means the cluster's zone, or GKE's default three for a region.
    node_locations: list[str] = []
    """Zones for the pool, each in the cluster's region; empty means the cluster's zone, or GKE's three default zones of a region."""
    labels: Labels = {}
    """Kubernetes node labels, e.g. `workload-type: compute` for services with a matching `nodeSelector`."""
    taints: list[Taint] = []
    """Extra node taints."""
    # The kubelet's unauthenticated read-only port (10255) exposes pod specs and metrics to anything on the node network.
    kubelet_read_only_port: bool = False
    """Open the kubelet's unauthenticated read-only port (10255) on this pool's nodes; only for agents that still need it. Updated in place."""
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
