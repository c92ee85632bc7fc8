"""The wiring: the only place that knows how the domains depend on one another.

    planning (capacity) -> cluster (network, node pools, provider)
      -> tenancy (namespaces, then secrets and config maps)
      -> add-ons (observability's prometheus-operator CRD release first: it backs every
                  ServiceMonitor; then, in parallel, the monitoring stack, traffic's ingress
                  controller and cert-manager)
      -> workloads (one Microservice per data store first: a StatefulSet whose clients are its
                    allowFrom; then one per service, rolled out once its stores are) and, in gke
                    mode, the data namespaces' BackupPlan
      -> traffic (the per-host Ingresses, after the services and add-ons)

Every component gets its own config slice and a `Context` (environment, app and labels, GCP project,
the platform's provider, the node pools to wait for). Every fact one domain takes from another is
passed here by name: the edge (the ingress data plane's pods and ranges) and the monitoring
namespace for network policy, each service's callers and callees from `allowFrom`, the monitoring CRD release
for ServiceMonitors, the issuer for Ingresses, the checksums that roll pods.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from components.cluster.cluster import Cluster, ClusterArgs
from components.config.root import AddonsConfig, PlatformConfig
from components.context import Context
from components.data.backup import DataBackup
from components.data.history import OUTPUT as DEPLOYED_OUTPUT
from components.helm import AddonArgs
from components.kube import Edge, PodPeer
from components.observability.monitoring import Monitoring
from components.planning.capacity import check_capacity
from components.planning.cost import estimate_cost
from components.planning.timing import Wiring, estimate_timing
from components.tenancy.config_maps import ConfigMaps
from components.tenancy.namespaces import Namespaces, NamespacesArgs
from components.tenancy.secrets import Secrets
from components.traffic.cert_manager import CertManager, CertManagerArgs
from components.traffic.ingress import Ingresses
from components.traffic.ingress_controller import CONTROLLER_LABELS, IngressController, IngressControllerArgs
from components.traffic.ingress_controller import RELEASE as INGRESS_RELEASE
from components.workloads.microservice import Microservice, MicroserviceArgs


class Platform(pulumi.ComponentResource):
    exports: dict[str, Any]

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        # Refuse a stack whose HPA maxima cannot fit its node pools before anything is registered.
        workloads = config.workloads
        capacity = check_capacity(
            config.stack, config.cluster, config.node_pools, workloads, config.addons.ingress_nginx
        )
        timing = estimate_timing(config.stack, config.timing, config.services, wiring_of(config), capacity)
        for warning in timing.warnings():
            pulumi.log.warn(warning)
        super().__init__("platform:index:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = Context(
            environment=config.environment,
            app=config.app,
            project=config.project,
            creates_cluster=config.creates_cluster,
        )

        data_namespaces = config.data_namespaces
        backs_up = config.creates_cluster and config.backup.enabled and bool(data_namespaces)
        cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(config.cluster, config.network, config.node_pools, context, backup_agent=backs_up),
            opts=child,
        )
        context = context.on_cluster(cluster.provider, cluster.ready)
        # Nothing is scheduled into a cluster that has no nodes yet.
        on_nodes = pulumi.ResourceOptions(parent=self, depends_on=cluster.ready)

        addons = config.addons
        edge_namespace = addons.ingress_nginx.namespace
        scrape_namespace = addons.monitoring.namespace
        edge_peers = ingress_edge(addons)
        namespaces = Namespaces(
            f"{name}-namespaces",
            NamespacesArgs(
                # Production data namespaces are protected whatever their own `protect` says.
                namespaces=[
                    ns.model_copy(update={"protect": True})
                    if config.is_production and ns.name in data_namespaces
                    else ns
                    for ns in config.namespaces
                ],
                context=context,
                edge_namespace=edge_namespace,
                scrape_namespace=scrape_namespace,
                addon_namespaces=frozenset(config.addon_namespaces),
                control_plane_cidr=config.cluster.master_ipv4_cidr if config.creates_cluster else None,
                catalog_services={
                    ns.name: [s.name for s in workloads if s.namespace == ns.name] for ns in config.namespaces
                },
                workload_identity_namespaces=frozenset(
                    s.namespace for s in config.services if s.service_account.workload_identity is not None
                ),
                edge=edge_peers,
                acme_solver_namespaces=frozenset(
                    s.namespace
                    for s in config.services
                    if s.routes and config.ingress.tls and addons.cert_manager.enabled
                ),
            ),
            opts=on_nodes,
        )
        secrets = Secrets(
            f"{name}-secrets", [*config.secrets, *config.data_secrets], context, namespaces.namespaces, opts=on_nodes
        )
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
        stores = {store.name for store in config.data_services}
        services: dict[str, Microservice] = {}
        # Stores first: a client (and its migration Job) waits until its stores are rolled out.
        for service in [*config.stores, *config.services]:
            its_stores = [services[s.name] for s in config.data_services if service.name in s.clients]
            services[service.name] = Microservice(
                service.name,
                MicroserviceArgs(
                    service=service,
                    context=context,
                    namespace=namespaces.namespaces[service.namespace],
                    edge=edge_peers,
                    scrape_namespace=scrape_namespace,
                    callers=[(s.name, s.namespace) for s in workloads if s.name in service.allow_from],
                    callees=[s for s in workloads if service.name in s.allow_from],
                    checksums=checksums,
                    monitoring=edge.monitoring_crds,
                    depends_on=[*secrets.resources, *config_maps.resources, *its_stores],
                    protect=config.is_production and service.name in stores,
                ),
                opts=on_nodes,
            )
        if backs_up:
            assert cluster.cluster_id is not None  # gke mode
            DataBackup(
                f"{name}-backup",
                config.backup,
                context,
                cluster_id=cluster.cluster_id,
                cluster_name=config.cluster.name,
                region=config.cluster.region,
                namespaces=data_namespaces,
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
            "services": sorted(s.name for s in config.services),
            # Read back on the next run (data/history.py): versions and sizes the engines cannot undo.
            DEPLOYED_OUTPUT: {
                store.name: {"type": store.type, "version": store.effective_version, "storage": store.storage_size}
                for store in config.data_services
            },
            "capacity": capacity.summary(),
            "cost": estimate_cost(config.cluster, config.node_pools, workloads).summary(),
            "timing": timing.summary(),
        }
        self.register_outputs({})


def wiring_of(config: PlatformConfig) -> Wiring:
    """The facts of this file's wiring the timing model orders its steps by."""
    addons = config.addons
    return Wiring(
        creates_cluster=config.creates_cluster,
        regional=config.cluster.regional,
        node_pools=[pool.name for pool in config.node_pools],
        edge_release=INGRESS_RELEASE if addons.ingress_nginx.enabled else None,
        static_ip=config.uses_static_ip,
        cert_manager=addons.cert_manager.enabled,
        monitoring=addons.monitoring.enabled,
        hosts=sorted({route.host for svc in config.services for route in svc.routes}),
    )


def ingress_edge(addons: AddonsConfig) -> Edge:
    """Today's ingress data plane: the ingress-nginx controller pods (none when the add-on is off).
    Behind GKE's passthrough load balancer clients reach the pods directly, so no front-end ranges."""
    if not addons.ingress_nginx.enabled:
        return Edge()
    return Edge(pods=[PodPeer(addons.ingress_nginx.namespace, CONTROLLER_LABELS)])


class Addons(pulumi.ComponentResource):
    """The cluster add-ons the workloads rely on, each a pinned Helm chart switched on per stack.

    Monitoring's CRD release comes first because it backs every ServiceMonitor, the other charts'
    included; the ingress controller (on a reserved IP on GKE) and cert-manager with its ClusterIssuers
    wait for it, not for the monitoring stack. `.ready` is what the Ingresses wait for;
    `.monitoring_crds` what ServiceMonitors wait for.
    Outputs: `issuer` and, when an address is reserved, `ingressIp`.
    """

    issuer_name: str
    monitoring_crds: pulumi.Resource | None
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
        self.monitoring_crds = None
        if addons.monitoring.enabled:
            self.monitoring_crds = Monitoring(f"{name}-monitoring", addons.monitoring, args, opts=child).crds
            args = dataclasses.replace(args, monitoring=self.monitoring_crds)

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
