"""Config of the traffic domain: how requests reach the services, and the add-ons that carry them.

`IngressConfig` shapes every Ingress; `IngressNginxConfig` and `CertManagerConfig` are the typed
slices of the ingress controller and cert-manager add-ons.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from components.config.values import DnsLabel, Model, Resources, ResourceValues


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
