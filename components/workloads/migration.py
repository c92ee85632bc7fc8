"""A service's migration Job: run with the service's image, env and secrets before its workload rolls.

Named `<svc>-migrate-<tag>`, so a new image tag replaces it (and the Deployment, which depends on
it, rolls only after it completes; the provider awaits Job completion). Any other change to its spec
also replaces it rather than patching a finished Job that the TTL controller may already have
deleted. After the TTL removes it, `pulumi refresh` drops it from the state and the next `up` runs it
again for the same tag: migrations must be idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.workloads.config import ServiceConfig
from components.workloads.metadata import ServiceMetadata
from components.workloads.pod import PodParts, to_dns_label

# Margin over a migration's own deadline, so the Job, not the provider's wait, decides that it failed.
JOB_AWAIT_MARGIN_SECONDS = 60


def migration_job_name(svc: ServiceConfig) -> str:
    return to_dns_label(f"{svc.name}-migrate-{svc.image_tag}")


@dataclass(frozen=True)
class Migrated:
    """The service whose migration runs, and what its Job shares with the service's pods."""

    # The Microservice's resource name (the Job is `<name>-migrate`).
    name: str
    svc: ServiceConfig
    meta: ServiceMetadata
    pod: PodParts
    environment: str
    # What the service waits for (its Secrets, ConfigMaps and stores): the Job reads the same.
    depends_on: Sequence[pulumi.Resource]


def build_migration(
    migrated: Migrated,
    service_account: k8s.core.v1.ServiceAccount,
    config_map: k8s.core.v1.ConfigMap | None,
    k8s_opts: pulumi.ResourceOptions,
) -> k8s.batch.v1.Job:
    """The Job, on the service's provider and parent (`k8s_opts`)."""
    svc, migration, meta, parts = migrated.svc, migrated.svc.migration, migrated.meta, migrated.pod
    assert migration is not None
    job_name = migration_job_name(svc)
    await_seconds = migration.active_deadline_seconds + JOB_AWAIT_MARGIN_SECONDS
    # Its own instance label keeps migration pods out of the Service and the PDB.
    labels = meta.with_version(meta.labels_for(job_name, "migration"))
    container = k8s.core.v1.ContainerArgs(
        name="migrate",
        image=svc.image,
        image_pull_policy=svc.pull_policy(migrated.environment),
        command=migration.command,
        env=parts.env(),
        env_from=parts.env_from(config_map),
        volume_mounts=parts.volume_mounts(),
        resources=parts.resources(),
        security_context=parts.container_security(),
    )
    # No spot toleration: a preemption half-way through a migration is worse than waiting for a node.
    pod = k8s.core.v1.PodSpecArgs(
        restart_policy="Never",
        service_account_name=service_account.metadata.apply(lambda m: m.name),
        automount_service_account_token=svc.service_account.automount_token,
        security_context=parts.pod_security(),
        containers=[container],
        volumes=parts.volumes(),
    )
    return k8s.batch.v1.Job(
        f"{migrated.name}-migrate",
        metadata=meta.workload(job_name, labels),
        spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=migration.backoff_limit,
            ttl_seconds_after_finished=migration.ttl_seconds_after_finished,
            active_deadline_seconds=migration.active_deadline_seconds,
            template=k8s.core.v1.PodTemplateSpecArgs(metadata=meta.pod(labels), spec=pod),
        ),
        opts=pulumi.ResourceOptions.merge(
            k8s_opts,
            pulumi.ResourceOptions(
                depends_on=list(migrated.depends_on),
                # A finished Job is never patched (the TTL controller may have removed it): it is run anew.
                replace_on_changes=["spec"],
                delete_before_replace=True,
                # The provider awaits completion for 10 minutes by default; allow the Job its whole deadline.
                custom_timeouts=pulumi.CustomTimeouts(create=f"{await_seconds}s", update=f"{await_seconds}s"),
            ),
        ),
    )
