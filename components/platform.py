"""The wiring: the only place that knows how the domains depend on one another.

    planning (capacity) -> cluster (network, node pools, provider)
      -> tenancy (namespaces, then secrets and config maps)
      -> add-ons (observability's prometheus-operator CRD release first: it backs every
                  ServiceMonitor; then, in parallel, the monitoring stack, traffic's controller
                  (Envoy Gateway off GKE, or the legacy ingress-nginx) and cert-manager)
      -> data (managed stores in gke mode: Private Service Access on the VPC, Cloud SQL, Memorystore,
               Managed Kafka, Cloud Storage; their computed addresses and AUTH strings go into the
               clients' Secrets)
      -> workloads (one Microservice per in-cluster data store first: a StatefulSet whose clients are
                    its allowFrom; then one per service, rolled out once its stores are, with egress
                    to its managed stores' private ranges) and, in gke mode, the data namespaces'
                    BackupPlan; then each bucket or Kafka client's Workload Identity account gets its role
      -> observability per service (PrometheusRules, dashboards) and alert routing, when monitoring is on
      -> traffic (the shared Gateway and each service's HTTPRoutes, or the legacy per-host
                  Ingresses, after the services and add-ons)

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
from components.data.managed import (
    ManagedStore,
    PrivateServiceAccess,
    PrivateStorageAccess,
    managed_egress,
)
from components.helm import AddonArgs
from components.kube import Edge, PodPeer
from components.observability.alerting import AlertRouting
from components.observability.monitoring import Monitoring
from components.observability.rules import ServiceFacts
from components.observability.signals import ServiceSignals
from components.observability.tracing import OTLP_GRPC_PORT, OTLP_HTTP_PORT, Tracing, collector_peer, otlp_env
from components.planning.capacity import check_capacity
from components.planning.cost import estimate_cost
from components.planning.timing import Wiring, estimate_timing
from components.tenancy.config_maps import ConfigMaps
from components.tenancy.namespaces import Namespaces, NamespacesArgs
from components.tenancy.secrets import Secrets
from components.traffic.cert_manager import CertManager, CertManagerArgs
from components.traffic.config import listener_for
from components.traffic.envoy_gateway import RELEASE as ENVOY_RELEASE
from components.traffic.envoy_gateway import EnvoyGateway, EnvoyGatewayArgs, proxy_labels
from components.traffic.gateway import GatewayArgs, Scope, SharedGateway
from components.traffic.ingress import Ingresses
from components.traffic.ingress_controller import CONTROLLER_LABELS, IngressController, IngressControllerArgs
from components.traffic.ingress_controller import RELEASE as INGRESS_RELEASE
from components.traffic.routes import HttpRoutes, RoutesArgs
from components.workloads.config import ServiceConfig, WorkloadIdentity
from components.workloads.microservice import Microservice, MicroserviceArgs


class Platform(pulumi.ComponentResource):
    exports: dict[str, Any]

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        # Refuse a stack whose HPA maxima cannot fit its node pools before anything is registered.
        workloads = config.workloads
        nginx = config.addons.ingress_nginx.model_copy(update={"enabled": config.runs_ingress_nginx})
        capacity = check_capacity(config.stack, config.cluster, config.node_pools, workloads, nginx)
        timing = estimate_timing(config.stack, config.timing, config.services, wiring_of(config), capacity)
        for warning in timing.warnings():
            pulumi.log.warn(warning)
        super().__init__("platform:index:Platform", name, None, opts)
        if config.ingress.controller == "ingress-nginx":
            pulumi.log.warn(
                f"stack '{config.stack}': ingress.controller 'ingress-nginx' is retired upstream (no releases or "
                "security fixes since 2026-03-24); move to 'gateway' (README, 'Migrating from ingress-nginx')"
            )
        gke_scope = config.ingress.gke_scope(config.creates_cluster) if config.runs_gateway else None
        child = pulumi.ResourceOptions(parent=self)
        context = Context(
            environment=config.environment,
            app=config.app,
            project=config.project,
            creates_cluster=config.creates_cluster,
        )

        data_namespaces = config.data_namespaces
        # Clients of a managed bucket or Kafka authenticate with Workload Identity: the platform gives them an account.
        bucket_clients = {
            client
            for store in config.managed_data_services
            if store.type in ("object-store", "kafka")
            for client in store.client_names
        }
        backs_up = config.creates_cluster and config.backup.enabled and bool(data_namespaces)
        cluster = Cluster(
            f"{name}-cluster",
            ClusterArgs(
                config.cluster,
                config.network,
                config.node_pools,
                context,
                backup_agent=backs_up,
                proxy_only_subnet=gke_scope in ("regional-external", "regional-internal"),
            ),
            opts=child,
        )
        context = context.on_cluster(cluster.provider, cluster.ready)
        # Nothing is scheduled into a cluster that has no nodes yet.
        on_nodes = pulumi.ResourceOptions(parent=self, depends_on=cluster.ready)

        addons = config.addons
        edge_namespace, edge_peers = edge_home(config), ingress_edge(config)
        scrape_namespace = addons.monitoring.namespace
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
                    s.namespace
                    for s in config.services
                    if with_identity(s, bucket_clients).service_account.workload_identity is not None
                ),
                edge=edge_peers,
                acme_solver_namespaces=acme_solver_namespaces(config),
                telemetry=collector_peer(addons.tracing) if addons.tracing.enabled else None,
                telemetry_ports=(OTLP_GRPC_PORT, OTLP_HTTP_PORT),
            ),
            opts=on_nodes,
        )
        managed = self._managed_stores(name, config, cluster, context)
        secrets = Secrets(
            f"{name}-secrets",
            [*config.secrets, *config.data_secrets],
            context,
            namespaces.namespaces,
            opts=on_nodes,
            provided={name: values for m in managed.values() for name, values in m.secret_values().items()},
        )
        config_maps = ConfigMaps(
            f"{name}-config-maps", config.config_maps, context, namespaces.namespaces, opts=on_nodes
        )
        addon_args = AddonArgs(context=context, namespaces=namespaces.namespaces)
        edge = Addons(
            f"{name}-addons",
            addons,
            addon_args,
            config=config,
            opts=on_nodes,
        )

        checksums = {**secrets.checksums, **config_maps.checksums}
        stores = {store.name for store in config.data_services}
        services: dict[str, Microservice] = {}
        # Stores first: a client (and its migration Job) waits until its stores are rolled out.
        for service in [*config.stores, *config.services]:
            its_stores: list[pulumi.Resource] = [
                services[s.name] if s.name in services else managed[s.name]
                for s in config.data_services
                if s.enabled and service.name in s.client_names
            ]
            egress_cidrs = [
                rule
                for s in config.managed_data_services
                if service.name in s.client_names
                for rule in managed_egress(s, config.network.private_services_cidr, config.network.subnet_cidr)
            ]
            services[service.name] = Microservice(
                service.name,
                MicroserviceArgs(
                    service=with_identity(service, bucket_clients),
                    context=context,
                    namespace=namespaces.namespaces[service.namespace],
                    edge=edge_peers,
                    scrape_namespace=scrape_namespace,
                    callers=[(s.name, s.namespace) for s in workloads if s.name in service.allow_from],
                    callees=[s for s in workloads if service.name in s.allow_from],
                    checksums=checksums,
                    telemetry_env=(
                        otlp_env(addons.tracing, service.name, service.namespace, config.environment)
                        if addons.tracing.enabled
                        else {}
                    ),
                    monitoring=edge.monitoring_crds,
                    depends_on=[*secrets.resources, *config_maps.resources, *its_stores],
                    protect=config.is_production and service.name in stores,
                    egress_cidrs=egress_cidrs,
                ),
                opts=on_nodes,
            )
        for store_name, store in managed.items():
            for client in config.data_services_by_name[store_name].client_names:
                account = services[client].gcp_account if client in services else None
                if account is not None:
                    store.grant(client, account.member)
        monitoring = edge.monitoring
        if monitoring is not None:
            ServiceSignals(
                f"{name}-signals",
                [
                    ServiceFacts(
                        name=s.name,
                        namespace=s.namespace,
                        slo=s.slo,
                        has_hpa=s.autoscaling is not None,
                        has_pdb=s.pdb() is not None,
                        stateful=s.stateful is not None,
                    )
                    for s in config.services
                ],
                context,
                namespaces=namespaces.namespaces,
                monitoring_namespace=monitoring.namespace,
                retention=addons.monitoring.retention,
                # The PrometheusRule CRD comes with the CRD release.
                depends_on=[monitoring.crds],
                opts=on_nodes,
            )
            if addons.monitoring.alerting.receivers:
                AlertRouting(
                    f"{name}-alert-routing",
                    addons.monitoring.alerting,
                    context,
                    namespace=monitoring.namespace,
                    depends_on=[monitoring.crds, *secrets.resources],
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
        urls: list[str] = []
        if config.runs_gateway:
            # An HTTPRoute needs its Services, not their pods: the load balancer only sends traffic to
            # ready endpoints, so the routes do not wait for the rollouts.
            backends: list[pulumi.Resource] = [svc for ms in services.values() for svc in ms.services]
            urls = self._gateway(name, config, context, addon_args, edge, gke_scope, cluster, backends, on_nodes)
        elif config.ingress.controller == "ingress-nginx":
            urls = Ingresses(
                f"{name}-ingresses",
                config.ingress,
                config.services,
                context,
                issuer=edge.issuer_name,
                depends_on=[*services.values(), *edge.ready],
                opts=on_nodes,
            ).urls

        self.exports = {
            "environment": config.environment,
            **cluster.outputs,
            **edge.outputs,
            "urls": urls,
            "namespaces": sorted(namespaces.namespaces),
            "services": sorted(s.name for s in config.services),
            # Read back on the next run (data/history.py): versions and sizes the engines cannot undo.
            DEPLOYED_OUTPUT: {
                store.name: {
                    "type": store.type,
                    "version": store.effective_version,
                    "storage": store.storage_size,
                    "mode": store.mode,
                }
                for store in config.data_services
            },
            "capacity": capacity.summary(),
            "cost": estimate_cost(
                config.cluster, config.node_pools, workloads, config.managed_data_services, config.is_production
            ).summary(),
            "timing": timing.summary(),
        }
        self.register_outputs({})

    def _managed_stores(
        self, name: str, config: PlatformConfig, cluster: Cluster, context: Context
    ) -> dict[str, ManagedStore]:
        """The managed data stores, with the private access they need on the platform's VPC."""
        stores = config.managed_data_services
        if not stores:
            return {}
        assert cluster.network is not None  # managed stores need gke mode (validated)
        vpc = cluster.network.vpc
        child = pulumi.ResourceOptions(parent=self)
        peering = None
        if any(store.type in ("postgres", "redis") for store in stores):
            peering = PrivateServiceAccess(
                f"{name}-private-services",
                context,
                network=vpc.id,
                network_name=f"{config.cluster.name}-vpc",
                cidr=config.network.private_services_cidr,
                opts=child,
            ).connection
        if any(store.type == "object-store" for store in stores):
            PrivateStorageAccess(f"{name}-private-storage", context, network=vpc.id, opts=child)
        return {
            store.name: ManagedStore(
                f"{name}-{store.name}",
                store,
                context,
                region=config.cluster.region,
                network=vpc.id,
                peering=peering,
                subnet=cluster.network.subnet.id,
                opts=child,
            )
            for store in stores
        }

    def _gateway(
        self,
        name: str,
        config: PlatformConfig,
        context: Context,
        addon_args: AddonArgs,
        addons: Addons,
        gke_scope: Scope | None,
        cluster: Cluster,
        backends: list[pulumi.Resource],
        opts: pulumi.ResourceOptions,
    ) -> list[str]:
        """The shared Gateway, then every service's HTTPRoutes on it; the URLs they serve."""
        hosts = config.gateway_hosts
        services = [s for s in config.services if s.enabled]
        listener_of = {r.host: listener_for(r.host, hosts) or r.host for s in services for r in s.routes}
        listeners: dict[str, list[str]] = {host: [] for host in hosts}
        for svc in services:
            for route in svc.routes:
                if svc.namespace not in listeners[listener_of[route.host]]:
                    listeners[listener_of[route.host]].append(svc.namespace)
        gateway = SharedGateway(
            f"{name}-gateway",
            GatewayArgs(
                ingress=config.ingress,
                class_name=config.gateway_class,
                listeners=listeners,
                scope=gke_scope,
                cluster_name=config.cluster.name,
                region=config.cluster.region,
                addon=addon_args,
                subnetwork=cluster.network.subnet.self_link if cluster.network is not None else None,
                issuer=addons.issuer_name if config.addons.cert_manager.enabled else None,
                depends_on=addons.controller,
            ),
            opts=opts,
        )
        addons.outputs.update(gateway.outputs)
        routes = HttpRoutes(
            f"{name}-routes",
            RoutesArgs(services, gateway, listener_of, context, gke=gke_scope is not None, depends_on=backends),
            opts=opts,
        )
        return routes.urls


def with_identity(service: ServiceConfig, bucket_clients: set[str]) -> ServiceConfig:
    """A bucket or Kafka client without Workload Identity gets its own GCP account (no project roles)."""
    if service.name not in bucket_clients or service.service_account.workload_identity is not None:
        return service
    account = service.service_account.model_copy(update={"workload_identity": WorkloadIdentity()})
    return service.model_copy(update={"service_account": account})


def wiring_of(config: PlatformConfig) -> Wiring:
    """The facts of this file's wiring the timing model orders its steps by."""
    addons = config.addons
    # The release the routes wait for: Envoy Gateway, or the legacy ingress-nginx. GKE's Gateway
    # controller is the cluster's own, and Pulumi does not wait for its load balancer.
    edge_release = (
        ENVOY_RELEASE if config.runs_envoy_gateway else INGRESS_RELEASE if config.runs_ingress_nginx else None
    )
    return Wiring(
        creates_cluster=config.creates_cluster,
        regional=config.cluster.regional,
        node_pools=[pool.name for pool in config.node_pools],
        edge_release=edge_release,
        static_ip=config.uses_static_ip,
        cert_manager=addons.cert_manager.enabled,
        monitoring=addons.monitoring.enabled,
        hosts=sorted({route.host for svc in config.services for route in svc.routes}),
        routes_are_ingresses=config.ingress.controller == "ingress-nginx",
    )


def acme_solver_namespaces(config: PlatformConfig) -> frozenset[str]:
    """Where cert-manager's HTTP-01 solver pods run, which the edge must reach: beside each Ingress on
    ingress-nginx, in the Gateway's namespace off GKE (on GKE, Certificate Manager needs no solver)."""
    ingress = config.ingress
    if not (ingress.tls and config.addons.cert_manager.enabled):
        return frozenset()
    if ingress.controller == "ingress-nginx":
        return frozenset(s.namespace for s in config.services if s.enabled and s.routes)
    if config.runs_gateway and not config.creates_cluster:
        return frozenset({ingress.gateway.namespace})
    return frozenset()


# Google's front ends and health checkers: where a GKE load balancer's traffic reaches pods from.
GOOGLE_FRONT_ENDS = ("35.191.0.0/16", "130.211.0.0/22")


def ingress_edge(config: PlatformConfig) -> Edge:
    """The ingress data plane, as NetworkPolicy admits it to routed services.

    ingress-nginx: its controller pods (none when the add-on is off). Envoy Gateway: the shared
    Gateway's proxy pods. GKE's Gateway: Google's front ends and health checkers, which reach pods by
    IP, plus the proxy-only subnet for a regional class."""
    ingress = config.ingress
    if ingress.controller == "ingress-nginx":
        nginx = config.addons.ingress_nginx
        return Edge(pods=[PodPeer(nginx.namespace, CONTROLLER_LABELS)] if nginx.enabled else [])
    if config.creates_cluster:
        scope = ingress.gke_scope(config.creates_cluster)
        regional = [config.network.proxy_only_cidr] if scope in ("regional-external", "regional-internal") else []
        return Edge(cidrs=[*GOOGLE_FRONT_ENDS, *regional])
    namespace = config.addons.envoy_gateway.namespace
    return Edge(pods=[PodPeer(namespace, proxy_labels(ingress.gateway.name, ingress.gateway.namespace))])


def edge_home(config: PlatformConfig) -> str:
    """The namespace the ingress data plane's pods run in (the Gateway's own on GKE, which runs none)."""
    if config.ingress.controller == "ingress-nginx":
        return config.addons.ingress_nginx.namespace
    return config.ingress.gateway.namespace if config.creates_cluster else config.addons.envoy_gateway.namespace


class Addons(pulumi.ComponentResource):
    """The cluster add-ons the workloads rely on, each a pinned Helm chart switched on per stack.

    Monitoring's CRD release comes first because it backs every ServiceMonitor, the other charts'
    included; the in-cluster controller (Envoy Gateway off GKE, or the legacy ingress-nginx on a
    reserved IP on GKE) and cert-manager with its ClusterIssuers wait for it, not for the monitoring
    stack. `.controller` is what the Gateway waits for, `.ready` what the routes wait for,
    `.monitoring_crds` what ServiceMonitors wait for.
    Outputs: `issuer` and, when an address is reserved, `ingressIp`.
    """

    issuer_name: str
    monitoring: Monitoring | None
    monitoring_crds: pulumi.Resource | None
    controller: list[pulumi.Resource]
    ready: list[pulumi.Resource]
    outputs: dict[str, Any]

    def __init__(
        self,
        name: str,
        addons: AddonsConfig,
        args: AddonArgs,
        *,
        config: PlatformConfig,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:addons:Addons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        class_name = config.gateway_class
        cluster_name, region = config.cluster.name, config.cluster.region
        gateway = config.ingress.gateway

        self.issuer_name = config.issuer_name
        self.monitoring = None
        self.monitoring_crds = None
        if addons.monitoring.enabled:
            self.monitoring = Monitoring(f"{name}-monitoring", addons.monitoring, args, opts=child)
            self.monitoring_crds = self.monitoring.crds
            args = dataclasses.replace(args, monitoring=self.monitoring_crds)

        if addons.tracing.enabled:
            Tracing(f"{name}-tracing", addons.tracing, args, opts=child)

        self.controller = []
        self.outputs = {"issuer": self.issuer_name}
        if config.runs_envoy_gateway:
            envoy = EnvoyGateway(
                f"{name}-envoy-gateway", EnvoyGatewayArgs(addons.envoy_gateway, class_name, args), opts=child
            )
            self.controller += [envoy.release, envoy.gateway_class]
        if config.runs_ingress_nginx:
            static_ip = config.uses_static_ip
            controller = IngressController(
                f"{name}-ingress-nginx",
                IngressControllerArgs(addons.ingress_nginx, class_name, cluster_name, region, static_ip, args),
                opts=child,
            )
            self.controller.append(controller.release)
            if controller.address is not None:
                self.outputs["ingressIp"] = controller.address.address
        self.ready = list(self.controller)
        if addons.cert_manager.enabled:
            solver_gateway = (gateway.name, gateway.namespace) if config.runs_gateway else None
            cert_manager = CertManager(
                f"{name}-cert-manager",
                CertManagerArgs(addons.cert_manager, class_name, args, gateway=solver_gateway),
                opts=child,
            )
            self.ready.extend(cert_manager.issuers)
        self.register_outputs(self.outputs)
