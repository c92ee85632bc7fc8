"""A microservice's identity: its Kubernetes ServiceAccount and, on request, Workload Identity.

With `serviceAccount.workloadIdentity`, the service gets its own GCP service account with the
roles it lists, and `roles/iam.workloadIdentityUser` for its Kubernetes ServiceAccount, which
carries the `iam.gke.io/gcp-service-account` annotation. No key is ever created.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.context import Context
from components.kube import workload_identity_member
from components.workloads.config import ServiceConfig

WORKLOAD_IDENTITY_ANNOTATION = "iam.gke.io/gcp-service-account"


def gcp_account_id(service: str) -> str:
    """A GCP service account id (6-30 characters) derived from the service name."""
    if 6 <= len(service) <= 30:
        return service
    digest = hashlib.sha256(service.encode()).hexdigest()[:6]
    return f"{service[:23].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class ServiceIdentity:
    # The component's name, the prefix of every child's name.
    name: str
    svc: ServiceConfig
    context: Context
    namespace: pulumi.Output[str | None]
    labels: Mapping[str, str]


def build_identity(
    parent: pulumi.Resource, identity: ServiceIdentity
) -> tuple[k8s.core.v1.ServiceAccount, gcp.serviceaccount.Account | None]:
    """The service's ServiceAccount, and its GCP service account and binding when Workload Identity is on."""
    gcp_account = _gcp_account(parent, identity)
    annotations = {WORKLOAD_IDENTITY_ANNOTATION: gcp_account.email} if gcp_account is not None else None
    svc = identity.svc
    service_account = k8s.core.v1.ServiceAccount(
        f"{identity.name}-sa",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=svc.service_account_name,
            namespace=identity.namespace,
            labels=dict(identity.labels),
            annotations=annotations,
        ),
        automount_service_account_token=svc.service_account.automount_token,
        opts=pulumi.ResourceOptions(parent=parent, provider=identity.context.provider),
    )
    if gcp_account is not None:
        _bind_workload_identity(parent, identity, gcp_account, service_account)
    return service_account, gcp_account


def _gcp_account(parent: pulumi.Resource, identity: ServiceIdentity) -> gcp.serviceaccount.Account | None:
    workload_identity = identity.svc.service_account.workload_identity
    if workload_identity is None:
        return None
    project = identity.context.project
    account = gcp.serviceaccount.Account(
        f"{identity.name}-gsa",
        account_id=gcp_account_id(identity.svc.name),
        display_name=f"{identity.svc.name} workload ({identity.context.environment})",
        project=project,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for role in workload_identity.roles:
        gcp.projects.IAMMember(
            f"{identity.name}-gsa-{role.removeprefix('roles/')}",
            project=project,
            role=role,
            member=account.member,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return account


def _bind_workload_identity(
    parent: pulumi.Resource,
    identity: ServiceIdentity,
    gcp_account: gcp.serviceaccount.Account,
    service_account: k8s.core.v1.ServiceAccount,
) -> None:
    project = identity.context.project
    member = pulumi.Output.all(identity.namespace, service_account.metadata.apply(lambda meta: meta.name)).apply(
        lambda ns_and_name: workload_identity_member(project, ns_and_name[0], ns_and_name[1])
    )
    gcp.serviceaccount.IAMMember(
        f"{identity.name}-workload-identity",
        service_account_id=gcp_account.name,
        role="roles/iam.workloadIdentityUser",
        member=member,
        # The cluster's identity pool must exist first; the Kubernetes SA is created after the cluster.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[service_account]),
    )
