"""The wiring: the only place that knows how the domains depend on one another.

    planning (capacity) -> cluster (network, node pools, provider)
      -> tenancy (namespaces, then secrets and config maps)
      -> add-ons (observability's monitoring first: its CRDs back every ServiceMonitor;
                  then traffic's ingress controller and cert-manager)
      -> workloads (one Microservice per service)
      -> traffic (the per-host Ingresses, after the services and add-ons)

Every component gets its own config slice and a `Context` (environment, app and labels, GCP project,
the platform's provider, the node pools to wait for). Every fact one domain takes from another is
passed here by name: the edge and monitoring namespaces for network policy, the monitoring release
for ServiceMonitors, the issuer for Ingresses, the checksums that roll pods.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from components.cluster.cluster import Cluster, ClusterArgs
from components.config.root import AddonsConfig, PlatformConfig
from components.context import Context
from components.helm import AddonArgs
from components.observability.monitoring import Monitoring
from components.planning.capacity import check_capacity
from components.planning.cost import estimate_cost
from components.tenancy.config_maps import ConfigMaps
from components.tenancy.namespaces import Namespaces, NamespacesArgs
from components.tenancy.secrets import Secrets
from components.traffic.cert_manager import CertManager, CertManagerArgs
from components.traffic.ingress import Ingresses
from components.traffic.ingress_controller import IngressController, IngressControllerArgs
from components.workloads.microservice import Microservice, MicroserviceArgs


class Platform(pulumi.ComponentResource):
    exports: dict[str, Any]

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        # Refuse a stack whose HPA maxima cannot fit its node pools before anything is registered.
        capacity = check_capacity(
            config.stack, config.cluster, config.node_pools, config.services, config.addons.ingress_nginx
        )
        super().__init__("platform:index:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = Context(
            environment=config.environment,
            app=config.app,
            project=config.project,
            creates_cluster=config.creates_cluster,
        )

        cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(config.cluster, config.network, config.node_pools, context),
            opts=child,
        )
        context = context.on_cluster(cluster.provider, cluster.ready)
        # Nothing is scheduled into a cluster that has no nodes yet.
        on_nodes = pulumi.ResourceOptions(parent=self, depends_on=cluster.ready)

        addons = config.addons
        edge_namespace = addons.ingress_nginx.namespace
        scrape_namespace = addons.monitoring.namespace
        namespaces = Namespaces(
            f"{name}-namespaces",
            NamespacesArgs(
                namespaces=config.namespaces,
                context=context,
                edge_namespace=edge_namespace,
                scrape_namespace=scrape_namespace,
                addon_namespaces=frozenset(config.addon_namespaces),
                control_plane_cidr=config.cluster.master_ipv4_cidr if config.creates_cluster else None,
                metrics_ports={
                    ns.name: [s.metrics.port for s in config.services if s.namespace == ns.name and s.metrics]
                    for ns in config.namespaces
                },
                workload_identity_namespaces=frozenset(
                    s.namespace for s in config.services if s.service_account.workload_identity is not None
                ),
            ),
            opts=on_nodes,
        )
        secrets = Secrets(f"{name}-secrets", config.secrets, context, namespaces.namespaces, opts=on_nodes)
        config_maps = ConfigMaps(
            f"{name}-config-maps", config.config_maps, context, namespaces.namespaces, opts=on_nodes
        )
        addon_args = AddonArgs(context=context, namespaces=namespaces.namespaces)
        edge = Addons(
            f"{name}-addons",
            addons,
            addon_args,
            class_name=config.ingress.class_name,
            cluster_name=config.cluster.name,
            region=config.cluster.region,
            static_ip=config.uses_static_ip,
            issuer_name=config.issuer_name,
            opts=on_nodes,
        )

        checksums = {**secrets.checksums, **config_maps.checksums}
        services = {}
        for service in config.services:
            services[service.name] = Microservice(
                service.name,
                MicroserviceArgs(
                    service=service,
                    context=context,
                    namespace=namespaces.namespaces[service.namespace],
                    edge_namespace=edge_namespace,
                    scrape_namespace=scrape_namespace,
                    callers=[(s.name, s.namespace) for s in config.services if s.name in service.allow_from],
                    checksums=checksums,
                    monitoring=edge.monitoring_release,
                    depends_on=[*secrets.resources, *config_maps.resources],
                ),
                opts=on_nodes,
            )
        ingresses = Ingresses(
            f"{name}-ingresses",
            config.ingress,
            config.services,
            context,
            issuer=edge.issuer_name,
            depends_on=[*services.values(), *edge.ready],
            opts=on_nodes,
        )

        self.exports = {
            "environment": config.environment,
            **cluster.outputs,
            **edge.outputs,
            "urls": ingresses.urls,
            "namespaces": sorted(namespaces.namespaces),
            "services": sorted(services),
            "capacity": capacity.summary(),
            "cost": estimate_cost(config.cluster, config.node_pools).summary(),
        }
        self.register_outputs({})


class Addons(pulumi.ComponentResource):
    """The cluster add-ons the workloads rely on, each a pinned Helm chart switched on per stack.

    Monitoring comes first because its CRDs back every ServiceMonitor, the other charts' included;
    then the ingress controller (on a reserved IP on GKE) and cert-manager with its ClusterIssuers.
    `.ready` is what the Ingresses wait for; `.monitoring_release` what ServiceMonitors wait for.
    Outputs: `issuer` and, when an address is reserved, `ingressIp`.
    """

    issuer_name: str
    monitoring_release: pulumi.Resource | None
    ready: list[pulumi.Resource]
    outputs: dict[str, Any]

    def __init__(
        self,
        name: str,
        addons: AddonsConfig,
        args: AddonArgs,
        *,
        class_name: str,
        cluster_name: str,
        region: str,
        static_ip: bool,
        issuer_name: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:addons:Addons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.issuer_name = issuer_name
        self.monitoring_release = None
        if addons.monitoring.enabled:
            self.monitoring_release = Monitoring(f"{name}-monitoring", addons.monitoring, args, opts=child).release
            args = dataclasses.replace(args, monitoring=self.monitoring_release)

        self.ready = []
        self.outputs = {"issuer": self.issuer_name}
        if addons.ingress_nginx.enabled:
            controller = IngressController(
                f"{name}-ingress-nginx",
                IngressControllerArgs(addons.ingress_nginx, class_name, cluster_name, region, static_ip, args),
                opts=child,
            )
            self.ready.append(controller.release)
            if controller.address is not None:
                self.outputs["ingressIp"] = controller.address.address
        if addons.cert_manager.enabled:
            cert_manager = CertManager(
                f"{name}-cert-manager", CertManagerArgs(addons.cert_manager, class_name, args), opts=child
            )
            self.ready.extend(cert_manager.issuers)
        self.register_outputs(self.outputs)
