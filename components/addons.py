"""STUB - replaced by the add-ons work (issue 6). Contract:

Addons(name, config, provider, namespaces, opts) -> .issuer_name (str), .monitoring_release
(Resource | None, for ServiceMonitors to depend on), .ready (resources Ingresses wait for), .outputs.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import PlatformConfig


class Addons(pulumi.ComponentResource):
    issuer_name: str
    monitoring_release: pulumi.Resource | None
    ready: list[pulumi.Resource]
    outputs: dict[str, Any]

    def __init__(
        self,
        name: str,
        config: PlatformConfig,
        provider: k8s.Provider,
        namespaces: dict[str, k8s.core.v1.Namespace],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:addons:Addons", name, None, opts)
        self.issuer_name = config.issuer_name
        self.monitoring_release = None
        self.ready = []
        self.outputs = {}
        self.register_outputs({})
