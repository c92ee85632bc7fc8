"""Which endpoints can open connections to which, computed from Kubernetes NetworkPolicy manifests.

Models the networking.k8s.io/v1 NetworkPolicy semantics of the Kubernetes documentation, over plain
manifest dicts (the shape the API server receives):
- a pod is isolated for ingress (egress) when a policy in its namespace selects it and lists that type
  in `policyTypes`; omitted `policyTypes` means Ingress, plus Egress when `egress` is non-empty (the
  API server's defaulting);
- policies add up: a connection is allowed iff the source's egress allows it (or the source is not
  egress-isolated) and the destination's ingress allows it (or it is not ingress-isolated);
- peers: `podSelector` alone means the policy's namespace, `namespaceSelector` alone every pod in
  matching namespaces, both in one peer means AND, separate peers OR; a missing or empty `from`/`to`
  matches every peer; a missing or empty `ports` every port; named ports resolve against the
  destination's container ports (for egress rules too); `endPort` ranges; protocol defaults to TCP;
- namespaces carry `kubernetes.io/metadata.name`, added here as the API server does.

Endpoints are workloads (one per Deployment, StatefulSet, DaemonSet, Job or CronJob, from its pod
template), named pod-like endpoints the caller adds (a Gateway's proxies, a chart's controller) and
external endpoints with an IP ("internet", Google's front ends). Replicas of one workload are subject
to policy like any pods, so a workload's connection to itself is evaluated, not assumed.

Assumption: `ipBlock` peers match external IPs only, never pods, as GKE Dataplane V2 (Cilium) treats
pod IPs. Deliberately left out: Service ClusterIP/port translation (policies see pod ports, so ask
about container ports), hostNetwork pods, FQDN and other CRD policies (Cilium, AdminNetworkPolicy),
node-local exceptions (kubelet probes) and traffic between two external endpoints.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.kube import Edge

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server
_POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

Manifest = Mapping[str, Any]


@dataclass(frozen=True)
class PortSpec:
    """A port an endpoint listens on: a container port, or a port the caller gives an external endpoint."""

    port: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A source or destination: pod-like (namespace and labels) or external (an IP), never both."""

    name: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    ip: str | None = None
    ports: tuple[PortSpec, ...] = ()

    def __post_init__(self) -> None:
        if (self.namespace is None) == (self.ip is None):
            raise ValueError(f"endpoint {self.name!r}: set exactly one of namespace (a pod) and ip (external)")
        if self.ip is not None:
            ipaddress.ip_address(self.ip)  # raises ValueError naming the bad address

    @property
    def is_external(self) -> bool:
        return self.ip is not None


def endpoints_from_manifests(manifests: Iterable[Manifest]) -> list[Endpoint]:
    """One endpoint per workload, named "<namespace>/<name>", with its pod template's labels and container ports."""
    endpoints = []
    for manifest in manifests:
        path = _POD_TEMPLATE_PATHS.get(manifest.get("kind", ""))
        if path is None:
            continue
        template: Any = manifest
        for key in path:
            template = template.get(key) or {}
        metadata = manifest.get("metadata") or {}
        namespace = metadata.get("namespace") or "default"
        containers = (template.get("spec") or {}).get("containers") or []
        ports = tuple(
            PortSpec(int(p["containerPort"]), p.get("protocol", "TCP"), p.get("name"))
            for container in containers
            for p in container.get("ports") or []
        )
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        endpoints.append(Endpoint(f"{namespace}/{metadata['name']}", namespace, labels, None, ports))
    return endpoints


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector: matchLabels and matchExpressions all hold; the empty selector matches everything."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise ValueError(f"matchExpressions operator must be one of In, NotIn, Exists, DoesNotExist: {operator!r}")
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class _Rule:
    peers: tuple[Manifest, ...]  # empty: every peer
    ports: tuple[Manifest, ...]  # empty: every port


@dataclass(frozen=True)
class _Policy:
    name: str
    namespace: str
    pod_selector: Manifest
    ingress: tuple[_Rule, ...] | None  # None: the policy does not isolate for ingress
    egress: tuple[_Rule, ...] | None


def _parse_policy(manifest: Manifest) -> _Policy:
    metadata, spec = manifest.get("metadata") or {}, manifest.get("spec") or {}
    types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if spec.get("egress") else [])]

    def rules(direction: str, peer_key: str) -> tuple[_Rule, ...] | None:
        if direction.capitalize() not in types:
            return None
        return tuple(
            _Rule(tuple(rule.get(peer_key) or ()), tuple(rule.get("ports") or ())) for rule in spec.get(direction) or ()
        )

    return _Policy(
        name=metadata.get("name", ""),
        namespace=metadata.get("namespace") or "default",
        pod_selector=spec.get("podSelector") or {},
        ingress=rules("ingress", "from"),
        egress=rules("egress", "to"),
    )


class Evaluator:
    """Answers "can source open a connection to destination on port/protocol" under the manifests' NetworkPolicies."""

    def __init__(self, manifests: Iterable[Manifest], extra_endpoints: Iterable[Endpoint] = ()) -> None:
        manifests = list(manifests)
        self.endpoints: dict[str, Endpoint] = {}
        for endpoint in [*endpoints_from_manifests(manifests), *extra_endpoints]:
            if endpoint.name in self.endpoints:
                raise ValueError(f"endpoint name {endpoint.name!r} is used twice")
            self.endpoints[endpoint.name] = endpoint
        self._namespace_labels: dict[str, dict[str, str]] = {}
        for manifest in manifests:
            if manifest.get("kind") == "Namespace":
                name = manifest["metadata"]["name"]
                labels = dict(manifest["metadata"].get("labels") or {})
                self._namespace_labels[name] = {**labels, NAMESPACE_NAME_LABEL: name}
        self._policies = [
            _parse_policy(m)
            for m in manifests
            if m.get("kind") == "NetworkPolicy" and m.get("apiVersion") == "networking.k8s.io/v1"
        ]

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        """A namespace's labels; one without a manifest (e.g. `default`) has only its name label."""
        return self._namespace_labels.get(namespace, {NAMESPACE_NAME_LABEL: namespace})

    def allowed(self, source: str, destination: str, port: int, protocol: str = "TCP") -> bool:
        """Whether `source` may open a connection to `destination` on the destination's `port`/`protocol`."""
        src, dst = self.endpoints[source], self.endpoints[destination]
        if src.is_external and dst.is_external:
            raise ValueError(f"{source!r} -> {destination!r}: traffic between two external endpoints is not modelled")
        egress_ok = src.is_external or self._direction_allows(src, "egress", dst, dst, port, protocol)
        return egress_ok and (dst.is_external or self._direction_allows(dst, "ingress", src, dst, port, protocol))

    def matrix(
        self, sources: Iterable[str] | None = None, destinations: Iterable[str] | None = None
    ) -> set[tuple[str, str, int]]:
        """Every (source, destination, port) allowed, over each destination's declared ports (default: all endpoints)."""
        source_names = list(self.endpoints if sources is None else sources)
        destination_names = list(self.endpoints if destinations is None else destinations)
        return {
            (src, dst, spec.port)
            for src in source_names
            for dst in destination_names
            if not (self.endpoints[src].is_external and self.endpoints[dst].is_external)
            for spec in self.endpoints[dst].ports
            if self.allowed(src, dst, spec.port, spec.protocol)
        }

    def _direction_allows(
        self, subject: Endpoint, direction: str, peer: Endpoint, destination: Endpoint, port: int, protocol: str
    ) -> bool:
        """True if `subject` is not isolated in `direction`, or some rule of a policy selecting it admits `peer`."""
        rule_sets = [
            (policy.namespace, rules)
            for policy in self._policies
            if policy.namespace == subject.namespace and selector_matches(policy.pod_selector, subject.labels)
            for rules in [policy.ingress if direction == "ingress" else policy.egress]
            if rules is not None
        ]
        if not rule_sets:
            return True
        return any(
            self._peer_matches(rule, namespace, peer) and _port_matches(rule, destination, port, protocol)
            for namespace, rules in rule_sets
            for rule in rules
        )

    def _peer_matches(self, rule: _Rule, policy_namespace: str, peer: Endpoint) -> bool:
        if not rule.peers:
            return True
        return any(self._one_peer_matches(p, policy_namespace, peer) for p in rule.peers)

    def _one_peer_matches(self, spec: Manifest, policy_namespace: str, peer: Endpoint) -> bool:
        if "ipBlock" in spec:
            if peer.ip is None:
                return False  # Dataplane V2: ipBlock never matches pod IPs (see the module docstring)
            block, address = spec["ipBlock"], ipaddress.ip_address(peer.ip)
            return address in ipaddress.ip_network(block["cidr"], strict=False) and not any(
                address in ipaddress.ip_network(cidr, strict=False) for cidr in block.get("except") or ()
            )
        if peer.namespace is None:
            return False
        namespace_selector = spec.get("namespaceSelector")
        if namespace_selector is None:
            namespace_ok = peer.namespace == policy_namespace
        else:
            namespace_ok = selector_matches(namespace_selector, self.namespace_labels(peer.namespace))
        return namespace_ok and selector_matches(spec.get("podSelector") or {}, peer.labels)


def _port_matches(rule: _Rule, destination: Endpoint, port: int, protocol: str) -> bool:
    """A rule's ports: empty means all; a named port resolves against the destination's ports."""
    if not rule.ports:
        return True
    for entry in rule.ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            if any(s.name == wanted and s.protocol == protocol and s.port == port for s in destination.ports):
                return True
        elif int(wanted) <= port <= int(entry.get("endPort", wanted)):
            return True
    return False


def edge_endpoints(edge: Edge) -> list[Endpoint]:
    """The platform's ingress data plane as source endpoints: its pods ("<namespace>/edge", numbered when
    there are several pod sets) and one per front-end range, at the range's first address ("edge-<cidr>")."""
    numbered = len(edge.pods) > 1
    pods = [
        Endpoint(f"{pod.namespace}/edge{f'-{n}' if numbered else ''}", pod.namespace, dict(pod.labels))
        for n, pod in enumerate(edge.pods)
    ]
    ranges = [Endpoint(f"edge-{cidr}", ip=str(ipaddress.ip_network(cidr)[1])) for cidr in edge.cidrs]
    return [*pods, *ranges]


def monitoring_endpoint(namespace: str) -> Endpoint:
    """Prometheus, standing for every scraper in the monitoring namespace (policies admit it by namespace)."""
    return Endpoint(f"{namespace}/prometheus", namespace, {"app.kubernetes.io/name": "prometheus"})


def reachability_table(
    manifests: Iterable[Manifest], extra_endpoints: Iterable[Endpoint] = ()
) -> list[tuple[str, str, int]]:
    """Every allowed (source, destination, destination port), sorted: the matrix a plan prints as a table."""
    return sorted(Evaluator(manifests, extra_endpoints).matrix())
