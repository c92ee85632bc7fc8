"""Headroom: how much spare capacity each node pool keeps warm, so a scale-up never waits for a node.

The spare room is held by placeholder pods (cluster/headroom.py) that run at a priority below every
service's, so the scheduler evicts them the moment a service's new pod needs their room; the evicted
placeholders go Pending and the cluster autoscaler adds a node for them in the background.

Per pool, from `nodePools[].headroom`:
- a size (`{cpu, memory, replicas}`): that many placeholder pods of that size, in any environment;
- `off`: none;
- `auto` (the default): in production, sized from the timing model. Every routed service with an HPA
  whose pods may use the pool (its first eligible pool, on-demand before Spot) needs room for the
  pods it adds from minReplicas to maxReplicas; what the pool's nodes at their minimum already hold
  free is subtracted. Each placeholder is as large as the largest of those services' pods, so evicting
  one always frees room for one pod. The whole range, not only the HPA's first step, because the
  first step alone still leaves the later steps waiting ~110 s for a node, past the 60 s target.
  Outside production `auto` keeps none: staging and dev may wait for the autoscaler.

The simplification, stated: free room is counted per pool as in the capacity check (requests summed
against allocatable, workloads confined to the pool at their minimum), and every routed service is
assumed to scale at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from components.cluster.config import HeadroomSize, NodePoolConfig
from components.planning.capacity import CapacityReport, CpuMemory, Workload
from components.values import cpu_millicores, memory_bytes
from components.workloads.config import ServiceConfig

MIB = 2**20


@dataclass(frozen=True)
class PoolHeadroom:
    """The placeholder pods of one pool, and why there are that many."""

    pool: str
    pods: int
    per_pod: CpuMemory
    # The routed services the room is for ('auto'), or empty for a size from config.
    services: tuple[str, ...] = ()
    # Nodes the pool keeps beyond its minimum for the placeholders: what the headroom costs.
    extra_nodes: int = 0

    @property
    def total(self) -> CpuMemory:
        return self.per_pod * self.pods

    def summary(self) -> dict[str, object]:
        return {
            "pods": self.pods,
            "perPod": self.per_pod.as_dict(),
            "total": self.total.as_dict(),
            "for": list(self.services) if self.services else "nodePools[].headroom",
            "extraNodes": self.extra_nodes,
        }


def _home_pool(workload: Workload, pools: Sequence[NodePoolConfig]) -> str | None:
    """The pool whose headroom a service counts on: its first eligible pool, on-demand before Spot."""
    eligible = [p for p in pools if p.name in workload.pools]
    eligible.sort(key=lambda p: p.spot)
    return eligible[0].name if eligible else None


def _free_at_min(capacity: CapacityReport, pool: str) -> CpuMemory:
    """What the pool's nodes at their minimum hold beyond the minimum requests of the workloads confined to it."""
    offered = sum((p.per_node * p.min_nodes for p in capacity.pools if p.name == pool), CpuMemory())
    taken = sum((w.per_pod * w.min_pods for w in capacity.workloads if w.pools and w.pools <= {pool}), CpuMemory())
    return offered - taken


def plan_headroom(
    node_pools: Sequence[NodePoolConfig],
    services: Sequence[ServiceConfig],
    capacity: CapacityReport,
    production: bool,
) -> dict[str, PoolHeadroom]:
    """Pool name -> its placeholder pods; pools without headroom are absent. Without the capacity check
    (an existing cluster, Autopilot) only explicit sizes on pools the stack describes count."""
    if not capacity.checked:
        # An existing cluster's stack may still describe its pools: explicit sizes there are kept (pinned by pool name).
        return {
            pool.name: PoolHeadroom(
                pool.name,
                pool.headroom.replicas,
                CpuMemory(cpu_millicores(pool.headroom.cpu), memory_bytes(pool.headroom.memory) / MIB),
            )
            for pool in node_pools
            if isinstance(pool.headroom, HeadroomSize)
        }
    workloads = {w.name: w for w in capacity.workloads if w.is_service}
    needed: dict[str, CpuMemory] = {}
    slot: dict[str, CpuMemory] = {}
    routed: dict[str, list[str]] = {}
    for svc in services:
        workload = workloads.get(svc.name)
        if not svc.routes or svc.autoscaling is None or workload is None or svc.min_replicas >= svc.max_replicas:
            continue
        home = _home_pool(workload, node_pools)
        if home is None:
            continue
        needed[home] = needed.get(home, CpuMemory()) + workload.per_pod * (svc.max_replicas - svc.min_replicas)
        largest = slot.get(home, CpuMemory())
        slot[home] = CpuMemory(
            max(largest.cpu, workload.per_pod.cpu),
            max(largest.memory, workload.per_pod.memory),
            max(largest.disk, workload.per_pod.disk),
        )
        routed.setdefault(home, []).append(svc.name)
    plans: dict[str, PoolHeadroom] = {}
    for pool in node_pools:
        setting = pool.headroom
        if setting == "off" or (setting == "auto" and not production):
            continue
        if setting != "auto":
            size = CpuMemory(cpu_millicores(setting.cpu), memory_bytes(setting.memory) / MIB)
            plans[pool.name] = _with_nodes(PoolHeadroom(pool.name, setting.replicas, size), capacity)
            continue
        if pool.name not in needed:
            continue
        need = needed[pool.name]
        if need.fits_in(_free_at_min(capacity, pool.name)):
            continue  # the nodes at their minimum already hold the room
        # Placeholders take free room too, so they hold the whole need, not only what is short.
        each = slot[pool.name]
        pods = max(
            math.ceil(need.cpu / each.cpu) if each.cpu else 0,
            math.ceil(need.memory / each.memory) if each.memory else 0,
        )
        plans[pool.name] = _with_nodes(PoolHeadroom(pool.name, pods, each, tuple(routed[pool.name])), capacity)
    return plans


def _with_nodes(room: PoolHeadroom, capacity: CapacityReport) -> PoolHeadroom:
    """`room` with the nodes its placeholders add beyond the pool's free room at its minimum."""
    [pool] = [p for p in capacity.pools if p.name == room.pool]
    short = (room.total - _free_at_min(capacity, room.pool)).clipped()
    node = pool.per_node
    extra = max(
        math.ceil(short.cpu / node.cpu) if node.cpu > 0 else 0,
        math.ceil(short.memory / node.memory) if node.memory > 0 else 0,
    )
    return PoolHeadroom(room.pool, room.pods, room.per_pod, room.services, extra)
