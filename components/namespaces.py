"""STUB - replaced by the namespaces work (issue 4). Contract:

Namespaces(name, config, provider, opts) -> .namespaces: {name: k8s.core.v1.Namespace}.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import PlatformConfig


class Namespaces(pulumi.ComponentResource):
    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(
        self, name: str, config: PlatformConfig, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:namespaces:Namespaces", name, None, opts)
        self.namespaces = {
            ns.name: k8s.core.v1.Namespace(
                ns.name,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=ns.name),
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
            for ns in config.namespaces
        }
        self.register_outputs({})
