"""What every component shares, and nothing more: where it runs, how it labels, how it reaches the cluster.

A component takes its own config slice plus this small context; any fact from another domain
(the monitoring namespace, the edge namespace, a release to wait for) comes in as a named input,
so `platform.py` shows every dependency between domains.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

# Pod Security Admission's label prefix.
PSA = "pod-security.kubernetes.io"


@dataclass(frozen=True)
class Context:
    environment: str
    app: str
    # The GCP project; None on an existing cluster, where nothing in GCP is created.
    project: str | None
    # True when the platform creates the GKE cluster (cluster.mode 'gke' or 'autopilot').
    creates_cluster: bool
    # The platform's explicit provider; unset only for the cluster component, which builds it.
    provider: k8s.Provider | None = None
    # The node pools: a component's depends_on does not reach its children, so each child names them.
    node_pools: Sequence[pulumi.Resource] = ()
    # GKE Autopilot: Google runs the nodes and refuses pods that reach into them (hostNetwork, hostPath).
    autopilot: bool = False

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def labels(self) -> dict[str, str]:
        """The labels every object the platform owns carries."""
        return {"app.kubernetes.io/part-of": self.app, "app.kubernetes.io/managed-by": "pulumi"}

    def namespace_labels(self, environment: str, pod_security: str) -> dict[str, str]:
        """A namespace's labels: the platform's, its environment, and Pod Security enforced at `pod_security`
        with audit and warn always at `restricted`, so what a laxer level admits still shows."""
        return {
            "environment": environment,
            **self.labels,
            f"{PSA}/enforce": pod_security,
            f"{PSA}/audit": "restricted",
            f"{PSA}/warn": "restricted",
        }

    def object_metadata(self, name: str, namespace: k8s.core.v1.Namespace) -> k8s.meta.v1.ObjectMetaArgs:
        """Metadata for an object in `namespace`: taking the name from the Namespace resource orders it after it."""
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace.metadata.name, labels=self.labels)

    def on_cluster(self, provider: k8s.Provider, node_pools: Sequence[pulumi.Resource]) -> Context:
        """This context once the cluster exists: its provider and the node pools to wait for."""
        return dataclasses.replace(self, provider=provider, node_pools=tuple(node_pools))

    def k8s_options(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options for a Kubernetes object under `parent`: the platform's provider."""
        return pulumi.ResourceOptions(parent=parent, provider=self.provider)
