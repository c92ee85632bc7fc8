"""Capacity fit check: can the node pools hold what the stack declares, at the HPA minimum and maximum?

Runs in every preview, before any resource is registered (platform.py calls it first):
- each pool's allocatable CPU and memory per node, from GKE's documented reservation formula and a
  table of machine types, less a per-node allowance for GKE's own DaemonSets; and its allocatable
  local ephemeral storage, from the boot disk size less GKE's documented reservation and eviction
  threshold (`allocatable_ephemeral_mib`; GKE's DaemonSets' own use of it is not modelled);
- every service container's ephemeral-storage request (its emptyDirs, logs and writable layer);
- the pods' requests: every service's replicas x its requests, plus the ingress-nginx replicas;
- where each workload may run: spot-only services on spot pools, regular-only services and the
  ingress controller on regular pools, prefer-spot on any pool; a `nodeSelector` narrows that to
  the pools whose labels (declared, plus the node labels Kubernetes and GKE set: os, arch, instance
  type, machine family, gke-spot) carry every selected label. Pools with a NoSchedule or NoExecute
  taint of their own host none of them: services declare no tolerations beyond the platform's spot one;
- the check, at the maximum (HPA maxReplicas, pool maxNodes) and at the minimum (minReplicas,
  minNodes): for every set of pools that some workloads are confined to (and every union of such
  sets), the requests of the workloads confined to it must not exceed its allocatable capacity.

Too little room at the maximum is a ConfigError naming the workloads and the shortfall; at the
minimum it is a warning, because the cluster autoscaler adds nodes (pods wait Pending meanwhile).
A pod larger than any single node it may use is an error too.

The simplification, stated: requests are summed per set of pools and compared with the summed
allocatable of those pools ("fluid" packing), so per-node fragmentation, topology spread, the extra
pod of a rolling update (maxSurge), the surge node of a pool upgrade and migration Jobs are not
modelled; the check proves that a stack cannot fit, not that it will.

Deliberately left out: the cert-manager and monitoring add-ons and GKE's own Deployments (kube-dns,
konnectivity, metrics-server), whose requests the config does not state; shared-core machine
types (e2-micro, e2-small, e2-medium), whose CPU GKE allocates differently. In `existing` mode the
node pools are not known to the program, so the check is skipped and the summary says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.cluster.config import ClusterConfig, NodePoolConfig
from components.cluster.node_pool import pool_labels
from components.errors import config_error, problem_line
from components.planning.autopilot import admission_summary, check_autopilot
from components.traffic.config import IngressNginxConfig
from components.values import cpu_millicores, memory_bytes, storage_bytes
from components.workloads.config import DEFAULT_STORAGE_CLASS, ServiceConfig

MIB = 2**20
GIB_IN_MIB = 1024


@dataclass(frozen=True)
class MachineType:
    vcpus: int
    # Compute Engine's "GB" of memory is a GiB (2^30 bytes).
    memory_gib: float


# Predefined machine types: family -> (GiB of memory per vCPU, the vCPU counts it comes in).
# Source: https://cloud.google.com/compute/docs/general-purpose-machines (standard, highmem, highcpu shapes).
_FAMILIES: dict[str, tuple[float, tuple[int, ...]]] = {
    "e2-standard": (4, (2, 4, 8, 16, 32)),
    "e2-highmem": (8, (2, 4, 8, 16)),
    "e2-highcpu": (1, (2, 4, 8, 16, 32)),
    "n1-standard": (3.75, (1, 2, 4, 8, 16, 32, 64, 96)),
    "n2-standard": (4, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128)),
    "n2-highmem": (8, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    "n2-highcpu": (1, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    "n2d-standard": (4, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)),
    "n2d-highmem": (8, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    "n2d-highcpu": (1, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)),
    "c3-standard": (4, (4, 8, 22, 44, 88, 176)),
    "c3-highmem": (8, (4, 8, 22, 44, 88, 176)),
    "c3-highcpu": (2, (4, 8, 22, 44, 88, 176)),
    "t2d-standard": (4, (1, 2, 4, 8, 16, 32, 48, 60)),
}
MACHINE_TYPES: dict[str, MachineType] = {
    f"{family}-{vcpus}": MachineType(vcpus, ratio * vcpus)
    for family, (ratio, sizes) in _FAMILIES.items()
    for vcpus in sizes
}

# Per node, for GKE's own DaemonSets. Measured on a GKE 1.29 node (github.com/cryptnono/cryptnono/issues/34):
# fluentbit-gke 105m/230Mi + gke-metadata-server 100m/100Mi + ip-masq-agent 10m/16Mi = 215m/346Mi; rounded up
# for kube-proxy or anetd, gke-metrics-agent, pdcsi-node, netd and the monitoring add-on's node-exporter.
DAEMONSET_CPU_MILLICORES = 400
DAEMONSET_MEMORY_MIB = 600
# A regional pool without nodeLocations gets nodes in three of the region's zones.
REGIONAL_DEFAULT_ZONES = 3
# Names listed in one message before "and N more".
_MAX_NAMES = 10


# --------------------------------------------------------------------------- GKE's reservation formula
# https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#memory_and_cpu_reservations
# Memory: 255 MiB below 1 GiB, else 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8,
# 6% of the next 112 and 2% above 128 GiB; plus a 100 MiB eviction threshold.
# CPU: 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% of every core above 4.
_MEMORY_TIERS_MIB = ((4 * 1024, 0.25), (4 * 1024, 0.20), (8 * 1024, 0.10), (112 * 1024, 0.06), (math.inf, 0.02))
_CPU_TIERS_CORES = ((1, 0.06), (1, 0.01), (2, 0.005), (math.inf, 0.0025))
EVICTION_THRESHOLD_MIB = 100
SMALL_MACHINE_RESERVED_MIB = 255


def _tiered(total: float, tiers: Iterable[tuple[float, float]]) -> float:
    reserved, floor = 0.0, 0.0
    for size, rate in tiers:
        reserved += rate * max(0.0, min(total, floor + size) - floor)
        floor += size
    return reserved


def reserved_memory_mib(memory_mib: float) -> float:
    """Memory GKE reserves for the kubelet and the OS, excluding the eviction threshold."""
    if memory_mib < GIB_IN_MIB:
        return SMALL_MACHINE_RESERVED_MIB
    return _tiered(memory_mib, _MEMORY_TIERS_MIB)


def reserved_cpu_millicores(vcpus: float) -> float:
    return _tiered(vcpus, _CPU_TIERS_CORES) * 1000


@dataclass(frozen=True)
class CpuMemory:
    """An amount of CPU (millicores), memory (MiB) and local ephemeral storage (`disk`, MiB)."""

    cpu: float = 0.0
    memory: float = 0.0
    disk: float = 0.0

    def __add__(self, other: CpuMemory) -> CpuMemory:
        return CpuMemory(self.cpu + other.cpu, self.memory + other.memory, self.disk + other.disk)

    def __sub__(self, other: CpuMemory) -> CpuMemory:
        return CpuMemory(self.cpu - other.cpu, self.memory - other.memory, self.disk - other.disk)

    def __mul__(self, count: int) -> CpuMemory:
        return CpuMemory(self.cpu * count, self.memory * count, self.disk * count)

    def fits_in(self, other: CpuMemory) -> bool:
        return self.cpu <= other.cpu and self.memory <= other.memory and self.disk <= other.disk

    def clipped(self) -> CpuMemory:
        """Negative amounts as 0: what is short, never what is spare."""
        return CpuMemory(max(self.cpu, 0.0), max(self.memory, 0.0), max(self.disk, 0.0))

    def as_dict(self) -> dict[str, int]:
        return {
            "cpuMillicores": round(self.cpu),
            "memoryMiB": round(self.memory),
            "ephemeralStorageMiB": round(self.disk),
        }

    def describe(self, disk: bool = False) -> str:
        """CPU and memory; with `disk`, the ephemeral storage too (shown where it is what runs short)."""
        shown = f"{self.cpu / 1000:.1f} CPU / {self.memory / GIB_IN_MIB:.1f} GiB"
        return f"{shown} / {self.disk / GIB_IN_MIB:.1f} GiB of ephemeral storage" if disk else shown

    def describe_shortfall(self) -> str:
        # Rounded up so a real shortfall never reads as 0.0.
        parts = []
        if self.cpu > 0:
            parts.append(f"{math.ceil(self.cpu / 100) / 10:.1f} CPU")
        if self.memory > 0:
            parts.append(f"{math.ceil(self.memory / GIB_IN_MIB * 10) / 10:.1f} GiB")
        if self.disk > 0:
            parts.append(f"{math.ceil(self.disk / GIB_IN_MIB * 10) / 10:.1f} GiB of ephemeral storage")
        return " / ".join(parts)


def allocatable_ephemeral_mib(boot_disk_gib: float) -> float:
    """Local ephemeral storage the kubelet offers pods on a node whose boot disk backs it (no local SSD).

    https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#local_ephemeral_storage_reservation:
    GKE reserves min(50% of the boot disk, 6 GiB + 35% of it, 100 GiB) for the system and sets an eviction
    threshold of 10% of the filesystem. The filesystem is taken as the whole boot disk (COS's own partitions,
    a few GiB, are not modelled), so this errs a little high."""
    reserved = min(0.5 * boot_disk_gib, 6 + 0.35 * boot_disk_gib, 100)
    return (boot_disk_gib - reserved - 0.1 * boot_disk_gib) * GIB_IN_MIB


def node_allocatable(machine: MachineType, boot_disk_gib: float = 0.0) -> CpuMemory:
    """What the kubelet offers pods on one node of this machine type and boot disk (GKE's `allocatable`)."""
    memory_mib = machine.memory_gib * GIB_IN_MIB
    return CpuMemory(
        cpu=machine.vcpus * 1000 - reserved_cpu_millicores(machine.vcpus),
        memory=memory_mib - reserved_memory_mib(memory_mib) - EVICTION_THRESHOLD_MIB,
        disk=allocatable_ephemeral_mib(boot_disk_gib),
    )


DAEMONSETS = CpuMemory(DAEMONSET_CPU_MILLICORES, DAEMONSET_MEMORY_MIB)


# --------------------------------------------------------------------------- pools and workloads


def machine_type(stack: str, node_pools: Sequence[NodePoolConfig], index: int) -> MachineType:
    """The machine type of `nodePools[index]`; a ConfigError if the table does not know it."""
    name = node_pools[index].machine_type
    machine = MACHINE_TYPES.get(name)
    if machine is None:
        known = ", ".join(f"{family}-{{{','.join(map(str, sizes))}}}" for family, (_, sizes) in _FAMILIES.items())
        raise config_error(
            stack,
            [
                (
                    f"nodePools[{index}].machineType",
                    f"'{name}' is not a machine type the capacity check knows; known: {known}",
                )
            ],
        )
    return machine


def pool_zones(cluster: ClusterConfig, pool: NodePoolConfig) -> int:
    """How many zones the pool's per-zone node counts apply to."""
    if pool.node_locations:
        return len(pool.node_locations)
    return REGIONAL_DEFAULT_ZONES if cluster.regional else 1


def pool_node_counts(cluster: ClusterConfig, pool: NodePoolConfig) -> tuple[int, int]:
    """The pool's (minimum, maximum) nodes across its zones."""
    zones = pool_zones(cluster, pool)
    return pool.min_nodes * zones, pool.max_nodes * zones


@dataclass(frozen=True)
class Pool:
    name: str
    spot: bool
    machine_type: str
    zones: int
    min_nodes: int
    max_nodes: int
    # Per node, after GKE's reservation and the DaemonSets.
    per_node: CpuMemory
    labels: dict[str, str]
    # A declared NoSchedule/NoExecute taint, which no platform workload tolerates.
    tainted: bool
    # The ComputeClass whose pods alone the pool runs (its taint), or None.
    compute_class: str | None = None

    def nodes(self, at_max: bool) -> int:
        return self.max_nodes if at_max else self.min_nodes


@dataclass(frozen=True)
class Workload:
    name: str
    is_service: bool
    placement: str
    node_selector: dict[str, str]
    per_pod: CpuMemory
    min_pods: int
    max_pods: int
    pools: frozenset[str]
    compute_class: str | None = None

    def pods(self, at_max: bool) -> int:
        return self.max_pods if at_max else self.min_pods


def _node_labels(pool: NodePoolConfig) -> dict[str, str]:
    """Labels Kubernetes and GKE put on every node of the pool, which a nodeSelector may name."""
    labels = {
        "kubernetes.io/os": "linux",
        # Every family in the machine table is x86.
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": pool.machine_type,
        "cloud.google.com/machine-family": pool.machine_type.split("-", 1)[0],
    }
    if pool.spot:
        labels["cloud.google.com/gke-spot"] = "true"
    return {**labels, **pool_labels(pool)}


def _pools(stack: str, cluster: ClusterConfig, node_pools: Sequence[NodePoolConfig]) -> list[Pool]:
    pools = []
    for index, pool in enumerate(node_pools):
        machine = machine_type(stack, node_pools, index)
        min_nodes, max_nodes = pool_node_counts(cluster, pool)
        pools.append(
            Pool(
                name=pool.name,
                spot=pool.spot,
                machine_type=pool.machine_type,
                zones=pool_zones(cluster, pool),
                min_nodes=min_nodes,
                max_nodes=max_nodes,
                per_node=node_allocatable(machine, pool.disk_size_gb) - DAEMONSETS,
                labels=_node_labels(pool),
                tainted=any(t.effect != "PREFER_NO_SCHEDULE" for t in pool.taints),
                compute_class=pool.compute_class,
            )
        )
    return pools


def _eligible(
    pools: list[Pool], placement: str, selector: dict[str, str], compute_class: str | None = None
) -> frozenset[str]:
    """The pools a workload may use: a spot-fallback one only its ComputeClass's (spot and on-demand alike),
    every other one only pools outside any class (whose taint it does not tolerate)."""
    own_class = compute_class if placement == "spot-fallback" else None
    return frozenset(
        pool.name
        for pool in pools
        if (placement != "spot" or pool.spot)
        and (placement != "regular" or not pool.spot)
        and pool.compute_class == own_class
        and all(pool.labels.get(key) == value for key, value in selector.items())
        and not pool.tainted
    )


def _request(cpu: str, memory: str, ephemeral: str = "0Mi") -> CpuMemory:
    return CpuMemory(cpu_millicores(cpu), memory_bytes(memory) / MIB, storage_bytes(ephemeral) / MIB)


def _workloads(services: Sequence[ServiceConfig], nginx: IngressNginxConfig, pools: list[Pool]) -> list[Workload]:
    workloads = []
    for svc in services:
        requests = svc.effective_resources.requests
        # A canary track is a second Deployment with the same scaling: it must fit too.
        for name in [svc.name, f"{svc.name}-canary"] if svc.canary is not None else [svc.name]:
            workloads.append(
                Workload(
                    name=name,
                    is_service=True,
                    placement=svc.placement,
                    node_selector=dict(svc.node_selector),
                    per_pod=_request(requests.cpu, requests.memory, svc.effective_ephemeral_storage),
                    min_pods=svc.min_replicas,
                    max_pods=svc.max_replicas,
                    pools=_eligible(pools, svc.placement, svc.node_selector, svc.compute_class),
                    compute_class=svc.compute_class if svc.placement == "spot-fallback" else None,
                )
            )
    if nginx.enabled:
        requests = nginx.resources.requests
        workloads.append(
            Workload(
                name="ingress-nginx",
                is_service=False,
                placement="regular",
                node_selector={},
                per_pod=_request(requests.cpu, requests.memory),
                min_pods=nginx.replicas,
                max_pods=nginx.replicas,
                pools=_eligible(pools, "regular", {}),
            )
        )
    return workloads


# --------------------------------------------------------------------------- the check

_PLACEMENT_WORDS = {
    "spot": "spot-only",
    "regular": "regular-only",
    "prefer-spot": "prefer-spot",
    "spot-fallback": "spot-fallback",
}


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    return shown if len(names) <= _MAX_NAMES else f"{shown} and {len(names) - _MAX_NAMES} more"


def _describe_workloads(workloads: list[Workload]) -> str:
    services = [w for w in workloads if w.is_service]
    addons = [w for w in workloads if not w.is_service]
    parts = []
    if services:
        placements = {w.placement for w in services}
        adjective = _PLACEMENT_WORDS[placements.pop()] + " " if len(placements) == 1 else ""
        parts.append(f"{adjective}services ({_names(sorted(w.name for w in services))})")
    if addons:
        parts.append(" and ".join(f"{w.name} ({w.max_pods} replicas)" for w in addons))
    return " and ".join(parts)


def _describe_pools(pools: list[Pool]) -> str:
    kinds = {pool.spot for pool in pools}
    kind = ("spot" if kinds == {True} else "regular") if len(kinds) == 1 else "spot and regular"
    return f"{kind} pools ({', '.join(pool.name for pool in pools)})"


def _min_max(measure: Callable[[bool], CpuMemory]) -> dict[str, dict[str, int]]:
    return {"min": measure(False).as_dict(), "max": measure(True).as_dict()}


@dataclass(frozen=True)
class PoolSet:
    """A set of pools some workloads are confined to, with those workloads' demand and its capacity."""

    pools: list[Pool]
    workloads: list[Workload]

    def requested(self, at_max: bool) -> CpuMemory:
        return sum((w.per_pod * w.pods(at_max) for w in self.workloads), CpuMemory())

    def allocatable(self, at_max: bool) -> CpuMemory:
        return sum((p.per_node * p.nodes(at_max) for p in self.pools), CpuMemory())

    def shortfall(self, at_max: bool) -> CpuMemory:
        return (self.requested(at_max) - self.allocatable(at_max)).clipped()

    def summary(self) -> dict[str, Any]:
        return {
            "pools": [p.name for p in self.pools],
            "workloads": sorted(w.name for w in self.workloads),
            "requested": _min_max(self.requested),
            "allocatable": _min_max(self.allocatable),
        }


def _pool_sets(pools: list[Pool], workloads: list[Workload]) -> list[PoolSet]:
    """Every distinct set of eligible pools, and every union of them (Hall's condition, per resource)."""
    closure: set[frozenset[str]] = set()
    for eligible in {w.pools for w in workloads if w.pools}:
        closure |= {eligible | known for known in closure} | {eligible}
    order = {pool.name: i for i, pool in enumerate(pools)}
    sets = []
    for names in sorted(closure, key=lambda s: (len(s), sorted(order[n] for n in s))):
        confined = [w for w in workloads if w.pools and w.pools <= names and w.pods(True) > 0]
        if confined:
            sets.append(PoolSet([p for p in pools if p.name in names], confined))
    return sets


def _failing(pool_sets: list[PoolSet], at_max: bool) -> Iterator[PoolSet]:
    """Sets that are short, except those whose shortfall the short sets inside them already account for."""
    short = [s for s in pool_sets if s.shortfall(at_max) != CpuMemory()]
    for candidate in short:
        names = {p.name for p in candidate.pools}
        inside = [s.shortfall(at_max) for s in short if {p.name for p in s.pools} < names]
        if not inside or not candidate.shortfall(at_max).fits_in(sum(inside, CpuMemory())):
            yield candidate


def _fit_message(pool_set: PoolSet, at_max: bool) -> str:
    """Why `pool_set` is short (reported under `nodePools`)."""
    disk = pool_set.shortfall(at_max).disk > 0
    allocatable = pool_set.allocatable(at_max).describe(disk)
    offer = f"at most {allocatable}" if at_max else f"only {allocatable} at their minimum nodes"
    message = (
        f"at HPA {'maximum' if at_max else 'minimum'}, "
        f"{_describe_workloads(pool_set.workloads)} request {pool_set.requested(at_max).describe(disk)} but "
        f"{_describe_pools(pool_set.pools)} allocate {offer}: short {pool_set.shortfall(at_max).describe_shortfall()}"
    )
    return message if at_max else f"{message}; their pods stay Pending until the cluster autoscaler adds nodes"


def _placement_problems(pools: list[Pool], workloads: list[Workload]) -> Iterator[str]:
    """What is wrong with where a workload may run, one message per workload (under `nodePools`)."""
    by_name = {pool.name: pool for pool in pools}
    for workload in workloads:
        kind = {"spot": "spot ", "regular": "regular "}.get(workload.placement, "")
        who = f"{_PLACEMENT_WORDS[workload.placement]} {'service' if workload.is_service else 'add-on'}"
        if not workload.pools:
            selector = ", ".join(f"{k}={v}" for k, v in sorted(workload.node_selector.items()))
            tainted = [p.name for p in pools if p.tainted]
            why = (
                f"; pools with a NoSchedule/NoExecute taint ({', '.join(tainted)}) host no workload" if tainted else ""
            )
            if selector:
                yield f"{who} '{workload.name}' selects {selector}, which no schedulable {kind}node pool carries{why}"
            else:
                yield f"{who} '{workload.name}' needs a schedulable {kind}node pool, and this stack declares none{why}"
            continue
        fitting = [name for name in workload.pools if workload.per_pod.fits_in(by_name[name].per_node)]
        if workload.max_pods > 0 and not fitting:
            disk = not any(workload.per_pod.disk <= by_name[n].per_node.disk for n in workload.pools)
            nodes = ", ".join(
                f"{by_name[n].name}: {by_name[n].per_node.describe(disk)}" for n in sorted(workload.pools)
            )
            yield (
                f"{who} '{workload.name}' requests {workload.per_pod.describe(disk)} per pod, more than one "
                f"node of its pools offers after system reservations and DaemonSets ({nodes})"
            )


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class CapacityReport:
    checked: bool
    pools: list[Pool]
    workloads: list[Workload]
    pool_sets: list[PoolSet]
    # GiB of persistent volumes per storage class ("default": the cluster's default class), at min and max replicas.
    volumes: dict[str, dict[str, float]] = field(default_factory=dict)
    # On Autopilot: the per-pod admission summary (planning/autopilot.py) instead of pools.
    autopilot: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """Requested and allocatable CPU and memory at the minimum and the maximum, in total and per set of pools."""
        everything = PoolSet(self.pools, self.workloads)
        if self.autopilot is not None:
            return {**self.autopilot, "persistentVolumesGiB": self.volumes}
        if not self.checked:
            return {
                "checked": False,
                "reason": "cluster.mode is 'existing': the node pools are not known to the program",
                "requested": _min_max(everything.requested),
                "persistentVolumesGiB": self.volumes,
            }
        return {
            "persistentVolumesGiB": self.volumes,
            "checked": True,
            "daemonSetsPerNode": DAEMONSETS.as_dict(),
            "pools": {
                p.name: {
                    "machineType": p.machine_type,
                    "spot": p.spot,
                    "zones": p.zones,
                    "nodes": {"min": p.min_nodes, "max": p.max_nodes},
                    "allocatablePerNode": p.per_node.as_dict(),
                }
                for p in self.pools
            },
            "requested": _min_max(everything.requested),
            "allocatable": _min_max(everything.allocatable),
            "poolSets": [s.summary() for s in self.pool_sets],
        }


def check_capacity(
    stack: str,
    cluster: ClusterConfig,
    node_pools: Sequence[NodePoolConfig],
    services: Sequence[ServiceConfig],
    ingress_controller: IngressNginxConfig,
    stores: frozenset[str] = frozenset(),
) -> CapacityReport:
    """Refuse a stack whose HPA maximum cannot fit its pools' maximum; warn when the minimum does not fit the minimum.

    `ingress_controller` counts as a workload of the regular pools when it is enabled."""
    volumes = requested_volumes(services, cluster.mode)
    if cluster.autopilot:
        # No pools to fit: each pod must pass Autopilot's admission rules unchanged.
        refused = check_autopilot(services, stores)
        if refused:
            raise config_error(stack, refused)
        return CapacityReport(
            False, [], _workloads(services, ingress_controller, []), [], volumes, admission_summary(services)
        )
    if cluster.mode != "gke":
        return CapacityReport(False, [], _workloads(services, ingress_controller, []), [], volumes)
    pools = _pools(stack, cluster, node_pools)
    workloads = _workloads(services, ingress_controller, pools)
    pool_sets = _pool_sets(pools, workloads)
    problems = [
        *_placement_problems(pools, workloads),
        *(_fit_message(s, at_max=True) for s in _failing(pool_sets, True)),
    ]
    if problems:
        raise config_error(stack, [("nodePools", problem) for problem in problems])
    for pool_set in _failing(pool_sets, at_max=False):
        pulumi.log.warn(problem_line(stack, "nodePools", _fit_message(pool_set, at_max=False)))
    return CapacityReport(True, pools, workloads, pool_sets, volumes)


def requested_volumes(services: Sequence[ServiceConfig], cluster_mode: str) -> dict[str, dict[str, float]]:
    """GiB of persistent volumes per storage class, at the minimum and the maximum replica counts."""
    default = DEFAULT_STORAGE_CLASS[cluster_mode] or "default"
    totals: dict[str, dict[str, float]] = {}
    for svc in services:
        if svc.stateful is None:
            continue
        for volume in svc.stateful.volumes:
            gib = storage_bytes(volume.size) / 2**30
            entry = totals.setdefault(volume.storage_class or default, {"min": 0.0, "max": 0.0})
            entry["min"] = round(entry["min"] + gib * svc.min_replicas, 3)
            entry["max"] = round(entry["max"] + gib * svc.max_replicas, 3)
    return totals
