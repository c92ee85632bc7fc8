"""Autopilot's admission rules, checked per pod before anything is registered (cluster.mode 'autopilot').

On Autopilot there are no node pools to fit: Google sizes a node for each pod. What can go wrong is
the pod itself. GKE validates every pod's requests against its compute class's bounds and silently
raises a request that is too low (or a CPU request that breaks the CPU:memory ratio); a request above
the maximum is refused at admission
(https://cloud.google.com/kubernetes-engine/docs/concepts/autopilot-resource-requests). The platform
never deploys something silently different, so a request Autopilot would change is refused here, with
the value Autopilot would use.

The rules, for the default general-purpose compute class on a cluster that supports bursting (every
Autopilot cluster created at GKE 1.30.2-gke.1394000 or later, so every cluster this program creates):
- CPU request at least 50m and at most 30 vCPU; memory at least 52 MiB and at most 110 GiB;
- memory per vCPU between 1 GiB and 6.5 GiB (a CPU:memory ratio from 1:1 to 1:6.5); below it Autopilot
  raises the memory, above it the CPU;
- ephemeral storage between 10 MiB and 10 GiB;
- limits may exceed requests (bursting), so the platform's limits are kept; a pod is billed for its requests.

Deliberately left out: the Balanced, Scale-Out, Performance and accelerator classes and their bounds,
and the older non-bursting minimums (250m / 512 MiB), which apply only to clusters created before
bursting was available.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from components.errors import Problem
from components.values import cpu_millicores, memory_bytes, storage_bytes
from components.workloads.config import ServiceConfig

MIB = 2**20
GIB = 2**30
MIN_CPU_MILLICORES = 50
MAX_CPU_MILLICORES = 30_000
MIN_MEMORY_MIB = 52
MAX_MEMORY_MIB = 110 * 1024
# GiB of memory per vCPU.
MIN_RATIO, MAX_RATIO = 1.0, 6.5
MIN_EPHEMERAL_MIB = 10
MAX_EPHEMERAL_MIB = 10 * 1024


@dataclass(frozen=True)
class PodRequest:
    name: str
    cpu_millicores: int
    memory_mib: float
    ephemeral_mib: float


def pod_request(svc: ServiceConfig) -> PodRequest:
    requests = svc.effective_resources.requests
    return PodRequest(
        svc.name,
        cpu_millicores(requests.cpu),
        memory_bytes(requests.memory) / MIB,
        storage_bytes(svc.effective_ephemeral_storage) / MIB,
    )


def admission_problems(pod: PodRequest, path: str) -> Iterator[Problem]:
    """What Autopilot would change or refuse about one pod, each with the value it would use."""
    cpu, memory = pod.cpu_millicores, pod.memory_mib
    if cpu < MIN_CPU_MILLICORES:
        yield (
            f"{path}.resources.requests.cpu",
            f"{cpu}m is below Autopilot's minimum ({MIN_CPU_MILLICORES}m), which it would use instead",
        )
    if memory < MIN_MEMORY_MIB:
        yield (
            f"{path}.resources.requests.memory",
            f"{memory:.0f}Mi is below Autopilot's minimum ({MIN_MEMORY_MIB}Mi), which it would use instead",
        )
    if cpu > MAX_CPU_MILLICORES or memory > MAX_MEMORY_MIB:
        yield (
            f"{path}.resources.requests",
            f"{cpu}m / {memory:.0f}Mi exceeds Autopilot's general-purpose maximum (30 vCPU / 110 GiB): the pod is refused",
        )
    if cpu >= MIN_CPU_MILLICORES and memory >= MIN_MEMORY_MIB:
        ratio = (memory / 1024) / (cpu / 1000)
        if ratio < MIN_RATIO:
            needed = math.ceil(cpu / 1000 * MIN_RATIO * 1024)
            yield (
                f"{path}.resources.requests.memory",
                f"{memory:.0f}Mi for {cpu}m is {ratio:.2f} GiB per vCPU, below Autopilot's 1:1 CPU:memory ratio: it "
                f"would raise the memory request to {needed}Mi; request at least that (or less CPU)",
            )
        elif ratio > MAX_RATIO:
            needed = math.ceil(memory / 1024 / MAX_RATIO * 1000)
            yield (
                f"{path}.resources.requests.cpu",
                f"{cpu}m for {memory:.0f}Mi is {ratio:.2f} GiB per vCPU, above Autopilot's 1:6.5 CPU:memory ratio: it "
                f"would raise the CPU request to {needed}m; request at least that (or less memory)",
            )
    if not MIN_EPHEMERAL_MIB <= pod.ephemeral_mib <= MAX_EPHEMERAL_MIB:
        yield (
            f"{path}.ephemeralStorage",
            f"{pod.ephemeral_mib:.0f}Mi is outside Autopilot's 10Mi to 10Gi for ephemeral storage",
        )


def check_autopilot(services: Sequence[ServiceConfig], stores: frozenset[str] = frozenset()) -> list[Problem]:
    """Every service's and data store's (`stores`: their names) pod against Autopilot's rules."""
    return [
        problem
        for svc in services
        for problem in admission_problems(
            pod_request(svc), f"{'dataServices' if svc.name in stores else 'services'}[{svc.name}]"
        )
    ]


def admission_summary(services: Sequence[ServiceConfig]) -> dict[str, object]:
    """The capacity export on Autopilot: each pod as Autopilot will bill and admit it."""
    return {
        "checked": True,
        "mode": "autopilot: per-pod admission against the general-purpose class's rules; Google sizes the nodes",
        "pods": {
            svc.name: {
                "cpuMillicores": request.cpu_millicores,
                "memoryMiB": round(request.memory_mib),
                "ephemeralStorageMiB": round(request.ephemeral_mib),
                "replicas": {"min": svc.min_replicas, "max": svc.max_replicas},
            }
            for svc in services
            for request in [pod_request(svc)]
        },
    }
