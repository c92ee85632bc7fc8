"""What a stateful service adds to its StatefulSet: a volume claim template per declared volume and a
headless Service that gives each pod a stable DNS name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.context import Context
from components.workloads.config import DEFAULT_STORAGE_CLASS, ServiceConfig, StatefulConfig


def claim_templates(
    stateful: StatefulConfig, context: Context, selector: Mapping[str, str]
) -> list[k8s.core.v1.PersistentVolumeClaimArgs]:
    default_class = DEFAULT_STORAGE_CLASS["gke" if context.creates_cluster else "existing"]
    return [
        k8s.core.v1.PersistentVolumeClaimArgs(
            # Claim templates are immutable: no version label, which changes with every image.
            metadata=k8s.meta.v1.ObjectMetaArgs(name=volume.name, labels={**selector, **context.labels}),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=volume.access_modes,
                # Unset on kind: the cluster's default class provisions it.
                storage_class_name=volume.storage_class or default_class,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": volume.size}),
            ),
        )
        for volume in stateful.volumes
    ]


def build_headless_service(
    name: str,
    svc: ServiceConfig,
    selector: Mapping[str, str],
    metadata: Callable[[str], k8s.meta.v1.ObjectMetaArgs],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Service:
    return k8s.core.v1.Service(
        f"{name}-headless",
        metadata=metadata(svc.headless_service_name),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP",
            cluster_ip="None",
            selector=dict(selector),
            # Peers must resolve each other before they are Ready (a quorum forming).
            publish_not_ready_addresses=True,
            ports=[
                k8s.core.v1.ServicePortArgs(name=p.name, port=p.container_port, target_port=p.name, protocol=p.protocol)
                for p in svc.ports
            ],
        ),
        opts=opts,
    )
