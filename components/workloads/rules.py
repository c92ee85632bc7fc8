"""One service's own rules: ports, resources, probes, shutdown, rollout, scaling, volumes and routes.

They relate the fields of a single `ServiceConfig` (workloads/config.py) to each other; rules that
reach into other domains (its namespace exists, the Secrets it reads hold the keys it names, its
callers are declared) live in `config/checks.py`, which runs these in a fixed order.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic.alias_generators import to_camel

from components.errors import Problem
from components.values import cpu_millicores, memory_bytes, storage_bytes
from components.workloads.config import (
    LOG_ALLOWANCE,
    PROBE_DEFAULTS,
    SCRATCH_SIZE_LIMIT,
    STORAGE_CLASSES,
    WRITABLE_LAYER_ALLOWANCE,
    ServiceConfig,
)


def _mib(amount: int) -> str:
    return f"{-(-amount // 2**20)}Mi"


def check_service(svc: ServiceConfig, path: str) -> Iterator[Problem]:
    """Ports, resources, probes, shutdown, rollout strategy and metrics of one service."""
    names = [p.name for p in svc.ports]
    numbers = [p.container_port for p in svc.ports]
    service_ports = [p.effective_service_port for p in svc.ports]
    for i, port in enumerate(svc.ports):
        if names.index(port.name) != i:
            yield f"{path}.ports[{i}].name", f"port name '{port.name}' is used twice"
        if numbers.index(port.container_port) != i:
            yield f"{path}.ports[{i}].containerPort", f"container port {port.container_port} is used twice"
        elif service_ports.index(port.effective_service_port) != i:
            # `http` defaults to 80, so another port on 80 would clash in the Service.
            yield (
                f"{path}.ports[{i}].servicePort",
                f"service port {port.effective_service_port} is used twice; set a distinct servicePort",
            )

    if svc.resources is not None and svc.size is not None:
        yield f"{path}.size", "set either size (a preset) or resources, not both"
    res = svc.effective_resources
    if cpu_millicores(res.limits.cpu) < cpu_millicores(res.requests.cpu):
        yield (
            f"{path}.resources.limits.cpu",
            f"{res.limits.cpu} is below the request ({res.requests.cpu}); limits must be >= requests",
        )
    if memory_bytes(res.limits.memory) < memory_bytes(res.requests.memory):
        yield (
            f"{path}.resources.limits.memory",
            f"{res.limits.memory} is below the request ({res.requests.memory}); limits must be >= requests",
        )

    if svc.ephemeral_storage is not None and storage_bytes(svc.ephemeral_storage) < svc.ephemeral_floor_bytes:
        yield (
            f"{path}.ephemeralStorage",
            f"{svc.ephemeral_storage} is below what the pod may write by design "
            f"({_mib(svc.ephemeral_floor_bytes)}: "
            f"{svc.scratch_volumes} emptyDir(s) of {SCRATCH_SIZE_LIMIT}, {LOG_ALLOWANCE} of logs"
            f"{'' if svc.security.read_only_root_filesystem else f', {WRITABLE_LAYER_ALLOWANCE} of writable layer'}); "
            "the kubelet would evict a healthy pod: raise it or leave it unset",
        )

    for kind in ("startup", "liveness", "readiness"):
        probe = getattr(svc.probes, kind)
        if probe is None:
            continue
        probe_path = f"{path}.probes.{kind}"
        handlers = [h for h in ("http_get", "tcp_socket", "exec") if getattr(probe, h) is not None]
        if len(handlers) != 1:
            yield probe_path, "set exactly one of httpGet, tcpSocket or exec"
            continue
        handler = getattr(probe, handlers[0])
        probe_port = getattr(handler, "port", None)
        if probe_port is not None and svc.port(probe_port) is None:
            yield (
                f"{probe_path}.{to_camel(handlers[0])}.port",
                f"{probe_port!r} is not a declared port; declared: {', '.join(names)}",
            )
        timeout = probe.timeout_seconds or PROBE_DEFAULTS[kind]["timeoutSeconds"]
        period = probe.period_seconds or PROBE_DEFAULTS[kind]["periodSeconds"]
        if timeout > period:
            yield f"{probe_path}.timeoutSeconds", f"{timeout} exceeds periodSeconds ({period}); checks would overlap"
        if kind in ("liveness", "startup") and probe.success_threshold not in (None, 1):
            yield f"{probe_path}.successThreshold", "must be 1 for liveness and startup probes"

    if svc.shutdown.termination_grace_period_seconds <= svc.shutdown.pre_stop_sleep_seconds:
        yield (
            f"{path}.shutdown.terminationGracePeriodSeconds",
            (
                f"{svc.shutdown.termination_grace_period_seconds} must exceed preStopSleepSeconds "
                f"({svc.shutdown.pre_stop_sleep_seconds}) so the app has time to stop after the sleep"
            ),
        )

    strategy = svc.strategy
    if strategy.type == "RollingUpdate" and strategy.max_surge in (0, "0%") and strategy.max_unavailable in (0, "0%"):
        yield f"{path}.strategy", "maxSurge and maxUnavailable cannot both be 0"

    if svc.metrics is not None and svc.port(svc.metrics.port) is None:
        yield f"{path}.metrics.port", f"'{svc.metrics.port}' is not a declared port; declared: {', '.join(names)}"
    yield from check_metadata(svc, path)


# Label keys the platform or Kubernetes sets, or that network policies select on: a team's own label with one
# of them could move pods out of their Service, PDB or policy, or into another's (an ACME solver's, the edge's).
RESERVED_LABEL_KEYS = frozenset({"track", "k8s-app", "pod-template-hash", "controller-revision-hash"})
# Prefixes (up to the '/') reserved to Kubernetes, and to the controllers whose pods policies admit by label.
RESERVED_LABEL_PREFIXES = ("kubernetes.io", "k8s.io", "acme.cert-manager.io", "gateway.envoyproxy.io")
# The platform's own pod annotations (checksums that roll pods) and Pulumi's, which change how it deploys.
RESERVED_ANNOTATION_PREFIXES = ("checksum", "pulumi.com")


def _reserved_prefix(key: str, prefixes: tuple[str, ...]) -> str | None:
    if "/" not in key:
        return None
    prefix = key.split("/", 1)[0]
    return next((p for p in prefixes if prefix == p or prefix.endswith(f".{p}")), None)


def check_metadata(svc: ServiceConfig, path: str) -> Iterator[Problem]:
    """A team's labels and annotations: none may take a key the platform, Kubernetes or a policy relies on."""
    for key in svc.labels:
        reserved = _reserved_prefix(key, RESERVED_LABEL_PREFIXES)
        if key in RESERVED_LABEL_KEYS or reserved is not None:
            owner = f"the '{reserved}' prefix is reserved" if reserved else f"'{key}' is set by the platform"
            yield (
                f"{path}.labels.{key}",
                f"{owner}: selectors, budgets and network policies rely on it; use a key of your own, "
                "e.g. 'team.example.com/owner' or 'app'",
            )
    for key in svc.annotations:
        reserved = _reserved_prefix(key, RESERVED_ANNOTATION_PREFIXES)
        if reserved is not None:
            yield (
                f"{path}.annotations.{key}",
                f"the '{reserved}' prefix is reserved: the platform's checksums roll pods and Pulumi reads its own; "
                "use a key of your own",
            )


def check_scaling(svc: ServiceConfig, path: str, *, production: bool, serves_production: bool) -> Iterator[Problem]:
    """Replicas, HPA bounds and the disruption budget; `serves_production` when its namespace takes production traffic."""
    hpa = svc.autoscaling
    if hpa is not None:
        if svc.replicas is not None:
            yield f"{path}.replicas", "set replicas or autoscaling, not both: the HPA owns the replica count"
        if hpa.min_replicas > hpa.max_replicas:
            yield (
                f"{path}.autoscaling.maxReplicas",
                f"{hpa.max_replicas} is below minReplicas ({hpa.min_replicas}); maxReplicas must be >= minReplicas",
            )
        if hpa.cpu_utilization is None and hpa.memory_utilization is None and not hpa.pods_metrics:
            yield f"{path}.autoscaling", "declare at least one metric: cpuUtilization, memoryUtilization or podsMetrics"
        if svc.stateful is not None and not svc.stateful.allow_autoscaling:
            yield (
                f"{path}.autoscaling",
                "a StatefulSet keeps a volume per replica, so an HPA would add and drop copies of its data; "
                "remove autoscaling or set stateful.allowAutoscaling: true",
            )
    if serves_production and svc.user_facing and svc.min_replicas < 3:
        field = "autoscaling.minReplicas" if hpa is not None else "replicas"
        yield f"{path}.{field}", f"user-facing services need at least 3 replicas in production, got {svc.min_replicas}"
    budget = svc.disruption_budget
    if budget.min_available is not None and budget.max_unavailable is not None:
        yield f"{path}.disruptionBudget", "set minAvailable or maxUnavailable, not both"
    elif budget.enabled and budget.min_available is not None and budget.min_available >= svc.min_replicas:
        yield (
            f"{path}.disruptionBudget.minAvailable",
            (
                f"{budget.min_available} would block every eviction with {svc.min_replicas} replica(s); "
                f"it must be below the minimum replicas ({svc.min_replicas})"
            ),
        )
    elif (
        budget.enabled
        and budget.max_unavailable is not None
        and svc.min_replicas > 0
        and budget.max_unavailable >= svc.min_replicas
    ):
        yield (
            f"{path}.disruptionBudget.maxUnavailable",
            (
                f"{budget.max_unavailable} would let every replica go at once; it must be below the minimum replicas ({svc.min_replicas})"
            ),
        )
    if production and svc.min_replicas >= 2 and svc.pdb() is None:
        yield (
            f"{path}.disruptionBudget.enabled",
            "production services with 2 or more replicas must keep a PodDisruptionBudget",
        )


def check_volumes(svc: ServiceConfig, path: str, cluster_mode: str) -> Iterator[Problem]:
    """A stateful service's claims: storage classes the cluster mode knows, distinct names and paths."""
    if svc.stateful is None:
        return
    known = STORAGE_CLASSES[cluster_mode]
    taken = ["/tmp", *(m.path for m in svc.mounts), *svc.stateful.scratch_paths]
    names: list[str] = []
    for index, volume in enumerate(svc.stateful.volumes):
        volume_path = f"{path}.stateful.volumes[{index}]"
        if volume.storage_class is not None and volume.storage_class not in known:
            yield (
                f"{volume_path}.storageClass",
                f"'{volume.storage_class}' is not a storage class of cluster.mode '{cluster_mode}'; "
                f"use one of {', '.join(known)} or leave it unset for the default",
            )
        if volume.name in names:
            yield f"{volume_path}.name", f"volume name '{volume.name}' is used twice"
        names.append(volume.name)
        if volume.path in taken:
            yield f"{volume_path}.path", f"'{volume.path}' is already mounted"
        taken.append(volume.path)


def check_route_ports(svc: ServiceConfig, path: str) -> Iterator[Problem]:
    names = [p.name for p in svc.ports]
    for r_index, route in enumerate(svc.routes):
        if svc.port(route.port) is None:
            yield (
                f"{path}.routes[{r_index}].port",
                f"'{route.port}' is not a declared port; declared: {', '.join(names)}",
            )
