"""The whole platform: capacity check, cluster, namespaces, shared config, add-ons, services, ingress.

This is the only place that knows the order things depend on one another:
cluster (and its node pools) -> namespaces -> secrets, config maps and add-ons -> services -> ingresses.
Every Kubernetes object goes through the cluster component's explicit provider.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.addons import Addons
from components.capacity import check_capacity
from components.cluster import Cluster
from components.config import PlatformConfig
from components.config_maps import ConfigMaps
from components.cost import estimate_cost
from components.ingress import Ingresses
from components.microservice import Microservice, MicroserviceArgs
from components.namespaces import Namespaces
from components.secrets import Secrets


class Platform(pulumi.ComponentResource):
    exports: dict[str, Any]

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        # Refuse a stack whose HPA maxima cannot fit its node pools before anything is registered.
        capacity = check_capacity(config)
        super().__init__("platform:index:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        cluster = Cluster(f"{name}-cluster", config, opts=child)
        provider = cluster.provider
        # Nothing is scheduled into a cluster that has no nodes yet.
        on_nodes = pulumi.ResourceOptions(parent=self, depends_on=cluster.ready)

        namespaces = Namespaces(f"{name}-namespaces", config, provider, opts=on_nodes)
        secrets = Secrets(f"{name}-secrets", config, provider, namespaces.namespaces, opts=on_nodes)
        config_maps = ConfigMaps(f"{name}-config-maps", config, provider, namespaces.namespaces, opts=on_nodes)
        addons = Addons(f"{name}-addons", config, provider, namespaces.namespaces, opts=on_nodes)

        checksums = {**secrets.checksums, **config_maps.checksums}
        services = {}
        for service in config.services:
            services[service.name] = Microservice(
                service.name,
                MicroserviceArgs(
                    service=service,
                    platform=config,
                    provider=provider,
                    namespace=namespaces.namespaces[service.namespace],
                    checksums=checksums,
                    monitoring=addons.monitoring_release,
                    depends_on=[*secrets.resources, *config_maps.resources],
                ),
                opts=on_nodes,
            )
        ingresses = Ingresses(
            f"{name}-ingresses",
            config,
            provider,
            issuer=addons.issuer_name,
            depends_on=[*services.values(), *addons.ready],
            opts=on_nodes,
        )

        self.exports = {
            "environment": config.environment,
            **cluster.outputs,
            **addons.outputs,
            "urls": ingresses.urls,
            "namespaces": sorted(namespaces.namespaces),
            "services": sorted(services),
            "capacity": capacity.summary(),
            "cost": estimate_cost(config).summary(),
        }
        self.register_outputs({})
