"""STUB - replaced by the cluster work (issue 3). Contract:

Cluster(name, config, opts) -> .provider (kubernetes Provider), .ready (resources that Kubernetes
objects must wait for: the node pools), .outputs (stack outputs dict).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import PlatformConfig


class Cluster(pulumi.ComponentResource):
    provider: k8s.Provider
    ready: list[pulumi.Resource]
    outputs: dict[str, Any]

    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:Cluster", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(kubeconfig=config.cluster.kubeconfig, context=config.cluster.context),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready = []
        self.outputs = {}
        self.register_outputs({})
