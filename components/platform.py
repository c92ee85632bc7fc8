"""The wiring: the only place that knows how the domains depend on one another.

`Platform.__init__` is this diagram, one named step a line:

    plan                      capacity (refuses a stack that cannot fit) and timing, before anything exists
    _cluster                  network, cluster and node pools (gke mode or Autopilot), and the provider
    Placeholders              headroom: low-priority pods keeping spare room warm on the pools
    _namespaces               every catalog namespace: quota, defaults, baseline policy, admitted edge
    managed_stores            gke mode: Private Service Access, Cloud SQL, Memorystore, Managed Kafka,
                              Cloud Storage (their addresses and AUTH strings feed the next step)
    _data_tls                 the platform CA and each in-cluster store's certificate (they feed the next step)
    _secrets_and_config_maps  generated, supplied and data-store Secrets, and ConfigMaps
    _addons                   prometheus-operator CRDs first (every ServiceMonitor needs them), then the
                              monitoring stack, the collector, the in-cluster controller, cert-manager
    _workloads                one Microservice per in-cluster data store, its role Job (a user per
                              client), then one per service, rolled out once its stores' roles are,
                              with egress to its managed stores' ranges
    _grant_store_access       each bucket or Kafka client's Workload Identity account gets its role
    _observability            SLO rules, health alerts, dashboards and alert routing, when monitoring is on
    _backup                   Backup for GKE's plan for the data namespaces (gke mode)
    _routes                   the shared Gateway and every service's HTTPRoutes (or legacy Ingresses)
    stack_outputs             what the stack outputs, capacity, cost and timing included

Every component gets its own config slice and a `Context` (environment, app and labels, GCP project,
the platform's provider, the node pools to wait for). Every fact one domain takes from another is
passed here by name: the edge (the ingress data plane's pods and ranges) and the monitoring
namespace for network policy, each service's callers and callees from `allowFrom`, the monitoring CRD release
for ServiceMonitors, the issuer for Ingresses, the checksums that roll pods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.addons import Addons, AddonsArgs
from components.cluster.cluster import Cluster, ClusterArgs
from components.cluster.headroom import Placeholders
from components.config.checks import semantic_warnings
from components.config.root import PlatformConfig
from components.context import Context
from components.data.backup import DataBackup
from components.data.config import TLS_ENGINES, DataServiceConfig
from components.data.history import OUTPUT as DEPLOYED_OUTPUT
from components.data.managed import (
    ManagedStore,
    PrivateServiceAccess,
    PrivateStorageAccess,
    managed_egress,
)
from components.data.role_job import StoreRoles, StoreRolesArgs
from components.data.tls import CA_FILE, DataTls, client_ca_dir
from components.errors import problem_line
from components.helm import AddonArgs
from components.kube import Edge, PodPeer
from components.observability.alerting import AlertRouting
from components.observability.rules import ServiceFacts
from components.observability.signals import ServiceSignals
from components.observability.tracing import (
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    collector_peer,
    collector_replicas,
    collector_values,
    otlp_env,
)
from components.planning.capacity import CapacityReport, check_capacity
from components.planning.cost import estimate_cost
from components.planning.headroom import PoolHeadroom, plan_headroom
from components.planning.quotas import ENVOY_CONTROLLER, ENVOY_PROXY, PlatformPods, check_quotas
from components.planning.timing import TimingReport, Wiring, estimate_timing
from components.tenancy.config_maps import ConfigMaps
from components.tenancy.namespaces import Namespaces, NamespacesArgs
from components.tenancy.secrets import Secrets
from components.traffic.config import listener_for
from components.traffic.envoy_gateway import RELEASE as ENVOY_RELEASE
from components.traffic.envoy_gateway import proxy_labels
from components.traffic.gateway import GatewayArgs, SharedGateway
from components.traffic.ingress import Ingresses
from components.traffic.ingress_controller import CONTROLLER_LABELS
from components.traffic.ingress_controller import RELEASE as INGRESS_RELEASE
from components.traffic.routes import HttpRoutes, RoutesArgs
from components.workloads.config import Mount, ServiceConfig, WorkloadIdentity
from components.workloads.microservice import Microservice, MicroserviceArgs


@dataclass(frozen=True)
class Tenancy:
    """What the tenancy step hands on: the namespaces, and the Secrets and ConfigMaps pods wait for."""

    namespaces: Namespaces
    secrets: Secrets
    config_maps: ConfigMaps

    @property
    def checksums(self) -> dict[str, pulumi.Output[str]]:
        """The checksum of every Secret and ConfigMap, by name: a pod that reads one rolls when it changes."""
        return {**self.secrets.checksums, **self.config_maps.checksums}


class Platform(pulumi.ComponentResource):
    exports: dict[str, Any]

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        # Refuse a stack whose HPA maxima cannot fit its node pools before anything is registered.
        capacity, headroom, timing = plan(config)
        super().__init__("platform:index:Platform", name, None, opts)
        self._name, self._config = name, config
        warn_retired_controller(config)

        cluster = self._cluster()
        context = self._context().on_cluster(cluster.provider, cluster.ready)
        if headroom:
            # Spare room kept warm on the pools: scale-ups preempt the placeholders instead of waiting for a node.
            Placeholders(
                f"{name}-headroom",
                headroom,
                config.node_pools,
                cluster.pool_names,
                context,
                opts=pulumi.ResourceOptions(parent=self, depends_on=cluster.ready),
            )
        # Nothing is scheduled into a cluster that has no nodes yet.
        on_nodes = pulumi.ResourceOptions(parent=self, depends_on=cluster.ready)
        namespaces = self._namespaces(context, on_nodes)
        managed = managed_stores(self, name, config, cluster, context)
        store_tls = self._data_tls(context)
        tenancy = self._secrets_and_config_maps(context, namespaces, managed, store_tls, on_nodes)
        addon_args = AddonArgs(context=context, namespaces=namespaces.namespaces)
        addons = self._addons(addon_args, on_nodes)
        services = self._workloads(context, tenancy, addons, managed, on_nodes)
        self._grant_store_access(managed, services)
        self._observability(context, tenancy, addons, on_nodes)
        self._backup(cluster, context, on_nodes)
        urls = self._routes(context, addon_args, addons, cluster, services, on_nodes)
        self.exports = stack_outputs(config, cluster, addons, namespaces, urls, capacity, timing, headroom)
        self.register_outputs({})

    def _context(self) -> Context:
        config = self._config
        return Context(
            environment=config.environment,
            app=config.app,
            project=config.project,
            creates_cluster=config.creates_cluster,
            autopilot=config.cluster.autopilot,
        )

    def _cluster(self) -> Cluster:
        """The network, cluster and node pools (gke mode), or the existing cluster; the provider either way."""
        config = self._config
        gke_scope = config.ingress.gke_scope(config.creates_cluster) if config.runs_gateway else None
        return Cluster(
            f"{self._name}-cluster",
            ClusterArgs(
                config.cluster,
                config.network,
                config.node_pools,
                self._context(),
                backup_agent=backs_up(config),
                proxy_only_subnet=gke_scope in ("regional-external", "regional-internal"),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _namespaces(self, context: Context, opts: pulumi.ResourceOptions) -> Namespaces:
        """Every catalog namespace with its quota, defaults and baseline policy, admitting the edge,
        the scraper and the collector where the other domains need it."""
        return Namespaces(f"{self._name}-namespaces", namespaces_args(self._config, context), opts=opts)

    def _data_tls(self, context: Context) -> DataTls | None:
        """The platform CA and a certificate per in-cluster TLS store, unless the stack switched TLS off."""
        config = self._config
        stores = [store for store in config.data_services if store.enabled and store.serves_tls]
        if not config.data_tls.enabled or not stores:
            return None
        return DataTls(
            f"{self._name}-data-tls", config.data_tls, stores, context, opts=pulumi.ResourceOptions(parent=self)
        )

    def _secrets_and_config_maps(
        self,
        context: Context,
        namespaces: Namespaces,
        managed: dict[str, ManagedStore],
        store_tls: DataTls | None,
        opts: pulumi.ResourceOptions,
    ) -> Tenancy:
        """The catalog's Secrets (generated, supplied, and the data stores' credentials, managed stores'
        computed values and the stores' certificates included) and ConfigMaps, in the namespaces that read them."""
        config = self._config
        provided = {name: values for m in managed.values() for name, values in m.secret_values().items()}
        if store_tls is not None:
            provided.update(store_tls.values())
        secrets = Secrets(
            f"{self._name}-secrets",
            [*config.secrets, *config.data_secrets],
            context,
            namespaces.namespaces,
            opts=opts,
            provided=provided,
        )
        config_maps = ConfigMaps(
            f"{self._name}-config-maps", config.config_maps, context, namespaces.namespaces, opts=opts
        )
        return Tenancy(namespaces, secrets, config_maps)

    def _addons(self, addon_args: AddonArgs, opts: pulumi.ResourceOptions) -> Addons:
        config = self._config
        gateway = config.ingress.gateway
        return Addons(
            f"{self._name}-addons",
            AddonsArgs(
                addons=config.addons,
                shared=addon_args,
                class_name=config.gateway_class,
                issuer_name=config.issuer_name,
                runs_envoy_gateway=config.runs_envoy_gateway,
                runs_ingress_nginx=config.runs_ingress_nginx,
                runs_cert_manager=config.runs_cert_manager,
                cluster_name=config.cluster.name,
                region=config.cluster.region,
                static_ip=config.uses_static_ip,
                solver_gateway=(gateway.name, gateway.namespace) if config.runs_gateway else None,
            ),
            opts=opts,
        )

    def _workloads(
        self,
        context: Context,
        tenancy: Tenancy,
        addons: Addons,
        managed: dict[str, ManagedStore],
        opts: pulumi.ResourceOptions,
    ) -> dict[str, Microservice]:
        """One Microservice per in-cluster data store, then one per service. Stores come first: a client
        (and its migration Job) waits until its stores are rolled out."""
        config = self._config
        tracing = config.addons.tracing
        workloads = config.workloads
        edge = ingress_edge(config)
        bucket_clients = workload_identity_clients(config)
        stores = {store.name for store in config.data_services}
        checksums = tenancy.checksums
        services: dict[str, Microservice] = {}
        # Each store's role Job, once the store is up: its clients wait for their users to exist.
        roles = {
            name: self._store_roles(context, tenancy, config.data_services_by_name[name], store, opts)
            for name, store in managed.items()
            if config.data_services_by_name[name].makes_roles
        }
        for service in [*config.stores, *config.services]:
            its_stores: list[pulumi.Resource] = [
                resource
                for s in config.data_services
                if s.enabled and service.name in s.client_names
                for resource in [services[s.name] if s.name in services else managed[s.name], roles.get(s.name)]
                if resource is not None
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
                    service=with_store_ca(with_identity(service, bucket_clients), config),
                    context=context,
                    namespace=tenancy.namespaces.namespaces[service.namespace],
                    edge=edge,
                    scrape_namespace=config.addons.monitoring.namespace,
                    callers=[(s.name, s.namespace) for s in workloads if s.name in service.allow_from],
                    callees=[s for s in workloads if service.name in s.allow_from],
                    checksums=checksums,
                    telemetry_env=(
                        otlp_env(tracing, service.name, service.namespace, config.environment)
                        if tracing.enabled
                        else {}
                    ),
                    monitoring=addons.monitoring_crds,
                    depends_on=[*tenancy.secrets.resources, *tenancy.config_maps.resources, *its_stores],
                    protect=config.is_production and service.name in stores,
                    egress_cidrs=egress_cidrs,
                ),
                opts=opts,
            )
            store = config.data_services_by_name.get(service.name)
            if store is not None and store.makes_roles:
                roles[store.name] = self._store_roles(context, tenancy, store, services[service.name], opts)
        return services

    def _store_roles(
        self,
        context: Context,
        tenancy: Tenancy,
        store: DataServiceConfig,
        ready: pulumi.Resource,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Resource:
        """The Job that makes each client's own user in `store`, after `ready` (the store) and its Secrets."""
        return StoreRoles(
            f"{store.name}-roles",
            StoreRolesArgs(
                store=store,
                context=context,
                namespace=tenancy.namespaces.namespaces[store.namespace],
                clients_checksum=tenancy.checksums[f"secret/{store.clients_secret_name}"],
                depends_on=[ready, *tenancy.secrets.resources],
                private_cidr=self._config.network.private_services_cidr if store.is_managed else None,
                tls_on=self._config.data_tls.enabled,
            ),
            opts=opts,
        ).job

    def _grant_store_access(self, managed: dict[str, ManagedStore], services: dict[str, Microservice]) -> None:
        """Each client of a managed bucket or Kafka cluster gets its role through its own GCP account."""
        for store_name, store in managed.items():
            for client in self._config.data_services_by_name[store_name].client_names:
                account = services[client].gcp_account if client in services else None
                if account is not None:
                    store.grant(client, account.member)

    def _observability(self, context: Context, tenancy: Tenancy, addons: Addons, opts: pulumi.ResourceOptions) -> None:
        """Each service's SLO rules, health alerts and dashboard, and alert routing, when monitoring is on."""
        config = self._config
        monitoring = addons.monitoring
        if monitoring is None:
            return
        ServiceSignals(
            f"{self._name}-signals",
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
            namespaces=tenancy.namespaces.namespaces,
            monitoring_namespace=monitoring.namespace,
            retention=config.addons.monitoring.retention,
            # The PrometheusRule CRD comes with the CRD release.
            depends_on=[monitoring.crds],
            opts=opts,
        )
        alerting = config.addons.monitoring.alerting
        if alerting.receivers:
            AlertRouting(
                f"{self._name}-alert-routing",
                alerting,
                context,
                namespace=monitoring.namespace,
                depends_on=[monitoring.crds, *tenancy.secrets.resources],
                opts=opts,
            )

    def _backup(self, cluster: Cluster, context: Context, opts: pulumi.ResourceOptions) -> None:
        """Backup for GKE's plan for the data namespaces (gke mode, when there are any)."""
        config = self._config
        if not backs_up(config):
            return
        assert cluster.cluster_id is not None  # gke mode
        DataBackup(
            f"{self._name}-backup",
            config.backup,
            context,
            cluster_id=cluster.cluster_id,
            cluster_name=config.cluster.name,
            region=config.cluster.region,
            namespaces=config.data_namespaces,
            opts=opts,
        )

    def _routes(
        self,
        context: Context,
        addon_args: AddonArgs,
        addons: Addons,
        cluster: Cluster,
        services: dict[str, Microservice],
        opts: pulumi.ResourceOptions,
    ) -> list[str]:
        """The shared Gateway and every service's HTTPRoutes, or the legacy per-host Ingresses; the URLs."""
        config = self._config
        if config.runs_gateway:
            # An HTTPRoute needs its Services, not their pods: the load balancer only sends traffic to
            # ready endpoints, so the routes do not wait for the rollouts.
            backends = {name: list(ms.services) for name, ms in services.items()}
            return gateway_routes(self, self._name, config, context, addon_args, addons, cluster, backends, opts)
        if config.ingress.controller == "ingress-nginx":
            return Ingresses(
                f"{self._name}-ingresses",
                config.ingress,
                config.services,
                context,
                issuer=addons.issuer_name,
                depends_on=[*services.values(), *addons.ready],
                opts=opts,
            ).urls
        return []


def namespaces_args(config: PlatformConfig, context: Context) -> NamespacesArgs:
    """What the namespaces need from the other domains: the edge, the scraper, the collector, the
    namespaces whose pods use Workload Identity, the control plane's range for webhooks."""
    addons = config.addons
    data_namespaces = config.data_namespaces
    bucket_clients = workload_identity_clients(config)
    return NamespacesArgs(
        # Production data namespaces are protected whatever their own `protect` says.
        namespaces=[
            ns.model_copy(update={"protect": True}) if config.is_production and ns.name in data_namespaces else ns
            for ns in config.namespaces
        ],
        context=context,
        edge_namespace=edge_home(config),
        scrape_namespace=addons.monitoring.namespace,
        addon_namespaces=frozenset(config.addon_namespaces),
        control_plane_cidr=config.cluster.master_ipv4_cidr if config.creates_cluster else None,
        catalog_services={
            ns.name: [s.name for s in config.workloads if s.namespace == ns.name] for ns in config.namespaces
        },
        workload_identity_namespaces=frozenset(
            s.namespace
            for s in config.services
            if with_identity(s, bucket_clients).service_account.workload_identity is not None
        ),
        edge=ingress_edge(config),
        acme_solver_namespaces=acme_solver_namespaces(config),
        telemetry=collector_peer(addons.tracing) if addons.tracing.enabled else None,
        telemetry_ports=(OTLP_GRPC_PORT, OTLP_HTTP_PORT),
    )


def managed_stores(
    parent: Platform, name: str, config: PlatformConfig, cluster: Cluster, context: Context
) -> dict[str, ManagedStore]:
    """The managed data stores, with the private access they need on the platform's VPC."""
    stores = config.managed_data_services
    if not stores:
        return {}
    assert cluster.network is not None  # managed stores need gke mode (validated)
    vpc = cluster.network.vpc
    child = pulumi.ResourceOptions(parent=parent)
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


def gateway_routes(
    parent: Platform,
    name: str,
    config: PlatformConfig,
    context: Context,
    addon_args: AddonArgs,
    addons: Addons,
    cluster: Cluster,
    backends: Mapping[str, Sequence[pulumi.Resource]],
    opts: pulumi.ResourceOptions,
) -> list[str]:
    """The shared Gateway, then every service's HTTPRoutes on it; the URLs they serve."""
    gke_scope = config.ingress.gke_scope(config.creates_cluster)
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
            issuer=addons.issuer_name if config.runs_cert_manager else None,
            depends_on=addons.controller,
        ),
        opts=opts,
    )
    addons.outputs.update(gateway.outputs)
    routes = HttpRoutes(
        f"{name}-routes",
        RoutesArgs(services, gateway, listener_of, context, gke=gke_scope is not None, backends=backends),
        opts=opts,
    )
    return routes.urls


def stack_outputs(
    config: PlatformConfig,
    cluster: Cluster,
    addons: Addons,
    namespaces: Namespaces,
    urls: list[str],
    capacity: CapacityReport,
    timing: TimingReport,
    headroom: dict[str, PoolHeadroom],
) -> dict[str, Any]:
    return {
        "environment": config.environment,
        **cluster.outputs,
        **addons.outputs,
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
                # The engine's image: another engine on the same volume is refused (config/checks.py).
                "image": store.engine.image,
            }
            for store in config.data_services
        },
        "capacity": capacity.summary(),
        "cost": estimate_cost(
            config.cluster,
            config.node_pools,
            config.workloads,
            config.managed_data_services,
            config.is_production,
            {pool: (room.pods, room.extra_nodes) for pool, room in headroom.items()},
        ).summary(),
        "timing": timing.summary(),
        "headroom": {pool: room.summary() for pool, room in headroom.items()},
    }


def plan(config: PlatformConfig) -> tuple[CapacityReport, dict[str, PoolHeadroom], TimingReport]:
    """Capacity (refusing a stack whose HPA maxima cannot fit its node pools), the headroom each pool keeps
    warm, and timing (warning where a target is missed), all computed before anything is registered."""
    nginx = config.addons.ingress_nginx.model_copy(update={"enabled": config.runs_ingress_nginx})
    stores = frozenset(store.name for store in config.stores)
    capacity = check_capacity(config.stack, config.cluster, config.node_pools, config.workloads, nginx, stores)
    headroom = plan_headroom(config.node_pools, config.services, capacity, config.is_production)
    placeholders = {pool: room.total for pool, room in headroom.items()}
    timing = estimate_timing(config.stack, config.timing, config.services, wiring_of(config), capacity, placeholders)
    for warning in timing.warnings():
        pulumi.log.warn(warning)
    # Refuse a namespace whose quota cannot admit its pods at the HPA minimum; warn at the maximum.
    check_quotas(config.stack, config.namespaces, config.workloads, platform_pods(config))
    for path, message in semantic_warnings(config):
        pulumi.log.warn(problem_line(config.stack, path, message))
    return capacity, headroom, timing


def warn_retired_controller(config: PlatformConfig) -> None:
    if config.ingress.controller == "ingress-nginx":
        pulumi.log.warn(
            f"stack '{config.stack}': ingress.controller 'ingress-nginx' is retired upstream (no releases or "
            "security fixes since 2026-03-24); move to 'gateway' (docs/traffic.md, 'Migrating from ingress-nginx')"
        )


def backs_up(config: PlatformConfig) -> bool:
    """Backup for GKE runs where the platform creates the cluster and there are data namespaces."""
    return config.creates_cluster and config.backup.enabled and bool(config.data_namespaces)


def workload_identity_clients(config: PlatformConfig) -> set[str]:
    """Clients of a managed bucket or Kafka authenticate with Workload Identity: the platform gives them an account."""
    return {
        client
        for store in config.managed_data_services
        if store.type in ("object-store", "kafka")
        for client in store.client_names
    }


def with_identity(service: ServiceConfig, bucket_clients: set[str]) -> ServiceConfig:
    """A bucket or Kafka client without Workload Identity gets its own GCP account (no project roles)."""
    if service.name not in bucket_clients or service.service_account.workload_identity is not None:
        return service
    account = service.service_account.model_copy(update={"workload_identity": WorkloadIdentity()})
    return service.model_copy(update={"service_account": account})


def with_store_ca(service: ServiceConfig, config: PlatformConfig) -> ServiceConfig:
    """A store's client mounts its own Secret's ca.crt (that key only) where its URL names it
    (`/etc/ssl/platform/<store>/ca.crt`), for every store it is a client of."""
    mounts = [
        Mount(secret=store.client_secret_name(client), path=client_ca_dir(store.name), keys=[CA_FILE])
        for store in config.data_services
        if store.enabled and store.type in TLS_ENGINES
        for client in store.clients
        if client.name == service.name
    ]
    if not mounts:
        return service
    return service.model_copy(update={"mounts": [*service.mounts, *mounts]})


def platform_pods(config: PlatformConfig) -> PlatformPods:
    """The pods the platform itself runs in a namespace the catalog may declare (and so put a quota on)."""
    pods: dict[str, list[tuple[str, list[dict[str, dict[str, str]]], int]]] = {}
    tracing = config.addons.tracing
    if tracing.enabled:
        replicas = collector_replicas(tracing, production=config.is_production)
        resources = collector_values(None, replicas)["resources"]
        pods.setdefault(tracing.namespace, []).append(("otel-collector", [resources], replicas))
    if config.runs_envoy_gateway:
        envoy = config.addons.envoy_gateway
        pods.setdefault(envoy.namespace, []).extend(
            [("envoy-gateway", [ENVOY_CONTROLLER], 1), ("envoy-proxy", list(ENVOY_PROXY), envoy.proxy_replicas)]
        )
    return PlatformPods(pods)


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
        cert_manager=config.runs_cert_manager,
        monitoring=addons.monitoring.enabled,
        hosts=sorted({route.host for svc in config.services for route in svc.routes}),
        routes_are_ingresses=config.ingress.controller == "ingress-nginx",
    )


def acme_solver_namespaces(config: PlatformConfig) -> frozenset[str]:
    """Where cert-manager's HTTP-01 solver pods run, which the edge must reach: beside each Ingress on
    ingress-nginx, in the Gateway's namespace off GKE (on GKE, Certificate Manager needs no solver)."""
    ingress = config.ingress
    if not (ingress.tls and config.runs_cert_manager):
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
