"""Config of the traffic domain: how requests reach the services, and the add-ons that carry them.

`IngressConfig` shapes the routing layer: the Gateway API (the default) or the retired ingress-nginx
kept for teams migrating. `IngressNginxConfig`, `EnvoyGatewayConfig` and `CertManagerConfig` are the
typed slices of the add-ons that carry it. `check_ingress` holds the domain's own rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from components import versions
from components.charts import ChartSource, ChartVersion
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
    """Its name."""
    namespace: DnsLabel = "gateway"
    """The platform-owned namespace it lives in (created unless declared in `namespaces`)."""


class IngressConfig(Model):
    # gateway: the Gateway API (GKE's managed controller, Envoy Gateway on an existing cluster);
    # ingress-nginx: the retired controller, only for teams still migrating.
    controller: Literal["gateway", "ingress-nginx"] = "gateway"
    """The Gateway API, or the retired ingress-nginx (legacy: warns on every preview and up)."""
    # The GatewayClass (gateway) or IngressClass (ingress-nginx); unset: the mode's default.
    class_name: DnsLabel | None = None
    """The GatewayClass (gke mode: `gke-l7-global-external-managed`, `gke-l7-gxlb`, `gke-l7-regional-external-managed`, `gke-l7-rilb`; existing mode: `envoy-gateway`) or the IngressClass for ingress-nginx. Default: `gke-l7-global-external-managed` on GKE, `envoy-gateway` on an existing cluster, `nginx` for ingress-nginx. A class the mode cannot serve is refused."""
    # The Gateway's HTTPS listeners, one per host; unset: every routed host. Route hosts must fall under one.
    hosts: list[Host] | None = None
    """The Gateway's listener hostnames (a `*.` wildcard only without TLS). Default: every routed host. A route host outside them is refused."""
    gateway: GatewayConfig = GatewayConfig()
    """The shared Gateway."""
    tls: bool = True
    """HTTPS listeners: Google-managed certificates on GKE; cert-manager elsewhere and on ingress-nginx (needs `addons.certManager` with an email). With TLS, plain HTTP only redirects."""
    # Requests per second per client IP; Cloud Armor counts them over `rateLimitIntervalSeconds`.
    rate_limit_rps: int | None = Field(100, ge=1)
    """Requests per second per client IP: a Cloud Armor throttle answering 429 on GKE, Envoy's local limit on dev, `limit-rps` on ingress-nginx; `null` for none."""
    rate_limit_interval_seconds: int = 10
    """Cloud Armor's counting window (10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700 or 3600); the threshold is `rateLimitRps` x this."""
    ssl_redirect: bool = True
    """ingress-nginx: redirect HTTP to HTTPS (the Gateway always redirects when TLS is on)."""
    # ingress-nginx only: the largest request body.
    proxy_body_size: Annotated[str, Field(pattern=r"^\d+[kmg]?$")] = "8m"
    """ingress-nginx: maximum request body, e.g. `8m`."""

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
    """Install it when it is the controller."""
    namespace: DnsLabel = "ingress-nginx"
    """Its namespace (created by the add-on unless declared in `namespaces`)."""
    # The last upstream release: the project was retired (repository archived 2026-03-24), so no fixes follow.
    chart_version: ChartVersion = versions.INGRESS_NGINX_CHART
    """Pinned chart version."""
    chart_source: ChartSource = Field(
        ChartSource(),
        description="Where the ingress-nginx chart comes from: its upstream repository (unset), a mirror repository, an OCI registry or a local chart.",
    )
    replicas: int = Field(2, ge=1)
    """Controller replicas (>= 2 in production)."""
    # LoadBalancer on a reserved static IP in GKE; NodePort suits kind and minikube.
    service_type: Literal["LoadBalancer", "NodePort"] = "LoadBalancer"
    """`LoadBalancer` (GKE) or `NodePort` (kind, minikube)."""
    # A reserved regional address for the LoadBalancer; defaults to on when the platform creates the cluster.
    static_ip: bool | None = None
    """Reserve a regional static IP for the LoadBalancer. Default: on in gke mode."""
    resources: Resources = Resources(
        requests=ResourceValues(cpu="100m", memory="128Mi"), limits=ResourceValues(cpu="1", memory="512Mi")
    )
    """Controller requests and limits."""
    annotations: dict[str, str] = {}
    """Extra annotations for the controller Service."""


class EnvoyGatewayConfig(Model):
    # Installed on an existing cluster when `ingress.controller` is gateway (GKE runs its own controller).
    namespace: DnsLabel = "envoy-gateway-system"
    """Its namespace, where the Envoy proxies run too."""
    chart_version: ChartVersion = versions.ENVOY_GATEWAY_CHART
    """Pinned `gateway-helm` chart version."""
    chart_source: ChartSource = Field(
        ChartSource(),
        description="Where the gateway-helm chart comes from: its upstream repository (unset), a mirror repository, an OCI registry or a local chart.",
    )
    # The Envoy data plane's replicas, behind a NodePort Service (kind, minikube).
    proxy_replicas: int = Field(1, ge=1)
    """Envoy proxy replicas behind the NodePort Service (>= 2 in production, then with a PodDisruptionBudget)."""


class CertManagerConfig(Model):
    enabled: bool | None = None
    """Install it; unset: only where routes take TLS certificates from it (ingress-nginx, or the Gateway off GKE), since GKE's Gateway takes them from Certificate Manager."""
    namespace: DnsLabel = "cert-manager"
    """Its namespace."""
    chart_version: ChartVersion = versions.CERT_MANAGER_CHART
    """Pinned chart version."""
    chart_source: ChartSource = Field(
        ChartSource(),
        description="Where the cert-manager chart comes from: its upstream repository (unset), a mirror repository, an OCI registry or a local chart.",
    )
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    """ACME account email (required when `ingress.tls` is on)."""
    # Which Let's Encrypt issuer the Ingresses use; defaults to production only in production.
    issuer: Literal["staging", "production"] | None = None
    """`staging` or `production` Let's Encrypt issuer for the Ingresses. Default: production only in production."""
