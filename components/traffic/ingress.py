"""The legacy entry points (`ingress.controller: ingress-nginx`): one networking.k8s.io/v1 Ingress per
(namespace, host). The Gateway API (gateway.py, routes.py) replaces them by default.

Each Ingress aggregates the routes of every service in that namespace that is routed under the
host (seeds 001 and 004: `/api/auth` -> auth, `/api/content` -> content on one host), with
`pathType: Prefix`, the stack's ingress class, TLS through cert-manager's cluster issuer when
`ingress.tls` is on, and the shared nginx annotations (rate limit, ssl-redirect, body size).
Services without routes (seed 003 workers) get no Ingress.

Deliberately left out: the ingress controller and the cert-manager issuers (add-ons), the
Services the backends name (microservice.py) and any DNS records for the hosts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.context import Context
from components.traffic.config import IngressConfig
from components.workloads.config import ServiceConfig


def host_slug(host: str) -> str:
    """'api.shop.example.com' -> 'api-shop-example-com' (a wildcard becomes 'wildcard')."""
    return host.replace("*", "wildcard").replace(".", "-")


class Ingresses(pulumi.ComponentResource):
    urls: list[str]

    def __init__(
        self,
        name: str,
        ingress: IngressConfig,
        services: Sequence[ServiceConfig],
        context: Context,
        issuer: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:workloads:Ingresses", name, None, opts)
        self._ingress = ingress
        self._services = services
        self._issuer = issuer
        self._class_name = ingress.effective_class_name(context.creates_cluster)
        routes = self._routes_by_namespace_and_host()
        for (namespace, host), paths in routes.items():
            k8s.networking.v1.Ingress(
                f"{name}-{namespace}-{host_slug(host)}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=host_slug(host),
                    namespace=namespace,
                    labels=context.labels,
                    annotations=self._annotations(),
                ),
                spec=self._build_spec(host, paths),
                # Namespaces, Services, the controller and the issuers all exist first.
                opts=pulumi.ResourceOptions(parent=self, provider=context.provider, depends_on=list(depends_on)),
            )
        scheme = "https" if ingress.tls else "http"
        self.urls = sorted({f"{scheme}://{host}" for _, host in routes})
        self.register_outputs({"urls": self.urls})

    def _routes_by_namespace_and_host(self) -> dict[tuple[str, str], list[k8s.networking.v1.HTTPIngressPathArgs]]:
        grouped: dict[tuple[str, str], list[k8s.networking.v1.HTTPIngressPathArgs]] = {}
        for svc in self._services:
            for route in svc.routes:
                port = svc.port(route.port)
                assert port is not None  # validated on load: routes name declared ports
                grouped.setdefault((svc.namespace, route.host), []).append(
                    k8s.networking.v1.HTTPIngressPathArgs(
                        path=route.path,
                        path_type="Prefix",
                        backend=k8s.networking.v1.IngressBackendArgs(
                            service=k8s.networking.v1.IngressServiceBackendArgs(
                                name=svc.name,
                                port=k8s.networking.v1.ServiceBackendPortArgs(number=port.effective_service_port),
                            )
                        ),
                    )
                )
        return grouped

    def _annotations(self) -> dict[str, str]:
        ingress = self._ingress
        annotations = {
            "nginx.ingress.kubernetes.io/ssl-redirect": str(ingress.ssl_redirect).lower(),
            "nginx.ingress.kubernetes.io/proxy-body-size": ingress.proxy_body_size,
        }
        if ingress.rate_limit_rps is not None:
            annotations["nginx.ingress.kubernetes.io/limit-rps"] = str(ingress.rate_limit_rps)
        if ingress.tls:
            annotations["cert-manager.io/cluster-issuer"] = self._issuer
        return annotations

    def _build_spec(
        self, host: str, paths: list[k8s.networking.v1.HTTPIngressPathArgs]
    ) -> k8s.networking.v1.IngressSpecArgs:
        tls = None
        if self._ingress.tls:
            tls = [k8s.networking.v1.IngressTLSArgs(hosts=[host], secret_name=f"{host_slug(host)}-tls")]
        return k8s.networking.v1.IngressSpecArgs(
            ingress_class_name=self._class_name,
            tls=tls,
            rules=[
                k8s.networking.v1.IngressRuleArgs(
                    host=host, http=k8s.networking.v1.HTTPIngressRuleValueArgs(paths=paths)
                )
            ],
        )
