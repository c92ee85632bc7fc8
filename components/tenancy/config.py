"""Config of the tenancy domain: namespaces with their guard rails, shared Secrets and ConfigMaps.

`NamespaceConfig`, `SecretConfig` and `ConfigMapConfig` are the typed slices the tenancy components
take; the `check_*` functions below are the rules among them (a secret's namespaces exist, a format
key names keys of its own secret). Rules that reach into other domains (an add-on's namespace must
be relaxed) live in `config/checks.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Discriminator, Field, Tag

from components.errors import NAMESPACE, Problem
from components.values import (
    ENV_NAME,
    Cidr,
    Cpu,
    DnsLabel,
    DnsSubdomain,
    Labels,
    LabelValue,
    Memory,
    Model,
    Storage,
    cpu_millicores,
    memory_bytes,
    storage_bytes,
)


class Quota(Model):
    requests_cpu: Cpu = "8"
    """Total CPU requests."""
    requests_memory: Memory = "16Gi"
    """Total memory requests."""
    limits_cpu: Cpu = "16"
    """Total CPU limits; >= `requestsCpu`."""
    limits_memory: Memory = "32Gi"
    """Total memory limits; >= `requestsMemory`."""
    pods: int = Field(100, ge=1)
    """Maximum pods."""
    requests_ephemeral_storage: Storage = Field(
        "64Gi", description="Total local ephemeral storage (scratch volumes, logs) the namespace's pods may request"
    )
    limits_ephemeral_storage: Storage = Field(
        "64Gi", description="Total local ephemeral storage the namespace's pods may be limited to"
    )
    # App namespaces reach the world through the shared ingress, never their own load balancer.
    load_balancers: int = Field(0, ge=0)
    """Maximum LoadBalancer Services; 0 because apps are reached through the shared ingress."""


class ContainerDefaults(Model):
    cpu: Cpu
    """CPU quantity."""
    memory: Memory
    """Memory quantity."""
    # /tmp (256Mi) plus the kubelet's log cap (50Mi), rounded: what the platform's own containers get too.
    ephemeral_storage: Storage = Field(
        "320Mi", description="Ephemeral storage for a container that states none (scratch files and logs)"
    )


class LimitRangeConfig(Model):
    default_request: ContainerDefaults = ContainerDefaults.model_validate({"cpu": "100m", "memory": "128Mi"})
    """Requests given to containers that set none."""
    default_limit: ContainerDefaults = ContainerDefaults.model_validate({"cpu": "500m", "memory": "512Mi"})
    """Limits given to containers that set none; >= `defaultRequest`."""


class EgressTargets(Model):
    """What a namespace reaches outside the catalog. A namespace the platform does not manage is reached
    whole; one it manages, only its pods that are not catalog services (those keep their allowFrom)."""

    namespaces: list[DnsLabel] = []
    """DNS labels, managed or not (`default`). An unmanaged namespace is reached whole; a managed one only in its pods that are not catalog services, and it admits this namespace to those pods (any mode; for `relaxed` this only makes it admit this one). Catalog services are reached through `allowFrom` only."""
    cidrs: list[Cidr] = []
    """CIDRs this one may reach (`strict` only)."""


# Namespaces Kubernetes or GKE create and manage: the platform never declares (and so never takes
# over, labels, quotas or deletes) one of them. Egress *to* them stays possible.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def not_system_namespace(name: str) -> str:
    if name in SYSTEM_NAMESPACES or name.startswith("gke-"):
        raise ValueError(
            f"'{name}' is a system namespace, managed by Kubernetes or GKE "
            f"({', '.join(SYSTEM_NAMESPACES)}, gke-*); declare a namespace of your own"
        )
    return name


class NamespaceConfig(Model):
    name: Annotated[DnsLabel, AfterValidator(not_system_namespace)]
    """Namespace name (DNS-1123 label). Not a namespace Kubernetes or GKE manages: `default`, `kube-system`, `kube-public`, `kube-node-lease` and any `gke-*` are refused (egress *to* them is another matter)."""
    enabled: bool = True
    """`false` leaves the namespace out of a stack."""
    # Overrides the `environment` label, e.g. "shared" for a monitoring namespace (seed 001).
    environment: LabelValue | None = None
    """Overrides the `environment` label, e.g. `shared` for a monitoring namespace used by several environments."""
    pod_security: Literal["restricted", "baseline", "privileged"] = "restricted"
    """Pod Security Admission level enforced (audit and warn stay at `restricted`)."""
    # strict: egress only to DNS, `egress` and the services whose allowFrom names the caller;
    # relaxed: free traffic among its own pods, egress anywhere (`egress.namespaces` still makes
    # those namespaces admit it, seed 004's experimental track reaching its data namespace);
    # read-only: ingress only from the edge on routed ports, egress only to `egress.namespaces`.
    policy: Literal["strict", "relaxed", "read-only"] = "strict"
    """`strict`: no traffic among its own pods, egress only to DNS, `allowFrom` callees and `egress`; `relaxed`: free traffic among its own pods, egress anywhere; `read-only`: no traffic within the namespace, ingress only from the edge on routed ports (and monitoring on metrics ports), egress only to `egress.namespaces`. All modes deny other traffic by default (see [tenancy](tenancy.md#network-isolation)). A namespace that hosts an add-on must be `relaxed`."""
    egress: EgressTargets = EgressTargets()
    """What this namespace reaches outside the catalog: namespaces and (for `strict`) CIDRs."""
    quota: Quota = Quota()
    """The namespace's ResourceQuota."""
    limits: LimitRangeConfig = LimitRangeConfig()
    """The namespace's LimitRange (container defaults)."""
    # Holds data: the namespace is protected and retained if removed from the program.
    protect: bool = False
    """The namespace holds data: registered with `protect` (no `pulumi destroy`) and `retainOnDelete` (kept if removed from the program)."""


# --------------------------------------------------------------------------- secrets and config maps


class PasswordKey(Model):
    type: Literal["password"]
    """The generator."""
    length: int = Field(32, le=256)
    """`password`: length, at least 16."""
    special: bool = True
    """`password`: include special characters."""


class TokenKey(Model):
    """Hex-encoded random bytes, like `openssl rand -hex 32`."""

    type: Literal["token"]
    """The generator."""
    bytes: int = Field(32, ge=16, le=256)
    """`token`: random bytes, hex-encoded (like `openssl rand -hex 32`), 16-256."""


class UuidKey(Model):
    type: Literal["uuid"]
    """The generator."""


class ConfigKey(Model):
    """A value the operator supplies with `pulumi config set --secret platform:<key> ...`."""

    type: Literal["config"]
    """The generator."""
    key: Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9]*$")]
    """`config`: the operator supplies the value with `pulumi config set --secret platform:<key> ...`."""


# A format key's reference to another key of its secret: '{password}'.
_TEMPLATE_REF = re.compile(r"\{([^{}]*)\}")


class FormatKey(Model):
    """Built from other keys of the same secret: 'postgresql://app:{password}@db:5432/app'."""

    type: Literal["format"]
    """The generator."""
    template: str
    """`format`: a string with `{other-key}` placeholders for keys of the same secret, e.g. `postgresql://app:{password}@db:5432/app`."""

    @property
    def references(self) -> list[str]:
        """The keys the template names, in order: '{password}' -> 'password'."""
        return _TEMPLATE_REF.findall(self.template)

    def render(self, values: Mapping[str, str]) -> str:
        """The template with every '{key}' replaced by its value (no str.format: keys may hold '.')."""
        return _TEMPLATE_REF.sub(lambda match: values[match.group(1)], self.template)


class ProvidedKey(Model):
    """A value the platform computes (a managed store's private IP or AUTH string); never user-written."""

    type: Literal["provided"]
    secret: str | None = Field(
        None, description="Copy this platform Secret's value (declared earlier) rather than a computed one."
    )
    key: str | None = Field(None, description="The key of `secret` to copy.")


GENERATORS = ("password", "token", "uuid", "config", "format")
# Tags only the platform writes: accepted by the model, refused in a user's `secrets` (check_secret_keys).
PLATFORM_GENERATORS = ("provided",)


def _generator_tag(value: Any) -> str | None:
    if isinstance(value, Mapping):
        tag = value.get("type")
        return tag if tag in GENERATORS or tag in PLATFORM_GENERATORS else "unknown"
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
    | Annotated[ProvidedKey, Tag("provided")]
    | Annotated[UnknownGenerator, Tag("unknown")],
    Discriminator(_generator_tag),
]


class SecretConfig(Model):
    name: DnsSubdomain
    """Secret name (stable `metadata.name`)."""
    enabled: bool = True
    """`false` leaves it out of a stack."""
    namespaces: list[DnsLabel] = Field(min_length=1)
    """Declared namespaces that get a copy (the same values in each)."""
    # Bump to regenerate every generated key of this secret on the next `pulumi up`.
    rotation: int = Field(1, ge=1)
    """Bump to regenerate every generated key on the next `pulumi up` (it is the random resources' `keepers`)."""
    keys: dict[str, SecretKeySpec] = Field(min_length=1)
    """Key name → generator. `type` is `password`, `token`, `uuid`, `config` or `format`."""


class ConfigMapConfig(Model):
    name: DnsSubdomain
    """ConfigMap name."""
    enabled: bool = True
    """`false` leaves it out of a stack."""
    namespaces: list[DnsLabel] = Field(min_length=1)
    """Declared namespaces that get a copy."""
    data: dict[str, str] = Field(min_length=1)
    """Keys and string values."""
    # Extra labels, e.g. grafana_dashboard: "1" for a dashboard Grafana's sidecar loads (seed 001).
    labels: Labels = {}
    """Extra labels, e.g. `grafana_dashboard: "1"` for a dashboard Grafana's sidecar loads (the learning example's dashboards); the platform's own labels win on a clash."""


# --------------------------------------------------------------------------- rules


def check_namespace(ns: NamespaceConfig, path: str) -> Iterator[Problem]:
    """One namespace's own rules. Egress namespaces need not be declared: a database may live in one
    the platform does not manage (`default`); the type already holds them to DNS labels."""
    if ns.policy == "relaxed" and ns.egress.cidrs:
        yield (
            f"{path}.egress.cidrs",
            "a 'relaxed' namespace already allows egress to every address; remove cidrs or use policy 'strict'",
        )
    if ns.policy == "read-only" and ns.egress.cidrs:
        yield f"{path}.egress.cidrs", "a 'read-only' namespace may reach only data namespaces, not CIDRs"
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
    if storage_bytes(quota.limits_ephemeral_storage) < storage_bytes(quota.requests_ephemeral_storage):
        yield (
            f"{path}.quota.limitsEphemeralStorage",
            f"{quota.limits_ephemeral_storage} is below requestsEphemeralStorage ({quota.requests_ephemeral_storage})",
        )
    if memory_bytes(quota.limits_memory) < memory_bytes(quota.requests_memory):
        yield (
            f"{path}.quota.limitsMemory",
            f"{quota.limits_memory} is below requestsMemory ({quota.requests_memory})",
        )


def check_namespace_refs(
    kind: str, items: Sequence[SecretConfig | ConfigMapConfig], declared: set[str]
) -> Iterator[Problem]:
    """Every namespace a Secret or ConfigMap is placed in is declared (and enabled)."""
    for index, item in enumerate(items):
        for n_index, namespace in enumerate(item.namespaces):
            if item.enabled and namespace not in declared:
                yield (
                    f"{kind}[{index}].namespaces[{n_index}]",
                    f"'{namespace}' is not a declared namespace; declared: {', '.join(sorted(declared)) or 'none'}",
                )


def check_secret_keys(secret: SecretConfig, path: str, supplied: tuple[str, ...]) -> Iterator[Problem]:
    """One secret's keys; `supplied` names the `platform:<key>` values the operator has set."""
    for key, spec in secret.keys.items():
        key_path = f"{path}.keys.{key}"
        if not ENV_NAME.match(key) and not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
            yield key_path, "secret keys may contain only letters, digits, '-', '_' and '.'"
        if isinstance(spec, ProvidedKey):
            yield f"{key_path}.type", f"unknown generator 'provided'; allowed: {', '.join(GENERATORS)}"
        if isinstance(spec, PasswordKey) and spec.length < 16:
            yield (
                f"{key_path}.length",
                f"{spec.length} is too short; generated passwords must be at least 16 characters",
            )
        if isinstance(spec, ConfigKey) and spec.key not in supplied:
            yield (
                f"{key_path}.key",
                f"'{spec.key}' is not set; run `pulumi config set --secret {NAMESPACE}:{spec.key} <value>`",
            )
        if isinstance(spec, FormatKey):
            for ref in spec.references:
                target = secret.keys.get(ref)
                if target is None:
                    yield (
                        f"{key_path}.template",
                        f"'{{{ref}}}' names no key of secret '{secret.name}'; keys: {', '.join(secret.keys)}",
                    )
                elif isinstance(target, FormatKey):
                    yield (
                        f"{key_path}.template",
                        f"'{{{ref}}}' is itself a format key; reference generated or supplied keys only",
                    )
