"""Config of the workloads domain: one microservice, everything its Deployment and companions need.

`ServiceConfig` is the typed slice the microservice component takes; `stateful` makes it a
StatefulSet on persistent volumes (storage classes per cluster mode below). The `check_*` functions below
are one service's own rules (ports, probes, resources, scaling, budgets); rules that reach into
other domains (its namespace exists, the Secrets it reads hold the keys it names, its callers are
declared) live in `config/checks.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag

from components.observability.config import SloConfig
from components.values import (
    IMAGE_REFERENCE,
    DnsLabel,
    DnsSubdomain,
    Duration,
    Host,
    HttpPath,
    Image,
    Labels,
    Model,
    Percent,
    Port,
    PortName,
    PortRef,
    Resources,
    ResourceValues,
    ServiceName,
    Storage,
)


class PortConfig(Model):
    name: PortName
    container_port: Port
    # The Service's port; `http` defaults to 80 (seed 001), others to the container port.
    service_port: Port | None = None
    protocol: Literal["TCP", "UDP"] = "TCP"

    @property
    def effective_service_port(self) -> int:
        if self.service_port is not None:
            return self.service_port
        return 80 if self.name == "http" else self.container_port


class KeyRef(Model):
    name: DnsSubdomain
    key: str


class EnvFrom(Model):
    secret_key_ref: KeyRef | None = None
    config_map_key_ref: KeyRef | None = None
    # Downward API, e.g. metadata.name (POD_NAME) or metadata.namespace (POD_NAMESPACE).
    field_ref: (
        Literal[
            "metadata.name",
            "metadata.namespace",
            "metadata.uid",
            "spec.nodeName",
            "spec.serviceAccountName",
            "status.podIP",
            # A StatefulSet pod's ordinal (Kubernetes >= 1.28), e.g. a Kafka node id.
            "metadata.labels['apps.kubernetes.io/pod-index']",
            "status.hostIP",
        ]
        | None
    ) = None


def _env_kind(value: Any) -> str:
    return "ref" if isinstance(value, Mapping) else "plain"


# A literal value ("INFO") or a reference ({secretKeyRef: {...}}).
EnvValue = Annotated[
    Annotated[str, Tag("plain")] | Annotated[EnvFrom, Tag("ref")],
    Discriminator(_env_kind),
]


class EnvSource(Model):
    """A whole ConfigMap or Secret as environment variables (`envFrom`)."""

    config_map: DnsSubdomain | None = None
    secret: DnsSubdomain | None = None


class Mount(EnvSource):
    """A ConfigMap or Secret mounted read-only as files."""

    path: Annotated[str, Field(pattern=r"^/[^\s]*$")]


# Seed 003's sizing tiers.
SIZES: dict[str, Resources] = {
    "small": Resources(
        requests=ResourceValues(cpu="250m", memory="256Mi"), limits=ResourceValues(cpu="500m", memory="512Mi")
    ),
    "medium": Resources(
        requests=ResourceValues(cpu="500m", memory="512Mi"), limits=ResourceValues(cpu="1000m", memory="1Gi")
    ),
    "large": Resources(
        requests=ResourceValues(cpu="1000m", memory="1Gi"), limits=ResourceValues(cpu="2000m", memory="2Gi")
    ),
}


class HttpGet(Model):
    path: HttpPath
    port: PortRef = "http"


class TcpSocket(Model):
    port: PortRef


class ExecAction(Model):
    command: list[str] = Field(min_length=1)


class Probe(Model):
    http_get: HttpGet | None = None
    tcp_socket: TcpSocket | None = None
    exec: ExecAction | None = None
    initial_delay_seconds: int | None = Field(None, ge=0)
    period_seconds: int | None = Field(None, ge=1)
    timeout_seconds: int | None = Field(None, ge=1)
    success_threshold: int | None = Field(None, ge=1)
    failure_threshold: int | None = Field(None, ge=1)


# Seed 002's timings: startup 5 s x 30, liveness 10 s x 3, readiness 5 s x 3, timeout 3 s.
PROBE_DEFAULTS: dict[str, dict[str, int]] = {
    "startup": {
        "initialDelaySeconds": 0,
        "periodSeconds": 5,
        "timeoutSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 30,
    },
    "liveness": {
        "initialDelaySeconds": 0,
        "periodSeconds": 10,
        "timeoutSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 3,
    },
    "readiness": {
        "initialDelaySeconds": 0,
        "periodSeconds": 5,
        "timeoutSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 3,
    },
}


class Probes(Model):
    startup: Probe | None = None
    liveness: Probe
    readiness: Probe


class Shutdown(Model):
    # Seed 002: sleep 15 s so load balancers deregister the pod, then 30 s in all before SIGKILL.
    pre_stop_sleep_seconds: int = Field(15, ge=0)
    termination_grace_period_seconds: int = Field(30, ge=1)


class SecurityConfig(Model):
    # High IDs avoid clashing with users on the node (CKV_K8S_40).
    run_as_user: int = Field(10001, ge=10000)
    run_as_group: int = Field(10001, ge=10000)
    fs_group: int = Field(10001, ge=10000)
    read_only_root_filesystem: bool = True


_PERCENT = re.compile(r"^(\d{1,3})%$")


def _int_or_percent(value: Any) -> int | str:
    """A pod count (>= 0) or a percentage of the replicas ('25%', 0-100%), as Kubernetes' IntOrString takes it."""
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match is not None and int(match.group(1)) <= 100:
            return value
    elif isinstance(value, int) and not isinstance(value, bool):
        if value >= 0:
            return value
        raise ValueError(f"{value} is negative; use a pod count >= 0 or a percentage such as '25%'")
    raise ValueError(f"{value!r} is neither a pod count nor a percentage from '0%' to '100%', e.g. '25%'")


# A pod count or a percentage of the replicas.
IntOrPercent = Annotated[int | str, BeforeValidator(_int_or_percent)]


def resolve_int_or_percent(value: int | str, replicas: int, *, round_up: bool) -> int:
    """A count or percentage of `replicas` in pods, rounded as the Deployment controller rounds it:
    up for maxSurge, down for maxUnavailable (k8s.io/apimachinery intstr.GetScaledValueFromIntOrPercent)."""
    if isinstance(value, int):
        return value
    scaled = int(value[:-1]) * replicas
    return -(-scaled // 100) if round_up else scaled // 100


class Strategy(Model):
    type: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    # Kubernetes' own default: a quarter of the replicas at once, so a 20-replica rollout takes 4 waves, not 20.
    max_surge: IntOrPercent = "25%"
    # Surge never takes capacity away first.
    max_unavailable: IntOrPercent = 0

    def resolved(self, replicas: int) -> tuple[int, int]:
        """(maxSurge, maxUnavailable) in pods at `replicas`, as the Deployment controller resolves them;
        when both round to 0 it lets one pod be unavailable (deployment util ResolveFenceposts)."""
        surge = resolve_int_or_percent(self.max_surge, replicas, round_up=True)
        unavailable = resolve_int_or_percent(self.max_unavailable, replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable


class Spread(Model):
    # Spread replicas over zones and nodes; `anti-affinity` uses preferred pod anti-affinity instead.
    mode: Literal["topology", "anti-affinity", "none"] = "topology"
    max_skew: int = Field(1, ge=1)


class MetricsConfig(Model):
    port: PortName = "metrics"
    path: HttpPath = "/metrics"
    interval: Duration = "30s"


class HpaPolicy(Model):
    type: Literal["Percent", "Pods"]
    value: int = Field(ge=1)
    period_seconds: int = Field(ge=1, le=1800)


class ScalingRules(Model):
    stabilization_window_seconds: int = Field(ge=0, le=3600)
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: list[HpaPolicy] = Field(min_length=1)


class Behavior(Model):
    # Seed 001: double every 15 s with no window; halve every 60 s after 5 minutes of calm.
    scale_up: ScalingRules = ScalingRules.model_validate(
        {"stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    )
    scale_down: ScalingRules = ScalingRules.model_validate(
        {"stabilizationWindowSeconds": 300, "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}
    )


class PodsMetric(Model):
    """A per-pod custom metric, e.g. http_requests_per_second averaging 1000 (seed 001)."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    average_value: Annotated[str, Field(pattern=r"^\d+(\.\d+)?[kMG]?m?$")]


class Autoscaling(Model):
    min_replicas: int = Field(ge=1, le=1000)
    max_replicas: int = Field(ge=1, le=1000)
    cpu_utilization: Percent | None = 70
    memory_utilization: Percent | None = None
    pods_metrics: list[PodsMetric] = []
    behavior: Behavior = Behavior()


class DisruptionBudget(Model):
    enabled: bool = True
    min_available: int | None = Field(None, ge=1)
    max_unavailable: int | None = Field(None, ge=1)


class Route(Model):
    host: Host
    path: HttpPath
    port: PortName = "http"
    # Gateway API only: the whole request's deadline (e.g. 30s) and headers set on the way in.
    timeout: Annotated[str, Field(pattern=r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")] | None = None
    request_headers: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")], str] = {}


class Canary(Model):
    """A second track of the service (canary, or the new colour of a blue-green switch)."""

    image: Image
    # The share of the routes' requests the track takes, in percent; the stable track gets the rest.
    weight: int = Field(ge=0, le=100)


class Migration(Model):
    """A Job that runs the service image before the Deployment rolls (seed 001's alembic)."""

    command: list[str] = Field(min_length=1)
    backoff_limit: int = Field(3, ge=0, le=20)
    ttl_seconds_after_finished: int = Field(86400, ge=0)
    active_deadline_seconds: int = Field(600, ge=1)


class WorkloadIdentity(Model):
    # Roles granted to the service's own GCP service account, e.g. roles/storage.objectViewer.
    roles: list[Annotated[str, Field(pattern=r"^roles/[A-Za-z0-9_.]+$")]] = []


class ServiceAccountConfig(Model):
    automount_token: bool = False
    workload_identity: WorkloadIdentity | None = None


# Storage classes each cluster mode knows, and the one a claim gets when it names none. GKE's
# Persistent Disk CSI driver installs standard-rwo (pd-balanced, the cluster default), premium-rwo
# (pd-ssd) and the legacy standard (pd-standard); on an existing cluster (kind) the claim omits
# storageClassName, so the cluster's default class (kind: rancher local-path `standard`) serves it.
STORAGE_CLASSES: dict[str, tuple[str, ...]] = {
    "gke": ("standard-rwo", "premium-rwo", "standard"),
    "existing": ("standard",),
}
DEFAULT_STORAGE_CLASS: dict[str, str | None] = {"gke": "standard-rwo", "existing": None}


class VolumeClaim(Model):
    """One persistent volume per replica (a StatefulSet volumeClaimTemplate), mounted at `path`."""

    name: DnsLabel = "data"
    path: Annotated[str, Field(pattern=r"^/[^\s]*$")]
    size: Storage
    # Unset: the mode's default (GKE standard-rwo; kind: the cluster's default class).
    storage_class: DnsSubdomain | None = None
    access_modes: list[Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany"]] = Field(
        default=["ReadWriteOnce"], min_length=1
    )


class StatefulConfig(Model):
    """Run the service as a StatefulSet: stable pod names and DNS, a volume per replica that outlives it."""

    volumes: list[VolumeClaim] = Field(min_length=1)
    # OrderedReady starts pod N only once pod N-1 is Ready (primaries first); Parallel for peers that
    # find each other (a KRaft quorum, a MongoDB replica set).
    pod_management_policy: Literal["OrderedReady", "Parallel"] = "OrderedReady"
    # Pods with an ordinal >= partition take a new template; raise it to canary the highest ordinals.
    partition: int = Field(0, ge=0)
    # An HPA adds and removes pods whose volumes are retained; only a store built for it may opt in.
    allow_autoscaling: bool = False
    # Ports only the service's own pods reach (replication, a quorum); callers are not admitted on them.
    peer_ports: list[PortName] = []
    # Writable emptyDirs beside /tmp for images that write outside their data volume (a socket directory).
    scratch_paths: list[Annotated[str, Field(pattern=r"^/[^\s]*$")]] = []


class ServiceConfig(Model):
    name: ServiceName
    enabled: bool = True
    namespace: DnsLabel
    image: Image
    # Unset: Always outside dev, which re-checks registry credentials on every start so a cached
    # private image is never reused by a pod that could not pull it (CKV_K8S_15; with pinned tags it
    # costs one HEAD request); IfNotPresent on dev, so images loaded with `kind load docker-image` run.
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    ports: list[PortConfig] = Field(min_length=1)
    # Plain settings for the service's own ConfigMap `<name>-config`, consumed via envFrom.
    config: dict[str, str] = {}
    env: dict[str, EnvValue] = {}
    env_from: list[EnvSource] = []
    mounts: list[Mount] = []
    size: Literal["small", "medium", "large"] | None = None
    resources: Resources | None = None
    probes: Probes
    shutdown: Shutdown = Shutdown()
    security: SecurityConfig = SecurityConfig()
    strategy: Strategy = Strategy()
    revision_history_limit: int = Field(5, ge=0, le=100)
    progress_deadline_seconds: int = Field(600, ge=30)
    # regular: on-demand nodes only; spot: spot nodes only; prefer-spot: spot when there is room.
    placement: Literal["regular", "spot", "prefer-spot"] = "regular"
    node_selector: Labels = {}
    spread: Spread = Spread()
    metrics: MetricsConfig | None = None
    replicas: int | None = Field(None, ge=0, le=1000)
    autoscaling: Autoscaling | None = None
    disruption_budget: DisruptionBudget = DisruptionBudget()
    routes: list[Route] = []
    # A second Deployment and Service taking `weight` percent of the routes' traffic.
    canary: Canary | None = None
    # Other services (by name) allowed to call this one, on its caller ports.
    allow_from: list[ServiceName] = []
    migration: Migration | None = None
    service_account: ServiceAccountConfig = ServiceAccountConfig()
    # Availability and latency objectives: recording rules, burn-rate alerts, the dashboard's budget panel.
    slo: SloConfig | None = None
    # Set: a StatefulSet with persistent volumes instead of a Deployment.
    stateful: StatefulConfig | None = None

    @property
    def kind(self) -> str:
        """The workload kind the service runs as."""
        return "StatefulSet" if self.stateful is not None else "Deployment"

    @property
    def headless_service_name(self) -> str:
        """The headless Service that gives a StatefulSet's pods stable DNS (<pod>.<this>.<namespace>.svc)."""
        return f"{self.name}-headless"

    def pull_policy(self, environment: str) -> str:
        """The image pull policy this service gets in `environment`."""
        if self.image_pull_policy is not None:
            return self.image_pull_policy
        return "IfNotPresent" if environment == "dev" else "Always"

    @property
    def effective_resources(self) -> Resources:
        if self.resources is not None:
            return self.resources
        return SIZES[self.size or "small"]

    @property
    def min_replicas(self) -> int:
        if self.autoscaling is not None:
            return self.autoscaling.min_replicas
        return self.replicas if self.replicas is not None else 1

    @property
    def max_replicas(self) -> int:
        if self.autoscaling is not None:
            return self.autoscaling.max_replicas
        return self.min_replicas

    @property
    def caller_ports(self) -> list[PortConfig]:
        """The ports `allowFrom` callers reach: every port but a dedicated metrics port. A service serving
        /metrics on its only port (as most seeds do) keeps that port open to its callers."""
        metrics_port = self.metrics.port if self.metrics is not None else None
        callable_ports = [p for p in self.ports if p.name not in self.peer_ports]
        return [p for p in callable_ports if p.name != metrics_port] or callable_ports

    @property
    def peer_ports(self) -> list[str]:
        """Ports only a stateful service's own pods reach (a quorum's controller listener)."""
        return list(self.stateful.peer_ports) if self.stateful is not None else []

    @property
    def user_facing(self) -> bool:
        return bool(self.routes)

    @property
    def image_tag(self) -> str:
        match = IMAGE_REFERENCE.match(self.image)
        assert match is not None  # validated on load
        return match.group("tag") or (match.group("digest") or "").split(":")[1][:12]

    def port(self, ref: int | str) -> PortConfig | None:
        for port in self.ports:
            if ref in (port.name, port.container_port):
                return port
        return None

    def pdb(self) -> tuple[str, int] | None:
        """The PodDisruptionBudget this service gets, as (field, value), or None."""
        budget = self.disruption_budget
        if not budget.enabled:
            return None
        if budget.min_available is not None:
            return ("minAvailable", budget.min_available)
        if budget.max_unavailable is not None:
            return ("maxUnavailable", budget.max_unavailable)
        if self.min_replicas >= 2:
            return ("maxUnavailable", 1)
        return None
