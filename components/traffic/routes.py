"""Each routed service's HTTPRoutes on the shared Gateway and, on GKE, its load-balancer policies.

Per service and host, one HTTPRoute (gateway.networking.k8s.io/v1) in the service's namespace: that
host as its hostname, attached to the host's listener, one rule per route with a PathPrefix match,
the backend Service by name and port number (split by weight with the canary track's Service
when the service runs one),
and the route's optional timeout and request headers. One route object per host, not per service, so
a path routed on one host is never served on another.

gke mode adds, per routed Service: a GCPBackendPolicy attaching the Gateway's Cloud Armor policy
(the per-client rate limit) and carrying the routes' longest timeout as the backend service's
(GKE's load balancer applies deadlines per backend, not per route rule; it also bounds a WebSocket's
lifetime, 30 s by default), and a HealthCheckPolicy built from the readiness probe (path, port,
interval, timeout, thresholds), so the load balancer sends traffic only to pods Kubernetes deems
ready. A readiness probe that runs a command has no load-balancer equivalent: that Service keeps
GKE's default check on its serving port.

Deliberately left out: the Gateway itself (gateway.py) and the Services (microservice.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.context import Context
from components.traffic.gateway import GATEWAY_API, SharedGateway, host_slug
from components.workloads.config import PROBE_DEFAULTS, Route, ServiceConfig


@dataclass(frozen=True)
class RoutesArgs:
    services: Sequence[ServiceConfig]
    gateway: SharedGateway
    # The listener hostname each route host attaches to (a wildcard listener may serve several).
    listener_of: dict[str, str]
    context: Context
    # gke mode: the load balancer's per-Service policies are GKE's.
    gke: bool
    # Each service's own Services (its track's and its canary's), by service name: its routes and policies
    # wait for those alone, so a route's dependencies do not grow with the catalog.
    backends: Mapping[str, Sequence[pulumi.Resource]] = field(default_factory=dict)


class HttpRoutes(pulumi.ComponentResource):
    urls: list[str]

    def __init__(self, name: str, args: RoutesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:traffic:HttpRoutes", name, None, opts)
        self._args = args
        hosts: set[str] = set()
        for svc in args.services:
            if not svc.routes:
                continue
            # The Gateway (after the controller's CRDs) and the service's own Services exist first.
            opts = pulumi.ResourceOptions(
                parent=self,
                provider=args.context.provider,
                depends_on=[args.gateway.gateway, *args.backends.get(svc.name, ())],
            )
            by_host: dict[str, list[Route]] = {}
            for route in svc.routes:
                by_host.setdefault(route.host, []).append(route)
            for host, routes in by_host.items():
                self._route(name, svc, host, routes, opts)
                hosts.add(host)
            if args.gke:
                self._gke_policies(name, svc, opts)
        scheme = "https" if args.gateway.tls else "http"
        self.urls = sorted(f"{scheme}://{host}" for host in hosts)
        self.register_outputs({"urls": self.urls})

    def _metadata(self, name: str, svc: ServiceConfig) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=svc.namespace, labels=self._args.context.labels)

    def _route(
        self, name: str, svc: ServiceConfig, host: str, routes: list[Route], opts: pulumi.ResourceOptions
    ) -> None:
        rules = []
        for route in routes:
            port = svc.port(route.port)
            assert port is not None  # validated on load: routes name declared ports
            rule: dict[str, Any] = {
                "matches": [{"path": {"type": "PathPrefix", "value": route.path}}],
                "backendRefs": backend_refs(svc, port.effective_service_port),
            }
            if route.request_headers:
                rule["filters"] = [
                    {
                        "type": "RequestHeaderModifier",
                        "requestHeaderModifier": {
                            "set": [{"name": key, "value": value} for key, value in route.request_headers.items()]
                        },
                    }
                ]
            if route.timeout is not None and not self._args.gke:
                # GKE's load balancer takes the deadline from the backend service (GCPBackendPolicy).
                rule["timeouts"] = {"request": route.timeout}
            rules.append(rule)
        route_name = f"{svc.name}-{host_slug(host)}"
        k8s.apiextensions.CustomResource(
            f"{name}-{svc.namespace}-{route_name}",
            api_version=GATEWAY_API,
            kind="HTTPRoute",
            metadata=self._metadata(route_name, svc),
            spec={
                "parentRefs": [self._args.gateway.parent_ref(self._args.listener_of[host])],
                "hostnames": [host],
                "rules": rules,
            },
            opts=opts,
        )

    def _gke_policies(self, name: str, svc: ServiceConfig, opts: pulumi.ResourceOptions) -> None:
        backend: dict[str, Any] = {}
        if self._args.gateway.security_policy is not None:
            backend["securityPolicy"] = self._args.gateway.security_policy
        timeouts = [timeout_seconds(route.timeout) for route in svc.routes if route.timeout is not None]
        if timeouts:
            # The backend service's timeout: the longest the service's routes allow (and a WebSocket's lifetime).
            backend["timeoutSec"] = max(timeouts)
        health_check = health_check_config(svc)
        policies = {
            "backend-policy": ("GCPBackendPolicy", backend or None),
            "health-check": ("HealthCheckPolicy", health_check),
        }
        for service_name in service_names(svc):
            for role, (kind, default) in policies.items():
                if default is None:
                    continue
                k8s.apiextensions.CustomResource(
                    f"{name}-{svc.namespace}-{service_name}-{role}",
                    api_version="networking.gke.io/v1",
                    kind=kind,
                    metadata=self._metadata(service_name, svc),
                    spec={"default": default, "targetRef": {"group": "", "kind": "Service", "name": service_name}},
                    opts=opts,
                )


def service_names(svc: ServiceConfig) -> list[str]:
    """The Services a route reaches: the service's own and, with a canary track, the canary's."""
    return [svc.name, f"{svc.name}-canary"] if svc.canary is not None else [svc.name]


def backend_refs(svc: ServiceConfig, port: int) -> list[dict[str, Any]]:
    """The route's backends on its port number: the service's Service, split by weight with the canary's."""
    stable = {"group": "", "kind": "Service", "name": svc.name, "port": port}
    if svc.canary is None:
        return [stable]
    canary = {**stable, "name": f"{svc.name}-canary"}
    return [{**stable, "weight": 100 - svc.canary.weight}, {**canary, "weight": svc.canary.weight}]


def timeout_seconds(duration: str) -> int:
    """A Gateway API duration ('1m30s', '500ms') in whole seconds, rounded up, at least 1."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total = sum(float(value) * units[unit] for value, unit in re.findall(r"(\d+)(ms|h|m|s)", duration))
    return max(1, math.ceil(total))


def health_check_config(svc: ServiceConfig) -> dict[str, Any] | None:
    """The load balancer's check, from the readiness probe: what it asks, how often, how many times."""
    probe = svc.probes.readiness
    defaults = PROBE_DEFAULTS["readiness"]
    action = probe.http_get or probe.tcp_socket
    if action is None:
        return None
    port = svc.port(action.port)
    # The load balancer checks the pod's own port (container endpoints), not the Service's.
    fixed = {"portSpecification": "USE_FIXED_PORT", "port": port.container_port if port else int(action.port)}
    if probe.http_get is not None:
        config: dict[str, Any] = {"type": "HTTP", "httpHealthCheck": {**fixed, "requestPath": probe.http_get.path}}
    else:
        config = {"type": "TCP", "tcpHealthCheck": fixed}
    interval = probe.period_seconds or defaults["periodSeconds"]
    return {
        "checkIntervalSec": interval,
        # A load-balancer check may not outlast its own interval.
        "timeoutSec": min(probe.timeout_seconds or defaults["timeoutSeconds"], interval),
        "healthyThreshold": probe.success_threshold or defaults["successThreshold"],
        "unhealthyThreshold": probe.failure_threshold or defaults["failureThreshold"],
        "logConfig": {"enabled": False},
        "config": config,
    }
