"""STUB - replaced by the secrets work (issue 4). Contract:

Secrets(name, config, provider, namespaces, opts) -> .checksums {"secret/<name>": Output[str]},
.resources (the Kubernetes Secrets, for workloads to depend on).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import PlatformConfig


class Secrets(pulumi.ComponentResource):
    checksums: dict[str, pulumi.Output[str]]
    resources: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        config: PlatformConfig,
        provider: k8s.Provider,
        namespaces: dict[str, k8s.core.v1.Namespace],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:secrets:Secrets", name, None, opts)
        self.checksums = {}
        self.resources = []
        self.register_outputs({})
