"""The root of the config: `PlatformConfig` composes every domain's typed slice.

Only the config package and the platform wiring (`components/platform.py`) see this whole model;
every component is handed its own slice and the facts it needs from other domains, by name.
"""

from __future__ import annotations

from typing import Any, Literal

from components.cluster.config import ClusterConfig, NetworkConfig, NodePoolConfig, fallback_classes
from components.data.catalog import client_secrets, credentials_secret, store_service
from components.data.config import BackupConfig, DataServiceConfig, DataTlsConfig
from components.data.managed import managed_secrets
from components.data.tls import tls_secret
from components.observability.config import MonitoringConfig, TracingConfig
from components.planning.config import TimingConfig
from components.tenancy.config import ConfigMapConfig, NamespaceConfig, SecretConfig
from components.traffic.config import CertManagerConfig, EnvoyGatewayConfig, IngressConfig, IngressNginxConfig
from components.values import DnsLabel, Model
from components.workloads.config import ServiceConfig


def placed(svc: ServiceConfig, pools: list[NodePoolConfig], creates_cluster: bool) -> ServiceConfig:
    """`svc` with its placement resolved: in gke mode `prefer-spot` becomes `spot-fallback` when the stack
    declares a fallback ComputeClass (the class named, or its only one), and `spot-fallback` names its class.
    On an existing cluster a class exists only if `nodePools` declare one (describing that cluster's pools);
    without one, placement.py runs spot-fallback as prefer-spot."""
    if svc.placement not in ("prefer-spot", "spot-fallback"):
        return svc
    classes = fallback_classes(pools)
    if not creates_cluster and svc.placement == "prefer-spot":
        return svc  # on an existing cluster only an explicit spot-fallback selects a declared class
    name = svc.compute_class or (classes[0] if len(classes) == 1 else None)
    if name is None:
        return svc
    return svc.model_copy(update={"placement": "spot-fallback", "compute_class": name})


class AddonsConfig(Model):
    ingress_nginx: IngressNginxConfig = IngressNginxConfig()
    """The legacy ingress-nginx controller, installed only with `ingress.controller: ingress-nginx`."""
    envoy_gateway: EnvoyGatewayConfig = EnvoyGatewayConfig()
    """Envoy Gateway, installed on an existing cluster when `ingress.controller` is `gateway` and something is routed."""
    cert_manager: CertManagerConfig = CertManagerConfig()
    """cert-manager and the Let's Encrypt ClusterIssuers."""
    monitoring: MonitoringConfig = MonitoringConfig()
    """kube-prometheus-stack (Prometheus, Grafana, Alertmanager)."""
    tracing: TracingConfig = TracingConfig()
    """The OpenTelemetry Collector (see [observability](observability.md))."""


class PlatformConfig(Model):
    stack: str
    project: str | None = None
    environment: Literal["dev", "staging", "production"]
    """`dev`, `staging` or `production` (the default is `Pulumi.yaml`'s, so a stack without a file is dev). Production turns on the guarantees: GKE mode and a regional cluster, >= 3 replicas for routed services, PDBs kept, deletion protection, `protect` on the cluster."""
    app: DnsLabel = "platform"
    """The application's name: the `app.kubernetes.io/part-of` label on namespaces and workloads. The default is `Pulumi.yaml`'s (the program's own fallback, with no project default, is `platform`)."""
    domain: str | None = None
    """DNS zone that replaces `${domain}` in strings, e.g. route hosts `api.${domain}`. The default is `Pulumi.yaml`'s: `localtest.me` and its subdomains resolve to 127.0.0.1, which suits kind; set your zone in every GKE stack."""
    cluster: ClusterConfig = ClusterConfig()
    """The cluster the platform runs on."""
    network: NetworkConfig = NetworkConfig()
    """The VPC's ranges (gke mode). All four ranges (with `cluster.masterIpv4Cidr`) must be disjoint."""
    node_pools: list[NodePoolConfig] = []
    """Node pools (gke mode). At least one regular pool; production needs one with `minNodes >= 1`."""
    namespaces: list[NamespaceConfig] = []
    """Namespaces the platform creates (shared catalog; per stack through `overrides.namespaces`)."""
    config_maps: list[ConfigMapConfig] = []
    """Shared ConfigMaps, created in each listed namespace."""
    secrets: list[SecretConfig] = []
    """Secrets, generated or supplied, created as Opaque Secrets in each listed namespace."""
    catalog_files: list[str] = []
    """Project-relative YAML files (glob patterns, such as `catalog/*.yaml`) holding more catalog items, each file a mapping of catalog name (`services`, `namespaces`, `secrets`, `configMaps`, `dataServices`) to a list of items, appended to the config's own. For large catalogs: Pulumi hands the whole config to the program in one environment variable, which Linux caps at 128 KiB (about 110 services of the sample's size)."""
    services: list[ServiceConfig] = []
    """Microservices: each becomes a ServiceAccount, Deployment, Service, HPA, PDB, NetworkPolicy and, as configured, a ConfigMap, migration Job, ServiceMonitor, canary track and HTTPRoutes."""
    ingress: IngressConfig = IngressConfig()
    """The routing layer (see [traffic](traffic.md))."""
    addons: AddonsConfig = AddonsConfig()
    """Cluster add-ons, each switched on per stack, each a pinned Helm chart."""
    data_services: list[DataServiceConfig] = []
    """Data stores run in the cluster (see [data](data.md)) or, with `mode: managed`, on Google's managed services (see [data](data.md#managed-data-services)); per stack through `overrides.dataServices`."""
    data_tls: DataTlsConfig = DataTlsConfig()
    """TLS to the data stores: the stack's platform CA, each in-cluster store's certificate, verifying client URLs (see [data access](data-access.md#tls)). On in every stack; production refuses it off."""
    backup: BackupConfig = BackupConfig()
    """Backup for GKE over the namespaces that hold data stores (gke mode; the cluster's backup agent add-on is switched on with it)."""
    timing: TimingConfig = TimingConfig()
    """Time targets per service, checked by the timing model in every preview (see [planning](planning.md)). A service above one gets a warning naming the dominant term and the key to change."""
    # The `type: config` secret keys whose `platform:<key>` value is set (read as secrets by the program).
    supplied_secret_keys: tuple[str, ...] = ()
    # What this stack last deployed of each data service ({name: {type, version, storage}}), read
    # from its own `dataServices` output; empty on the first deploy.
    deployed_data: dict[str, Any] = {}

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def creates_cluster(self) -> bool:
        return self.cluster.creates_cluster

    @property
    def runs_ingress_nginx(self) -> bool:
        """The retired controller runs only when chosen explicitly (and its add-on is not switched off)."""
        return self.ingress.controller == "ingress-nginx" and self.addons.ingress_nginx.enabled

    @property
    def runs_gateway(self) -> bool:
        """The shared Gateway exists once there is a host to serve (a stack of workers needs none)."""
        return self.ingress.controller == "gateway" and bool(self.gateway_hosts)

    @property
    def runs_envoy_gateway(self) -> bool:
        """Envoy Gateway serves the Gateway API on an existing cluster; GKE brings its own controller."""
        return self.runs_gateway and not self.creates_cluster

    @property
    def gateway_class(self) -> str:
        return self.ingress.effective_class_name(self.creates_cluster)

    @property
    def addon_namespaces(self) -> dict[str, str]:
        """Namespace -> the enabled add-on installed there."""
        addons = self.addons
        enabled: list[tuple[str, bool, str]] = [
            (addons.ingress_nginx.namespace, self.runs_ingress_nginx, "the ingress controller"),
            (addons.envoy_gateway.namespace, self.runs_envoy_gateway, "the Gateway controller"),
            (self.ingress.gateway.namespace, self.runs_gateway, "the shared Gateway"),
            (addons.cert_manager.namespace, self.runs_cert_manager, "cert-manager"),
            (addons.monitoring.namespace, addons.monitoring.enabled, "the monitoring stack"),
            (addons.tracing.namespace, addons.tracing.enabled, "the OpenTelemetry Collector"),
        ]
        return {namespace: label for namespace, on, label in enabled if on}

    @property
    def uses_cert_manager(self) -> bool:
        """Something takes TLS certificates from cert-manager: the routed services' Ingresses (ingress-nginx),
        or the shared Gateway off GKE. GKE's Gateway takes them from Certificate Manager instead."""
        if not self.ingress.tls:
            return False
        routed = any(svc.routes for svc in self.services if svc.enabled)
        if self.ingress.controller == "ingress-nginx":
            return routed
        return self.runs_gateway and not self.creates_cluster

    @property
    def runs_cert_manager(self) -> bool:
        """cert-manager as set, else where it is used."""
        enabled = self.addons.cert_manager.enabled
        return self.uses_cert_manager if enabled is None else enabled

    def with_derived_defaults(self) -> PlatformConfig:
        """The config with the defaults that follow from other keys filled in: cert-manager, unless set,
        runs exactly where it is used."""
        cert_manager = self.addons.cert_manager
        if cert_manager.enabled is not None:
            return self
        resolved = cert_manager.model_copy(update={"enabled": self.runs_cert_manager})
        return self.model_copy(update={"addons": self.addons.model_copy(update={"cert_manager": resolved})})

    @property
    def uses_static_ip(self) -> bool:
        nginx = self.addons.ingress_nginx
        wanted = nginx.static_ip if nginx.static_ip is not None else self.creates_cluster
        return self.runs_ingress_nginx and wanted and nginx.service_type == "LoadBalancer"

    @property
    def gateway_hosts(self) -> list[str]:
        """The shared Gateway's listener hostnames: `ingress.hosts`, else every routed host, in order."""
        if self.ingress.hosts is not None:
            return list(self.ingress.hosts)
        return list(dict.fromkeys(r.host for s in self.services if s.enabled for r in s.routes))

    @property
    def issuer_name(self) -> str:
        choice = self.addons.cert_manager.issuer or ("production" if self.is_production else "staging")
        return f"letsencrypt-{choice}"

    @property
    def stores(self) -> list[ServiceConfig]:
        """The enabled data services, each as the StatefulSet service that runs it in the cluster."""
        return [
            store_service(store, self.cluster.mode, self.is_production, self.data_tls.enabled)
            for store in self.data_services
            if store.enabled and not store.is_managed
        ]

    @property
    def data_services_by_name(self) -> dict[str, DataServiceConfig]:
        return {store.name: store for store in self.data_services}

    @property
    def managed_data_services(self) -> list[DataServiceConfig]:
        """The enabled data services Google runs (`mode: managed`)."""
        return [store for store in self.data_services if store.enabled and store.is_managed]

    @property
    def workloads(self) -> list[ServiceConfig]:
        """Everything that runs pods from the catalogs: the services, then the data stores."""
        return [*self.services, *self.stores]

    @property
    def data_secrets(self) -> list[SecretConfig]:
        """Each enabled data service's TLS Secret and own Secret (its namespace only), then one Secret per
        client in the client's namespace, then the store's copy of its clients' passwords (in that order:
        later ones copy values of earlier ones)."""
        namespaces = {svc.name: svc.namespace for svc in self.services if svc.enabled}
        secrets: list[SecretConfig] = []
        for store in self.data_services:
            if not store.enabled:
                continue
            client_namespaces = {c.name: namespaces[c.name] for c in store.clients if c.name in namespaces}
            tls_on = self.data_tls.enabled
            if store.is_managed:
                secrets.extend(managed_secrets(store, client_namespaces, self.project))
                continue
            if tls_on and store.serves_tls:
                secrets.append(tls_secret(store))
            secrets.append(credentials_secret(store, tls_on))
            secrets.extend(client_secrets(store, client_namespaces, tls_on))
        return secrets

    @property
    def data_namespaces(self) -> list[str]:
        """The namespaces that hold in-cluster data stores, in catalog order (managed ones keep their own backups)."""
        return list(
            dict.fromkeys(store.namespace for store in self.data_services if store.enabled and not store.is_managed)
        )

    def namespace(self, name: str) -> NamespaceConfig | None:
        return next((ns for ns in self.namespaces if ns.name == name), None)

    def service(self, name: str) -> ServiceConfig | None:
        return next((svc for svc in self.workloads if svc.name == name), None)

    def secret(self, name: str) -> SecretConfig | None:
        return next((sec for sec in [*self.secrets, *self.data_secrets] if sec.name == name), None)

    def config_map(self, name: str) -> ConfigMapConfig | None:
        return next((cm for cm in self.config_maps if cm.name == name), None)
