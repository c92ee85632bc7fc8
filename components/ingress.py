"""STUB - replaced by the microservice work (issue 5)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.config import PlatformConfig


class Ingresses(pulumi.ComponentResource):
    urls: list[str]

    def __init__(
        self,
        name: str,
        config: PlatformConfig,
        provider: k8s.Provider,
        issuer: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:workloads:Ingresses", name, None, opts)
        self.urls = []
        self.register_outputs({})
