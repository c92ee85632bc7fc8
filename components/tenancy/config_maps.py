"""Shared ConfigMaps declared in config: one per target namespace, with a stable `metadata.name`.

`checksums["configmap/<name>"]` is the sha256 of the data (the same function the secrets use),
for workloads to put in a pod-template annotation so that a change rolls them.

Deliberately left out: a service's own `<service>-config` map (the microservice component builds it)
and anything secret, which belongs in `platform:secrets`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.context import Context
from components.kube import content_checksum
from components.tenancy.config import ConfigMapConfig


class ConfigMaps(pulumi.ComponentResource):
    checksums: dict[str, pulumi.Output[str]]
    resources: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        config_maps: Sequence[ConfigMapConfig],
        context: Context,
        namespaces: dict[str, k8s.core.v1.Namespace],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:config:ConfigMaps", name, None, opts)
        self.checksums = {}
        self.resources = []
        for config_map in config_maps:
            self.checksums[f"configmap/{config_map.name}"] = pulumi.Output.from_input(content_checksum(config_map.data))
            for namespace in config_map.namespaces:
                # '/' joins two user-chosen names and neither may contain it, so URNs never collide.
                self.resources.append(
                    k8s.core.v1.ConfigMap(
                        f"{name}-{namespace}/{config_map.name}",
                        metadata=k8s.meta.v1.ObjectMetaArgs(
                            name=config_map.name,
                            namespace=namespaces[namespace].metadata.name,
                            # The platform's labels win: a catalog label cannot disown the object.
                            labels={**config_map.labels, **context.labels},
                        ),
                        data=config_map.data,
                        opts=pulumi.ResourceOptions(parent=self, provider=context.provider),
                    )
                )
        self.register_outputs({"checksums": self.checksums})
