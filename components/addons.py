"""The cluster add-ons the workloads rely on, each a pinned Helm chart switched on per stack.

Monitoring's CRD release comes first because it backs every ServiceMonitor, the other charts'
included; the in-cluster controller (Envoy Gateway off GKE, or the legacy ingress-nginx on a
reserved IP on GKE) and cert-manager with its ClusterIssuers wait for it, not for the monitoring
stack. Each add-on's own settings live beside its domain (observability/monitoring.py,
observability/tracing.py, traffic/envoy_gateway.py, traffic/ingress_controller.py,
traffic/cert_manager.py); this component only orders them and hands back what others wait for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pulumi

from components.config.root import AddonsConfig
from components.helm import AddonArgs
from components.observability.monitoring import Monitoring
from components.observability.tracing import Tracing
from components.traffic.cert_manager import CertManager, CertManagerArgs
from components.traffic.envoy_gateway import EnvoyGateway, EnvoyGatewayArgs
from components.traffic.ingress_controller import IngressController, IngressControllerArgs


@dataclass(frozen=True)
class AddonsArgs:
    addons: AddonsConfig
    # What every release shares: the provider, the node pools, the namespace catalog.
    shared: AddonArgs
    # The GatewayClass or IngressClass the in-cluster controller serves.
    class_name: str
    # The ClusterIssuer routes take their certificates from.
    issuer_name: str
    # Which in-cluster controller runs: Envoy Gateway (gateway off GKE) or the legacy ingress-nginx.
    runs_envoy_gateway: bool
    runs_ingress_nginx: bool
    # cert-manager and its ClusterIssuers: where routes take certificates from it (or where the stack says so).
    runs_cert_manager: bool
    # ingress-nginx on GKE: the cluster's name and region name its reserved address.
    cluster_name: str
    region: str
    static_ip: bool
    # The shared Gateway (name, namespace) cert-manager's HTTP-01 solver attaches to, when routes use one.
    solver_gateway: tuple[str, str] | None


class Addons(pulumi.ComponentResource):
    """`.controller` is what the Gateway waits for, `.ready` what the routes wait for,
    `.monitoring_crds` what ServiceMonitors wait for. Outputs: `issuer` and, when an address is
    reserved, `ingressIp`."""

    issuer_name: str
    monitoring: Monitoring | None
    monitoring_crds: pulumi.Resource | None
    controller: list[pulumi.Resource]
    ready: list[pulumi.Resource]
    outputs: dict[str, Any]

    def __init__(self, name: str, args: AddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:addons:Addons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        addons, shared = args.addons, args.shared

        self.issuer_name = args.issuer_name
        self.monitoring = None
        self.monitoring_crds = None
        if addons.monitoring.enabled:
            self.monitoring = Monitoring(f"{name}-monitoring", addons.monitoring, shared, opts=child)
            self.monitoring_crds = self.monitoring.crds
            shared = dataclasses.replace(shared, monitoring=self.monitoring_crds)

        if addons.tracing.enabled:
            Tracing(f"{name}-tracing", addons.tracing, shared, opts=child)

        self.controller = []
        self.outputs = {"issuer": self.issuer_name}
        if args.runs_envoy_gateway:
            envoy = EnvoyGateway(
                f"{name}-envoy-gateway", EnvoyGatewayArgs(addons.envoy_gateway, args.class_name, shared), opts=child
            )
            self.controller += [envoy.release, envoy.gateway_class]
        if args.runs_ingress_nginx:
            controller = IngressController(
                f"{name}-ingress-nginx",
                IngressControllerArgs(
                    addons.ingress_nginx, args.class_name, args.cluster_name, args.region, args.static_ip, shared
                ),
                opts=child,
            )
            self.controller.append(controller.release)
            if controller.address is not None:
                self.outputs["ingressIp"] = controller.address.address
        self.ready = list(self.controller)
        if args.runs_cert_manager:
            cert_manager = CertManager(
                f"{name}-cert-manager",
                CertManagerArgs(addons.cert_manager, args.class_name, shared, gateway=args.solver_gateway),
                opts=child,
            )
            self.ready.extend(cert_manager.issuers)
        self.register_outputs(self.outputs)
