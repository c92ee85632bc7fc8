"""Small Kubernetes helpers every domain shares: namespace selectors, the edge's peers, content checksums and the
restricted container security context."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi_kubernetes as k8s

# Set by the API server on every namespace (Kubernetes >= 1.22), so it cannot be spoofed by a label edit.
NAME_LABEL = "kubernetes.io/metadata.name"
# Every catalog service's pods (and its migration Job's) carry their service's name here.
SERVICE_NAME_LABEL = "app.kubernetes.io/name"


def restricted_container(uid: int, gid: int, read_only_root_filesystem: bool = True) -> k8s.core.v1.SecurityContextArgs:
    """A container's security context under Pod Security `restricted`: non-root as `uid`/`gid`, no privilege
    escalation, every capability dropped, the runtime's default seccomp profile."""
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=gid,
        allow_privilege_escalation=False,
        read_only_root_filesystem=read_only_root_filesystem,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def namespaces_named(*names: str) -> k8s.meta.v1.LabelSelectorArgs:
    """A selector of exactly the namespaces `names`, by the label the API server sets."""
    return k8s.meta.v1.LabelSelectorArgs(
        match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(key=NAME_LABEL, operator="In", values=sorted(names))
        ]
    )


@dataclass(frozen=True)
class PodPeer:
    """Pods other objects admit by namespace and labels, e.g. an ingress controller's."""

    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    """The ingress data plane: what public traffic arrives from when it reaches a routed service.

    ingress-nginx: its controller pods. A Gateway: its proxies, and on GKE Google's front ends and
    health checkers (35.191.0.0/16, 130.211.0.0/22), which reach pods by IP. Empty: nothing routed
    is reachable, which is what a stack without an ingress data plane means.
    """

    pods: Sequence[PodPeer] = ()
    cidrs: Sequence[str] = ()

    def peers(self) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
        """One NetworkPolicy peer per pod set and per range (namespace AND pod labels in one peer)."""
        return [
            *(
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    namespace_selector=namespaces_named(pod.namespace),
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(pod.labels)),
                )
                for pod in self.pods
            ),
            *(
                k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c))
                for c in self.cidrs
            ),
        ]


def content_checksum(data: Mapping[str, str]) -> str:
    """sha256 (hex) of a Secret's or ConfigMap's data, as canonical JSON so key order never matters."""
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def workload_pool(project: str | None) -> str:
    """The cluster's Workload Identity pool, in which Kubernetes ServiceAccounts become IAM principals."""
    return f"{project}.svc.id.goog"


def workload_identity_member(project: str | None, namespace: str, service_account: str) -> str:
    """The IAM member a Kubernetes ServiceAccount acts as through Workload Identity."""
    return f"serviceAccount:{workload_pool(project)}[{namespace}/{service_account}]"
