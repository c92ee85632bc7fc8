"""Quota fit check: does each namespace's ResourceQuota hold its pods, at the HPA minimum and maximum?

Runs before any resource is registered (platform.py calls it beside the capacity check). For every
declared namespace, the pods that will run there are summed, as the API server's quota admission
counts them, and compared with the quota's `requests.cpu`, `requests.memory`, `limits.cpu`,
`limits.memory` and `pods`:
- every catalog service and in-cluster data store at its minimum and maximum replicas, its canary
  track at the same scaling, and its migration Job's one pod (it runs beside the old pods);
- what the platform runs in a namespace the catalog declares: the OpenTelemetry Collector, and on an
  existing cluster Envoy Gateway's controller and its Envoy proxies;
- per container, the LimitRange's defaults for what it sets nothing for, as Kubernetes admits it: an
  unset limit takes `defaultLimit`; an unset request takes the container's own limit, else
  `defaultRequest`.

Too little at the minimum is a ConfigError (the pods would be refused at the first deploy); too
little at the maximum is a warning naming the namespace, the resource and the shortfall (the HPA's
scale-up stops at the quota).

Left out, stated: the extra pods of a rolling update (maxSurge), which the quota also has to admit
while a rollout runs; add-on charts whose pods the config does not size (monitoring, cert-manager,
Envoy Gateway's certgen Job, which runs once at install).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.errors import Problem, config_error, problem_line
from components.tenancy.config import LimitRangeConfig, NamespaceConfig
from components.values import cpu_millicores, memory_bytes
from components.workloads.config import ServiceConfig

# Envoy Gateway's controller, chart gateway-helm v1.9.0 `deployment.envoyGateway.resources`
# (../shared/e2e-vendor/charts/gateway-helm-v1.9.0/values.yaml): no CPU limit, so the LimitRange's applies.
ENVOY_CONTROLLER: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "1024Mi"},
}
# Each Envoy proxy pod: the envoy container and the shutdown-manager, requests only (envoyproxy/gateway
# api/v1alpha1/shared_types.go, DefaultDeploymentCPU/MemoryResourceRequests and DefaultShutdownManager*).
ENVOY_PROXY: tuple[dict[str, dict[str, str]], ...] = (
    {"requests": {"cpu": "100m", "memory": "512Mi"}},
    {"requests": {"cpu": "10m", "memory": "32Mi"}},
)

RESOURCES = ("requestsCpu", "requestsMemory", "limitsCpu", "limitsMemory", "pods")


@dataclass(frozen=True)
class Usage:
    """What pods take from a quota: millicores, bytes and a pod count."""

    requests_cpu: int = 0
    requests_memory: int = 0
    limits_cpu: int = 0
    limits_memory: int = 0
    pods: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def __mul__(self, count: int) -> Usage:
        return Usage(*(value * count for value in self.values()))

    def values(self) -> tuple[int, ...]:
        return (self.requests_cpu, self.requests_memory, self.limits_cpu, self.limits_memory, self.pods)

    def by_key(self) -> dict[str, int]:
        return dict(zip(RESOURCES, self.values(), strict=True))


def container_usage(resources: dict[str, dict[str, str]], defaults: LimitRangeConfig) -> Usage:
    """One container's share after the LimitRange admission has filled in what it left unset."""
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    limit_cpu = limits.get("cpu") or defaults.default_limit.cpu
    limit_memory = limits.get("memory") or defaults.default_limit.memory
    # The API server defaults a missing request to the container's own limit before LimitRange runs.
    request_cpu = requests.get("cpu") or limits.get("cpu") or defaults.default_request.cpu
    request_memory = requests.get("memory") or limits.get("memory") or defaults.default_request.memory
    return Usage(
        cpu_millicores(request_cpu),
        memory_bytes(request_memory),
        cpu_millicores(limit_cpu),
        memory_bytes(limit_memory),
    )


def pod_usage(containers: Sequence[dict[str, dict[str, str]]], defaults: LimitRangeConfig) -> Usage:
    total = Usage(pods=1)
    for resources in containers:
        total += container_usage(resources, defaults)
    return total


def _service_containers(svc: ServiceConfig) -> list[dict[str, dict[str, str]]]:
    res = svc.effective_resources
    return [
        {
            "requests": {"cpu": res.requests.cpu, "memory": res.requests.memory},
            "limits": {"cpu": res.limits.cpu, "memory": res.limits.memory},
        }
    ]


@dataclass(frozen=True)
class Tenant:
    """Pods of one kind in a namespace: `minimum` and `maximum` of them, each taking `pod`."""

    name: str
    pod: Usage
    minimum: int
    maximum: int


@dataclass(frozen=True)
class PlatformPods:
    """What the platform itself runs, by namespace, with its containers' resources and replicas."""

    by_namespace: dict[str, list[tuple[str, list[dict[str, dict[str, str]]], int]]] = field(default_factory=dict)


def tenants(ns: NamespaceConfig, workloads: Sequence[ServiceConfig], platform: PlatformPods) -> Iterator[Tenant]:
    """Everything that runs pods in `ns`: catalog workloads (with canary and migration) and platform pods."""
    for svc in workloads:
        if svc.namespace != ns.name:
            continue
        pod = pod_usage(_service_containers(svc), ns.limits)
        yield Tenant(svc.name, pod, svc.min_replicas, svc.max_replicas)
        if svc.canary is not None:
            yield Tenant(f"{svc.name}-canary", pod, svc.min_replicas, svc.max_replicas)
        if svc.migration is not None:
            yield Tenant(f"{svc.name}-migrate", pod, 1, 1)
    for name, containers, replicas in platform.by_namespace.get(ns.name, []):
        yield Tenant(name, pod_usage(containers, ns.limits), replicas, replicas)


def _quota(ns: NamespaceConfig) -> dict[str, int]:
    quota = ns.quota
    return {
        "requestsCpu": cpu_millicores(quota.requests_cpu),
        "requestsMemory": memory_bytes(quota.requests_memory),
        "limitsCpu": cpu_millicores(quota.limits_cpu),
        "limitsMemory": memory_bytes(quota.limits_memory),
        "pods": quota.pods,
    }


def _show(resource: str, amount: int) -> str:
    if resource.endswith("Cpu"):
        return f"{amount / 1000:g} CPU" if amount % 10 == 0 else f"{amount}m CPU"
    if resource.endswith("Memory"):
        mib = amount / 2**20
        return f"{mib / 1024:g}Gi" if mib >= 1024 else f"{mib:g}Mi"
    return f"{amount} pods"


@dataclass(frozen=True)
class NamespaceFit:
    namespace: NamespaceConfig
    tenants: list[Tenant]

    def used(self, at_max: bool) -> dict[str, int]:
        total = Usage()
        for tenant in self.tenants:
            total += tenant.pod * (tenant.maximum if at_max else tenant.minimum)
        return total.by_key()

    def shortfalls(self, at_max: bool) -> Iterator[tuple[str, int, int]]:
        """(resource, needed, quota) for every resource the pods need more of than the quota holds."""
        quota, used = _quota(self.namespace), self.used(at_max)
        for resource in RESOURCES:
            if used[resource] > quota[resource]:
                yield resource, used[resource], quota[resource]

    def _who(self, at_max: bool) -> str:
        parts = [f"{t.name} x{t.maximum if at_max else t.minimum}" for t in self.tenants]
        return ", ".join(parts) or "no pods"

    def problems(self) -> Iterator[Problem]:
        for resource, needed, quota in self.shortfalls(at_max=False):
            yield (
                f"namespaces[{self.namespace.name}].quota.{resource}",
                f"{_show(resource, quota)} is below the {_show(resource, needed)} its pods need at the HPA minimum "
                f"({self._who(False)}); the quota would refuse them, so raise it to at least {_show(resource, needed)}",
            )

    def warnings(self) -> Iterator[Problem]:
        for resource, needed, quota in self.shortfalls(at_max=True):
            yield (
                f"namespaces[{self.namespace.name}].quota.{resource}",
                f"{_show(resource, needed - quota)} short at the HPA maximum: its pods need {_show(resource, needed)} "
                f"({self._who(True)}) against {_show(resource, quota)}; scale-up stops at the quota",
            )

    def summary(self) -> dict[str, Any]:
        return {
            "quota": _quota(self.namespace),
            "min": self.used(at_max=False),
            "max": self.used(at_max=True),
        }


@dataclass(frozen=True)
class QuotaFit:
    stack: str
    namespaces: list[NamespaceFit]

    def warnings(self) -> Iterator[str]:
        for fit in self.namespaces:
            for path, message in fit.warnings():
                yield problem_line(self.stack, path, message)

    def summary(self) -> dict[str, Any]:
        return {fit.namespace.name: fit.summary() for fit in self.namespaces}


def quota_fit(
    stack: str, namespaces: Sequence[NamespaceConfig], workloads: Sequence[ServiceConfig], platform: PlatformPods
) -> QuotaFit:
    """Every enabled namespace's pods against its quota, at the minimum and the maximum."""
    return QuotaFit(
        stack, [NamespaceFit(ns, list(tenants(ns, workloads, platform))) for ns in namespaces if ns.enabled]
    )


def check_quotas(
    stack: str, namespaces: Sequence[NamespaceConfig], workloads: Sequence[ServiceConfig], platform: PlatformPods
) -> QuotaFit:
    """`quota_fit`, enforced: too small at the minimum raises ConfigError; the maximum's shortfalls are warnings."""
    result = quota_fit(stack, namespaces, workloads, platform)
    problems = [problem for fit in result.namespaces for problem in fit.problems()]
    if problems:
        raise config_error(stack, problems)
    for warning in result.warnings():
        pulumi.log.warn(warning)
    return result
