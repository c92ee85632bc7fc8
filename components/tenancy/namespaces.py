"""The platform's namespaces, each with its guard rails.

For every namespace declared in config this registers:
- the Namespace: `environment`, `app.kubernetes.io/part-of` and `app.kubernetes.io/managed-by`
  labels, and Pod Security Admission labels (enforce from config; audit and warn always at
  `restricted`, so a namespace relaxed to `baseline` still reports what would break under
  `restricted`);
- a ResourceQuota (CPU, memory and ephemeral-storage requests and limits, pods, load balancers) and a LimitRange
  (default container requests and limits);
- NetworkPolicies: a namespace-wide default deny of ingress and egress, then allows for DNS to
  kube-dns and the namespace's policy mode:
  - strict: egress to `egress.namespaces` and `egress.cidrs`, nothing within the namespace;
  - relaxed: traffic among the namespace's own pods; egress anywhere;
  - read-only: egress to `egress.namespaces` only, nothing within the namespace.
  Everything between platform services (the edge on routed ports, `allowFrom` callers, monitoring on
  metrics ports) is per service, in the microservice component, never namespace-wide.
  `egress.namespaces` names places outside the catalog: a namespace the platform does not manage
  (a database in `default`) is reached whole; in a namespace it manages, only the pods that are not
  catalog services (a database the data team runs in `shop-data`), and that namespace admits the
  declaring namespaces to those pods alone. A catalog service is reached only through its `allowFrom`.
  Namespaces running a Workload Identity service may also reach the GKE metadata server.
  Namespaces whose Ingresses get certificates over ACME HTTP-01 admit the edge to cert-manager's
  short-lived solver pods (only those, on their port 8089), so Let's Encrypt can validate the host.
  A catalog-declared add-on namespace (ingress controller, cert-manager, monitoring) must be
  `relaxed`, admits the control plane's admission-webhook calls and metrics scraping on `metrics`
  ports, and, for the ingress controller, public traffic on its http and https ports.

Deliberately left out: add-on namespaces the catalog does not declare (the add-ons create them),
per-service policies (the microservice component's `allowFrom`), and RBAC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.context import Context
from components.kube import SERVICE_NAME_LABEL, Edge, PodPeer, namespaces_named
from components.tenancy.config import NamespaceConfig

ALL_PODS = k8s.meta.v1.LabelSelectorArgs()
# The GKE metadata server answers Workload Identity token requests: Dataplane V2 serves it on
# 169.254.169.254:80/8080, the legacy (Calico) dataplane on 169.254.169.252:987/988.
METADATA_SERVER = {"169.254.169.254/32": [80, 8080], "169.254.169.252/32": [987, 988]}
# cert-manager labels the pods that answer ACME HTTP-01 challenges, and serves them on 8089.
ACME_SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
ACME_SOLVER_PORT = 8089


@dataclass(frozen=True)
class NamespacesArgs:
    namespaces: Sequence[NamespaceConfig]
    context: Context
    # The ingress controller's namespace, open to public traffic when the catalog declares it (traffic domain).
    edge_namespace: str
    # The monitoring namespace, admitted to add-on namespaces' `metrics` ports (observability domain).
    scrape_namespace: str
    # Namespaces that host an enabled add-on (traffic and observability domains).
    addon_namespaces: frozenset[str] = frozenset()
    # The private control plane's range, which calls the add-ons' admission webhooks (gke mode only).
    control_plane_cidr: str | None = None
    # Namespace -> the catalog services in it (workloads domain): declared egress never reaches those.
    catalog_services: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Namespaces running a service with Workload Identity, which must reach the metadata server.
    workload_identity_namespaces: frozenset[str] = frozenset()
    # The ingress data plane (traffic domain), admitted to ACME solver pods in `acme_solver_namespaces`.
    edge: Edge = field(default_factory=Edge)
    # Namespaces whose Ingresses cert-manager validates over HTTP-01 (traffic domain).
    acme_solver_namespaces: frozenset[str] = frozenset()
    # The OpenTelemetry Collector's pods and OTLP ports, which every namespace may send to (observability domain).
    telemetry: PodPeer | None = None
    telemetry_ports: Sequence[int] = ()


def _ingress_from(
    sources: list[str],
    ports: list[k8s.networking.v1.NetworkPolicyPortArgs] | None = None,
    pods: k8s.meta.v1.LabelSelectorArgs = ALL_PODS,
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=pods,
        policy_types=["Ingress"],
        ingress=[
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=namespaces_named(*sources))],
                ports=ports,
            )
        ],
    )


def _egress(*rules: k8s.networking.v1.NetworkPolicyEgressRuleArgs) -> k8s.networking.v1.NetworkPolicySpecArgs:
    return k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=ALL_PODS, policy_types=["Egress"], egress=list(rules))


def outside_catalog(services: Sequence[str]) -> k8s.meta.v1.LabelSelectorArgs:
    """The pods of a namespace that are not catalog services: what declared egress may reach there."""
    if not services:
        return ALL_PODS
    return k8s.meta.v1.LabelSelectorArgs(
        match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(key=SERVICE_NAME_LABEL, operator="NotIn", values=sorted(services))
        ]
    )


def network_policies(args: NamespacesArgs, ns: NamespaceConfig) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """One namespace's NetworkPolicies by name; each name also names its URN role."""
    net = k8s.networking.v1
    policies = {
        "default-deny-all": net.NetworkPolicySpecArgs(pod_selector=ALL_PODS, policy_types=["Ingress", "Egress"]),
        "allow-dns": _egress(
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=namespaces_named("kube-system"),
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(protocol=protocol, port=53) for protocol in ("UDP", "TCP")],
            )
        ),
    }
    clients = [other.name for other in args.namespaces if ns.name in other.egress.namespaces]
    if clients:
        # Declared egress reaches what the catalog does not run here (a database); services keep their allowFrom.
        policies["allow-from-declared-clients"] = _ingress_from(
            clients, pods=outside_catalog(args.catalog_services.get(ns.name, ()))
        )
    if ns.policy == "relaxed":
        same_namespace = [net.NetworkPolicyPeerArgs(pod_selector=ALL_PODS)]
        policies["allow-same-namespace"] = net.NetworkPolicySpecArgs(
            pod_selector=ALL_PODS,
            policy_types=["Ingress", "Egress"],
            ingress=[net.NetworkPolicyIngressRuleArgs(from_=same_namespace)],
            egress=[net.NetworkPolicyEgressRuleArgs(to=same_namespace)],
        )
        # An empty rule matches every destination; ipBlock 0.0.0.0/0 would miss pod IPs under Dataplane V2.
        policies["allow-declared-egress"] = _egress(net.NetworkPolicyEgressRuleArgs())
    else:
        peers = [
            net.NetworkPolicyPeerArgs(
                namespace_selector=namespaces_named(target),
                pod_selector=outside_catalog(args.catalog_services.get(target, ())),
            )
            for target in sorted(set(ns.egress.namespaces))
        ]
        peers += [net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=cidr)) for cidr in ns.egress.cidrs]
        if peers:
            policies["allow-declared-egress"] = _egress(net.NetworkPolicyEgressRuleArgs(to=peers))
    if ns.name in args.addon_namespaces:
        policies.update(_addon_policies(args, ns))
    edge = args.edge.peers()
    if ns.name in args.acme_solver_namespaces and edge:
        policies["allow-acme-http01-solver"] = net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=ACME_SOLVER_LABELS),
            policy_types=["Ingress"],
            ingress=[
                net.NetworkPolicyIngressRuleArgs(
                    from_=edge, ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=ACME_SOLVER_PORT)]
                )
            ],
        )
    if args.telemetry is not None:
        policies.update(_telemetry_policies(args.telemetry, args.telemetry_ports, ns))
    if ns.name in args.workload_identity_namespaces:
        policies["allow-gke-metadata-server"] = _egress(
            *(
                net.NetworkPolicyEgressRuleArgs(
                    to=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=cidr))],
                    ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in ports],
                )
                for cidr, ports in METADATA_SERVER.items()
            )
        )
    return policies


def _telemetry_policies(
    collector: PodPeer, ports: Sequence[int], ns: NamespaceConfig
) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """Every namespace's pods may send OTLP to the collector's pods; its own namespace, if declared, admits them."""
    net = k8s.networking.v1
    otlp = [net.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in ports]
    collector_pods = k8s.meta.v1.LabelSelectorArgs(match_labels=dict(collector.labels))
    policies = {
        "allow-telemetry-export": _egress(
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=namespaces_named(collector.namespace), pod_selector=collector_pods
                    )
                ],
                ports=otlp,
            )
        )
    }
    if ns.name == collector.namespace:
        policies["allow-telemetry-receive"] = net.NetworkPolicySpecArgs(
            pod_selector=collector_pods,
            policy_types=["Ingress"],
            ingress=[
                net.NetworkPolicyIngressRuleArgs(
                    from_=[net.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs())], ports=otlp
                )
            ],
        )
    return policies


def _addon_policies(args: NamespacesArgs, ns: NamespaceConfig) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """What an add-on's charts need in a catalog-declared namespace (validation keeps it `relaxed`)."""
    net = k8s.networking.v1
    # The charts name their metrics ports `metrics` (ingress-nginx, cert-manager, kube-state-metrics).
    policies = {
        "allow-metrics-scraping": _ingress_from(
            [args.scrape_namespace], ports=[net.NetworkPolicyPortArgs(protocol="TCP", port="metrics")]
        )
    }
    if args.control_plane_cidr is not None:
        # Admission webhooks (ingress-nginx, cert-manager, prometheus-operator) are called by the
        # private control plane, from its /28.
        policies["allow-from-control-plane"] = net.NetworkPolicySpecArgs(
            pod_selector=ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                net.NetworkPolicyIngressRuleArgs(
                    from_=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=args.control_plane_cidr))]
                )
            ],
        )
    if ns.name == args.edge_namespace:
        # The controller is the platform's front door: clients anywhere reach its http and https ports.
        policies["allow-public-ingress"] = net.NetworkPolicySpecArgs(
            pod_selector=ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                net.NetworkPolicyIngressRuleArgs(
                    ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in ("http", "https")]
                )
            ],
        )
    return policies


class Namespaces(pulumi.ComponentResource):
    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(self, name: str, args: NamespacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:namespaces:Namespaces", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self, provider=context.provider)
        # A component's depends_on does not reach its children: the Namespaces carry it themselves.
        on_nodes = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=opts.depends_on if opts is not None else None)
        )
        self.namespaces = {}
        for ns in args.namespaces:
            labels = context.namespace_labels(ns.environment or context.environment, ns.pod_security)
            namespace = k8s.core.v1.Namespace(
                f"{name}-{ns.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=ns.name, labels=labels),
                # Data namespaces: protect makes `pulumi destroy` (and any replacement) fail instead of
                # deleting them; retain_on_delete keeps them, volumes and all, if they leave the program.
                opts=pulumi.ResourceOptions.merge(
                    on_nodes, pulumi.ResourceOptions(protect=ns.protect, retain_on_delete=ns.protect)
                ),
            )
            self.namespaces[ns.name] = namespace

            quota, limits = ns.quota, ns.limits
            k8s.core.v1.ResourceQuota(
                f"{name}-{ns.name}-quota",
                metadata=context.object_metadata("namespace-quota", namespace),
                spec=k8s.core.v1.ResourceQuotaSpecArgs(
                    hard={
                        "requests.cpu": quota.requests_cpu,
                        "requests.memory": quota.requests_memory,
                        "limits.cpu": quota.limits_cpu,
                        "limits.memory": quota.limits_memory,
                        "requests.ephemeral-storage": quota.requests_ephemeral_storage,
                        "limits.ephemeral-storage": quota.limits_ephemeral_storage,
                        "pods": str(quota.pods),
                        "services.loadbalancers": str(quota.load_balancers),
                    }
                ),
                opts=child,
            )
            k8s.core.v1.LimitRange(
                f"{name}-{ns.name}-limits",
                metadata=context.object_metadata("container-defaults", namespace),
                spec=k8s.core.v1.LimitRangeSpecArgs(
                    limits=[
                        k8s.core.v1.LimitRangeItemArgs(
                            type="Container",
                            default_request={
                                "cpu": limits.default_request.cpu,
                                "memory": limits.default_request.memory,
                                "ephemeral-storage": limits.default_request.ephemeral_storage,
                            },
                            default={
                                "cpu": limits.default_limit.cpu,
                                "memory": limits.default_limit.memory,
                                "ephemeral-storage": limits.default_limit.ephemeral_storage,
                            },
                        )
                    ]
                ),
                opts=child,
            )
            # No policy name is a '-suffix' of another, so '<namespace>-<policy>' URNs never collide.
            for policy_name, spec in network_policies(args, ns).items():
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{ns.name}-{policy_name}",
                    metadata=context.object_metadata(policy_name, namespace),
                    spec=spec,
                    opts=child,
                )
        self.register_outputs({"namespaces": sorted(self.namespaces)})
