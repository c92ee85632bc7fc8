"""How a service's objects are named and labelled: the platform's labels, the version label where the
image is, and the team's own labels and annotations on the workload and its pods (never selectors).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.workloads.config import ServiceConfig


def version_label(tag: str) -> str:
    """An image tag as a label value: at most 63 characters, starting and ending alphanumeric."""
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", tag[:63])


@dataclass(frozen=True)
class ServiceMetadata:
    svc: ServiceConfig
    namespace: pulumi.Output[str | None]
    # The platform's labels every object carries (environment, app, managed-by).
    platform_labels: Mapping[str, str]

    def labels_for(self, instance: str, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": self.svc.name,
            "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/component": component,
            **self.platform_labels,
        }

    def with_version(self, labels: Mapping[str, str]) -> dict[str, str]:
        return {**labels, "app.kubernetes.io/version": version_label(self.svc.image_tag)}

    def metadata(self, name: str, labels: Mapping[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        """An object's metadata with the service's labels (unless given), without the team's."""
        return k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=self.namespace, labels=labels or self.labels_for(self.svc.name, "service")
        )

    def _team_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """`labels` with the team's own (`services[].labels`) first: never in a selector, and no key the
        platform sets (refused on load), so the platform's values stand."""
        return {**self.svc.labels, **labels}

    def workload(self, name: str, labels: Mapping[str, str]) -> k8s.meta.v1.ObjectMetaArgs:
        """A workload's metadata (Deployment, StatefulSet, migration Job): the team's labels and annotations too."""
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self.namespace,
            labels=self._team_labels(labels),
            annotations=dict(self.svc.annotations) or None,
        )

    def pod(
        self, labels: Mapping[str, str], annotations: Mapping[str, pulumi.Input[str]] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        """A pod template's metadata: the team's labels and annotations beside the platform's (checksums)."""
        if self.svc.annotations:
            annotations = {**self.svc.annotations, **(annotations or {})}
        return k8s.meta.v1.ObjectMetaArgs(labels=self._team_labels(labels), annotations=annotations)
