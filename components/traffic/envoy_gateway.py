"""Envoy Gateway: the Gateway API's in-cluster implementation on an existing cluster (kind, minikube).

A pinned release of the upstream chart (`oci://docker.io/envoyproxy/gateway-helm`, which installs the
Gateway API and Envoy Gateway CRDs with the controller), an EnvoyProxy that runs the data plane
behind a NodePort Service (no load balancer on kind, so nothing waits for an address), and the
GatewayClass the shared Gateway names, parameterised by that EnvoyProxy. The proxies run in the
controller's namespace with the labels `proxy_labels` gives, which is what NetworkPolicy admits.

Deliberately out of scope: GKE (its managed controller serves the gke-l7-* classes), the Gateway
and the routes (gateway.py, routes.py) and global (Redis-backed) rate limiting.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.charts import ENVOY_GATEWAY
from components.helm import AddonArgs, HelmChart, addon_namespace, helm_release
from components.traffic.config import EnvoyGatewayConfig

RELEASE = "envoy-gateway"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
PROXY_CONFIG = "platform-proxy"


def proxy_labels(gateway_name: str, gateway_namespace: str) -> dict[str, str]:
    """The labels Envoy Gateway puts on the proxy pods of one Gateway."""
    return {
        "app.kubernetes.io/managed-by": "envoy-gateway",
        "app.kubernetes.io/component": "proxy",
        "gateway.envoyproxy.io/owning-gateway-name": gateway_name,
        "gateway.envoyproxy.io/owning-gateway-namespace": gateway_namespace,
    }


@dataclass(frozen=True)
class EnvoyGatewayArgs:
    envoy: EnvoyGatewayConfig
    class_name: str
    addon: AddonArgs


# Helm's deletion policy for the certgen hook's RBAC: replaced on each run, removed once the hooks succeed.
CERTGEN_HOOK_DELETE_POLICY = "before-hook-creation,hook-succeeded"


class EnvoyGateway(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    gateway_class: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: EnvoyGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:addons:EnvoyGateway", name, None, opts)
        envoy = args.envoy
        context = args.addon.context
        # baseline: the proxy pods are created by the controller from its own templates, not this chart.
        namespace = addon_namespace(self, name, args.addon, envoy.namespace, "baseline")
        self.release = helm_release(
            self,
            name,
            args.addon,
            HelmChart(RELEASE, ENVOY_GATEWAY, envoy.chart_version, envoy.chart_source),
            namespace,
            {
                "deployment": {"replicas": 1},
                # The certgen hook's RBAC is no part of the release, so an uninstall would leave its
                # ClusterRole and ClusterRoleBinding behind (found by e2e/run's destroy check). Helm deletes
                # it once the hooks succeed; the next upgrade's hooks create it again.
                "certgen": {"rbac": {"annotations": {"helm.sh/hook-delete-policy": CERTGEN_HOOK_DELETE_POLICY}}},
            },
        )
        # The CRDs arrive with the release; both objects wait for it.
        after_release = pulumi.ResourceOptions(parent=self, provider=context.provider, depends_on=[self.release])
        proxy = k8s.apiextensions.CustomResource(
            f"{name}-proxy-config",
            api_version="gateway.envoyproxy.io/v1alpha1",
            kind="EnvoyProxy",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=PROXY_CONFIG, namespace=namespace.metadata.name, labels=context.labels
            ),
            spec={
                "provider": {
                    "type": "Kubernetes",
                    "kubernetes": {
                        # kind has no load balancer: clients reach the proxies on a node port.
                        "envoyService": {"type": "NodePort"},
                        "envoyDeployment": {"replicas": envoy.proxy_replicas},
                        # With two proxies or more, a node drain keeps one serving.
                        **({"envoyPDB": {"minAvailable": 1}} if envoy.proxy_replicas > 1 else {}),
                    },
                }
            },
            opts=after_release,
        )
        self.gateway_class = k8s.apiextensions.CustomResource(
            f"{name}-gateway-class",
            api_version="gateway.networking.k8s.io/v1",
            kind="GatewayClass",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.class_name, labels=context.labels),
            spec={
                "controllerName": CONTROLLER_NAME,
                "parametersRef": {
                    "group": "gateway.envoyproxy.io",
                    "kind": "EnvoyProxy",
                    "name": PROXY_CONFIG,
                    "namespace": envoy.namespace,
                },
            },
            opts=pulumi.ResourceOptions.merge(after_release, pulumi.ResourceOptions(depends_on=[proxy])),
        )
        self.register_outputs({})
