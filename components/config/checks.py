"""The rules that span domains: references between services, secrets, namespaces and add-ons.

Each domain's own rules live beside its model (`check_*` in `cluster/config.py`,
`tenancy/config.py`, `workloads/config.py`); this module runs them in one fixed order and adds
the rules that need two domains at once. Every rule yields `(key path, message)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from components import charts
from components.cluster.config import check_cluster, check_network, check_node_pools, fallback_classes
from components.data.config import (
    FORMER_IMAGES,
    PSA_LEVELS,
    DataServiceConfig,
    check_data_service,
    check_data_tls,
    check_managed,
    check_retention,
)
from components.data.tls import CLIENT_CA_DIR
from components.errors import Problem
from components.observability.config import check_alerting, check_slo
from components.tenancy.config import (
    ConfigKey,
    ConfigMapConfig,
    SecretConfig,
    check_namespace,
    check_namespace_refs,
    check_secret_keys,
)
from components.traffic.config import check_ingress, listener_for
from components.values import ENV_NAME, storage_bytes
from components.workloads.config import STORAGE_CLASSES, EnvSource, ServiceConfig
from components.workloads.rules import (
    check_route_ports,
    check_scaling,
    check_service,
    check_volumes,
    liveness_problems,
)

if TYPE_CHECKING:
    from components.config.root import PlatformConfig


def semantic_problems(config: PlatformConfig) -> Iterator[Problem]:
    production = config.is_production
    yield from _check_names_unique(config)
    yield from check_cluster(config.cluster, production=production, project=config.project)
    yield from check_network(config.network, config.cluster)
    yield from check_node_pools(config.node_pools, config.cluster, production=production)
    yield from _check_namespaces(config)
    enabled_namespaces = {ns.name for ns in config.namespaces if ns.enabled}
    yield from check_namespace_refs("secrets", config.secrets, enabled_namespaces)
    for index, secret in enumerate(config.secrets):
        yield from check_secret_keys(secret, f"secrets[{index}]", config.supplied_secret_keys)
    yield from check_namespace_refs("configMaps", config.config_maps, enabled_namespaces)
    for index, service in enumerate(config.services):
        if service.enabled:
            yield from _check_service(config, f"services[{index}]", service)
    yield from _check_service_accounts(config)
    yield from check_ingress(config.ingress, creates_cluster=config.creates_cluster)
    yield from _check_routes(config)
    yield from _check_addons(config)
    for index, store in enumerate(config.data_services):
        if store.enabled:
            yield from _check_data_service(config, f"dataServices[{index}]", store)
    yield from check_retention(config.backup, "backup")
    yield from check_data_tls(config.data_tls, "dataTls", production=config.is_production)
    if config.is_production and config.creates_cluster and config.data_namespaces and not config.backup.enabled:
        yield "backup.enabled", "production data services must be backed up; keep Backup for GKE on"


def semantic_warnings(config: PlatformConfig) -> Iterator[Problem]:
    """What a preview warns about but does not refuse: a liveness probe that runs the readiness check."""
    for service in config.services:
        if service.enabled:
            yield from liveness_problems(service)


def _check_names_unique(config: PlatformConfig) -> Iterator[Problem]:
    catalogs: list[tuple[str, list[Any]]] = [
        ("nodePools", config.node_pools),
        ("namespaces", config.namespaces),
        ("configMaps", config.config_maps),
        ("secrets", config.secrets),
        ("services", config.services),
        ("dataServices", config.data_services),
    ]
    for key, items in catalogs:
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item.name in seen:
                yield f"{key}[{index}].name", f"'{item.name}' is declared twice; names must be unique"
            seen.add(item.name)
    services = {svc.name for svc in config.services}
    for index, store in enumerate(config.data_services):
        if store.name in services:
            yield (
                f"dataServices[{index}].name",
                f"'{store.name}' is also a service; a data service's Service and StatefulSet take its name",
            )
    yield from _check_data_secret_names(config)


def _check_data_secret_names(config: PlatformConfig) -> Iterator[Problem]:
    """Every Secret a data store delivers is the only Secret or ConfigMap of its name in its namespace."""
    taken: dict[tuple[str, str], str] = {}
    for secret in config.secrets:
        for namespace in secret.namespaces:
            taken.setdefault((namespace, secret.name), f"the secret '{secret.name}' in secrets")
    for cm in config.config_maps:
        for namespace in cm.namespaces:
            taken.setdefault((namespace, cm.name), f"the config map '{cm.name}' in configMaps")
    namespaces = {svc.name: svc.namespace for svc in config.services}
    for index, store in enumerate(config.data_services):
        if not store.enabled:
            continue
        path = f"dataServices[{index}]"
        owned = [
            (store.namespace, store.secret_name, f"{path}.name"),
            (store.namespace, store.clients_secret_name, f"{path}.name"),
        ]
        for c_index, client in enumerate(store.clients):
            if client.name in namespaces:
                owned.append(
                    (namespaces[client.name], store.client_secret_name(client), f"{path}.clients[{c_index}].secretName")
                )
        for namespace, name, where in owned:
            holder = taken.get((namespace, name))
            if holder is not None:
                yield (
                    where,
                    f"'{store.name}' delivers the Secret '{name}' into '{namespace}', where {holder} already "
                    "has that name; choose another secretName (or rename the other)",
                )
            else:
                taken[(namespace, name)] = f"the data service '{store.name}''s Secret '{name}'"


def _check_service_accounts(config: PlatformConfig) -> Iterator[Problem]:
    """Each workload's ServiceAccount is its own: no two share a name in a namespace, none takes `default`."""
    enabled = [(index, svc) for index, svc in enumerate(config.services) if svc.enabled]
    # Accounts named after their workload (the data stores' too) are unique already: service and store names are.
    owners: dict[tuple[str, str], str] = {
        (store.namespace, store.name): f"data service '{store.name}'" for store in config.stores
    }
    owners.update(
        {(svc.namespace, svc.name): f"service '{svc.name}'" for _, svc in enabled if svc.service_account.name is None}
    )
    for index, svc in enabled:
        account = svc.service_account.name
        if account is None:
            continue
        path = f"services[{index}].serviceAccount.name"
        if account == "default":
            yield path, "'default' is the namespace's own ServiceAccount, which Kubernetes manages; choose another name"
            continue
        owner = owners.get((svc.namespace, account))
        if owner is not None:
            yield (
                path,
                f"'{account}' is already the ServiceAccount of {owner} in namespace '{svc.namespace}'; "
                "ServiceAccount names must be unique within a namespace",
            )
        owners.setdefault((svc.namespace, account), f"service '{svc.name}'")


def _check_namespaces(config: PlatformConfig) -> Iterator[Problem]:
    for index, ns in enumerate(config.namespaces):
        path = f"namespaces[{index}]"
        addon = config.addon_namespaces.get(ns.name)
        if addon is not None and ns.policy != "relaxed":
            yield (
                f"{path}.policy",
                (
                    f"'{ns.name}' hosts {addon}, whose charts need the API server, node kubelets and the internet; "
                    "use policy 'relaxed'"
                ),
            )
        yield from check_namespace(ns, path)


def _overlaps(path: str, other: str) -> bool:
    """Whether one of two absolute paths lies inside (or is) the other."""
    first, second = f"{path.rstrip('/')}/", f"{other.rstrip('/')}/"
    return first.startswith(second) or second.startswith(first)


def _check_service(config: PlatformConfig, path: str, svc: ServiceConfig) -> Iterator[Problem]:
    namespace = config.namespace(svc.namespace)
    if namespace is None or not namespace.enabled:
        declared = ", ".join(sorted(ns.name for ns in config.namespaces if ns.enabled)) or "none"
        yield f"{path}.namespace", f"'{svc.namespace}' is not a declared namespace; declared: {declared}"
    yield from check_service(svc, path)
    # A namespace labelled for another environment (seed 004's experimental and quarantine tracks)
    # holds no production traffic, even in the production stack.
    serves_production = config.is_production and (namespace is None or namespace.environment in (None, "production"))
    yield from check_scaling(svc, path, production=config.is_production, serves_production=serves_production)
    yield from _check_references(config, path, svc)
    yield from check_route_ports(svc, path)
    yield from check_volumes(svc, path, config.cluster.mode)
    if svc.slo is not None:
        yield from check_slo(svc.slo, f"{path}.slo", scraped=svc.metrics is not None)
    if svc.placement in ("regular", "spot") and svc.compute_class is not None:
        yield (
            f"{path}.computeClass",
            f"a ComputeClass is for placement spot-fallback or prefer-spot, not '{svc.placement}'",
        )
    elif config.creates_cluster or (svc.placement == "spot-fallback" and fallback_classes(config.node_pools)):
        yield from _check_compute_class(config, path, svc)
    # Autopilot gives Spot capacity without pools (the gke-spot selector); Standard needs a spot pool.
    if svc.placement != "regular" and config.cluster.mode == "gke" and not any(p.spot for p in config.node_pools):
        yield f"{path}.placement", f"'{svc.placement}' needs a spot node pool, and this stack declares none"
    if svc.service_account.workload_identity is not None and not config.creates_cluster:
        yield f"{path}.serviceAccount.workloadIdentity", "Workload Identity needs a GKE cluster (cluster.mode 'gke')"


def _check_compute_class(config: PlatformConfig, path: str, svc: ServiceConfig) -> Iterator[Problem]:
    """The fallback ComputeClass a spot-fallback (or prefer-spot naming one) service selects exists, unambiguously."""
    classes = fallback_classes(config.node_pools)
    declared = ", ".join(classes) or "none"
    if svc.compute_class is not None and svc.compute_class not in classes:
        yield (
            f"{path}.computeClass",
            f"'{svc.compute_class}' is not a ComputeClass with spot and on-demand pools; declared: {declared}",
        )
    elif svc.placement == "spot-fallback" and svc.compute_class is None and len(classes) != 1:
        yield (
            f"{path}.placement",
            "'spot-fallback' needs a ComputeClass with a spot and an on-demand pool: set nodePools[].computeClass "
            "on both"
            if not classes
            else f"'spot-fallback' with several ComputeClasses ({declared}): set computeClass to one of them",
        )


def _check_references(config: PlatformConfig, path: str, svc: ServiceConfig) -> Iterator[Problem]:
    def secret_in_namespace(name: str) -> SecretConfig | None:
        secret = config.secret(name)
        return secret if secret is not None and secret.enabled and svc.namespace in secret.namespaces else None

    def config_map_in_namespace(name: str) -> ConfigMapConfig | None:
        cm = config.config_map(name)
        return cm if cm is not None and cm.enabled and svc.namespace in cm.namespaces else None

    for name, value in svc.env.items():
        env_path = f"{path}.env.{name}"
        if not ENV_NAME.match(name):
            yield env_path, "environment variable names must match [-._a-zA-Z][-._a-zA-Z0-9]*"
        if isinstance(value, str):
            continue
        sources = [s for s in (value.secret_key_ref, value.config_map_key_ref, value.field_ref) if s is not None]
        if len(sources) != 1:
            yield env_path, "set exactly one of secretKeyRef, configMapKeyRef or fieldRef"
            continue
        if value.secret_key_ref is not None:
            ref = value.secret_key_ref
            secret = secret_in_namespace(ref.name)
            private = _store_private_secret(config, svc, ref.name)
            if private is not None:
                yield f"{env_path}.secretKeyRef.name", private
            elif secret is None:
                yield (
                    f"{env_path}.secretKeyRef.name",
                    f"no secret '{ref.name}' is declared in namespace '{svc.namespace}'",
                )
            elif ref.key not in secret.keys:
                yield (
                    f"{env_path}.secretKeyRef.key",
                    f"secret '{ref.name}' has no key '{ref.key}'; keys: {', '.join(secret.keys)}",
                )
        if value.config_map_key_ref is not None:
            ref = value.config_map_key_ref
            cm = config_map_in_namespace(ref.name)
            if ref.name == f"{svc.name}-config" and ref.key in svc.config:
                continue
            if cm is None:
                yield (
                    f"{env_path}.configMapKeyRef.name",
                    f"no config map '{ref.name}' is declared in namespace '{svc.namespace}'",
                )
            elif ref.key not in cm.data:
                yield (
                    f"{env_path}.configMapKeyRef.key",
                    f"config map '{ref.name}' has no key '{ref.key}'; keys: {', '.join(cm.data)}",
                )

    by_kind: list[tuple[str, list[EnvSource]]] = [("envFrom", svc.env_from), ("mounts", list(svc.mounts))]
    for kind, items in by_kind:
        for index, item in enumerate(items):
            item_path = f"{path}.{kind}[{index}]"
            if (item.config_map is None) == (item.secret is None):
                yield item_path, "set exactly one of configMap or secret"
            elif item.secret is not None and _store_private_secret(config, svc, item.secret) is not None:
                yield f"{item_path}.secret", str(_store_private_secret(config, svc, item.secret))
            elif item.secret is not None and secret_in_namespace(item.secret) is None:
                yield f"{item_path}.secret", f"no secret '{item.secret}' is declared in namespace '{svc.namespace}'"
            elif (
                item.config_map is not None
                and config_map_in_namespace(item.config_map) is None
                and item.config_map != f"{svc.name}-config"
            ):
                yield (
                    f"{item_path}.configMap",
                    f"no config map '{item.config_map}' is declared in namespace '{svc.namespace}'",
                )
    mount_paths = [m.path for m in svc.mounts]
    for index, mount_path in enumerate(mount_paths):
        if mount_path == "/tmp" or mount_paths.index(mount_path) != index:
            yield (
                f"{path}.mounts[{index}].path",
                f"'{mount_path}' is already mounted ('/tmp' is the platform's scratch volume)",
            )
        elif _overlaps(mount_path, CLIENT_CA_DIR):
            yield (
                f"{path}.mounts[{index}].path",
                f"'{mount_path}' overlaps {CLIENT_CA_DIR}, where the platform mounts each store's ca.crt; "
                "choose another path",
            )

    known = {s.name for s in config.services if s.enabled}
    namespace = config.namespace(svc.namespace)
    if svc.allow_from and namespace is not None and namespace.policy == "read-only":
        yield (
            f"{path}.allowFrom",
            f"'{svc.namespace}' is read-only: its services admit only the edge; remove allowFrom or use policy 'strict'",
        )
    for index, caller in enumerate(svc.allow_from):
        caller_service = config.service(caller)
        caller_namespace = config.namespace(caller_service.namespace) if caller_service is not None else None
        if caller not in known:
            yield (
                f"{path}.allowFrom[{index}]",
                f"'{caller}' is not a declared service; declared: {', '.join(sorted(known))}",
            )
        elif caller_namespace is not None and caller_namespace.policy == "read-only":
            yield (
                f"{path}.allowFrom[{index}]",
                f"'{caller}' runs in read-only namespace '{caller_namespace.name}', "
                "whose pods may open connections only to its egress namespaces",
            )


def _store_private_secret(config: PlatformConfig, svc: ServiceConfig, name: str) -> str | None:
    """Why `svc` may not read `name`, when it is a data store's own (superuser) Secret or its copy of
    every client's password; None otherwise."""
    for store in config.data_services:
        if store.enabled and name in (store.secret_name, store.clients_secret_name):
            client = store.client(svc.name)
            own = (
                f"read your own '{store.client_secret_name(client)}'" if client else f"list '{svc.name}' in its clients"
            )
            return (
                f"'{name}' holds data service '{store.name}''s superuser or every client's credentials, which no "
                f"workload reads; {own}"
            )
    return None


def _check_routes(config: PlatformConfig) -> Iterator[Problem]:
    owners: dict[tuple[str, str], str] = {}
    for index, svc in enumerate(config.services):
        if not svc.enabled:
            continue
        if svc.canary is not None and not svc.routes:
            yield (
                f"services[{index}].canary",
                "a canary takes a share of the service's routes; declare routes or remove it",
            )
        elif svc.canary is not None and svc.stateful is not None:
            yield f"services[{index}].canary", "a stateful service takes no canary: its volumes belong to one workload"
        elif svc.canary is not None and config.ingress.controller != "gateway":
            yield f"services[{index}].canary", "splitting routes by weight needs ingress.controller 'gateway'"
        if svc.routes and config.ingress.gke_scope(config.creates_cluster) is not None:
            yield from _check_health_check_port(index, svc)
        for r_index, route in enumerate(svc.routes):
            key = (route.host, route.path)
            if key in owners:
                yield (
                    f"services[{index}].routes[{r_index}].path",
                    f"{route.host}{route.path} is already routed to '{owners[key]}'; each path on a host may route to one service",
                )
            else:
                owners[key] = svc.name
            if config.ingress.controller == "gateway" and listener_for(route.host, config.gateway_hosts) is None:
                yield (
                    f"services[{index}].routes[{r_index}].host",
                    f"'{route.host}' is outside every Gateway listener; listeners: {', '.join(config.gateway_hosts)}",
                )


def _check_health_check_port(index: int, svc: ServiceConfig) -> Iterator[Problem]:
    """GKE's health check follows the readiness probe, and the edge reaches pods on routed ports only."""
    probe = svc.probes.readiness
    action = probe.http_get or probe.tcp_socket
    if action is None:
        return
    port = svc.port(action.port)
    routed = list(dict.fromkeys(route.port for route in svc.routes))
    if port is None or port.name not in routed:
        yield (
            f"services[{index}].probes.readiness",
            f"port '{action.port}' is not routed: the load balancer's health check follows the readiness probe "
            f"and reaches pods only on routed ports; probe one of: {', '.join(routed)}",
        )


def _check_addons(config: PlatformConfig) -> Iterator[Problem]:
    addons = config.addons
    routed = any(svc.routes for svc in config.services if svc.enabled)
    # On GKE the Gateway's certificates come from Certificate Manager; elsewhere cert-manager issues them.
    if config.uses_cert_manager:
        if not addons.cert_manager.enabled:
            yield "addons.certManager.enabled", "ingress.tls needs cert-manager; enable it or set ingress.tls to false"
        elif addons.cert_manager.email is None:
            yield "addons.certManager.email", "Let's Encrypt needs an ACME account email when ingress.tls is on"
    if routed and not config.domain and any("${domain}" in r.host for s in config.services for r in s.routes):
        yield "domain", "routes use ${domain} but no domain is set"
    if config.is_production and config.runs_envoy_gateway and addons.envoy_gateway.proxy_replicas < 2:
        yield "addons.envoyGateway.proxyReplicas", "production runs at least 2 Envoy proxies"
    if config.is_production and config.runs_ingress_nginx and addons.ingress_nginx.replicas < 2:
        yield "addons.ingressNginx.replicas", "production runs at least 2 ingress controller replicas"
    if addons.ingress_nginx.static_ip and not config.creates_cluster:
        yield (
            "addons.ingressNginx.staticIp",
            "a reserved static IP needs cluster.mode 'gke'; leave it unset on an existing cluster",
        )
    if addons.ingress_nginx.static_ip and addons.ingress_nginx.service_type != "LoadBalancer":
        yield (
            "addons.ingressNginx.staticIp",
            "a static IP belongs to a LoadBalancer Service; set serviceType to LoadBalancer",
        )
    yield from _check_chart_sources(config)
    monitoring = addons.monitoring
    if monitoring.enabled:
        yield from check_alerting(monitoring.alerting, "addons.monitoring.alerting")
        yield from _check_receiver_secrets(config)
    days = monitoring.log_retention_days
    if monitoring.enabled and (days is None or not 1 <= days <= 3650):
        yield (
            "addons.monitoring.logRetention",
            f"'{monitoring.log_retention}' must be whole days (d, w or y) from 1 to 3650; Cloud Logging keeps logs per day",
        )
    for index, ns in enumerate(config.namespaces):
        if monitoring.enabled and ns.enabled and ns.name == monitoring.namespace and ns.pod_security != "privileged":
            yield (
                f"namespaces[{index}].podSecurity",
                f"'{ns.pod_security}' would block the monitoring add-on in '{ns.name}': node-exporter needs "
                "hostNetwork, hostPID and hostPath; set privileged",
            )


def _check_chart_sources(config: PlatformConfig) -> Iterator[Problem]:
    """Each local chart the stack installs is the pinned chart and version (the provider would ignore the pin)."""
    addons = config.addons
    envoy, nginx, cert_manager = addons.envoy_gateway, addons.ingress_nginx, addons.cert_manager
    monitoring, tracing = addons.monitoring, addons.tracing
    installed = [
        (
            config.runs_envoy_gateway,
            "addons.envoyGateway.chart",
            envoy.chart_source,
            charts.ENVOY_GATEWAY,
            envoy.chart_version,
        ),
        (
            config.runs_ingress_nginx,
            "addons.ingressNginx.chart",
            nginx.chart_source,
            charts.INGRESS_NGINX,
            nginx.chart_version,
        ),
        (
            config.runs_cert_manager,
            "addons.certManager.chart",
            cert_manager.chart_source,
            charts.CERT_MANAGER,
            cert_manager.chart_version,
        ),
        (
            monitoring.enabled,
            "addons.monitoring.chart",
            monitoring.chart_source,
            charts.KUBE_PROMETHEUS_STACK,
            monitoring.chart_version,
        ),
        (
            monitoring.enabled,
            "addons.monitoring.crdsChart",
            monitoring.crds_chart_source,
            charts.PROMETHEUS_OPERATOR_CRDS,
            monitoring.crds_chart_version,
        ),
        (
            monitoring.enabled,
            "addons.monitoring.adapterChart",
            monitoring.adapter_chart_source,
            charts.PROMETHEUS_ADAPTER,
            monitoring.adapter_chart_version,
        ),
        (
            tracing.enabled,
            "addons.tracing.chart",
            tracing.chart_source,
            charts.OPENTELEMETRY_COLLECTOR,
            tracing.chart_version,
        ),
    ]
    for used, key, source, upstream, version in installed:
        if used:
            yield from charts.check_chart_source(source, f"{key}Source", upstream, version, f"{key}Version")


def _check_receiver_secrets(config: PlatformConfig) -> Iterator[Problem]:
    """Each receiver's secret is a catalog Secret delivered to the monitoring namespace, holding that key."""
    namespace = config.addons.monitoring.namespace
    for index, receiver in enumerate(config.addons.monitoring.alerting.receivers):
        ref = receiver.secret
        if ref is None:
            continue
        path = f"addons.monitoring.alerting.receivers[{index}].secret"
        secret = config.secret(ref.name)
        if secret is None or not secret.enabled or namespace not in secret.namespaces:
            yield (
                f"{path}.name",
                f"no secret '{ref.name}' is declared in the monitoring namespace '{namespace}'; "
                "Alertmanager reads receiver secrets from its own namespace",
            )
        elif ref.key not in secret.keys:
            yield f"{path}.key", f"secret '{ref.name}' has no key '{ref.key}'; keys: {', '.join(secret.keys)}"
        elif not isinstance(secret.keys[ref.key], ConfigKey):
            yield (
                f"{path}.key",
                f"'{ref.key}' of secret '{ref.name}' is generated; a receiver's URL or key is supplied "
                "with `type: config`",
            )


def _check_data_service(config: PlatformConfig, path: str, store: DataServiceConfig) -> Iterator[Problem]:
    yield from check_data_service(store, path)
    yield from check_managed(
        store, path, production=config.is_production, creates_cluster=config.creates_cluster, project=config.project
    )
    engine = store.engine
    namespace = config.namespace(store.namespace)
    if namespace is None or not namespace.enabled:
        declared = ", ".join(sorted(ns.name for ns in config.namespaces if ns.enabled)) or "none"
        yield f"{path}.namespace", f"'{store.namespace}' is not a declared namespace; declared: {declared}"
    elif PSA_LEVELS.index(namespace.pod_security) < PSA_LEVELS.index(engine.pod_security):
        yield (
            f"{path}.namespace",
            f"'{namespace.name}' enforces Pod Security '{namespace.pod_security}', but {engine.label} needs "
            f"'{engine.pod_security}'; set the namespace's podSecurity to '{engine.pod_security}' or place the store elsewhere",
        )
    if store.effective_version == "latest":
        yield f"{path}.version", "'latest' is not a version; pin the image tag, e.g. " + engine.default_version
    mode = config.cluster.mode
    storage_class = store.storage.storage_class
    if storage_class is not None and storage_class not in STORAGE_CLASSES[mode]:
        yield (
            f"{path}.storage.storageClass",
            f"'{storage_class}' is not a storage class of cluster.mode '{mode}'; "
            f"use one of {', '.join(STORAGE_CLASSES[mode])} or leave it unset for the default",
        )
    known = {svc.name for svc in config.services if svc.enabled}
    for index, client in enumerate(store.clients):
        client_service = config.service(client.name)
        client_namespace = config.namespace(client_service.namespace) if client_service is not None else None
        if client.name not in known:
            yield (
                f"{path}.clients[{index}]",
                f"'{client.name}' is not a declared service; declared: {', '.join(sorted(known)) or 'none'}",
            )
        elif client_namespace is not None and client_namespace.policy == "read-only" and client.access != "read-only":
            # A read-only namespace only reads: its services may be a store's read-only clients, nothing more.
            yield (
                f"{path}.clients[{index}]",
                f"'{client.name}' runs in read-only namespace '{client_namespace.name}', so it may only read: "
                "set access 'read-only', or move it to a strict namespace",
            )
    yield from _check_against_deployed(config, path, store)


def _check_engine_image(path: str, store: DataServiceConfig, deployed: dict[str, Any]) -> Iterator[Problem]:
    """An in-cluster store whose volume another engine wrote (MinIO before SeaweedFS) is refused, not reused."""
    if store.is_managed:
        return
    former_image, former_label = FORMER_IMAGES.get(store.type, (store.engine.image, store.engine.label))
    image = deployed.get("image", former_image)
    if image == store.engine.image:
        return
    label = former_label if image == former_image else image
    yield (
        f"{path}.type",
        f"'{store.name}' holds {label} data on its volume, which {store.engine.label} cannot read: copy its "
        "buckets out, declare the store under a new name and copy them into it (docs/data-access.md, "
        "'Moving off MinIO')",
    )


def _check_against_deployed(config: PlatformConfig, path: str, store: DataServiceConfig) -> Iterator[Problem]:
    """What the engine and the volumes cannot do in place, against what this stack last deployed."""
    deployed = config.deployed_data.get(store.name)
    if not isinstance(deployed, dict):
        return
    if deployed.get("type") != store.type:
        yield (
            f"{path}.type",
            f"'{store.name}' holds {deployed.get('type')} data on its volumes; another engine cannot read it: "
            "declare the new store under another name and move the data",
        )
        return
    # Deploys before `mode` existed ran every store in the cluster.
    deployed_mode = deployed.get("mode", "in-cluster")
    if deployed_mode != store.mode:
        yield (
            f"{path}.mode",
            f"'{store.name}' runs {deployed_mode} and holds its data there; switching to {store.mode} would start "
            "an empty store: declare the new store under another name, copy the data, move the clients, then "
            "remove the old one",
        )
        return
    engine_change = list(_check_engine_image(path, store, deployed))
    if engine_change:
        yield from engine_change
        return
    version = deployed.get("version")
    if isinstance(version, str) and version != store.effective_version:
        refusal = store.engine.refuse_version_change(version, store.effective_version)
        if refusal is not None:
            yield f"{path}.version", refusal
    size = deployed.get("storage")
    if isinstance(size, str):
        try:
            shrinks = storage_bytes(store.storage_size) < storage_bytes(size)
        except ValueError:
            shrinks = False
        if shrinks:
            yield (
                f"{path}.storage.size",
                f"{store.storage_size} is smaller than the {size} already provisioned; a persistent volume can "
                "only grow: keep the size, or move the data to a new store with a smaller volume",
            )
