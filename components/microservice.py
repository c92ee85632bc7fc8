"""STUB - replaced by the microservice work (issue 5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.config import PlatformConfig, ServiceConfig


@dataclass(frozen=True)
class MicroserviceArgs:
    service: ServiceConfig
    platform: PlatformConfig
    provider: k8s.Provider
    namespace: k8s.core.v1.Namespace
    # "secret/<name>" and "configmap/<name>" -> checksum of the content, for pod-template annotations.
    checksums: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    monitoring: pulumi.Resource | None = None
    depends_on: Sequence[pulumi.Resource] = ()


class Microservice(pulumi.ComponentResource):
    def __init__(self, name: str, args: MicroserviceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:workloads:Microservice", name, None, opts)
        self.register_outputs({})
