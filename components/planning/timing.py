"""Timing model: how long a stack takes to deploy, roll out, roll back and scale up, from its config alone.

Runs in every preview beside the capacity check (platform.py calls it before any resource is
registered); a pure function of the resolved config and the capacity report, so `pulumi preview`,
the `plan` command and the benchmark all show the same figures. Exported as the `timing` output.

Per service, at the HPA minimum and maximum replicas:
- time to ready of one new pod = pod start + image pull (rollouts only) + the startup probe's
  `initialDelaySeconds + periodSeconds x successThreshold` + the readiness probe's, less the part of
  its initial delay the startup probe already covered; unset probe timings take the platform's
  defaults (workloads/config.py PROBE_DEFAULTS), exactly as the pod spec gets them. The first
  success is assumed at the first probe after the app is up, so a probe costs up to one period;
- rollout (RollingUpdate) = the migration Job, if any, + waves x time to ready + the drain of the
  last replaced pods (`terminationGracePeriodSeconds`, which bounds preStop sleep plus shutdown).
  waves = ceil(replicas / (maxSurge + maxUnavailable)), the two resolved as the Deployment
  controller resolves them: a percentage of the replicas, surge rounded up, unavailable rounded
  down, and one pod unavailable when both come to 0 (k8s.io/kubernetes pkg/controller/deployment/util
  ResolveFenceposts). Earlier waves' drains overlap later waves: terminating pods do not count
  against maxSurge (ReplicaSets count only active pods). Recreate = drain, then one wave;
- rollback, modelled as `kubectl rollout undo`: the same waves, with no migration Job and no image
  pull (the previous image is still on the nodes);
- scale-up from minReplicas to maxReplicas under the HPA's `behavior.scaleUp`, simulated the way
  the HPA controller limits a step (pkg/controller/podautoscaler/horizontal.go): each sync, every
  policy allows `Pods: replicas at the period's start + value` or `Percent: ceil(that x (1 + value/100))`,
  `selectPolicy` picks the largest (Max) or smallest (Min), Disabled never scales up; the first step
  waits for the metric, one HPA sync and the `stabilizationWindowSeconds` (under a sustained load
  the window's lowest recommendation is the old one until the window has passed). The new pods
  are then ready after pod start and the probes (their image is on the nodes already running the
  service). When the service's pools at their minimum nodes lack the headroom for the extra pods
  (capacity.py's allocatable model, the other workloads at their minimum), the cluster autoscaler
  adds nodes: its scan interval + node provisioning + the image pull, once, since the nodes of one
  scale-up are created together.

Per stack, the deployment's critical path, from scratch and for an image-tag change, over the
program's dependency graph as platform.py wires it: network (VPC -> subnet, router -> NAT) and the
node service account -> cluster -> node pools -> namespaces -> secrets and config maps -> add-on
releases (the prometheus-operator CRD release first; kube-prometheus-stack and the edge controller
after it; cert-manager and its ClusterIssuers) -> per service its migration Job and Deployment ->
the routes (one Ingress per host, after every service's rollout, the edge and the issuers; with the
Gateway API, HTTPRoutes after their Services and the edge release, if any: GKE runs its own). "The edge" is whatever
release serves the routes (`edge_release`), so the model holds for any controller. An image-tag
change touches only each service's migration Job and Deployment (microservice.py keeps the version
label off every other object), so its path is the slowest service's Job + rollout at its minimum.

Constants and their sources (every figure in seconds):
- HPA_SYNC_PERIOD 15: kube-controller-manager `--horizontal-pod-autoscaler-sync-period` default
  (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#how-does-a-horizontalpodautoscaler-work);
- METRIC_RESOLUTION 15: metrics-server `--metric-resolution` default
  (https://github.com/kubernetes-sigs/metrics-server#configuration); a Pods metric through
  prometheus-adapter is assumed no slower;
- AUTOSCALER_SCAN_INTERVAL 10: cluster-autoscaler `--scan-interval` default
  (https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md);
- NODE_PROVISION 90: ASSUMED, the time from a scale-up decision to a Ready GKE node, spot included
  (GKE documents no figure; VM boot plus node registration typically takes 60-120 s);
- POD_START 5, IMAGE_PULL 10, MIGRATION_RUN 30: ASSUMED typical figures (schedule, sandbox and
  container start; pulling a service image of a few hundred MB from a regional registry; an
  idempotent schema migration). No Kubernetes or GKE documentation gives these;
- CREATE_SECONDS (below): ASSUMED typical create times per resource type, as Pulumi/Terraform
  report them for GKE in a European region; GKE documents only that cluster creation "can take
  several minutes". The kube-prometheus-stack figure (about 4 minutes) is the one issue #18 states.

Deliberately left out: API-server and Pulumi engine latencies, Helm repository downloads, queueing
when many services deploy at once, image pulls on pools that never ran the service, PDB-limited
evictions and the surge node of a pool upgrade, and probe failures (a figure is the healthy case).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.errors import problem_line
from components.planning.capacity import CapacityReport, CpuMemory
from components.planning.config import TimingConfig
from components.workloads.config import PROBE_DEFAULTS, Probe, ScalingRules, ServiceConfig

HPA_SYNC_PERIOD = 15
METRIC_RESOLUTION = 15
AUTOSCALER_SCAN_INTERVAL = 10
NODE_PROVISION = 90
POD_START = 5
IMAGE_PULL = 10
MIGRATION_RUN = 30
# Simulated HPA syncs before a scale-up is declared never to reach the maximum.
_MAX_SYNCS = 1000

# Assumed typical create times per resource type (see the docstring).
CREATE_SECONDS: dict[str, int] = {
    "vpc": 30,
    "subnet": 20,
    "router": 15,
    "nat": 25,
    "node-service-account": 20,  # the account, then its IAM role bindings
    "cluster-regional": 600,  # includes the default pool's creation and removal
    "cluster-zonal": 420,
    "node-pool": 180,
    "static-address": 10,
    "kubernetes-object": 2,  # a Namespace, Secret, ConfigMap, ServiceMonitor, ClusterIssuer, ...
    "crd-release": 20,  # prometheus-operator-crds: CRDs only, no workload to wait for
    "monitoring-release": 240,  # kube-prometheus-stack: operator, Prometheus, Grafana, exporters
    "adapter-release": 60,
    "edge-release": 120,  # the edge controller's pods and its LoadBalancer address
    "cert-manager-release": 90,  # controller, cainjector and the webhook Helm waits for
    "route": 10,  # an Ingress until the controller publishes its address
}


# --------------------------------------------------------------------------- per service


def _probe_seconds(probe: Probe, kind: str) -> tuple[int, int]:
    """(initialDelaySeconds, periodSeconds x successThreshold) as the pod spec states them."""
    defaults = PROBE_DEFAULTS[kind]

    def value(name: str, key: str) -> int:
        set_value: int | None = getattr(probe, name)
        return set_value if set_value is not None else defaults[key]

    return (
        value("initial_delay_seconds", "initialDelaySeconds"),
        value("period_seconds", "periodSeconds") * value("success_threshold", "successThreshold"),
    )


def ready_seconds(svc: ServiceConfig, *, pull: bool) -> int:
    """Seconds from a new pod's creation to Ready: start, pull (if `pull`), startup then readiness probes."""
    startup = 0
    if svc.probes.startup is not None:
        delay, probing = _probe_seconds(svc.probes.startup, "startup")
        startup = delay + probing
    delay, probing = _probe_seconds(svc.probes.readiness, "readiness")
    # The readiness probe's initial delay runs from container start, alongside the startup probe.
    readiness = max(delay - startup, 0) + probing
    return POD_START + (IMAGE_PULL if pull else 0) + startup + readiness


def migration_seconds(svc: ServiceConfig) -> int:
    return POD_START + IMAGE_PULL + MIGRATION_RUN if svc.migration is not None else 0


@dataclass(frozen=True)
class Rollout:
    replicas: int
    surge: int
    unavailable: int
    waves: int
    wave_seconds: int
    drain_seconds: int
    migration_seconds: int
    recreate: bool = False

    @property
    def seconds(self) -> int:
        return self.migration_seconds + self.waves * self.wave_seconds + self.drain_seconds

    def dominant(self) -> tuple[str, str]:
        """(config key under the service, why) for the largest term."""
        waves = self.waves * self.wave_seconds
        if self.migration_seconds > max(waves, self.drain_seconds):
            return "migration", f"the migration Job takes ~{self.migration_seconds} s before the rollout"
        if self.drain_seconds > waves:
            return (
                "shutdown.terminationGracePeriodSeconds",
                f"replaced pods take up to {self.drain_seconds} s to stop: lower terminationGracePeriodSeconds",
            )
        if self.waves > 1 and not self.recreate:
            return "strategy.maxSurge", f"{self.waves} waves of {self.wave_seconds} s: raise maxSurge"
        return "probes", f"a new pod needs {self.wave_seconds} s to be ready: shorten the probes' delays and periods"


def rollout(svc: ServiceConfig, replicas: int, *, rollback: bool = False) -> Rollout:
    """A rollout (or `kubectl rollout undo`, when `rollback`) of `svc` at `replicas`."""
    wave = ready_seconds(svc, pull=not rollback)
    drain = svc.shutdown.termination_grace_period_seconds
    migration = 0 if rollback else migration_seconds(svc)
    if svc.strategy.type == "Recreate":
        return Rollout(replicas, 0, replicas, 1, wave, drain, migration, recreate=True)
    surge, unavailable = svc.strategy.resolved(replicas)
    waves = max(1, math.ceil(replicas / (surge + unavailable)))
    return Rollout(replicas, surge, unavailable, waves, wave, drain, migration)


def hpa_steps(rules: ScalingRules, start: int, target: int) -> list[int] | None:
    """The replica counts after each HPA sync from `start` until `target`, or None if it never gets there."""
    if rules.select_policy == "Disabled":
        return None
    history: list[tuple[int, int]] = []  # (sync time, pods added)
    current, counts = start, list[int]()
    for sync in range(_MAX_SYNCS):
        if current >= target:
            return counts
        now = sync * HPA_SYNC_PERIOD
        limits = []
        for policy in rules.policies:
            added = sum(pods for when, pods in history if when > now - policy.period_seconds)
            base = current - added
            limits.append(base + policy.value if policy.type == "Pods" else math.ceil(base * (1 + policy.value / 100)))
        limit = max(limits) if rules.select_policy == "Max" else min(limits)
        proposed = min(target, max(limit, current))
        history.append((now, proposed - current))
        current = proposed
        counts.append(current)
    return None


@dataclass(frozen=True)
class ScaleUp:
    min_replicas: int
    max_replicas: int
    detection_seconds: int
    window_seconds: int
    steps: list[int] | None
    ready_seconds: int
    nodes_needed: int
    node_seconds: int
    pools: list[str]
    headroom_known: bool
    # The node wait without the placeholders' room (planning/headroom.py): the figure before headroom.
    cold_node_seconds: int = 0

    @property
    def step_seconds(self) -> int:
        return max(len(self.steps or []) - 1, 0) * HPA_SYNC_PERIOD

    @property
    def seconds(self) -> int | None:
        if self.steps is None:
            return None
        return self.detection_seconds + self.window_seconds + self.step_seconds + self.ready_seconds + self.node_seconds

    @property
    def seconds_without_headroom(self) -> int | None:
        seconds = self.seconds
        return None if seconds is None else seconds - self.node_seconds + self.cold_node_seconds

    def summary(self) -> dict[str, Any]:
        """The export: the total, the replica counts the HPA steps through, and the nodes it waits for."""
        return {
            "seconds": self.seconds,
            "steps": list(dict.fromkeys([self.min_replicas, *self.steps])) if self.steps is not None else None,
            "nodesNeeded": self.nodes_needed,
            "headroom": self.nodes_needed == 0 if self.headroom_known else "unknown (cluster.mode existing)",
            "secondsWithoutHeadroom": self.seconds_without_headroom,
        }

    def dominant(self) -> tuple[str, str]:
        if self.steps is None:
            return "autoscaling.behavior.scaleUp.selectPolicy", "scale-up is Disabled"
        terms = {
            "node": self.node_seconds,
            "window": self.window_seconds,
            "steps": self.step_seconds,
            "ready": self.ready_seconds,
        }
        largest = max(terms, key=lambda term: terms[term])
        if largest == "node":
            return (
                "nodePools",
                f"{self.nodes_needed} more node(s) in {', '.join(self.pools)} take ~{self.node_seconds} s "
                f"(assumed {NODE_PROVISION} s per provisioning): give the pool headroom (nodePools[].headroom) "
                "or raise minNodes",
            )
        if largest == "window":
            return (
                "autoscaling.behavior.scaleUp.stabilizationWindowSeconds",
                f"a {self.window_seconds} s stabilization window delays the first step: lower it",
            )
        if largest == "steps":
            counts = self.summary()["steps"]
            return (
                "autoscaling.behavior.scaleUp.policies",
                f"{len(counts) - 1} HPA steps over {self.step_seconds} s ({' -> '.join(map(str, counts))} pods): "
                "allow larger steps or raise minReplicas",
            )
        return "probes", f"a new pod needs {self.ready_seconds} s to be ready: shorten the probes' delays and periods"


@dataclass
class Headroom:
    """What the pools offer at their minimum, per set of pools a service may use (each set computed once),
    with or without the placeholder pods' reserved room (planning/headroom.py), which services preempt."""

    capacity: CapacityReport
    # Pool name -> the room its placeholder pods hold.
    placeholders: dict[str, CpuMemory] = field(default_factory=dict)
    _free: dict[tuple[frozenset[str], bool], CpuMemory] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._services = {w.name: w for w in self.capacity.workloads if w.is_service}

    def free(self, pools: frozenset[str], warm: bool = True) -> CpuMemory:
        """Allocatable at the minimum nodes less the minimum requests of the workloads confined to `pools`;
        `warm`: at least the placeholders' room too, since the autoscaler keeps nodes for them."""
        if (pools, warm) not in self._free:
            offered = sum((p.per_node * p.min_nodes for p in self.capacity.pools if p.name in pools), CpuMemory())
            taken = sum(
                (w.per_pod * w.min_pods for w in self.capacity.workloads if w.pools and w.pools <= pools), CpuMemory()
            )
            free = offered - taken
            if warm:
                held = sum((room for name, room in self.placeholders.items() if name in pools), CpuMemory())
                free = CpuMemory(max(free.cpu, held.cpu), max(free.memory, held.memory), max(free.disk, held.disk))
            self._free[(pools, warm)] = free
        return self._free[(pools, warm)]

    def nodes_needed(self, svc: ServiceConfig, warm: bool = True) -> tuple[int, list[str]]:
        """Nodes the cluster autoscaler must add for `svc` to go from min to max, the others at their minimum."""
        workload = self._services.get(svc.name)
        if not self.capacity.checked or workload is None or not workload.pools:
            return 0, []
        short = workload.per_pod * (workload.max_pods - workload.min_pods) - self.free(workload.pools, warm)
        if short.cpu <= 0 and short.memory <= 0 and short.disk <= 0:
            return 0, []
        pools = [p for p in self.capacity.pools if p.name in workload.pools]
        node = max((p.per_node for p in pools), key=lambda size: (size.cpu, size.memory))
        short = short.clipped()
        nodes = max(
            math.ceil(short.cpu / node.cpu),
            math.ceil(short.memory / node.memory),
            math.ceil(short.disk / node.disk) if node.disk > 0 else 0,
        )
        return nodes, [p.name for p in pools]


def scale_up(svc: ServiceConfig, headroom: Headroom) -> ScaleUp | None:
    hpa = svc.autoscaling
    if hpa is None or hpa.min_replicas >= hpa.max_replicas:
        return None
    rules = hpa.behavior.scale_up
    nodes, pools = headroom.nodes_needed(svc)
    cold_nodes, _ = headroom.nodes_needed(svc, warm=False)
    return ScaleUp(
        min_replicas=hpa.min_replicas,
        max_replicas=hpa.max_replicas,
        detection_seconds=METRIC_RESOLUTION + HPA_SYNC_PERIOD,
        window_seconds=rules.stabilization_window_seconds,
        steps=hpa_steps(rules, hpa.min_replicas, hpa.max_replicas),
        ready_seconds=ready_seconds(svc, pull=False),
        nodes_needed=nodes,
        node_seconds=_node_seconds(nodes),
        pools=pools,
        headroom_known=headroom.capacity.checked,
        cold_node_seconds=_node_seconds(cold_nodes),
    )


def _node_seconds(nodes: int) -> int:
    # New nodes pull the image too.
    return AUTOSCALER_SCAN_INTERVAL + NODE_PROVISION + IMAGE_PULL if nodes else 0


@dataclass(frozen=True)
class ServiceTiming:
    service: ServiceConfig
    rollout_min: Rollout
    rollout_max: Rollout
    rollback_min: Rollout
    rollback_max: Rollout
    scale: ScaleUp | None

    def summary(self) -> dict[str, Any]:
        """The export, kept small (it is per service, and a stack may have hundreds): totals at the HPA
        minimum and maximum, and the terms of the rollout at the maximum."""
        low, high = self.rollout_min, self.rollout_max
        return {
            "replicas": {"min": low.replicas, "max": high.replicas},
            "rolloutSeconds": {"min": low.seconds, "max": high.seconds},
            "rollbackSeconds": {"min": self.rollback_min.seconds, "max": self.rollback_max.seconds},
            "waves": {"min": low.waves, "max": high.waves},
            "waveSeconds": high.wave_seconds,
            "drainSeconds": high.drain_seconds,
            "migrationSeconds": high.migration_seconds,
            "scaleUp": self.scale.summary() if self.scale is not None else None,
        }


# --------------------------------------------------------------------------- the dependency graph


@dataclass(frozen=True)
class Wiring:
    """The facts of platform.py's wiring the graph needs, beside the services."""

    creates_cluster: bool
    regional: bool
    node_pools: Sequence[str]
    # The release serving the routes (ingress-nginx, or a Gateway controller), None when off.
    edge_release: str | None
    static_ip: bool
    cert_manager: bool
    monitoring: bool
    # Route hosts: one Ingress (or the HTTPRoutes) each.
    hosts: Sequence[str] = ()
    # Ingresses wait for every service's rollout and cert-manager's issuers; the Gateway API's
    # HTTPRoutes only for their Services and the Gateway controller's release.
    routes_are_ingresses: bool = True


@dataclass
class Graph:
    """Steps with their durations and what each waits for; longest paths by memoised recursion."""

    seconds: dict[str, int] = field(default_factory=dict)
    after: dict[str, list[str]] = field(default_factory=dict)

    def add(self, step: str, seconds: int, after: Sequence[str] = ()) -> str:
        self.seconds[step] = seconds
        self.after[step] = [a for a in after if a in self.seconds]
        return step

    def finishes(self) -> dict[str, int]:
        done: dict[str, int] = {}
        # Steps are added after what they wait for, so one pass in insertion order suffices.
        for step, seconds in self.seconds.items():
            done[step] = max((done[a] for a in self.after[step]), default=0) + seconds
        return done

    def path_to(self, step: str, done: dict[str, int]) -> list[tuple[str, int]]:
        path = []
        current: str | None = step
        while current is not None:
            path.append((current, self.seconds[current]))
            current = max(self.after[current], key=lambda a: done[a], default=None)
        return path[::-1]


def build_graph(wiring: Wiring, services: Sequence[ServiceConfig]) -> Graph:
    """The deployment from scratch, step by step, as platform.py orders it."""
    graph = Graph()
    t = CREATE_SECONDS
    pools: list[str] = []
    if wiring.creates_cluster:
        graph.add("network/vpc", t["vpc"])
        graph.add("network/subnet", t["subnet"], ["network/vpc"])
        graph.add("network/router", t["router"], ["network/vpc"])
        graph.add("network/nat", t["nat"], ["network/router"])
        graph.add("node-service-account", t["node-service-account"])
        graph.add(
            "cluster",
            t["cluster-regional" if wiring.regional else "cluster-zonal"],
            ["network/subnet", "network/nat", "node-service-account"],
        )
        pools = [
            graph.add(f"node-pool/{pool}", t["node-pool"], ["cluster", "network/nat", "node-service-account"])
            for pool in wiring.node_pools
        ]
        # Autopilot has no pools: objects wait for the cluster itself (its provider's kubeconfig).
        pools = pools or ["cluster"]
    # Every namespaced object and release waits for the node pools (platform.py `on_nodes`).
    namespaces = graph.add("namespaces", t["kubernetes-object"], pools)
    config = graph.add("secrets-and-config-maps", t["kubernetes-object"], [namespaces])
    crds: list[str] = []
    if wiring.monitoring:
        crds = [graph.add("addon/monitoring-crds", t["crd-release"], [*pools, namespaces])]
        graph.add("addon/monitoring", t["monitoring-release"], [*crds, namespaces])
        graph.add("addon/monitoring-adapter", t["adapter-release"], ["addon/monitoring"])
    edge: list[str] = []
    release: list[str] = []
    if wiring.edge_release is not None:
        address = [graph.add("edge/address", t["static-address"])] if wiring.static_ip else []
        release = [graph.add(f"edge/{wiring.edge_release}", t["edge-release"], [*pools, namespaces, *address, *crds])]
        edge.extend(release)
    if wiring.cert_manager:
        graph.add("addon/cert-manager", t["cert-manager-release"], [*pools, namespaces, *crds])
        edge.append(graph.add("addon/cert-manager-issuers", t["kubernetes-object"], ["addon/cert-manager"]))
    workloads = []
    backends = []
    for svc in services:
        job = []
        if svc.migration is not None:
            job = [graph.add(f"service/{svc.name}/migration", migration_seconds(svc), [config])]
        workloads.append(graph.add(f"service/{svc.name}/deployment", ready_seconds(svc, pull=True), [config, *job]))
        backends.append(graph.add(f"service/{svc.name}/service", t["kubernetes-object"], [namespaces]))
        if svc.metrics is not None and crds:
            workloads.append(graph.add(f"service/{svc.name}/service-monitor", t["kubernetes-object"], crds))
    route_after = [*workloads, *edge] if wiring.routes_are_ingresses else [*backends, *release]
    for host in wiring.hosts:
        graph.add(f"route/{host}", t["route"], route_after)
    return graph


def _path_summary(graph: Graph, done: dict[str, int], step: str) -> dict[str, Any]:
    return {"seconds": done[step], "path": [{"step": s, "seconds": sec} for s, sec in graph.path_to(step, done)]}


@dataclass(frozen=True)
class CriticalPath:
    graph: Graph
    done: dict[str, int]
    wiring: Wiring
    image_change: dict[str, int]

    @property
    def from_scratch(self) -> int:
        return max(self.done.values(), default=0)

    @property
    def slowest_route(self) -> str | None:
        routes = [s for s in self.done if s.startswith("route/")]
        return max(routes, key=lambda s: self.done[s], default=None)

    @property
    def unavoidable_chain(self) -> int | None:
        """network -> cluster -> node pool -> edge -> route: what no ordering of the rest can shorten. On
        GKE's Gateway no release serves the routes (the cluster runs the controller): no edge step."""
        if not self.wiring.hosts or (self.wiring.edge_release is None and self.wiring.routes_are_ingresses):
            return None
        seconds = self.graph.seconds
        network = max((self.done[s] for s in ("network/subnet", "network/nat") if s in self.done), default=0)
        pools = max((seconds[s] for s in seconds if s.startswith("node-pool/")), default=0)
        edge = seconds[f"edge/{self.wiring.edge_release}"] if self.wiring.edge_release is not None else 0
        return network + seconds.get("cluster", 0) + pools + edge + CREATE_SECONDS["route"]

    def summary(self) -> dict[str, Any]:
        slowest = self.slowest_route
        last = max(self.done, key=lambda s: self.done[s]) if self.done else None
        image = max(self.image_change, key=lambda s: self.image_change[s]) if self.image_change else None
        return {
            "fromScratch": _path_summary(self.graph, self.done, last) if last else {"seconds": 0, "path": []},
            "imageTagChange": {
                "seconds": self.image_change[image] if image else 0,
                "slowestService": image,
                "touches": ["Deployment", "migration Job"],
            },
            "slowestRoute": _path_summary(self.graph, self.done, slowest) if slowest else None,
            "unavoidableChainSeconds": self.unavoidable_chain,
        }


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class TimingReport:
    stack: str
    targets: TimingConfig
    services: list[ServiceTiming]
    critical_path: CriticalPath

    def warnings(self) -> Iterator[str]:
        """One line per service and target it exceeds, naming the dominant term and the key to change."""
        targets = self.targets
        for timing in self.services:
            name = timing.service.name
            checks: list[tuple[str, int | None, int | None, tuple[str, str] | None]] = [
                ("rollout", timing.rollout_max.seconds, targets.rollout_seconds, timing.rollout_max.dominant()),
                ("rollback", timing.rollback_max.seconds, targets.rollback_seconds, timing.rollback_max.dominant()),
            ]
            if timing.scale is not None:
                checks.append(("scaleUp", timing.scale.seconds, targets.scale_up_seconds, timing.scale.dominant()))
            for what, seconds, limit, dominant in checks:
                if limit is None or dominant is None:
                    continue
                if seconds is None or seconds > limit:
                    key, why = dominant
                    path = key if key == "nodePools" else f"services[{name}].{key}"
                    modeled = "never completes" if seconds is None else f"{seconds} s"
                    yield problem_line(
                        self.stack,
                        path,
                        f"modeled {what} of '{name}' {modeled} exceeds timing.{what}Seconds ({limit} s): {why}",
                    )

    def summary(self) -> dict[str, Any]:
        return {
            "targets": self.targets.model_dump(by_alias=True),
            "assumptions": {
                "hpaSyncPeriodSeconds": HPA_SYNC_PERIOD,
                "metricResolutionSeconds": METRIC_RESOLUTION,
                "autoscalerScanIntervalSeconds": AUTOSCALER_SCAN_INTERVAL,
                "nodeProvisionSeconds": NODE_PROVISION,
                "podStartSeconds": POD_START,
                "imagePullSeconds": IMAGE_PULL,
                "migrationRunSeconds": MIGRATION_RUN,
            },
            "services": {t.service.name: t.summary() for t in self.services},
            "criticalPath": self.critical_path.summary(),
        }


def estimate_timing(
    stack: str,
    targets: TimingConfig,
    services: Sequence[ServiceConfig],
    wiring: Wiring,
    capacity: CapacityReport,
    placeholders: dict[str, CpuMemory] | None = None,
) -> TimingReport:
    """`placeholders`: pool name -> the room its headroom placeholder pods hold (planning/headroom.py)."""
    headroom = Headroom(capacity, dict(placeholders or {}))
    timings = [
        ServiceTiming(
            service=svc,
            rollout_min=rollout(svc, svc.min_replicas),
            rollout_max=rollout(svc, svc.max_replicas),
            rollback_min=rollout(svc, svc.min_replicas, rollback=True),
            rollback_max=rollout(svc, svc.max_replicas, rollback=True),
            scale=scale_up(svc, headroom),
        )
        for svc in services
    ]
    graph = build_graph(wiring, services)
    image_change = {t.service.name: t.rollout_min.seconds for t in timings}
    return TimingReport(stack, targets, timings, CriticalPath(graph, graph.finishes(), wiring, image_change))
