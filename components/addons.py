"""The cluster add-ons the workloads rely on, each a pinned Helm chart switched on per stack.

- monitoring (monitoring.py): kube-prometheus-stack, Grafana's generated password, log retention;
  built first because its CRDs back every ServiceMonitor, the other charts' included;
- ingress-nginx (ingress_controller.py): the shared controller, on a reserved IP on GKE;
- cert-manager (cert_manager.py): the chart and the Let's Encrypt ClusterIssuers.

Everything waits explicitly for the node pools the platform passes as this component's
`depends_on` (Pulumi does not hand a component's depends_on to its children). The Ingresses wait
for `.ready` (the controller's release and the issuers); ServiceMonitors for `.monitoring_release`.
Outputs: `issuer`, the ClusterIssuer the Ingresses name, and `ingressIp`, the reserved address
(absent when there is none, as on kind or minikube).

Deliberately out of scope: the Ingresses and ServiceMonitors themselves (ingress.py,
microservice.py), DNS, and any add-on beyond these three.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cert_manager import CertManager
from components.config import PlatformConfig
from components.helm_addon import AddonArgs
from components.ingress_controller import IngressController
from components.monitoring import Monitoring


class Addons(pulumi.ComponentResource):
    issuer_name: str
    monitoring_release: pulumi.Resource | None
    ready: list[pulumi.Resource]
    outputs: dict[str, Any]

    def __init__(
        self,
        name: str,
        config: PlatformConfig,
        provider: k8s.Provider,
        namespaces: dict[str, k8s.core.v1.Namespace],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:addons:Addons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        addons = config.addons
        args = AddonArgs(config=config, provider=provider, namespaces=namespaces, node_pools=_node_pools(opts))

        self.issuer_name = config.issuer_name
        self.monitoring_release = None
        if addons.monitoring.enabled:
            self.monitoring_release = Monitoring(f"{name}-monitoring", args, opts=child).release
            args = dataclasses.replace(args, monitoring=self.monitoring_release)

        self.ready = []
        self.outputs = {"issuer": self.issuer_name}
        if addons.ingress_nginx.enabled:
            controller = IngressController(f"{name}-ingress-nginx", args, opts=child)
            self.ready.append(controller.release)
            if controller.address is not None:
                self.outputs["ingressIp"] = controller.address.address
        if addons.cert_manager.enabled:
            self.ready.extend(CertManager(f"{name}-cert-manager", args, opts=child).issuers)
        self.register_outputs(self.outputs)


def _node_pools(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The resources the platform made this component depend on, for its children to name."""
    depends_on = opts.depends_on if opts is not None else None
    if depends_on is None:
        return []
    if isinstance(depends_on, pulumi.Resource):
        return [depends_on]
    if isinstance(depends_on, Sequence) and all(isinstance(item, pulumi.Resource) for item in depends_on):
        return [item for item in depends_on if isinstance(item, pulumi.Resource)]
    raise TypeError("Addons expects depends_on as resources, not outputs")
