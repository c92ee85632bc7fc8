"""The platform's typed, validated configuration: one place, read before any resource exists.

Everything the program reads lives under the ``platform:`` namespace of Pulumi config.
``load_config()`` gathers it, applies the per-stack ``overrides`` to the shared catalog,
substitutes ``${environment}`` and ``${domain}``, and validates the result in two passes:

1. shape: pydantic models with ``extra="forbid"``, so a misspelt key is an error;
2. meaning: cross-field and cross-object rules (HPA bounds, references between
   services, secrets and namespaces, CIDR overlaps, production guarantees).

Every problem becomes one line naming the stack, the key path and what is allowed, raised as
``ConfigError`` (a ``pulumi.RunError``, which Pulumi prints without a traceback).

Deliberately out of scope: reading files other than Pulumi config, and any resource logic.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
)
from pydantic.alias_generators import to_camel

NAMESPACE = "platform"

# Top-level keys under ``platform:``; each is one Pulumi config key.
TOP_LEVEL_KEYS = (
    "environment",
    "app",
    "domain",
    "cluster",
    "network",
    "nodePools",
    "namespaces",
    "configMaps",
    "secrets",
    "services",
    "ingress",
    "addons",
    "overrides",
)
STRUCTURED_KEYS = frozenset(TOP_LEVEL_KEYS) - {"environment", "app", "domain"}
CATALOGS = ("services", "namespaces", "secrets", "configMaps")


class ConfigError(pulumi.RunError):
    """Invalid stack configuration. Pulumi prints a RunError's message without a traceback."""


# --------------------------------------------------------------------------- value checks

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_CPU = re.compile(r"^(\d+(\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_FACTORS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_DURATION = re.compile(r"^\d+[smhdwy]$")


def dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"'{value}' is not a DNS-1123 label: use at most 63 lowercase letters, digits and "
            "'-', starting and ending with a letter or digit"
        )
    return value


def service_name(value: str) -> str:
    dns_label(value)
    if not value[0].isalpha():
        raise ValueError(f"'{value}' must start with a letter (Kubernetes Service names are DNS-1035 labels)")
    return value


def dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            f"'{value}' is not a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253 characters"
        )
    return value


def port_name(value: str) -> str:
    if len(value) > 15 or not _PORT_NAME.match(value) or not any(c.isalpha() for c in value):
        raise ValueError(
            f"'{value}' is not a valid port name: at most 15 lowercase letters, digits and '-', "
            "with at least one letter"
        )
    return value


def cpu_millicores(value: str) -> int:
    """Parse a Kubernetes CPU quantity ('250m', '1', '0.5') into millicores."""
    match = _CPU.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a CPU quantity: use millicores like '250m' or cores like '1' or '0.5'")
    number = Decimal(match.group(1))
    return int(number if match.group(3) else number * 1000)


def memory_bytes(value: str) -> int:
    """Parse a Kubernetes memory quantity ('512Mi', '1Gi', '1G') into bytes."""
    match = _MEMORY.match(str(value))
    if not match:
        raise ValueError(
            f"'{value}' is not a memory quantity: use a number with a suffix Ki, Mi, Gi, Ti "
            "(or k, M, G, T), e.g. '512Mi'"
        )
    try:
        return int(Decimal(match.group(1)) * _MEMORY_FACTORS[match.group(3)])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"'{value}' is not a memory quantity") from exc


def _cpu(value: str) -> str:
    cpu_millicores(value)
    return value


def _memory(value: str) -> str:
    memory_bytes(value)
    return value


def _cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a CIDR block with its host bits zero, e.g. '10.0.0.0/20'") from exc
    if network.version != 4:
        raise ValueError(f"'{value}' must be an IPv4 CIDR block")
    return value


def _image(value: str) -> str:
    match = _IMAGE.match(value)
    if not match:
        raise ValueError(f"'{value}' is not an image reference like 'registry/name:1.2.3' or 'name@sha256:<64 hex>'")
    tag, digest = match.group("tag"), match.group("digest")
    if tag == "latest":
        raise ValueError(f"'{value}' uses the 'latest' tag; pin a version tag or a sha256 digest")
    if not tag and not digest:
        raise ValueError(f"'{value}' has no tag, which means 'latest'; pin a version tag or a sha256 digest")
    return value


def _host(value: str) -> str:
    if len(value) > 253 or not _HOST.match(value):
        raise ValueError(f"'{value}' is not a fully qualified lowercase host name such as 'api.example.com'")
    return value


def _path(value: str) -> str:
    if not value.startswith("/") or " " in value:
        raise ValueError(f"'{value}' is not an HTTP path: it must start with '/' and contain no spaces")
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"'{value}' is not a duration like '15d', '12h' or '30m'")
    return value


def _label_value(value: str) -> str:
    if not _LABEL_VALUE.match(value):
        raise ValueError(f"'{value}' is not a valid label value: at most 63 characters of [A-Za-z0-9-_.]")
    return value


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if not _LABEL_KEY.match(key):
            raise ValueError(f"'{key}' is not a valid label key")
        if not _LABEL_VALUE.match(item):
            raise ValueError(
                f"'{item}' (label '{key}') is not a valid label value: at most 63 characters of [A-Za-z0-9-_.]"
            )
    return value


DnsLabel = Annotated[str, AfterValidator(dns_label)]
ServiceName = Annotated[str, AfterValidator(service_name)]
DnsSubdomain = Annotated[str, AfterValidator(dns_subdomain)]
PortName = Annotated[str, AfterValidator(port_name)]
Cpu = Annotated[str, AfterValidator(_cpu)]
Memory = Annotated[str, AfterValidator(_memory)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Image = Annotated[str, AfterValidator(_image)]
Host = Annotated[str, AfterValidator(_host)]
HttpPath = Annotated[str, AfterValidator(_path)]
Duration = Annotated[str, AfterValidator(_duration)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _kind_of(value: Any) -> str:
    return "number" if isinstance(value, int) and not isinstance(value, bool) else "name"


# A port by number or by name; the discriminator keeps errors to the one form that was meant.
PortRef = Annotated[
    Annotated[Port, Tag("number")] | Annotated[PortName, Tag("name")],
    Discriminator(_kind_of),
]
Percent = Annotated[int, Field(ge=1, le=100)]


class Model(BaseModel):
    """Strict base: camelCase keys as written in YAML, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=False,
        frozen=True,
        strict=False,
    )


# --------------------------------------------------------------------------- cluster and network


class MaintenanceWindow(Model):
    """A recurring window (RFC 5545 RRULE) in which GKE may upgrade the control plane and nodes."""

    start_time: str = "2025-01-04T02:00:00Z"
    end_time: str = "2025-01-04T08:00:00Z"
    recurrence: str = "FREQ=WEEKLY;BYDAY=SA,SU"


class AuthorizedNetwork(Model):
    cidr_block: Cidr
    display_name: str


class ClusterConfig(Model):
    # existing: target a cluster you already have (kind, minikube) through a kubeconfig context
    # and create no GCP resources. gke: create the VPC, the cluster and its node pools.
    mode: Literal["existing", "gke"] = "existing"
    name: DnsLabel = "platform-${environment}"
    # A region ("europe-west1") makes a regional cluster; a zone ("europe-west1-b") a zonal one.
    location: str = "europe-west1"
    kubeconfig: str = "~/.kube/config"
    context: str = "kind-platform"
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    maintenance_window: MaintenanceWindow = MaintenanceWindow()
    master_ipv4_cidr: Cidr = "172.16.0.0/28"
    master_authorized_networks: list[AuthorizedNetwork] = []
    private_endpoint: bool = False
    binary_authorization: bool = False

    @property
    def regional(self) -> bool:
        return re.fullmatch(r"[a-z]+-[a-z]+\d+", self.location) is not None

    @property
    def region(self) -> str:
        return self.location if self.regional else self.location.rsplit("-", 1)[0]


class NetworkConfig(Model):
    subnet_cidr: Cidr = "10.10.0.0/20"
    pods_cidr: Cidr = "10.16.0.0/14"
    services_cidr: Cidr = "10.20.0.0/20"
    flow_log_sampling: float = Field(0.5, ge=0.0, le=1.0)


class Taint(Model):
    key: str
    value: str = ""
    effect: Literal["NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"]


class NodePoolConfig(Model):
    name: DnsLabel
    spot: bool = False
    machine_type: str = "e2-standard-4"
    disk_size_gb: int = Field(100, ge=20, le=65536)
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-balanced"
    # Per zone, as GKE's autoscaler counts them.
    min_nodes: int = Field(1, ge=0, le=1000)
    max_nodes: int = Field(3, ge=1, le=1000)
    # BALANCED spreads nodes evenly over zones; ANY favours zones with free (spot) capacity.
    location_policy: Literal["BALANCED", "ANY"] | None = None
    # Zones for the pool's nodes; empty means the cluster's zone, or GKE's default three for a region.
    node_locations: list[str] = []
    labels: Labels = {}
    taints: list[Taint] = []

    @property
    def effective_location_policy(self) -> str:
        return self.location_policy or ("ANY" if self.spot else "BALANCED")


# --------------------------------------------------------------------------- namespaces


class Quota(Model):
    requests_cpu: Cpu = "8"
    requests_memory: Memory = "16Gi"
    limits_cpu: Cpu = "16"
    limits_memory: Memory = "32Gi"
    pods: int = Field(100, ge=1)
    # App namespaces reach the world through the shared ingress, never their own load balancer.
    load_balancers: int = Field(0, ge=0)


class ContainerDefaults(Model):
    cpu: Cpu
    memory: Memory


class LimitRangeConfig(Model):
    default_request: ContainerDefaults = ContainerDefaults.model_validate({"cpu": "100m", "memory": "128Mi"})
    default_limit: ContainerDefaults = ContainerDefaults.model_validate({"cpu": "500m", "memory": "512Mi"})


class EgressTargets(Model):
    namespaces: list[DnsLabel] = []
    cidrs: list[Cidr] = []


class NamespaceConfig(Model):
    name: DnsLabel
    enabled: bool = True
    # Overrides the `environment` label, e.g. "shared" for a monitoring namespace (seed 001).
    environment: LabelValue | None = None
    pod_security: Literal["restricted", "baseline", "privileged"] = "restricted"
    # strict: egress only to `egress`; relaxed: egress anywhere (`egress.namespaces` still makes
    # those namespaces admit it, seed 004's experimental track reaching its data namespace);
    # read-only: ingress only from the ingress controller, egress only to `egress.namespaces`.
    policy: Literal["strict", "relaxed", "read-only"] = "strict"
    egress: EgressTargets = EgressTargets()
    quota: Quota = Quota()
    limits: LimitRangeConfig = LimitRangeConfig()
    # Holds data: the namespace is protected and retained if removed from the program.
    protect: bool = False


# --------------------------------------------------------------------------- secrets and config maps


class PasswordKey(Model):
    type: Literal["password"]
    length: int = Field(32, le=256)
    special: bool = True


class TokenKey(Model):
    """Hex-encoded random bytes, like `openssl rand -hex 32`."""

    type: Literal["token"]
    bytes: int = Field(32, ge=16, le=256)


class UuidKey(Model):
    type: Literal["uuid"]


class ConfigKey(Model):
    """A value the operator supplies with `pulumi config set --secret platform:<key> ...`."""

    type: Literal["config"]
    key: Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9]*$")]


# A format key's reference to another key of its secret: '{password}'.
_TEMPLATE_REF = re.compile(r"\{([^{}]*)\}")


class FormatKey(Model):
    """Built from other keys of the same secret: 'postgresql://app:{password}@db:5432/app'."""

    type: Literal["format"]
    template: str

    @property
    def references(self) -> list[str]:
        """The keys the template names, in order: '{password}' -> 'password'."""
        return _TEMPLATE_REF.findall(self.template)

    def render(self, values: Mapping[str, str]) -> str:
        """The template with every '{key}' replaced by its value (no str.format: keys may hold '.')."""
        return _TEMPLATE_REF.sub(lambda match: values[match.group(1)], self.template)


GENERATORS = ("password", "token", "uuid", "config", "format")


def _generator_tag(value: Any) -> str | None:
    if isinstance(value, Mapping):
        tag = value.get("type")
        return tag if tag in GENERATORS else "unknown"
    return None


def _reject_generator(value: str) -> str:
    raise ValueError(f"unknown generator '{value}'; allowed: {', '.join(GENERATORS)}")


class UnknownGenerator(Model):
    """Catches a misspelt `type` so the error names the generators rather than five union members."""

    model_config = ConfigDict(extra="ignore")
    type: Annotated[str, AfterValidator(_reject_generator)]


SecretKeySpec = Annotated[
    Annotated[PasswordKey, Tag("password")]
    | Annotated[TokenKey, Tag("token")]
    | Annotated[UuidKey, Tag("uuid")]
    | Annotated[ConfigKey, Tag("config")]
    | Annotated[FormatKey, Tag("format")]
    | Annotated[UnknownGenerator, Tag("unknown")],
    Discriminator(_generator_tag),
]


class SecretConfig(Model):
    name: DnsSubdomain
    enabled: bool = True
    namespaces: list[DnsLabel] = Field(min_length=1)
    # Bump to regenerate every generated key of this secret on the next `pulumi up`.
    rotation: int = Field(1, ge=1)
    keys: dict[str, SecretKeySpec] = Field(min_length=1)


class ConfigMapConfig(Model):
    name: DnsSubdomain
    enabled: bool = True
    namespaces: list[DnsLabel] = Field(min_length=1)
    data: dict[str, str] = Field(min_length=1)


# --------------------------------------------------------------------------- services


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


class ResourceValues(Model):
    cpu: Cpu
    memory: Memory


class Resources(Model):
    requests: ResourceValues
    limits: ResourceValues


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


class Strategy(Model):
    type: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    max_surge: int = Field(1, ge=0)
    max_unavailable: int = Field(0, ge=0)


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


class ServiceConfig(Model):
    name: ServiceName
    enabled: bool = True
    namespace: DnsLabel
    image: Image
    # Always re-checks registry credentials on every start, so a cached private image is never
    # reused by a pod that could not pull it (CKV_K8S_15); with pinned tags it costs one HEAD request.
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "Always"
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
    # Other services (by name) allowed to call this one.
    allow_from: list[ServiceName] = []
    migration: Migration | None = None
    service_account: ServiceAccountConfig = ServiceAccountConfig()

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
    def user_facing(self) -> bool:
        return bool(self.routes)

    @property
    def image_tag(self) -> str:
        match = _IMAGE.match(self.image)
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


# --------------------------------------------------------------------------- ingress and add-ons


class IngressConfig(Model):
    class_name: DnsLabel = "nginx"
    tls: bool = True
    # nginx.ingress.kubernetes.io/limit-rps: requests per second per client IP.
    rate_limit_rps: int | None = Field(100, ge=1)
    ssl_redirect: bool = True
    proxy_body_size: Annotated[str, Field(pattern=r"^\d+[kmg]?$")] = "8m"


class IngressNginxConfig(Model):
    enabled: bool = True
    namespace: DnsLabel = "ingress-nginx"
    # The last upstream release: the project was retired (repository archived 2026-03-24), so no fixes follow.
    chart_version: str = "4.15.1"
    replicas: int = Field(2, ge=1)
    # LoadBalancer on a reserved static IP in GKE; NodePort suits kind and minikube.
    service_type: Literal["LoadBalancer", "NodePort"] = "LoadBalancer"
    # A reserved regional address for the LoadBalancer; defaults to on when the platform creates the cluster.
    static_ip: bool | None = None
    resources: Resources = Resources(
        requests=ResourceValues(cpu="100m", memory="128Mi"), limits=ResourceValues(cpu="1", memory="512Mi")
    )
    annotations: dict[str, str] = {}


class CertManagerConfig(Model):
    enabled: bool = True
    namespace: DnsLabel = "cert-manager"
    chart_version: str = "v1.21.2"
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    # Which Let's Encrypt issuer the Ingresses use; defaults to production only in production.
    issuer: Literal["staging", "production"] | None = None


class MonitoringConfig(Model):
    enabled: bool = True
    namespace: DnsLabel = "monitoring"
    chart_version: str = "92.3.0"
    # prometheus-adapter serves the services' custom Pods metrics (custom.metrics.k8s.io) to HPAs.
    adapter_chart_version: str = "5.3.0"
    retention: Duration = "15d"
    # Cloud Logging's retention for the project's _Default log bucket (gke mode), in whole days.
    log_retention: Duration = "30d"
    storage_size: Memory = "50Gi"

    @property
    def log_retention_days(self) -> int | None:
        """The log retention in days, or None when it is not a whole number of days."""
        days_per_unit = {"d": 1, "w": 7, "y": 365}
        unit = self.log_retention[-1]
        return int(self.log_retention[:-1]) * days_per_unit[unit] if unit in days_per_unit else None


class AddonsConfig(Model):
    ingress_nginx: IngressNginxConfig = IngressNginxConfig()
    cert_manager: CertManagerConfig = CertManagerConfig()
    monitoring: MonitoringConfig = MonitoringConfig()


# --------------------------------------------------------------------------- the whole platform


class PlatformConfig(Model):
    stack: str
    project: str | None = None
    environment: Literal["dev", "staging", "production"]
    app: DnsLabel = "platform"
    domain: str | None = None
    cluster: ClusterConfig = ClusterConfig()
    network: NetworkConfig = NetworkConfig()
    node_pools: list[NodePoolConfig] = []
    namespaces: list[NamespaceConfig] = []
    config_maps: list[ConfigMapConfig] = []
    secrets: list[SecretConfig] = []
    services: list[ServiceConfig] = []
    ingress: IngressConfig = IngressConfig()
    addons: AddonsConfig = AddonsConfig()
    # The `type: config` secret keys whose `platform:<key>` value is set (read as secrets by the program).
    supplied_secret_keys: tuple[str, ...] = ()

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def creates_cluster(self) -> bool:
        return self.cluster.mode == "gke"

    @property
    def addon_namespaces(self) -> dict[str, str]:
        """Namespace -> the enabled add-on installed there."""
        addons = self.addons
        enabled: list[tuple[IngressNginxConfig | CertManagerConfig | MonitoringConfig, str]] = [
            (addons.ingress_nginx, "the ingress controller"),
            (addons.cert_manager, "cert-manager"),
            (addons.monitoring, "the monitoring stack"),
        ]
        return {addon.namespace: label for addon, label in enabled if addon.enabled}

    @property
    def uses_static_ip(self) -> bool:
        nginx = self.addons.ingress_nginx
        wanted = nginx.static_ip if nginx.static_ip is not None else self.creates_cluster
        return nginx.enabled and wanted and nginx.service_type == "LoadBalancer"

    @property
    def issuer_name(self) -> str:
        choice = self.addons.cert_manager.issuer or ("production" if self.is_production else "staging")
        return f"letsencrypt-{choice}"

    def namespace(self, name: str) -> NamespaceConfig | None:
        return next((ns for ns in self.namespaces if ns.name == name), None)

    def service(self, name: str) -> ServiceConfig | None:
        return next((svc for svc in self.services if svc.name == name), None)

    def secret(self, name: str) -> SecretConfig | None:
        return next((sec for sec in self.secrets if sec.name == name), None)

    def config_map(self, name: str) -> ConfigMapConfig | None:
        return next((cm for cm in self.config_maps if cm.name == name), None)


# --------------------------------------------------------------------------- loading


def _all_config() -> dict[str, Any]:
    """Every config value the engine handed the program, keyed 'namespace:key'."""
    from pulumi.runtime import config as runtime_config

    values = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return values


def _decode(key: str, raw: Any) -> Any:
    if key in STRUCTURED_KEYS and isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _Problems([(key, f"is not valid structured config: {exc.msg}")]) from exc
    return raw


class _Problems(Exception):
    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__(problems)
        self.problems = problems


def _merge(base: Any, overlay: Any) -> Any:
    """Mappings merge key by key, recursively; lists and scalars replace whole."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = _merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(overlay)


def _apply_overrides(raw: dict[str, Any]) -> dict[str, Any]:
    overrides = raw.pop("overrides", None) or {}
    if not isinstance(overrides, dict):
        raise _Problems([("overrides", "must be a mapping of catalog name to {item name: partial item}")])
    problems = []
    for catalog, changes in overrides.items():
        path = f"overrides.{catalog}"
        if catalog not in CATALOGS:
            problems.append((path, f"unknown catalog '{catalog}'; allowed: {', '.join(CATALOGS)}"))
            continue
        if not isinstance(changes, dict):
            problems.append((path, "must be a mapping of item name to the keys that change"))
            continue
        items = raw.get(catalog, [])
        if not isinstance(items, list):
            continue  # the catalog's own type error is reported by validation
        by_name = {
            item["name"]: i
            for i, item in enumerate(items)
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
        merged = list(items)
        for name, change in changes.items():
            if name not in by_name:
                known = ", ".join(str(n) for n in by_name) or "none"
                problems.append((f"{path}.{name}", f"no item named '{name}' in platform:{catalog}; known: {known}"))
            elif not isinstance(change, dict) or "name" in change:
                problems.append((f"{path}.{name}", "must be a mapping of the keys that change (not including 'name')"))
            else:
                index = by_name[name]
                merged[index] = _merge(merged[index], change)
        raw[catalog] = merged
    if problems:
        raise _Problems(problems)
    return raw


def _substitute(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace("${" + name + "}", replacement)
        return value
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, values) for key, item in value.items()}
    return value


_UNION_TAGS = frozenset(GENERATORS) | {"unknown", "number", "name", "plain", "ref"}


def _format_loc(loc: tuple[Any, ...]) -> str:
    """('services', 2, 'autoscaling', 'maxReplicas') -> 'services[2].autoscaling.maxReplicas'."""
    path = ""
    for index, part in enumerate(loc):
        # Discriminated unions add their tag to the location; the user never wrote it.
        after_map_key = index >= 2 and loc[index - 2] in ("keys", "env", "port")
        if part in _UNION_TAGS and (after_map_key or loc[index - 1] == "port"):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at the parent of `loc`, for 'unknown key' messages."""
    model: Any = PlatformConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        field = fields.get(str(part))
        if field is None:
            return []
        model = _model_in(field.annotation)
    if model is None:
        return []
    return sorted(
        f.alias or n for n, f in model.model_fields.items() if n not in ("stack", "project", "supplied_secret_keys")
    )


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _describe(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(error["loc"]))
        return "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "union_tag_invalid":
        return f"unknown type; allowed: {', '.join(GENERATORS)}"
    shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__
    message = error["msg"]
    message = message[0].lower() + message[1:]
    return f"{message} (got {shown})"


def _shape_problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        problems.append((_format_loc(tuple(error["loc"])), _describe(error)))
    return problems


def problem_line(stack: str, path: str, message: str) -> str:
    """The one format every config problem is reported in: stack, key path, what is wrong or allowed."""
    return f"stack '{stack}': {NAMESPACE}:{path}: {message}"


def config_error(stack: str, problems: list[tuple[str, str]]) -> ConfigError:
    """One ConfigError with a line per (key path, message)."""
    return ConfigError("\n".join(problem_line(stack, path, message) for path, message in problems))


def parse(stack: str, raw_values: Mapping[str, Any], project: str | None = None) -> PlatformConfig:
    """Validate raw `platform:*` config (already keyed without the namespace) for one stack."""
    try:
        raw = {key: _decode(key, value) for key, value in raw_values.items()}
        raw = _apply_overrides(raw)
        environment = raw.get("environment", "dev")
        substitutions = {"environment": str(environment), "domain": str(raw.get("domain") or "")}
        raw = _substitute(raw, substitutions)
        supplied = _config_secret_keys(raw)
        unknown = [key for key in raw if key not in TOP_LEVEL_KEYS and key not in supplied]
        if unknown:
            raise _Problems(
                [
                    (key, f"unknown key; allowed: {', '.join(TOP_LEVEL_KEYS)} or a key named by a 'config' secret")
                    for key in unknown
                ]
            )
        document = {key: value for key, value in raw.items() if key in TOP_LEVEL_KEYS}
        document.update(stack=stack, project=project, suppliedSecretKeys=tuple(k for k in supplied if k in raw))
        document.setdefault("environment", "dev")
        try:
            config = PlatformConfig.model_validate(document)
        except ValidationError as exc:
            raise _Problems(_shape_problems(exc)) from None
        problems = list(_semantic_problems(config))
        if problems:
            raise _Problems(problems)
    except _Problems as found:
        raise config_error(stack, found.problems) from None
    return _without_disabled(config)


def _config_secret_keys(raw: Mapping[str, Any]) -> list[str]:
    """Keys named by `type: config` secret keys. Read from config not yet validated, so any shape is possible."""
    secrets = raw.get("secrets")
    found: set[str] = set()
    for secret in secrets if isinstance(secrets, list) else []:
        keys = secret.get("keys") if isinstance(secret, dict) else None
        for spec in keys.values() if isinstance(keys, dict) else []:
            if isinstance(spec, dict) and spec.get("type") == "config" and isinstance(spec.get("key"), str):
                found.add(spec["key"])
    return sorted(found)


def load_config() -> PlatformConfig:
    """Read and validate this stack's `platform:*` config. Raises ConfigError on any problem."""
    prefix = NAMESPACE + ":"
    raw = {key[len(prefix) :]: value for key, value in _all_config().items() if key.startswith(prefix)}
    project = pulumi.Config("gcp").get("project")
    return parse(pulumi.get_stack(), raw, project)


def _without_disabled(config: PlatformConfig) -> PlatformConfig:
    return config.model_copy(
        update={
            "services": [s for s in config.services if s.enabled],
            "namespaces": [n for n in config.namespaces if n.enabled],
            "secrets": [s for s in config.secrets if s.enabled],
            "config_maps": [c for c in config.config_maps if c.enabled],
        }
    )


# --------------------------------------------------------------------------- meaning


def _semantic_problems(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    yield from _check_names_unique(config)
    yield from _check_cluster(config)
    yield from _check_network(config)
    yield from _check_node_pools(config)
    yield from _check_namespaces(config)
    yield from _check_secrets(config)
    yield from _check_config_maps(config)
    for index, service in enumerate(config.services):
        if service.enabled:
            yield from _check_service(config, f"services[{index}]", service)
    yield from _check_routes(config)
    yield from _check_addons(config)


def _check_names_unique(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    catalogs: list[tuple[str, list[Any]]] = [
        ("nodePools", config.node_pools),
        ("namespaces", config.namespaces),
        ("configMaps", config.config_maps),
        ("secrets", config.secrets),
        ("services", config.services),
    ]
    for key, items in catalogs:
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item.name in seen:
                yield f"{key}[{index}].name", f"'{item.name}' is declared twice; names must be unique"
            seen.add(item.name)


def _check_cluster(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    cluster = config.cluster
    if not re.fullmatch(r"[a-z]+-[a-z]+\d+(-[a-z])?", cluster.location):
        yield (
            "cluster.location",
            f"'{cluster.location}' is neither a GCP region (europe-west1) nor a zone (europe-west1-b)",
        )
    elif config.is_production and cluster.mode == "gke" and not cluster.regional:
        yield (
            "cluster.location",
            (
                f"production clusters must be regional (a region such as '{cluster.region}'), got zone '{cluster.location}'"
            ),
        )
    if config.is_production and cluster.mode != "gke":
        yield "cluster.mode", "production must create its GKE cluster: set mode to 'gke'"
    if cluster.mode == "gke" and not config.project:
        yield "cluster.mode", "mode 'gke' needs a GCP project: run `pulumi config set gcp:project <project-id>`"
    if cluster.mode == "gke" and len(cluster.name) > 40:
        yield "cluster.name", f"'{cluster.name}' has {len(cluster.name)} characters; GKE cluster names have at most 40"


def _check_network(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    ranges = [
        ("network.subnetCidr", config.network.subnet_cidr),
        ("network.podsCidr", config.network.pods_cidr),
        ("network.servicesCidr", config.network.services_cidr),
        ("cluster.masterIpv4Cidr", config.cluster.master_ipv4_cidr),
    ]
    for i, (path, cidr) in enumerate(ranges):
        for other_path, other in ranges[:i]:
            if ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(other)):
                yield (
                    path,
                    f"{cidr} overlaps {other_path} ({other}); the subnet, pod, service and control-plane ranges must be disjoint",
                )
    if ipaddress.ip_network(config.cluster.master_ipv4_cidr).prefixlen != 28:
        yield "cluster.masterIpv4Cidr", "the control-plane range of a private cluster must be a /28"


def _check_node_pools(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    for index, pool in enumerate(config.node_pools):
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
            if not re.fullmatch(rf"{re.escape(config.cluster.region)}-[a-z]", zone):
                yield (
                    f"{path}.nodeLocations[{z_index}]",
                    f"'{zone}' is not a zone of the cluster's region '{config.cluster.region}'",
                )
        for t_index, taint in enumerate(pool.taints):
            if taint.key == "cloud.google.com/gke-spot":
                yield (
                    f"{path}.taints[{t_index}].key",
                    "the spot taint is added to every spot pool by the platform; do not declare it",
                )
    if config.creates_cluster:
        if not config.node_pools:
            yield "nodePools", "mode 'gke' needs at least one node pool"
        elif not any(not pool.spot for pool in config.node_pools):
            yield (
                "nodePools",
                "declare at least one regular (spot: false) pool so that critical services have on-demand nodes",
            )
        elif config.is_production and not any(not p.spot and p.min_nodes >= 1 for p in config.node_pools):
            yield "nodePools", "production needs an on-demand baseline: a regular pool with minNodes >= 1"


def _check_namespaces(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    declared = {ns.name for ns in config.namespaces}
    for index, ns in enumerate(config.namespaces):
        path = f"namespaces[{index}]"
        addon = config.addon_namespaces.get(ns.name)
        if addon is not None and ns.policy != "relaxed":
            yield (
                f"{path}.policy",
                (
                    f"'{ns.name}' hosts {addon}, whose charts need the API server, node kubelets and the internet; "
                    "use policy 'relaxed'"
                ),
            )
        if ns.policy == "relaxed" and ns.egress.cidrs:
            yield (
                f"{path}.egress.cidrs",
                "a 'relaxed' namespace already allows egress to every address; remove cidrs or use policy 'strict'",
            )
        if ns.policy == "read-only" and ns.egress.cidrs:
            yield f"{path}.egress.cidrs", "a 'read-only' namespace may reach only data namespaces, not CIDRs"
        for e_index, target in enumerate(ns.egress.namespaces):
            if target not in declared:
                yield (
                    f"{path}.egress.namespaces[{e_index}]",
                    f"'{target}' is not a declared namespace; declared: {', '.join(sorted(declared))}",
                )
        quota, limits = ns.quota, ns.limits
        pairs = [
            ("cpu", limits.default_request.cpu, limits.default_limit.cpu, cpu_millicores),
            ("memory", limits.default_request.memory, limits.default_limit.memory, memory_bytes),
        ]
        for resource, request, limit, parse_quantity in pairs:
            if parse_quantity(limit) < parse_quantity(request):
                yield (
                    f"{path}.limits.defaultLimit.{resource}",
                    f"{limit} is below defaultRequest.{resource} ({request})",
                )
        if cpu_millicores(quota.limits_cpu) < cpu_millicores(quota.requests_cpu):
            yield f"{path}.quota.limitsCpu", f"{quota.limits_cpu} is below requestsCpu ({quota.requests_cpu})"
        if memory_bytes(quota.limits_memory) < memory_bytes(quota.requests_memory):
            yield (
                f"{path}.quota.limitsMemory",
                f"{quota.limits_memory} is below requestsMemory ({quota.requests_memory})",
            )


def _namespace_refs(config: PlatformConfig, kind: str, items: list[Any]) -> Iterator[tuple[str, str]]:
    declared = {ns.name for ns in config.namespaces if ns.enabled}
    for index, item in enumerate(items):
        for n_index, namespace in enumerate(item.namespaces):
            if item.enabled and namespace not in declared:
                yield (
                    f"{kind}[{index}].namespaces[{n_index}]",
                    f"'{namespace}' is not a declared namespace; declared: {', '.join(sorted(declared)) or 'none'}",
                )


def _check_secrets(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    yield from _namespace_refs(config, "secrets", config.secrets)
    for index, secret in enumerate(config.secrets):
        for key, spec in secret.keys.items():
            path = f"secrets[{index}].keys.{key}"
            if not _ENV_NAME.match(key) and not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
                yield path, "secret keys may contain only letters, digits, '-', '_' and '.'"
            if isinstance(spec, PasswordKey) and spec.length < 16:
                yield (
                    f"{path}.length",
                    f"{spec.length} is too short; generated passwords must be at least 16 characters",
                )
            if isinstance(spec, ConfigKey) and spec.key not in config.supplied_secret_keys:
                yield (
                    f"{path}.key",
                    f"'{spec.key}' is not set; run `pulumi config set --secret {NAMESPACE}:{spec.key} <value>`",
                )
            if isinstance(spec, FormatKey):
                for ref in spec.references:
                    target = secret.keys.get(ref)
                    if target is None:
                        yield (
                            f"{path}.template",
                            f"'{{{ref}}}' names no key of secret '{secret.name}'; keys: {', '.join(secret.keys)}",
                        )
                    elif isinstance(target, FormatKey):
                        yield (
                            f"{path}.template",
                            f"'{{{ref}}}' is itself a format key; reference generated or supplied keys only",
                        )


def _check_config_maps(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    yield from _namespace_refs(config, "configMaps", config.config_maps)


def _check_service(config: PlatformConfig, path: str, svc: ServiceConfig) -> Iterator[tuple[str, str]]:
    namespace = config.namespace(svc.namespace)
    if namespace is None or not namespace.enabled:
        declared = ", ".join(sorted(ns.name for ns in config.namespaces if ns.enabled)) or "none"
        yield f"{path}.namespace", f"'{svc.namespace}' is not a declared namespace; declared: {declared}"

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

    if svc.strategy.type == "RollingUpdate" and svc.strategy.max_surge == 0 and svc.strategy.max_unavailable == 0:
        yield f"{path}.strategy", "maxSurge and maxUnavailable cannot both be 0"

    if svc.metrics is not None and svc.port(svc.metrics.port) is None:
        yield f"{path}.metrics.port", f"'{svc.metrics.port}' is not a declared port; declared: {', '.join(names)}"

    yield from _check_scaling(config, path, svc)
    yield from _check_references(config, path, svc)

    for r_index, route in enumerate(svc.routes):
        if svc.port(route.port) is None:
            yield (
                f"{path}.routes[{r_index}].port",
                f"'{route.port}' is not a declared port; declared: {', '.join(names)}",
            )

    if svc.placement != "regular" and config.creates_cluster and not any(p.spot for p in config.node_pools):
        yield f"{path}.placement", f"'{svc.placement}' needs a spot node pool, and this stack declares none"
    if svc.service_account.workload_identity is not None and not config.creates_cluster:
        yield f"{path}.serviceAccount.workloadIdentity", "Workload Identity needs a GKE cluster (cluster.mode 'gke')"


def _check_scaling(config: PlatformConfig, path: str, svc: ServiceConfig) -> Iterator[tuple[str, str]]:
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
    namespace = config.namespace(svc.namespace)
    # A namespace labelled for another environment (seed 004's experimental and quarantine tracks)
    # holds no production traffic, even in the production stack.
    serves_production = config.is_production and (namespace is None or namespace.environment in (None, "production"))
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
    if config.is_production and svc.min_replicas >= 2 and svc.pdb() is None:
        yield (
            f"{path}.disruptionBudget.enabled",
            "production services with 2 or more replicas must keep a PodDisruptionBudget",
        )


def _check_references(config: PlatformConfig, path: str, svc: ServiceConfig) -> Iterator[tuple[str, str]]:
    def secret_in_namespace(name: str) -> SecretConfig | None:
        secret = config.secret(name)
        return secret if secret is not None and secret.enabled and svc.namespace in secret.namespaces else None

    def config_map_in_namespace(name: str) -> ConfigMapConfig | None:
        cm = config.config_map(name)
        return cm if cm is not None and cm.enabled and svc.namespace in cm.namespaces else None

    for name, value in svc.env.items():
        env_path = f"{path}.env.{name}"
        if not _ENV_NAME.match(name):
            yield env_path, "environment variable names must match [-._a-zA-Z][-._a-zA-Z0-9]*"
        if isinstance(value, str):
            continue
        sources = [s for s in (value.secret_key_ref, value.config_map_key_ref, value.field_ref) if s is not None]
        if len(sources) != 1:
            yield env_path, "set exactly one of secretKeyRef, configMapKeyRef or fieldRef"
            continue
        if value.secret_key_ref is not None:
            ref = value.secret_key_ref
            secret = secret_in_namespace(ref.name)
            if secret is None:
                yield (
                    f"{env_path}.secretKeyRef.name",
                    f"no secret '{ref.name}' is declared in namespace '{svc.namespace}'",
                )
            elif ref.key not in secret.keys:
                yield (
                    f"{env_path}.secretKeyRef.key",
                    f"secret '{ref.name}' has no key '{ref.key}'; keys: {', '.join(secret.keys)}",
                )
        if value.config_map_key_ref is not None:
            ref = value.config_map_key_ref
            cm = config_map_in_namespace(ref.name)
            if ref.name == f"{svc.name}-config" and ref.key in svc.config:
                continue
            if cm is None:
                yield (
                    f"{env_path}.configMapKeyRef.name",
                    f"no config map '{ref.name}' is declared in namespace '{svc.namespace}'",
                )
            elif ref.key not in cm.data:
                yield (
                    f"{env_path}.configMapKeyRef.key",
                    f"config map '{ref.name}' has no key '{ref.key}'; keys: {', '.join(cm.data)}",
                )

    by_kind: list[tuple[str, list[EnvSource]]] = [("envFrom", svc.env_from), ("mounts", list(svc.mounts))]
    for kind, items in by_kind:
        for index, item in enumerate(items):
            item_path = f"{path}.{kind}[{index}]"
            if (item.config_map is None) == (item.secret is None):
                yield item_path, "set exactly one of configMap or secret"
            elif item.secret is not None and secret_in_namespace(item.secret) is None:
                yield f"{item_path}.secret", f"no secret '{item.secret}' is declared in namespace '{svc.namespace}'"
            elif (
                item.config_map is not None
                and config_map_in_namespace(item.config_map) is None
                and item.config_map != f"{svc.name}-config"
            ):
                yield (
                    f"{item_path}.configMap",
                    f"no config map '{item.config_map}' is declared in namespace '{svc.namespace}'",
                )
    mount_paths = [m.path for m in svc.mounts]
    for index, mount_path in enumerate(mount_paths):
        if mount_path == "/tmp" or mount_paths.index(mount_path) != index:
            yield (
                f"{path}.mounts[{index}].path",
                f"'{mount_path}' is already mounted ('/tmp' is the platform's scratch volume)",
            )

    known = {s.name for s in config.services if s.enabled}
    for index, caller in enumerate(svc.allow_from):
        if caller not in known:
            yield (
                f"{path}.allowFrom[{index}]",
                f"'{caller}' is not a declared service; declared: {', '.join(sorted(known))}",
            )


def _check_routes(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    owners: dict[tuple[str, str], str] = {}
    for index, svc in enumerate(config.services):
        if not svc.enabled:
            continue
        for r_index, route in enumerate(svc.routes):
            key = (route.host, route.path)
            if key in owners:
                yield (
                    f"services[{index}].routes[{r_index}].path",
                    f"{route.host}{route.path} is already routed to '{owners[key]}'; each path on a host may route to one service",
                )
            else:
                owners[key] = svc.name


def _check_addons(config: PlatformConfig) -> Iterator[tuple[str, str]]:
    addons = config.addons
    routed = any(svc.routes for svc in config.services if svc.enabled)
    if config.ingress.tls and routed:
        if not addons.cert_manager.enabled:
            yield "addons.certManager.enabled", "ingress.tls needs cert-manager; enable it or set ingress.tls to false"
        elif addons.cert_manager.email is None:
            yield "addons.certManager.email", "Let's Encrypt needs an ACME account email when ingress.tls is on"
    if routed and not config.domain and any("${domain}" in r.host for s in config.services for r in s.routes):
        yield "domain", "routes use ${domain} but no domain is set"
    if config.is_production and addons.ingress_nginx.enabled and addons.ingress_nginx.replicas < 2:
        yield "addons.ingressNginx.replicas", "production runs at least 2 ingress controller replicas"
    if addons.ingress_nginx.static_ip and not config.creates_cluster:
        yield (
            "addons.ingressNginx.staticIp",
            "a reserved static IP needs cluster.mode 'gke'; leave it unset on an existing cluster",
        )
    if addons.ingress_nginx.static_ip and addons.ingress_nginx.service_type != "LoadBalancer":
        yield (
            "addons.ingressNginx.staticIp",
            "a static IP belongs to a LoadBalancer Service; set serviceType to LoadBalancer",
        )
    monitoring = addons.monitoring
    days = monitoring.log_retention_days
    if monitoring.enabled and (days is None or not 1 <= days <= 3650):
        yield (
            "addons.monitoring.logRetention",
            f"'{monitoring.log_retention}' must be whole days (d, w or y) from 1 to 3650; Cloud Logging keeps logs per day",
        )
    for index, ns in enumerate(config.namespaces):
        if monitoring.enabled and ns.enabled and ns.name == monitoring.namespace and ns.pod_security != "privileged":
            yield (
                f"namespaces[{index}].podSecurity",
                f"'{ns.pod_security}' would block the monitoring add-on in '{ns.name}': node-exporter needs "
                "hostNetwork, hostPID and hostPath; set privileged",
            )
