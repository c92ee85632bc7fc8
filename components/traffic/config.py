"""Config of the traffic domain: how requests reach the services, and the add-ons that carry them.

`IngressConfig` shapes the routing layer: the Gateway API (the default) or the retired ingress-nginx
kept for teams migrating. `IngressNginxConfig`, `EnvoyGatewayConfig` and `CertManagerConfig` are the
typed slices of the add-ons that carry it. `check_ingress` holds the domain's own rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from components.errors import Problem
from components.values import DnsLabel, Host, Model, Resources, ResourceValues

# GKE's single-cluster L7 Gateway classes and where their load balancer lives.
GKE_GATEWAY_CLASSES: dict[str, Literal["global", "regional-external", "regional-internal"]] = {
    "gke-l7-global-external-managed": "global",
    "gke-l7-gxlb": "global",
    "gke-l7-regional-external-managed": "regional-external",
    "gke-l7-rilb": "regional-internal",
}
DEFAULT_GKE_CLASS = "gke-l7-global-external-managed"
# The GatewayClass the platform creates for Envoy Gateway on an existing cluster.
ENVOY_GATEWAY_CLASS = "envoy-gateway"
# Cloud Armor counts a throttle over one of these windows only.
RATE_LIMIT_INTERVALS = (10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600)


class GatewayConfig(Model):
    # The shared Gateway's name and the platform-owned namespace it lives in.
    name: DnsLabel = "platform"
    namespace: DnsLabel = "gateway"


class IngressConfig(Model):
    # gateway: the Gateway API (GKE's managed controller, Envoy Gateway on an existing cluster);
    # ingress-nginx: the retired controller, only for teams still migrating.
    controller: Literal["gateway", "ingress-nginx"] = "gateway"
    # The GatewayClass (gateway) or IngressClass (ingress-nginx); unset: the mode's default.
    class_name: DnsLabel | None = None
    # The Gateway's HTTPS listeners, one per host; unset: every routed host. Route hosts must fall under one.
    hosts: list[Host] | None = None
    gateway: GatewayConfig = GatewayConfig()
    tls: bool = True
    # Requests per second per client IP; Cloud Armor counts them over `rateLimitIntervalSeconds`.
    rate_limit_rps: int | None = Field(100, ge=1)
    rate_limit_interval_seconds: int = 10
    ssl_redirect: bool = True
    # ingress-nginx only: the largest request body.
    proxy_body_size: Annotated[str, Field(pattern=r"^\d+[kmg]?$")] = "8m"

    def effective_class_name(self, creates_cluster: bool) -> str:
        if self.class_name is not None:
            return self.class_name
        if self.controller == "ingress-nginx":
            return "nginx"
        return DEFAULT_GKE_CLASS if creates_cluster else ENVOY_GATEWAY_CLASS

    def gke_scope(self, creates_cluster: bool) -> Literal["global", "regional-external", "regional-internal"] | None:
        """Where GKE's load balancer lives (gke mode, Gateway API); None otherwise."""
        if self.controller != "gateway" or not creates_cluster:
            return None
        return GKE_GATEWAY_CLASSES.get(self.effective_class_name(creates_cluster))

    @property
    def rate_limit_threshold(self) -> int | None:
        """Requests per client IP per Cloud Armor interval."""
        if self.rate_limit_rps is None:
            return None
        return self.rate_limit_rps * self.rate_limit_interval_seconds


def listener_for(host: str, listeners: list[str]) -> str | None:
    """The listener hostname serving `host`: the same name, else a wildcard one label above it."""
    if host in listeners:
        return host
    parent = host.split(".", 1)[1] if "." in host else ""
    wildcard = f"*.{parent}"
    return wildcard if parent and wildcard in listeners else None


def check_ingress(ingress: IngressConfig, *, creates_cluster: bool) -> Iterator[Problem]:
    class_name = ingress.effective_class_name(creates_cluster)
    if ingress.controller == "gateway" and creates_cluster and class_name not in GKE_GATEWAY_CLASSES:
        yield (
            "ingress.className",
            f"'{class_name}' is not a GKE Gateway class cluster.mode 'gke' can serve; "
            f"allowed: {', '.join(GKE_GATEWAY_CLASSES)}",
        )
    if ingress.controller == "gateway" and not creates_cluster and class_name != ENVOY_GATEWAY_CLASS:
        yield (
            "ingress.className",
            f"'{class_name}' is not served on an existing cluster, where the platform runs Envoy Gateway; "
            f"allowed: {ENVOY_GATEWAY_CLASS}",
        )
    if ingress.rate_limit_interval_seconds not in RATE_LIMIT_INTERVALS:
        yield (
            "ingress.rateLimitIntervalSeconds",
            f"{ingress.rate_limit_interval_seconds} is not a Cloud Armor interval; allowed: "
            + ", ".join(map(str, RATE_LIMIT_INTERVALS)),
        )
    if ingress.controller == "gateway" and ingress.tls:
        for index, host in enumerate(ingress.hosts or []):
            if host.startswith("*."):
                yield (
                    f"ingress.hosts[{index}]",
                    f"'{host}': a wildcard listener needs a wildcard certificate, which the platform does not issue; "
                    "list the hosts",
                )


class IngressNginxConfig(Model):
    # Installed only when `ingress.controller` is ingress-nginx.
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


class EnvoyGatewayConfig(Model):
    # Installed on an existing cluster when `ingress.controller` is gateway (GKE runs its own controller).
    namespace: DnsLabel = "envoy-gateway-system"
    chart_version: str = "v1.9.0"
    # The Envoy data plane's replicas, behind a NodePort Service (kind, minikube).
    proxy_replicas: int = Field(1, ge=1)


class CertManagerConfig(Model):
    enabled: bool = True
    namespace: DnsLabel = "cert-manager"
    chart_version: str = "v1.21.2"
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    # Which Let's Encrypt issuer the Ingresses use; defaults to production only in production.
    issuer: Literal["staging", "production"] | None = None
