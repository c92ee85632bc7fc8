"""The shared ingress controller: ingress-nginx behind a reserved regional IP on GKE.

On GKE the controller's LoadBalancer Service takes a reserved regional external address
(`gcp.compute.Address`, protected in production) through GKE's
`networking.gke.io/load-balancer-ip-addresses` annotation (the upstream `spec.loadBalancerIP` is
deprecated), on a backend service-based passthrough Network Load Balancer. `externalTrafficPolicy:
Local` keeps the client's address, which the per-client rate limit needs. Replicas, resources and
extra Service annotations come from config; the chart adds the PodDisruptionBudget (from two
replicas), metrics and, with monitoring on, their ServiceMonitor. On kind or minikube a NodePort
Service with one replica and no address.

ingress-nginx is retired: the repository was archived on 2026-03-24 and 4.15.1 is its last chart.
It still works and the issue asks for it; the Gateway API is the way forward.

Deliberately out of scope: DNS records for the address, the Ingress objects themselves
(ingress.py), and a default TLS certificate (cert-manager issues one per Ingress).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.charts import INGRESS_NGINX
from components.helm import AddonArgs, HelmChart, addon_namespace, helm_release
from components.traffic.config import IngressNginxConfig

RELEASE = "ingress-nginx"
# The labels the chart puts on the controller's pods.
CONTROLLER_LABELS = {
    "app.kubernetes.io/name": "ingress-nginx",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/component": "controller",
}
# GKE private clusters let the control plane reach nodes on 443 and 10250 only; serve the
# admission webhook on 10250 as cert-manager and prometheus-operator do, rather than the chart's 8443.
ADMISSION_WEBHOOK_PORT = 10250


@dataclass(frozen=True)
class IngressControllerArgs:
    nginx: IngressNginxConfig
    # The IngressClass the controller serves and every Ingress names.
    class_name: str
    # The address is named after the cluster and lives in its region.
    cluster_name: str
    region: str
    # Reserve a regional static IP for the LoadBalancer (gke mode).
    static_ip: bool
    addon: AddonArgs


class IngressController(pulumi.ComponentResource):
    # `address` is annotated in __init__, not here: Pulumi resolves a resource class's annotations,
    # which would import pulumi_gcp.compute (1-2 s) even on dev, where nothing in GCP is created.
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: IngressControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:addons:IngressController", name, None, opts)
        nginx = args.nginx
        namespace = addon_namespace(self, name, args.addon, nginx.namespace, "restricted")
        self.address: gcp.compute.Address | None = self._reserve_address(name, args) if args.static_ip else None

        annotations: dict[str, Any] = dict(nginx.annotations)
        if self.address is not None:
            annotations["networking.gke.io/load-balancer-ip-addresses"] = self.address.name
            # The backend service-based load balancer, whose controller reads the address annotation.
            annotations["cloud.google.com/l4-rbs"] = "enabled"

        self.release = helm_release(
            self,
            name,
            args.addon,
            HelmChart(RELEASE, INGRESS_NGINX, nginx.chart_version, nginx.chart_source),
            namespace,
            _values(args, annotations),
            depends_on=args.addon.monitoring_crds,
        )
        self.register_outputs({"address": self.address.address if self.address is not None else None})

    def _reserve_address(self, name: str, args: IngressControllerArgs) -> gcp.compute.Address:
        context = args.addon.context
        return gcp.compute.Address(
            f"{name}-ip",
            # A fixed name, as the Service annotation and the DNS runbook refer to the address by it.
            name=f"{args.cluster_name}-ingress",
            project=context.project,
            region=args.region,
            address_type="EXTERNAL",
            network_tier="PREMIUM",
            description=f"ingress-nginx load balancer of {args.cluster_name}",
            labels={"environment": context.environment, "managed-by": "pulumi"},
            # DNS points at this address: production keeps it through any `pulumi destroy`.
            opts=pulumi.ResourceOptions(parent=self, protect=context.is_production),
        )


def _values(args: IngressControllerArgs, annotations: dict[str, Any]) -> dict[str, Any]:
    nginx = args.nginx
    class_name = args.class_name
    return {
        "controller": {
            "replicaCount": nginx.replicas,
            # The chart's PodDisruptionBudget, created once there are two replicas or more.
            "maxUnavailable": 1,
            "resources": nginx.resources.model_dump(),
            "ingressClass": class_name,
            "ingressClassResource": {"name": class_name, "enabled": True, "default": False},
            "service": {
                "type": nginx.service_type,
                "externalTrafficPolicy": "Local",
                "annotations": annotations,
            },
            "metrics": {
                "enabled": True,
                "serviceMonitor": {"enabled": args.addon.monitoring is not None},
            },
            "admissionWebhooks": {"port": ADMISSION_WEBHOOK_PORT},
            # Behind a NodePort no load balancer publishes an address, and an Ingress without one
            # never becomes ready for Pulumi's await: report the controller nodes' internal IPs instead.
            **(
                {"publishService": {"enabled": False}, "extraArgs": {"report-node-internal-ip-address": "true"}}
                if nginx.service_type == "NodePort"
                else {}
            ),
            # Replicas spread over zones and nodes; spot nodes (tainted, never used) do not count.
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": key,
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "nodeTaintsPolicy": "Honor",
                    "labelSelector": {"matchLabels": CONTROLLER_LABELS},
                }
                for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
            ],
        }
    }
