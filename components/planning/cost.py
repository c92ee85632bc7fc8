"""Estimated monthly cost of a stack's node pools and cluster fee, at the pools' minimum and maximum nodes.

For each node pool: its nodes (per zone x zones, as the capacity check counts them) x the machine
type's hourly list price in the cluster's region x 730 hours, on-demand or spot as the pool runs;
for each spot pool also what the same nodes would cost on-demand, so the saving is explicit; for each
ComputeClass (Spot with on-demand fallback), its Spot pools at the Spot price and the on-demand worst
case, when Spot is gone and the same capacity runs on on-demand nodes; for each pool with headroom, the
nodes its placeholder pods keep beyond the pool's minimum (added to the minimum total: at the maximum
the pools are full and the placeholders preempted). For the stack: the pools plus GKE's cluster
management fee.

Prices come from a dated price table (below) of per-vCPU and per-GiB hourly rates for each machine
family and region: Compute Engine bills a predefined machine type as its vCPUs plus its memory at
the family's rates, which reproduces the listed machine prices exactly. A machine family or region
missing from the table is priced "unknown", never guessed, and so is any total that includes it.

Managed data services (Cloud SQL, Memorystore, Cloud Storage) are listed at their configured size
(tier, HA, disk, memory); the dated table above holds no sourced price for them, so each is priced
"unknown" and so is every total once a stack has one, rather than a guessed figure.

Deliberately left out: boot disks, load balancers and forwarding rules, static IPs, network egress,
Cloud Logging and Monitoring, sustained-use and committed-use discounts, taxes. Spot prices change
(at most once a month), so the spot figures are as of the table's date. In `existing` mode the
program creates nothing billable and the estimate says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.cluster.config import ClusterConfig, NodePoolConfig
from components.data.config import MANAGED_SERVICES, DataServiceConfig
from components.planning.capacity import MACHINE_TYPES, pool_node_counts, requested_volumes
from components.values import cpu_millicores, memory_bytes, storage_bytes
from components.workloads.config import ServiceConfig

HOURS_PER_MONTH = 730
UNKNOWN = "unknown"

PRICE_SOURCE = (
    "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/0166a59ebba7c36f2cc8c931d9f258dcebc44776/pricing.yml "
    "(Cloud Billing Catalog SKUs)"
)
PRICE_DATE = "2025-03-06"
# https://cloud.google.com/kubernetes-engine/pricing: $0.10 per cluster per hour; its free tier ($74.40 a month
# per billing account) applies to zonal and Autopilot clusters only.
CLUSTER_FEE_PER_HOUR = 0.10

# USD, or None where a price is unknown.
Money = float | None


@dataclass(frozen=True)
class FamilyRates:
    """USD per vCPU-hour and per GiB-hour of memory."""

    vcpu: float
    memory_gib: float
    spot_vcpu: float
    spot_memory_gib: float


# (family, region) -> rates, solved from two listed machine prices of the family and checked against a third:
# e2 from e2-standard-4 ($0.14743092/h, spot $0.055832) and e2-highmem-4 ($0.19888836/h, spot $0.075304),
# checked on e2-standard-8 ($0.29486184/h, spot $0.111664);
# n2 from n2-standard-128 ($6.837376/h, spot $0.705792) and n2-highmem-96 ($6.917856/h, spot $0.714048),
# checked on n2-highmem-80 ($5.76488/h, spot $0.59504) and n2-standard-16 ($0.854672/h, spot $0.088224).
PRICES: dict[tuple[str, str], FamilyRates] = {
    ("e2", "europe-west1"): FamilyRates(
        vcpu=0.02399337, memory_gib=0.00321609, spot_vcpu=0.00909, spot_memory_gib=0.001217
    ),
    ("n2", "europe-west1"): FamilyRates(
        vcpu=0.034773, memory_gib=0.004661, spot_vcpu=0.00359, spot_memory_gib=0.000481
    ),
}


# USD per GiB-month of the persistent disk behind each GKE storage class (same price table:
# compute.storage.balanced / ssd / hdd). Snapshots taken by Backup for GKE are not included.
_DISK_RATES = {  # region: (pd-balanced, pd-ssd, pd-standard)
    "europe-west1": (0.10, 0.17, 0.04),
    "europe-west4": (0.11, 0.187, 0.044),
    "us-central1": (0.10, 0.17, 0.04),
    "us-east1": (0.10, 0.17, 0.04),
}
DISK_PRICES: dict[tuple[str, str], float] = {
    (storage_class, region): rate
    for region, rates in _DISK_RATES.items()
    for storage_class, rate in zip(("standard-rwo", "premium-rwo", "standard"), rates, strict=True)
}


def hourly_price(machine_type: str, region: str, spot: bool) -> Money:
    """The machine type's list price per hour in the region, or None when the table does not know it."""
    machine = MACHINE_TYPES.get(machine_type)
    rates = PRICES.get((machine_type.split("-", 1)[0], region))
    if machine is None or rates is None:
        return None
    if spot:
        return machine.vcpus * rates.spot_vcpu + machine.memory_gib * rates.spot_memory_gib
    return machine.vcpus * rates.vcpu + machine.memory_gib * rates.memory_gib


def _monthly(nodes: int, hourly: Money) -> Money:
    if nodes == 0:
        return 0.0
    return None if hourly is None else nodes * hourly * HOURS_PER_MONTH


def _sum(amounts: list[Money]) -> Money:
    return None if any(a is None for a in amounts) else sum(a for a in amounts if a is not None)


def _usd(amount: Money) -> float | str:
    return UNKNOWN if amount is None else round(amount, 2)


def _min_max(measure: Callable[[bool], Money]) -> dict[str, float | str]:
    return {"min": _usd(measure(False)), "max": _usd(measure(True))}


@dataclass(frozen=True)
class PoolCost:
    pool: NodePoolConfig
    min_nodes: int
    max_nodes: int
    hourly: Money
    on_demand_hourly: Money

    def monthly(self, at_max: bool) -> Money:
        return _monthly(self.max_nodes if at_max else self.min_nodes, self.hourly)

    def on_demand_monthly(self, at_max: bool) -> Money:
        return _monthly(self.max_nodes if at_max else self.min_nodes, self.on_demand_hourly)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "machineType": self.pool.machine_type,
            "spot": self.pool.spot,
            "nodes": {"min": self.min_nodes, "max": self.max_nodes},
            "hourlyUsdPerNode": UNKNOWN if self.hourly is None else round(self.hourly, 6),
            "monthlyUsd": _min_max(self.monthly),
        }
        if self.pool.spot:
            summary["onDemandMonthlyUsd"] = _min_max(self.on_demand_monthly)
        return summary


@dataclass(frozen=True)
class CostEstimate:
    estimated: bool
    region: str
    regional: bool
    pools: list[PoolCost]
    # Storage class -> (GiB at min and max replicas, USD per GiB-month or None).
    volumes: dict[str, tuple[dict[str, float], Money]] = field(default_factory=dict)
    # Managed data service name -> its configured size; every one is priced unknown (no sourced price).
    managed: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Pool name -> (placeholder pods, nodes they add beyond the pool's free room at its minimum).
    headroom: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Autopilot bills pods, not nodes: vCPU, GiB and ephemeral GiB requested, at min and max replicas.
    autopilot_pods: dict[str, dict[str, float]] | None = None

    def pod_billing(self, at_max: bool) -> Money:
        """Autopilot's per-pod charges: no price is sourced in the dated table, so unknown, never guessed."""
        return None if self.autopilot_pods is not None else 0.0

    def headroom_monthly(self, at_max: bool) -> Money:
        """The nodes the headroom placeholders keep; at the maximum the pools are full and they are preempted."""
        if at_max:
            return 0.0
        hourly = {p.pool.name: p.hourly for p in self.pools}
        return _sum([0.0, *(_monthly(nodes, hourly.get(pool)) for pool, (_, nodes) in self.headroom.items())])

    def managed_services(self, at_max: bool) -> Money:
        return None if self.managed else 0.0

    @property
    def cluster_fee(self) -> float:
        return CLUSTER_FEE_PER_HOUR * HOURS_PER_MONTH

    def disks(self, at_max: bool) -> Money:
        """Persistent volumes' monthly cost; unknown if any class has no price in the region."""
        amounts = [
            None if price is None else gib["max" if at_max else "min"] * price for gib, price in self.volumes.values()
        ]
        return _sum(amounts)

    def total(self, at_max: bool) -> Money:
        return _sum(
            [
                *(p.monthly(at_max) for p in self.pools),
                self.headroom_monthly(at_max),
                self.pod_billing(at_max),
                self.cluster_fee,
                self.disks(at_max),
                self.managed_services(at_max),
            ]
        )

    def all_on_demand(self, at_max: bool) -> Money:
        return _sum(
            [
                self.pod_billing(at_max),
                *(p.on_demand_monthly(at_max) for p in self.pools),
                self.cluster_fee,
                self.disks(at_max),
                self.managed_services(at_max),
            ]
        )

    def spot_saving(self, at_max: bool) -> Money:
        total, on_demand = self.total(at_max), self.all_on_demand(at_max)
        return None if total is None or on_demand is None else on_demand - total

    def compute_classes(self) -> dict[str, Any]:
        """Per ComputeClass: its Spot pools at Spot prices, and the worst case when Spot is gone and the same
        capacity runs on on-demand nodes (its on-demand pools are billed in `pools` as they are sized)."""
        classes: dict[str, list[PoolCost]] = {}
        for cost in self.pools:
            if cost.pool.compute_class is not None and cost.pool.spot:
                classes.setdefault(cost.pool.compute_class, []).append(cost)

        def measure(costs: list[PoolCost], on_demand: bool) -> Callable[[bool], Money]:
            return lambda at_max: _sum([c.on_demand_monthly(at_max) if on_demand else c.monthly(at_max) for c in costs])

        return {
            name: {
                "spotPools": [c.pool.name for c in costs],
                "spotMonthlyUsd": _min_max(measure(costs, on_demand=False)),
                "onDemandWorstCaseMonthlyUsd": _min_max(measure(costs, on_demand=True)),
            }
            for name, costs in classes.items()
        }

    def summary(self) -> dict[str, Any]:
        if not self.estimated:
            return {"estimated": False, "reason": "cluster.mode is 'existing': the program creates no billable nodes"}
        return {
            "estimated": True,
            "currency": "USD",
            "hoursPerMonth": HOURS_PER_MONTH,
            "region": self.region,
            "priceSource": PRICE_SOURCE,
            "priceDate": PRICE_DATE,
            "pools": {p.pool.name: p.summary() for p in self.pools},
            "computeClasses": self.compute_classes(),
            "headroom": {
                pool: {"placeholderPods": pods, "extraNodes": nodes, "monthlyUsd": _usd(_monthly(nodes, price))}
                for pool, (pods, nodes) in self.headroom.items()
                for price in [next((p.hourly for p in self.pools if p.pool.name == pool), None)]
            },
            "headroomMonthlyUsd": _min_max(self.headroom_monthly),
            **(
                {
                    "autopilotPods": {
                        "requested": self.autopilot_pods,
                        "monthlyUsd": UNKNOWN,
                        "reason": "Autopilot bills each pod's requested vCPU, memory and ephemeral storage; the "
                        "dated price table holds no sourced Autopilot rate",
                    }
                }
                if self.autopilot_pods is not None
                else {}
            ),
            "clusterFeeMonthlyUsd": round(self.cluster_fee, 2),
            "persistentVolumes": {
                storage_class: {"GiB": gib, "usdPerGiBMonth": UNKNOWN if price is None else price}
                for storage_class, (gib, price) in self.volumes.items()
            },
            "persistentVolumesMonthlyUsd": _min_max(self.disks),
            "managedDataServices": {
                name: {**size, "monthlyUsd": UNKNOWN, "reason": "no sourced list price in the price table"}
                for name, size in self.managed.items()
            },
            # The free tier's credit covers one zonal cluster per billing account, never a regional one;
            # totals keep the fee because another cluster of the account may be using the credit.
            "clusterFeeFreeTierEligible": not self.regional,
            "totalMonthlyUsd": _min_max(self.total),
            "allOnDemandMonthlyUsd": _min_max(self.all_on_demand),
            "spotSavingMonthlyUsd": _min_max(self.spot_saving),
            "excludes": "boot disks, volume snapshots and backups, load balancers, static IPs, egress, logging, sustained/committed-use discounts",
        }


def managed_size(store: DataServiceConfig, production: bool) -> dict[str, Any]:
    """What a managed store is billed on, as configured."""
    size: dict[str, Any] = {"service": MANAGED_SERVICES[store.type]}
    if store.type == "postgres":
        size.update(
            tier=store.cloud_sql_tier(production),
            availability="REGIONAL" if store.high_availability(production) else "ZONAL",
            diskGiB=store.storage_size,
        )
    elif store.type == "redis":
        size.update(tier="STANDARD_HA" if store.high_availability(production) else "BASIC", memoryGiB=store.memory_gib)
    elif store.type == "kafka":
        size.update(vcpus=store.managed.vcpus, memoryGiB=store.memory_gib)
    else:
        size.update(storageClass="STANDARD", billedOn="GiB stored, operations and egress, not a configured size")
    return size


def estimate_cost(
    cluster: ClusterConfig,
    node_pools: Sequence[NodePoolConfig],
    workloads: Sequence[ServiceConfig] = (),
    managed: Sequence[DataServiceConfig] = (),
    production: bool = False,
    headroom: dict[str, tuple[int, int]] | None = None,
) -> CostEstimate:
    """The stack's estimated monthly cost at its pools' minimum and maximum node counts, plus the
    persistent volumes of its stateful workloads and its managed data services."""
    region = cluster.region
    if not cluster.creates_cluster:
        return CostEstimate(False, region, cluster.regional, [])
    autopilot_pods = _autopilot_requests(workloads) if cluster.autopilot else None
    pools = []
    for pool in node_pools:
        min_nodes, max_nodes = pool_node_counts(cluster, pool)
        pools.append(
            PoolCost(
                pool=pool,
                min_nodes=min_nodes,
                max_nodes=max_nodes,
                hourly=hourly_price(pool.machine_type, region, pool.spot),
                on_demand_hourly=hourly_price(pool.machine_type, region, spot=False),
            )
        )
    volumes = {
        storage_class: (gib, DISK_PRICES.get((storage_class, region)))
        for storage_class, gib in requested_volumes(workloads, cluster.mode).items()
    }
    sizes = {store.name: managed_size(store, production) for store in managed}
    return CostEstimate(True, region, cluster.regional, pools, volumes, sizes, dict(headroom or {}), autopilot_pods)


def _autopilot_requests(workloads: Sequence[ServiceConfig]) -> dict[str, dict[str, float]]:
    """What Autopilot bills: the pods' requested vCPU, GiB of memory and GiB of ephemeral storage, at min and max."""
    totals = {at: {"vcpu": 0.0, "memoryGiB": 0.0, "ephemeralStorageGiB": 0.0} for at in ("min", "max")}
    for svc in workloads:
        requests = svc.effective_resources.requests
        for at, replicas in (("min", svc.min_replicas), ("max", svc.max_replicas)):
            totals[at]["vcpu"] += cpu_millicores(requests.cpu) / 1000 * replicas
            totals[at]["memoryGiB"] += memory_bytes(requests.memory) / 2**30 * replicas
            totals[at]["ephemeralStorageGiB"] += storage_bytes(svc.effective_ephemeral_storage) / 2**30 * replicas
    return {at: {k: round(v, 3) for k, v in amounts.items()} for at, amounts in totals.items()}
