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

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag

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
    storage_bytes,
)


class PortConfig(Model):
    name: PortName
    """IANA-style port name (at most 15 characters)."""
    container_port: Port
    """1-65535."""
    # The Service's port; `http` defaults to 80 (seed 001), others to the container port.
    service_port: Port | None = None
    """The Service's port. Default: 80 for `http`, else the container port."""
    protocol: Literal["TCP", "UDP"] = "TCP"
    """Protocol."""

    @property
    def effective_service_port(self) -> int:
        if self.service_port is not None:
            return self.service_port
        return 80 if self.name == "http" else self.container_port


class KeyRef(Model):
    name: DnsSubdomain
    """Secret or ConfigMap name."""
    key: str
    """Key within it."""


class EnvFrom(Model):
    secret_key_ref: KeyRef | None = None
    """`{name, key}` of a declared secret in the service's namespace."""
    config_map_key_ref: KeyRef | None = None
    """`{name, key}` of a declared config map (or the service's own `<name>-config`)."""
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
    """Downward API field, e.g. `metadata.name` (POD_NAME) or `metadata.namespace` (POD_NAMESPACE)."""


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
    """A declared config map."""
    secret: DnsSubdomain | None = None
    """A declared secret."""


class Mount(EnvSource):
    """A ConfigMap or Secret mounted read-only as files."""

    path: Annotated[str, Field(pattern=r"^/[^\s]*$")]
    """Absolute mount path (not `/tmp`, which is the platform's scratch emptyDir)."""
    keys: list[str] = []
    """Only these keys, each a file of its name; empty: every key."""


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
    """Request path."""
    port: PortRef = "http"
    """A declared port, by name or number."""
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    """`HTTPS` for a port that serves TLS (the kubelet does not verify the certificate)."""


class TcpSocket(Model):
    port: PortRef
    """A declared port."""


class ExecAction(Model):
    command: list[str] = Field(min_length=1)
    """The command."""


class Probe(Model):
    http_get: HttpGet | None = None
    """HTTP GET check."""
    tcp_socket: TcpSocket | None = None
    """TCP connect check."""
    exec: ExecAction | None = None
    """Command check."""
    initial_delay_seconds: int | None = Field(None, ge=0)
    """Default 0."""
    period_seconds: int | None = Field(None, ge=1)
    """Default 5 (startup), 10 (liveness), 5 (readiness)."""
    timeout_seconds: int | None = Field(None, ge=1)
    """Default 3; must not exceed the period."""
    success_threshold: int | None = Field(None, ge=1)
    """Default 1 (must be 1 for liveness and startup)."""
    failure_threshold: int | None = Field(None, ge=1)
    """Default 30 (startup), 3 (liveness and readiness)."""


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


# A liveness probe left unset checks the process only: a TCP connect to the port readiness probes,
# every 20 s, restarting after 6 misses (2 minutes). It never follows a dependency, so a database
# outage takes replicas out of the load balancer (readiness) without restarting them all at once.
LIVENESS_PROCESS_DEFAULTS: dict[str, int] = {
    "initialDelaySeconds": 0,
    "periodSeconds": 20,
    "timeoutSeconds": 3,
    "successThreshold": 1,
    "failureThreshold": 6,
}


class Probes(Model):
    startup: Probe | None = None
    """Defaults: every 5 s, 30 failures (as the single-service example's guide asks)."""
    liveness: Probe | None = None
    """Restarts the container when it fails. Unset: a TCP check of the process on the readiness probe's port, every 20 s, 6 failures, never a dependency. Set: defaults every 10 s, 3 failures; a check identical to readiness is warned about."""
    readiness: Probe
    """Required: takes the pod out of its Service while it fails (it may check dependencies). Defaults: every 5 s, 3 failures."""


class Shutdown(Model):
    # Seed 002: sleep 15 s so load balancers deregister the pod, then 30 s in all before SIGKILL.
    pre_stop_sleep_seconds: int = Field(15, ge=0)
    """preStop sleep so load balancers deregister the pod first."""
    termination_grace_period_seconds: int = Field(30, ge=1)
    """Must exceed `preStopSleepSeconds`."""


class SecurityConfig(Model):
    # High IDs avoid clashing with users on the node (CKV_K8S_40).
    run_as_user: int = Field(10001, ge=10000)
    """UID, at least 10000."""
    run_as_group: int = Field(10001, ge=10000)
    """GID, at least 10000."""
    fs_group: int = Field(10001, ge=10000)
    """Volume group, at least 10000."""
    read_only_root_filesystem: bool = True
    """Read-only root filesystem (an emptyDir is mounted at `/tmp`)."""


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
    """`RollingUpdate` or `Recreate`."""
    # Kubernetes' own default: a quarter of the replicas at once, so a 20-replica rollout takes 4 waves, not 20.
    max_surge: IntOrPercent = "25%"
    """Rolling update surge: a pod count or a percentage of the replicas (`0%`-`100%`), rounded up as Kubernetes does. 25% (Kubernetes' own default) makes any rollout at most 4 waves."""
    # Surge never takes capacity away first.
    max_unavailable: IntOrPercent = 0
    """Rolling update unavailability, a count or a percentage rounded down; 0 never takes capacity away first. Not both 0."""

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
    """`topology`: spread constraints over zones and nodes; `anti-affinity`: preferred pod anti-affinity; `none`."""
    max_skew: int = Field(1, ge=1)
    """Maximum skew for topology spread."""


class MetricsConfig(Model):
    port: PortName = "metrics"
    """A declared port name."""
    path: HttpPath = "/metrics"
    """Metrics path."""
    interval: Duration = "30s"
    """ServiceMonitor scrape interval."""


class HpaPolicy(Model):
    type: Literal["Percent", "Pods"]
    """`Percent` or `Pods`."""
    value: int = Field(ge=1)
    """Amount per period."""
    period_seconds: int = Field(ge=1, le=1800)
    """1-1800."""


class ScalingRules(Model):
    stabilization_window_seconds: int = Field(ge=0, le=3600)
    """0-3600."""
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"
    """Which policy wins."""
    policies: list[HpaPolicy] = Field(min_length=1)
    """At least one `{type, value, periodSeconds}`."""


class Behavior(Model):
    # Seed 001: double every 15 s with no window; halve every 60 s after 5 minutes of calm.
    scale_up: ScalingRules = ScalingRules.model_validate(
        {"stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    )
    """Rules for scaling up."""
    scale_down: ScalingRules = ScalingRules.model_validate(
        {"stabilizationWindowSeconds": 300, "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}
    )
    """Rules for scaling down. Same fields as `services.autoscaling.behavior.scaleUp`."""


class PodsMetric(Model):
    """A per-pod custom metric, e.g. http_requests_per_second averaging 1000 (seed 001)."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    """Metric name."""
    average_value: Annotated[str, Field(pattern=r"^\d+(\.\d+)?[kMG]?m?$")]
    """Target average value (a quantity string)."""


class Autoscaling(Model):
    min_replicas: int = Field(ge=1, le=1000)
    """Minimum replicas (>= 3 in production for routed services)."""
    max_replicas: int = Field(ge=1, le=1000)
    """>= `minReplicas`."""
    cpu_utilization: Percent | None = 70
    """Average CPU utilization target, 1-100; `null` for none."""
    memory_utilization: Percent | None = None
    """Average memory utilization target, 1-100."""
    pods_metrics: list[PodsMetric] = []
    """Custom per-pod metrics, e.g. `http_requests_per_second` averaging `1000`."""
    behavior: Behavior = Behavior()
    """Scaling behaviour. Default: up 100% per 15 s with no window; down 50% per 60 s after a 300 s window."""


class DisruptionBudget(Model):
    enabled: bool = True
    """`false` drops it (not allowed in production for 2+ replicas)."""
    min_available: int | None = Field(None, ge=1)
    """Must be below the minimum replicas, so evictions are never blocked."""
    max_unavailable: int | None = Field(None, ge=1)
    """Must be below the minimum replicas."""


class Route(Model):
    host: Host
    """Fully qualified host; `${domain}` is substituted."""
    path: HttpPath
    """Path prefix (`pathType: Prefix`); one service per path on a host."""
    port: PortName = "http"
    """A declared port name; the route names the Service's port number."""
    # Gateway API only: the whole request's deadline (e.g. 30s) and headers set on the way in.
    timeout: Annotated[str, Field(pattern=r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")] | None = None
    """Gateway API: the request's deadline, e.g. `30s`: the rule's `timeouts.request` on Envoy Gateway; on GKE the backend service's `timeoutSec` (GCPBackendPolicy, the longest of the service's routes; it also bounds a WebSocket's lifetime, 30 s by default)."""
    request_headers: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")], str] = {}
    """Gateway API: headers set on the request before it reaches the service (`RequestHeaderModifier`)."""


class Canary(Model):
    """A second track of the service (canary, or the new colour of a blue-green switch)."""

    image: Image
    """The track's image, pinned."""
    # The share of the routes' requests the track takes, in percent; the stable track gets the rest.
    weight: int = Field(ge=0, le=100)
    """Percent of the routes' requests the track gets, 0 to 100; the stable track gets the rest."""


class Migration(Model):
    """A Job that runs the service image before the Deployment rolls (seed 001's alembic)."""

    command: list[str] = Field(min_length=1)
    """e.g. `[alembic, upgrade, head]`."""
    backoff_limit: int = Field(3, ge=0, le=20)
    """Retries."""
    ttl_seconds_after_finished: int = Field(86400, ge=0)
    """Seconds before Kubernetes deletes the finished Job."""
    active_deadline_seconds: int = Field(600, ge=1)
    """Time limit for the Job."""


class WorkloadIdentity(Model):
    # Roles granted to the service's own GCP service account, e.g. roles/storage.objectViewer.
    roles: list[Annotated[str, Field(pattern=r"^roles/[A-Za-z0-9_.]+$")]] = []
    """Project roles for that account, e.g. `roles/storage.objectViewer`."""


class ServiceAccountConfig(Model):
    automount_token: bool = False
    """Mount an API token into pods (off unless the service calls the API)."""
    workload_identity: WorkloadIdentity | None = None
    """Give the service its own GCP service account through Workload Identity (gke mode)."""
    name: DnsSubdomain | None = Field(
        None,
        description="The Kubernetes ServiceAccount's name, unique in its namespace; unset: the service's name.",
    )


# A qualified name as Kubernetes takes for label and annotation keys: an optional DNS-subdomain prefix and '/',
# then up to 63 characters of [A-Za-z0-9-_.] starting and ending alphanumeric.
_QUALIFIED_NAME = re.compile(
    r"^(?:(?=[^/]{1,253}/)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def _annotation_keys(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if not _QUALIFIED_NAME.match(key):
            raise ValueError(
                f"'{key}' is not a valid annotation key: an optional DNS prefix and '/', then up to 63 characters "
                "of [A-Za-z0-9-_.] starting and ending with a letter or digit"
            )
    return value


Annotations = Annotated[dict[str, str], AfterValidator(_annotation_keys)]


# Storage classes each cluster mode knows, and the one a claim gets when it names none. GKE's
# Persistent Disk CSI driver installs standard-rwo (pd-balanced, the cluster default), premium-rwo
# (pd-ssd) and the legacy standard (pd-standard); on an existing cluster (kind) the claim omits
# storageClassName, so the cluster's default class (kind: rancher local-path `standard`) serves it.
STORAGE_CLASSES: dict[str, tuple[str, ...]] = {
    "gke": ("standard-rwo", "premium-rwo", "standard"),
    # Autopilot installs the same Persistent Disk CSI driver and classes.
    "autopilot": ("standard-rwo", "premium-rwo", "standard"),
    "existing": ("standard",),
}
DEFAULT_STORAGE_CLASS: dict[str, str | None] = {"gke": "standard-rwo", "autopilot": "standard-rwo", "existing": None}


class VolumeClaim(Model):
    """One persistent volume per replica (a StatefulSet volumeClaimTemplate), mounted at `path`."""

    name: DnsLabel = "data"
    """Claim name; the PVCs are `<name>-<service>-<ordinal>`."""
    path: Annotated[str, Field(pattern=r"^/[^\s]*$")]
    """Mount path in the container."""
    size: Storage
    """Storage quantity, e.g. `10Gi` (Mi, Gi, Ti or M, G, T). A size that is not a quantity is refused."""
    # Unset: the mode's default (GKE standard-rwo; kind: the cluster's default class).
    storage_class: DnsSubdomain | None = None
    """GKE: `standard-rwo` (pd-balanced, the default), `premium-rwo` (pd-ssd) or `standard` (pd-standard). Existing mode (kind): unset, so the cluster's default class serves the claim, or `standard`. Any other class is refused."""
    access_modes: list[Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany"]] = Field(
        default=["ReadWriteOnce"], min_length=1
    )
    """`ReadWriteOnce`, `ReadWriteOncePod`, `ReadOnlyMany` or `ReadWriteMany`."""


class StatefulConfig(Model):
    """Run the service as a StatefulSet: stable pod names and DNS, a volume per replica that outlives it."""

    volumes: list[VolumeClaim] = Field(min_length=1)
    """One volume per replica each (`volumeClaimTemplates`), at least one. Claim templates are immutable: growing one is the procedure in [data](data.md#growing-a-volume)."""
    # OrderedReady starts pod N only once pod N-1 is Ready (primaries first); Parallel for peers that
    # find each other (a KRaft quorum, a MongoDB replica set).
    pod_management_policy: Literal["OrderedReady", "Parallel"] = "OrderedReady"
    """`OrderedReady` starts pod N once pod N-1 is Ready; `Parallel` for peers that find each other."""
    # Pods with an ordinal >= partition take a new template; raise it to canary the highest ordinals.
    partition: int = Field(0, ge=0)
    """RollingUpdate partition: only pods with an ordinal >= it take a new template (canary the highest ordinals)."""
    # An HPA adds and removes pods whose volumes are retained; only a store built for it may opt in.
    allow_autoscaling: bool = False
    """Allow an HPA on the StatefulSet; without it `autoscaling` is refused, since every added pod brings a volume that outlives it."""
    # Ports only the service's own pods reach (replication, a quorum); callers are not admitted on them.
    peer_ports: list[PortName] = []
    """Ports only the service's own pods reach (a quorum's controller listener): callers are not admitted on them, and the pods reach each other on every port."""
    # Writable emptyDirs beside /tmp for images that write outside their data volume (a socket directory).
    scratch_paths: list[Annotated[str, Field(pattern=r"^/[^\s]*$")]] = []
    """Writable `emptyDir`s (256Mi) beside `/tmp`, for images that write outside their volume with a read-only root filesystem."""


# Ephemeral storage (https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage):
# a container's emptyDirs, its logs and its writable layer all count against its ephemeral-storage limit.
# Each emptyDir the platform mounts (/tmp and a stateful service's scratch paths) is bounded at this size.
SCRATCH_SIZE_LIMIT = "256Mi"
# The kubelet keeps at most containerLogMaxFiles (5) x containerLogMaxSize (10Mi) of a container's logs
# (https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/): 50Mi, rounded up.
LOG_ALLOWANCE = "64Mi"
# What a writable root filesystem may hold (packages unpacked, caches) when `readOnlyRootFilesystem` is off.
WRITABLE_LAYER_ALLOWANCE = "512Mi"


class ServiceConfig(Model):
    name: ServiceName
    """Service name: a DNS-1123 label that starts with a letter; the Deployment's and Service's `metadata.name`."""
    enabled: bool = True
    """`false` leaves the service out of a stack."""
    namespace: DnsLabel
    """A declared namespace."""
    image: Image
    """Image pinned by tag or `@sha256:` digest; `latest` and untagged images are rejected."""
    # Unset: Always outside dev, which re-checks registry credentials on every start so a cached
    # private image is never reused by a pod that could not pull it (CKV_K8S_15; with pinned tags it
    # costs one HEAD request); IfNotPresent on dev, so images loaded with `kind load docker-image` run.
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] | None = None
    """Pull policy. `Always` re-checks registry credentials on every start (CKV_K8S_15); dev's `IfNotPresent` lets images loaded with `kind load docker-image` run."""
    command: list[str] | None = None
    """Container entrypoint override."""
    args: list[str] | None = None
    """Container arguments."""
    ports: list[PortConfig] = Field(min_length=1)
    """Named container ports, e.g. `http`, `metrics`, `health`; all are exposed by the ClusterIP Service."""
    # Plain settings for the service's own ConfigMap `<name>-config`, consumed via envFrom.
    config: dict[str, str] = {}
    """Plain settings for the service's own ConfigMap `<name>-config`, consumed via `envFrom`."""
    env: dict[str, EnvValue] = {}
    """Variable → a literal string, or one of `secretKeyRef`, `configMapKeyRef`, `fieldRef`."""
    env_from: list[EnvSource] = []
    """Whole ConfigMaps or Secrets as environment variables."""
    mounts: list[Mount] = []
    """ConfigMaps or Secrets mounted read-only as files."""
    size: Literal["small", "medium", "large"] | None = None
    """Resource preset: `small` 250m/256Mi → 500m/512Mi, `medium` 500m/512Mi → 1/1Gi, `large` 1/1Gi → 2/2Gi. Default `small` when `resources` is unset."""
    resources: Resources | None = None
    """Explicit requests and limits (instead of `size`); limits must be >= requests."""
    probes: Probes
    """Startup (optional), liveness and readiness probes."""
    shutdown: Shutdown = Shutdown()
    """Graceful shutdown."""
    security: SecurityConfig = SecurityConfig()
    """The restricted security context (runAsNonRoot, seccomp RuntimeDefault, no privilege escalation, all capabilities dropped are fixed)."""
    strategy: Strategy = Strategy()
    """Deployment strategy."""
    revision_history_limit: int = Field(5, ge=0, le=100)
    """Old ReplicaSets kept for rollback."""
    progress_deadline_seconds: int = Field(600, ge=30)
    """Seconds before a stuck rollout is reported failed."""
    # regular: on-demand nodes only; spot: spot nodes only; prefer-spot: spot when there is room;
    # spot-fallback: a ComputeClass's pools, Spot while GKE has it, on-demand otherwise, back to Spot when it
    # returns (what prefer-spot becomes in gke mode once the stack declares such a class).
    placement: Literal["regular", "spot", "prefer-spot", "spot-fallback"] = "regular"
    """`regular`: on-demand nodes only; `spot`: spot nodes only (toleration + required affinity); `prefer-spot`: spot when there is room, and on GKE Standard the `spot-fallback` ComputeClass once the stack declares one; `spot-fallback`: a ComputeClass's pools, Spot while GKE has it, on-demand otherwise, back to Spot when it returns (see [compute](compute.md)). On an existing cluster, `spot` and `spot-fallback` relax to a preference."""
    compute_class: DnsLabel | None = Field(
        None,
        description="The ComputeClass (nodePools[].computeClass) a spot-fallback service selects; "
        "default: the stack's only one",
    )
    node_selector: Labels = {}
    """Node labels the pods require, e.g. `workload-type: compute`."""
    spread: Spread = Spread()
    """How replicas spread."""
    metrics: MetricsConfig | None = None
    """Prometheus metrics: a ServiceMonitor when monitoring is on, and scraping allowed from the monitoring namespace. No `prometheus.io/*` pod annotations: nothing reads them (see [observability](observability.md))."""
    replicas: int | None = Field(None, ge=0, le=1000)
    """Fixed replicas when there is no `autoscaling` (the Deployment gets no `replicas` when an HPA owns it)."""
    autoscaling: Autoscaling | None = None
    """A HorizontalPodAutoscaler (autoscaling/v2)."""
    disruption_budget: DisruptionBudget = DisruptionBudget()
    """PodDisruptionBudget (policy/v1). By default `maxUnavailable: 1` whenever the minimum replicas are >= 2."""
    routes: list[Route] = []
    """Public paths: one HTTPRoute per service and host on the shared Gateway (one Ingress per host and namespace on the legacy ingress-nginx)."""
    # A second Deployment and Service taking `weight` percent of the routes' traffic.
    canary: Canary | None = None
    """A second track taking part of the routes' traffic (canary, or blue-green at weight 100). Needs routes and `ingress.controller: gateway`."""
    # Other services (by name) allowed to call this one, on its caller ports.
    allow_from: list[ServiceName] = []
    """Other services (by name) whose pods may call this one, in any namespace, on all its ports but a dedicated metrics port; each caller gets an egress policy to it. Not in, nor naming a service in, a `read-only` namespace."""
    migration: Migration | None = None
    """A Job run with the service's image, env and secrets before the Deployment rolls."""
    service_account: ServiceAccountConfig = ServiceAccountConfig()
    """The service's Kubernetes ServiceAccount."""
    # Availability and latency objectives: recording rules, burn-rate alerts, the dashboard's budget panel.
    slo: SloConfig | None = None
    """Service level objectives: a PrometheusRule `<name>-rules` with recording rules and multi-window multi-burn-rate alerts, and the dashboard's budget panel. Needs `metrics`."""
    # Set: a StatefulSet with persistent volumes instead of a Deployment.
    stateful: StatefulConfig | None = None
    """Run the service as a StatefulSet on persistent volumes instead of a Deployment (see [data](data.md)): a headless Service `<name>-headless` for stable pod DNS beside the ClusterIP Service, PVC retention `Retain`/`Retain`, RollingUpdate with a partition. PDB, spread and security contexts as for a Deployment."""
    ephemeral_storage: Storage | None = Field(
        None,
        description="Ephemeral storage the container requests and is limited to (e.g. 2Gi); "
        "default: its emptyDir volumes plus a log allowance (plus a writable-layer allowance without a read-only root)",
    )
    labels: Labels = Field(
        {},
        description="The team's own labels on the workload and its pods (owner, cost centre); never selectors.",
    )
    annotations: Annotations = Field({}, description="The team's own annotations on the workload and its pods.")

    @property
    def service_account_name(self) -> str:
        """The ServiceAccount the pods run as: the chosen name, else the service's."""
        return self.service_account.name or self.name

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
    def liveness(self) -> Probe:
        """The liveness probe the pod gets: the configured one, else a TCP check of the process on the
        port the readiness probe uses (the first port for an exec readiness probe)."""
        if self.probes.liveness is not None:
            return self.probes.liveness
        readiness = self.probes.readiness
        action = readiness.http_get or readiness.tcp_socket
        port = action.port if action is not None else self.ports[0].name
        return Probe.model_validate({"tcpSocket": {"port": port}, **LIVENESS_PROCESS_DEFAULTS})

    def probe(self, kind: Literal["startup", "liveness", "readiness"]) -> Probe | None:
        """The probe of `kind` the pod gets (liveness always has one)."""
        if kind == "liveness":
            return self.liveness
        probe: Probe | None = getattr(self.probes, kind)
        return probe

    @property
    def effective_resources(self) -> Resources:
        if self.resources is not None:
            return self.resources
        return SIZES[self.size or "small"]

    @property
    def scratch_volumes(self) -> int:
        """emptyDir volumes the pod mounts: /tmp plus a stateful service's scratch paths."""
        return 1 + (len(self.stateful.scratch_paths) if self.stateful is not None else 0)

    @property
    def ephemeral_floor_bytes(self) -> int:
        """What the pod may legitimately write outside its volumes: its emptyDirs at their size limit, its
        logs and, with a writable root, the writable layer; an override below this evicts a healthy pod."""
        floor = self.scratch_volumes * storage_bytes(SCRATCH_SIZE_LIMIT) + storage_bytes(LOG_ALLOWANCE)
        if not self.security.read_only_root_filesystem:
            floor += storage_bytes(WRITABLE_LAYER_ALLOWANCE)
        return floor

    @property
    def effective_ephemeral_storage(self) -> str:
        """The ephemeral-storage request and limit of the service's container (both the same)."""
        if self.ephemeral_storage is not None:
            return self.ephemeral_storage
        return f"{-(-self.ephemeral_floor_bytes // 2**20)}Mi"

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
