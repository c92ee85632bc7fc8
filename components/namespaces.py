"""The platform's namespaces, each with its guard rails.

For every namespace declared in config this registers:
- the Namespace: `environment`, `app.kubernetes.io/part-of` and `app.kubernetes.io/managed-by`
  labels, and Pod Security Admission labels (enforce from config; audit and warn always at
  `restricted`, so a namespace relaxed to `baseline` still reports what would break under
  `restricted`);
- a ResourceQuota (CPU and memory requests and limits, pods, load balancers) and a LimitRange
  (default container requests and limits);
- NetworkPolicies: a namespace-wide default deny of ingress and egress, then allows for DNS to
  kube-dns, ingress from the ingress controller's namespace, metrics scraping (the `metrics` port
  and the services' own metrics ports) from the monitoring namespace, and the namespace's policy mode:
  - strict: traffic within the namespace; egress to `egress.namespaces` and `egress.cidrs`;
  - relaxed: traffic within the namespace; egress anywhere;
  - read-only: no traffic within the namespace; egress to `egress.namespaces` only.
  Cross-namespace traffic is declared once, on the caller (`egress.namespaces`): the target admits
  ingress from every namespace that declares it, so the two ends of a flow never disagree.
  Namespaces running a Workload Identity service may also reach the GKE metadata server.
  A catalog-declared add-on namespace (ingress controller, cert-manager, monitoring) must be
  `relaxed`, admits the control plane's admission-webhook calls, and, for the ingress controller,
  public traffic on its http and https ports.

Deliberately left out: add-on namespaces the catalog does not declare (the add-ons create them),
per-service policies (the microservice component's `allowFrom`), and RBAC.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import NamespaceConfig, PlatformConfig

# Set by the API server on every namespace (Kubernetes >= 1.22), so it cannot be spoofed by a label edit.
NAME_LABEL = "kubernetes.io/metadata.name"
PSA = "pod-security.kubernetes.io"
ALL_PODS = k8s.meta.v1.LabelSelectorArgs()
# The GKE metadata server answers Workload Identity token requests: Dataplane V2 serves it on
# 169.254.169.254:80/8080, the legacy (Calico) dataplane on 169.254.169.252:987/988.
METADATA_SERVER = {"169.254.169.254/32": [80, 8080], "169.254.169.252/32": [987, 988]}


def platform_labels(config: PlatformConfig) -> dict[str, str]:
    """The labels every object the platform owns carries."""
    return {"app.kubernetes.io/part-of": config.app, "app.kubernetes.io/managed-by": "pulumi"}


def namespace_labels(config: PlatformConfig, environment: str, pod_security: str) -> dict[str, str]:
    """A namespace's labels: the platform's, its environment, and Pod Security enforced at `pod_security`
    with audit and warn always at `restricted`, so what a laxer level admits still shows."""
    return {
        "environment": environment,
        **platform_labels(config),
        f"{PSA}/enforce": pod_security,
        f"{PSA}/audit": "restricted",
        f"{PSA}/warn": "restricted",
    }


def object_metadata(config: PlatformConfig, name: str, namespace: k8s.core.v1.Namespace) -> k8s.meta.v1.ObjectMetaArgs:
    """Metadata for an object in `namespace`: taking the name from the Namespace resource orders it after it."""
    return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace.metadata.name, labels=platform_labels(config))


def namespaces_named(*names: str) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(
        match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(key=NAME_LABEL, operator="In", values=sorted(names))
        ]
    )


def _ingress_from(
    sources: list[str], ports: list[k8s.networking.v1.NetworkPolicyPortArgs] | None = None
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=ALL_PODS,
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


def network_policies(config: PlatformConfig, ns: NamespaceConfig) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """One namespace's NetworkPolicies by name; each name also names its URN role."""
    net = k8s.networking.v1
    addons = config.addons
    services = [svc for svc in config.services if svc.namespace == ns.name]
    # Prometheus scrapes `metrics` by convention, and any other port a service names as its metrics port.
    metrics_ports = sorted({"metrics"} | {svc.metrics.port for svc in services if svc.metrics is not None})
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
        "allow-from-ingress-controller": _ingress_from([addons.ingress_nginx.namespace]),
        "allow-metrics-scraping": _ingress_from(
            [addons.monitoring.namespace],
            ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in metrics_ports],
        ),
    }
    clients = [other.name for other in config.namespaces if ns.name in other.egress.namespaces]
    if clients:
        policies["allow-from-declared-clients"] = _ingress_from(clients)
    if ns.policy != "read-only":
        same_namespace = [net.NetworkPolicyPeerArgs(pod_selector=ALL_PODS)]
        policies["allow-same-namespace"] = net.NetworkPolicySpecArgs(
            pod_selector=ALL_PODS,
            policy_types=["Ingress", "Egress"],
            ingress=[net.NetworkPolicyIngressRuleArgs(from_=same_namespace)],
            egress=[net.NetworkPolicyEgressRuleArgs(to=same_namespace)],
        )
    if ns.policy == "relaxed":
        # An empty rule matches every destination; ipBlock 0.0.0.0/0 would miss pod IPs under Dataplane V2.
        policies["allow-declared-egress"] = _egress(net.NetworkPolicyEgressRuleArgs())
    else:
        peers = [net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=cidr)) for cidr in ns.egress.cidrs]
        if ns.egress.namespaces:
            peers.insert(0, net.NetworkPolicyPeerArgs(namespace_selector=namespaces_named(*ns.egress.namespaces)))
        if peers:
            policies["allow-declared-egress"] = _egress(net.NetworkPolicyEgressRuleArgs(to=peers))
    if ns.name in config.addon_namespaces:
        policies.update(_addon_policies(config, ns))
    if any(svc.service_account.workload_identity is not None for svc in services):
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


def _addon_policies(config: PlatformConfig, ns: NamespaceConfig) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """What an add-on's charts need in a catalog-declared namespace (validation keeps it `relaxed`)."""
    net = k8s.networking.v1
    policies = {}
    if config.creates_cluster:
        # Admission webhooks (ingress-nginx, cert-manager, prometheus-operator) are called by the
        # private control plane, from its /28.
        policies["allow-from-control-plane"] = net.NetworkPolicySpecArgs(
            pod_selector=ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                net.NetworkPolicyIngressRuleArgs(
                    from_=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=config.cluster.master_ipv4_cidr))]
                )
            ],
        )
    if ns.name == config.addons.ingress_nginx.namespace:
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

    def __init__(
        self, name: str, config: PlatformConfig, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:namespaces:Namespaces", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        # A component's depends_on does not reach its children: the Namespaces carry it themselves.
        on_nodes = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=opts.depends_on if opts is not None else None)
        )
        self.namespaces = {}
        for ns in config.namespaces:
            labels = namespace_labels(config, ns.environment or config.environment, ns.pod_security)
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
                metadata=object_metadata(config, "namespace-quota", namespace),
                spec=k8s.core.v1.ResourceQuotaSpecArgs(
                    hard={
                        "requests.cpu": quota.requests_cpu,
                        "requests.memory": quota.requests_memory,
                        "limits.cpu": quota.limits_cpu,
                        "limits.memory": quota.limits_memory,
                        "pods": str(quota.pods),
                        "services.loadbalancers": str(quota.load_balancers),
                    }
                ),
                opts=child,
            )
            k8s.core.v1.LimitRange(
                f"{name}-{ns.name}-limits",
                metadata=object_metadata(config, "container-defaults", namespace),
                spec=k8s.core.v1.LimitRangeSpecArgs(
                    limits=[
                        k8s.core.v1.LimitRangeItemArgs(
                            type="Container",
                            default_request={
                                "cpu": limits.default_request.cpu,
                                "memory": limits.default_request.memory,
                            },
                            default={"cpu": limits.default_limit.cpu, "memory": limits.default_limit.memory},
                        )
                    ]
                ),
                opts=child,
            )
            # No policy name is a '-suffix' of another, so '<namespace>-<policy>' URNs never collide.
            for policy_name, spec in network_policies(config, ns).items():
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{ns.name}-{policy_name}",
                    metadata=object_metadata(config, policy_name, namespace),
                    spec=spec,
                    opts=child,
                )
        self.register_outputs({"namespaces": sorted(self.namespaces)})
