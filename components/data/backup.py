"""Backup for GKE over the namespaces that hold data stores (gke mode).

One `gkebackup.BackupPlan` per cluster backs up the data namespaces' objects, Secrets and volume
data (Persistent Disk snapshots) on the configured cron schedule, and keeps each backup for the
configured number of days (optionally delete-locked). The cluster's Backup for GKE agent add-on is
switched on by the cluster component when this plan exists.

Restoring is a RestorePlan plus a Restore, by hand or with gcloud (docs/data.md): restore
is a deliberate act on a chosen backup, so the program never creates one.

Deliberately left out: an existing cluster (kind has no Backup for GKE; back up with the engines'
own dump tools there) and customer-managed encryption keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from components.context import Context
from components.data.config import BackupConfig


class DataBackup(pulumi.ComponentResource):
    plan: gcp.gkebackup.BackupPlan

    def __init__(
        self,
        name: str,
        backup: BackupConfig,
        context: Context,
        *,
        cluster_id: pulumi.Input[str],
        cluster_name: str,
        region: str,
        namespaces: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:data:DataBackup", name, None, opts)
        self.plan = gcp.gkebackup.BackupPlan(
            f"{name}-plan",
            gcp.gkebackup.BackupPlanArgs(
                project=context.project,
                name=f"{cluster_name}-data",
                location=region,
                cluster=cluster_id,
                description=f"{context.app} data stores, {context.environment}",
                labels={"environment": context.environment, "managed-by": "pulumi"},
                backup_config=gcp.gkebackup.BackupPlanBackupConfigArgs(
                    selected_namespaces=gcp.gkebackup.BackupPlanBackupConfigSelectedNamespacesArgs(
                        namespaces=list(namespaces)
                    ),
                    # The stores' credentials and their volumes: a backup restores a working store.
                    include_secrets=True,
                    include_volume_data=True,
                ),
                backup_schedule=gcp.gkebackup.BackupPlanBackupScheduleArgs(cron_schedule=backup.schedule),
                retention_policy=gcp.gkebackup.BackupPlanRetentionPolicyArgs(
                    backup_retain_days=backup.retention_days,
                    backup_delete_lock_days=backup.delete_lock_days,
                ),
            ),
            # Production backups outlive a mistaken `pulumi destroy`.
            opts=pulumi.ResourceOptions(parent=self, protect=context.is_production),
        )
        self.register_outputs({})
