"""cert-manager and the two Let's Encrypt ClusterIssuers the platform's Ingresses name.

The chart installs the CRDs (`crds.enabled`, kept on uninstall so Certificates survive; the old
`installCRDs` is deprecated). Both issuers, `letsencrypt-staging` and `letsencrypt-production`,
exist in every stack that runs cert-manager: they solve ACME HTTP-01 through the shared Gateway's
plain-HTTP listener (or, with the legacy ingress-nginx, its ingress class) with the account email
from config, and each depends on the release, so it is created only
once the CRDs and the webhook are there. Which one the Ingresses use is the platform's `issuer_name`.
Production runs two replicas of each cert-manager component with PodDisruptionBudgets.

Deliberately out of scope: DNS-01 solvers, namespaced Issuers and the Certificates themselves
(the Ingresses' `cert-manager.io/cluster-issuer` annotation makes cert-manager create them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.charts import CERT_MANAGER
from components.helm import AddonArgs, HelmChart, addon_namespace, helm_release
from components.traffic.config import CertManagerConfig

RELEASE = "cert-manager"
# The ClusterIssuers by name (as `PlatformConfig.issuer_name` spells them) and their ACME directories.
ISSUERS = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-production": "https://acme-v02.api.letsencrypt.org/directory",
}


@dataclass(frozen=True)
class CertManagerArgs:
    cert_manager: CertManagerConfig
    # The IngressClass whose controller answers the ACME HTTP-01 challenges (ingress-nginx)...
    class_name: str
    addon: AddonArgs
    # ...or the shared Gateway's (name, namespace), whose `http` listener serves them.
    gateway: tuple[str, str] | None = None


class CertManager(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    issuers: list[k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:addons:CertManager", name, None, opts)
        cert_manager = args.cert_manager
        namespace = addon_namespace(self, name, args.addon, cert_manager.namespace, "restricted")
        self.release = helm_release(
            self,
            name,
            args.addon,
            HelmChart(RELEASE, CERT_MANAGER, cert_manager.chart_version, cert_manager.chart_source),
            namespace,
            _values(args.addon, gateway_api=args.gateway is not None),
            depends_on=args.addon.monitoring_crds,
        )
        self.issuers = [self._issuer(name, args, issuer, server) for issuer, server in ISSUERS.items()]
        self.register_outputs({"issuers": list(ISSUERS)})

    def _issuer(self, name: str, args: CertManagerArgs, issuer: str, server: str) -> k8s.apiextensions.CustomResource:
        context = args.addon.context
        acme: dict[str, Any] = {
            "server": server,
            # The ACME account key cert-manager generates and keeps in its namespace.
            "privateKeySecretRef": {"name": f"{issuer}-account-key"},
            "solvers": [{"http01": _solver(args)}],
        }
        if args.cert_manager.email is not None:
            acme["email"] = args.cert_manager.email
        return k8s.apiextensions.CustomResource(
            f"{name}-{issuer}",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=issuer,
                labels=context.labels,
            ),
            spec={"acme": acme},
            # The ClusterIssuer CRD and the webhook validating it come with the release.
            opts=pulumi.ResourceOptions(parent=self, provider=context.provider, depends_on=[self.release]),
        )


def _solver(args: CertManagerArgs) -> dict[str, Any]:
    if args.gateway is None:
        return {"ingress": {"ingressClassName": args.class_name}}
    name, namespace = args.gateway
    parent = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name, "namespace": namespace}
    return {"gatewayHTTPRoute": {"parentRefs": [{**parent, "sectionName": "http"}]}}


def _values(addon: AddonArgs, gateway_api: bool) -> dict[str, Any]:
    replicas = 2 if addon.context.is_production else 1
    # A budget on a single replica would block every node drain.
    budget = {"enabled": replicas > 1, "maxUnavailable": 1}
    values: dict[str, Any] = {
        "crds": {"enabled": True, "keep": True},
        "replicaCount": replicas,
        "podDisruptionBudget": budget,
        "webhook": {"replicaCount": replicas, "podDisruptionBudget": budget},
        "cainjector": {"replicaCount": replicas, "podDisruptionBudget": budget},
        "prometheus": {
            "enabled": True,
            "servicemonitor": {"enabled": addon.monitoring is not None},
        },
    }
    if gateway_api:
        # gateway-shim: a Certificate per HTTPS listener of an annotated Gateway, solved through it.
        values["config"] = {
            "apiVersion": "controller.config.cert-manager.io/v1alpha1",
            "kind": "ControllerConfiguration",
            "enableGatewayAPI": True,
        }
    return values
