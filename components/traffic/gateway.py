"""The shared Gateway (gateway.networking.k8s.io/v1) every service's HTTPRoutes attach to.

One Gateway in a platform-owned namespace, of the stack's class:
- listeners: one per host (`https-<host>` on 443 with TLS on, `http-<host>` on 80 without), each
  admitting routes only from the catalog namespaces that route through it (selected by the
  `kubernetes.io/metadata.name` label the API server sets, so no namespace can claim it); with TLS, one
  `http` listener on 80 that admits routes from the Gateway's own namespace alone, where a single
  HTTPRoute answers every request with a 301 to https (and cert-manager's ACME solver may attach);
- gke mode: a reserved static IP (a global address for global classes, a regional one otherwise, an
  internal one in the nodes' subnet for `gke-l7-rilb`) named in `spec.addresses`; certificates from
  Certificate Manager, each host with its own DNS authorization and Google-managed certificate (Google
  renews them; the DNS records to create are the `dnsAuthorizations` output), bound through a
  certificate map (global classes) or the regional certificates annotation; a Cloud Armor policy whose
  throttle rule counts requests per client IP and answers 429 above the threshold (attached to each
  routed Service by routes.py);
- existing mode: Envoy Gateway's class; TLS from cert-manager's cluster issuer into one Secret per
  host in the Gateway's namespace; its local rate limit as a BackendTrafficPolicy on the Gateway.

Deliberately out of scope: DNS records for the address or the authorizations, the HTTPRoutes and
per-Service policies (routes.py) and the in-cluster controller (envoy_gateway.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components.helm import AddonArgs, addon_namespace
from components.kube import NAME_LABEL
from components.traffic.config import IngressConfig

GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
# The listener only the redirect (and an ACME solver) attaches to.
HTTP_LISTENER = "http"
Scope = Literal["global", "regional-external", "regional-internal"]


def host_slug(host: str) -> str:
    """'api.shop.example.com' -> 'api-shop-example-com' (a wildcard becomes 'wildcard')."""
    return host.replace("*", "wildcard").replace(".", "-")


def listener_name(host: str, tls: bool) -> str:
    return f"{'https' if tls else 'http'}-{host_slug(host)}"


@dataclass(frozen=True)
class GatewayArgs:
    ingress: IngressConfig
    class_name: str
    # The listeners' hostnames and, per hostname, the namespaces whose routes it admits.
    listeners: dict[str, list[str]]
    # Where GKE's load balancer lives (gke mode); None: an in-cluster controller serves the class.
    scope: Scope | None
    cluster_name: str
    region: str
    addon: AddonArgs
    # The nodes' subnet, where gke-l7-rilb takes its address.
    subnetwork: pulumi.Input[str] | None = None
    # The ClusterIssuer that issues the listeners' certificates off GKE (None: cert-manager is off).
    issuer: str | None = None
    # The in-cluster controller's release and GatewayClass (existing mode), whose CRDs the Gateway needs.
    depends_on: Sequence[pulumi.Resource] = ()


class SharedGateway(pulumi.ComponentResource):
    name: str
    namespace: str
    tls: bool
    # The Cloud Armor policy's name (gke mode with a rate limit) for the Services' GCPBackendPolicies.
    security_policy: pulumi.Output[str] | None
    gateway: k8s.apiextensions.CustomResource
    outputs: dict[str, Any]

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:traffic:Gateway", name, None, opts)
        ingress = args.ingress
        context = args.addon.context
        self._args = args
        self.name = ingress.gateway.name
        self.tls = ingress.tls
        self.namespace = ingress.gateway.namespace
        # Holds no workload: the Gateway, its redirect route and, off GKE with TLS, cert-manager's Secrets
        # and HTTP-01 solver pods.
        self._namespace = addon_namespace(self, name, args.addon, self.namespace, "restricted")
        self._k8s = pulumi.ResourceOptions(
            parent=self, provider=context.provider, depends_on=[*context.node_pools, *args.depends_on]
        )
        self.outputs = {}
        self.security_policy = None
        annotations: dict[str, pulumi.Input[str]] = {}
        addresses: list[dict[str, Any]] | None = None
        if args.scope is not None:
            address = self._reserve_address(name, args.scope)
            addresses = [{"type": "NamedAddress", "value": address.name}]
            self.outputs["gatewayIp"] = address.address
            if ingress.tls and args.listeners:
                annotations.update(self._certificates(name, args.scope))
            if ingress.rate_limit_threshold is not None:
                self.security_policy = self._security_policy(name, args.scope)
        elif ingress.tls and args.issuer is not None:
            # cert-manager's gateway-shim issues one Certificate per HTTPS listener into its Secret.
            annotations["cert-manager.io/cluster-issuer"] = args.issuer

        spec: dict[str, Any] = {"gatewayClassName": args.class_name, "listeners": self._listeners()}
        if addresses is not None:
            spec["addresses"] = addresses
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API,
            kind="Gateway",
            metadata=self._metadata(self.name, annotations),
            spec=spec,
            opts=self._k8s,
        )
        if ingress.tls:
            self._redirect(name)
        if args.scope is None and ingress.rate_limit_rps is not None:
            self._local_rate_limit(name, ingress.rate_limit_rps)
        self.register_outputs(self.outputs)

    def _metadata(
        self, name: str, annotations: dict[str, pulumi.Input[str]] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self._namespace.metadata.name,
            labels=self._args.addon.context.labels,
            annotations=annotations or None,
        )

    def parent_ref(self, host: str) -> dict[str, str]:
        """A route's attachment to `host`'s listener."""
        return {
            "group": GATEWAY_GROUP,
            "kind": "Gateway",
            "name": self.name,
            "namespace": self.namespace,
            "sectionName": listener_name(host, self._args.ingress.tls),
        }

    # ------------------------------------------------------------------ listeners and redirect

    def _listeners(self) -> list[dict[str, Any]]:
        tls = self._args.ingress.tls
        listeners = []
        for host, namespaces in self._args.listeners.items():
            listener: dict[str, Any] = {
                "name": listener_name(host, tls),
                "hostname": host,
                "port": 443 if tls else 80,
                "protocol": "HTTPS" if tls else "HTTP",
                "allowedRoutes": {
                    "kinds": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}],
                    # A listed host nothing routes to yet admits nothing from elsewhere.
                    "namespaces": {
                        "from": "Selector",
                        "selector": {
                            "matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": sorted(namespaces)}]
                        },
                    }
                    if namespaces
                    else {"from": "Same"},
                },
            }
            if tls and self._args.scope is None:
                listener["tls"] = {
                    "mode": "Terminate",
                    "certificateRefs": [{"group": "", "kind": "Secret", "name": f"{host_slug(host)}-tls"}],
                }
            listeners.append(listener)
        if tls:
            listeners.append(
                {
                    "name": HTTP_LISTENER,
                    "port": 80,
                    "protocol": "HTTP",
                    "allowedRoutes": {"namespaces": {"from": "Same"}},
                }
            )
        return listeners

    def _redirect(self, name: str) -> None:
        k8s.apiextensions.CustomResource(
            f"{name}-https-redirect",
            api_version=GATEWAY_API,
            kind="HTTPRoute",
            metadata=self._metadata("https-redirect"),
            spec={
                "parentRefs": [
                    {"group": GATEWAY_GROUP, "kind": "Gateway", "name": self.name, "sectionName": HTTP_LISTENER}
                ],
                "rules": [
                    {
                        "filters": [
                            {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}
                        ]
                    }
                ],
            },
            opts=pulumi.ResourceOptions.merge(self._k8s, pulumi.ResourceOptions(depends_on=[self.gateway])),
        )

    def _local_rate_limit(self, name: str, rps: int) -> None:
        # Envoy's local limit counts per proxy replica and per route, not per client (docs/traffic.md, "Rate limit").
        k8s.apiextensions.CustomResource(
            f"{name}-rate-limit",
            api_version="gateway.envoyproxy.io/v1alpha1",
            kind="BackendTrafficPolicy",
            metadata=self._metadata("rate-limit"),
            spec={
                "targetRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "name": self.name}],
                "rateLimit": {"type": "Local", "local": {"rules": [{"limit": {"requests": rps, "unit": "Second"}}]}},
            },
            opts=pulumi.ResourceOptions.merge(self._k8s, pulumi.ResourceOptions(depends_on=[self.gateway])),
        )

    # ------------------------------------------------------------------ Google Cloud (gke mode)

    def _gcp(self, protect: bool = False) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, protect=protect)

    def _gcp_labels(self) -> dict[str, str]:
        context = self._args.addon.context
        return {"environment": context.environment, "managed-by": "pulumi"}

    def _reserve_address(self, name: str, scope: Scope) -> Any:
        import pulumi_gcp as gcp

        args = self._args
        context = args.addon.context
        address_name = f"{args.cluster_name}-gateway"
        description = f"shared Gateway of {args.cluster_name}"
        # DNS points at this address: production keeps it through any `pulumi destroy`.
        opts = self._gcp(protect=context.is_production)
        if scope == "global":
            return gcp.compute.GlobalAddress(
                f"{name}-ip",
                name=address_name,
                project=context.project,
                address_type="EXTERNAL",
                ip_version="IPV4",
                description=description,
                labels=self._gcp_labels(),
                opts=opts,
            )
        internal = scope == "regional-internal"
        return gcp.compute.Address(
            f"{name}-ip",
            name=address_name,
            project=context.project,
            region=args.region,
            address_type="INTERNAL" if internal else "EXTERNAL",
            # GKE's regional external Gateway takes a Standard Tier address.
            network_tier=None if internal else "STANDARD",
            subnetwork=args.subnetwork if internal else None,
            purpose="SHARED_LOADBALANCER_VIP" if internal else None,
            description=description,
            labels=self._gcp_labels(),
            opts=opts,
        )

    def _certificates(self, name: str, scope: Scope) -> dict[str, pulumi.Input[str]]:
        """A Google-managed certificate per host, authorized by DNS; the Gateway annotation that binds them."""
        import pulumi_gcp as gcp

        args = self._args
        project = args.addon.context.project
        location = "global" if scope == "global" else args.region
        certificates = {}
        records = {}
        for host in args.listeners:
            slug = host_slug(host)
            authorization = gcp.certificatemanager.DnsAuthorization(
                f"{name}-{slug}-dns-authorization",
                name=f"{args.cluster_name}-{slug}"[:63].rstrip("-"),
                project=project,
                location=location,
                domain=host,
                # One CNAME per project and domain; the certificate renews with no traffic needed.
                type="PER_PROJECT_RECORD",
                labels=self._gcp_labels(),
                opts=self._gcp(),
            )
            certificates[host] = gcp.certificatemanager.Certificate(
                f"{name}-{slug}-certificate",
                name=f"{args.cluster_name}-{slug}"[:63].rstrip("-"),
                project=project,
                location=location,
                scope="DEFAULT",
                managed=gcp.certificatemanager.CertificateManagedArgs(
                    domains=[host], dns_authorizations=[authorization.id]
                ),
                labels=self._gcp_labels(),
                opts=self._gcp(),
            )
            records[host] = authorization.dns_resource_records
        self.outputs["dnsAuthorizations"] = records
        if scope != "global":
            names = [certificate.name for certificate in certificates.values()]
            return {"networking.gke.io/cert-manager-certs": pulumi.Output.all(*names).apply(",".join)}
        certificate_map = gcp.certificatemanager.CertificateMap(
            f"{name}-certificate-map",
            name=f"{args.cluster_name}-gateway",
            project=project,
            description=f"certificates of the shared Gateway of {args.cluster_name}",
            labels=self._gcp_labels(),
            opts=self._gcp(),
        )
        for host, certificate in certificates.items():
            gcp.certificatemanager.CertificateMapEntry(
                f"{name}-{host_slug(host)}-certificate-map-entry",
                name=f"{args.cluster_name}-{host_slug(host)}"[:63].rstrip("-"),
                project=project,
                map=certificate_map.name,
                hostname=host,
                certificates=[certificate.id],
                labels=self._gcp_labels(),
                opts=self._gcp(),
            )
        return {"networking.gke.io/certmap": certificate_map.name}

    def _security_policy(self, name: str, scope: Scope) -> pulumi.Output[str]:
        """Cloud Armor: throttle each client IP above the threshold with a 429, allow the rest."""
        import pulumi_gcp as gcp

        args = self._args
        ingress = args.ingress
        threshold = ingress.rate_limit_threshold
        policy_name = f"{args.cluster_name}-gateway"
        description = (
            f"{ingress.rate_limit_rps} requests/s per client IP "
            f"({threshold} per {ingress.rate_limit_interval_seconds} s) on {args.cluster_name}'s Gateway"
        )
        # The global and regional policies take the same rules, each in its own typed Args classes.
        prefix = "SecurityPolicy" if scope == "global" else "RegionSecurityPolicy"
        rules = _armor_rules(prefix, threshold or 0, ingress.rate_limit_interval_seconds)
        common: dict[str, Any] = {
            "name": policy_name,
            "project": args.addon.context.project,
            "description": description,
            "type": "CLOUD_ARMOR",
            "rules": rules,
            "opts": self._gcp(),
        }
        policy: Any
        if scope == "global":
            policy = gcp.compute.SecurityPolicy(f"{name}-security-policy", **common)
        else:
            policy = gcp.compute.RegionSecurityPolicy(f"{name}-security-policy", region=args.region, **common)
        self.outputs["securityPolicy"] = policy.name
        name_output: pulumi.Output[str] = policy.name
        return name_output


def _armor_rules(prefix: str, count: int, interval_seconds: int) -> list[Any]:
    """Throttle every client IP above `count` requests per `interval_seconds` with a 429; allow the rest.
    `prefix` picks the global (`SecurityPolicy`) or regional (`RegionSecurityPolicy`) Args classes."""
    import pulumi_gcp as gcp

    def args(kind: str) -> Any:
        return getattr(gcp.compute, f"{prefix}{kind}Args")

    def every_source() -> Any:
        return args("RuleMatch")(versioned_expr="SRC_IPS_V1", config=args("RuleMatchConfig")(src_ip_ranges=["*"]))

    throttle = args("Rule")(
        action="throttle",
        priority=1000,
        description="per-client rate limit",
        match=every_source(),
        rate_limit_options=args("RuleRateLimitOptions")(
            conform_action="allow",
            exceed_action="deny(429)",
            enforce_on_key="IP",
            rate_limit_threshold=args("RuleRateLimitOptionsRateLimitThreshold")(
                count=count, interval_sec=interval_seconds
            ),
        ),
    )
    default = args("Rule")(action="allow", priority=2147483647, description="default rule", match=every_source())
    return [throttle, default]
