"""The nodes: their least-privilege identity and the GKE node pools declared in config.

Manages:
- `NodeServiceAccount`: a dedicated service account for every node, bound to only the roles a node
  needs (write logs and metrics, read monitoring config, write resource metadata, pull images from
  Artifact Registry); never the default compute service account, which has Editor on the project;
- `NodePool`: one `gcp.container.NodePool` per `nodePools` entry, autoscaled per zone, auto-repaired
  and auto-upgraded by surge (one extra node, none taken away), on shielded COS_CONTAINERD nodes
  that expose only the GKE metadata server. Spot pools carry the `cloud.google.com/gke-spot` taint;
  a pool with `computeClass` carries that ComputeClass's label and taint, so it runs only the class's pods.

Pool names are generated from the pool's `name` as a prefix, so a change that forces a replacement
creates the new pool before the old one is drained and deleted. With pulumi-gcp 10 these replace a
pool: its `name`, `spot`, the node service account or scopes, the shielded-instance settings, the
cluster or its location. These update the pool in place (GKE rolls the nodes by surge where it must):
machine type, disk size and type, image type, labels, taints, autoscaling bounds, location policy,
`nodeLocations` and the kubelet read-only port. Every pool, and the short-lived default pool, has
that port (10255, unauthenticated) closed unless its config opens it.

Deliberately left out: GPUs, local SSDs, sandboxing, node auto-provisioning and blue-green
upgrades; sizes are checked against the workloads by the capacity check, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.cluster.config import COMPUTE_CLASS_KEY, NodePoolConfig, Taint

# cloud-platform with least-privilege IAM is Google's recommendation; scopes no longer restrict anything useful.
NODE_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
IMAGE_TYPE = "COS_CONTAINERD"
# Pods see the GKE metadata server (Workload Identity), never the node's own credentials.
WORKLOAD_METADATA_MODE = "GKE_METADATA"
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
# GKE's kubelet settings take the strings TRUE / FALSE, not booleans.
KUBELET_READ_ONLY_PORT = {True: "TRUE", False: "FALSE"}
# Added to every spot pool so only pods that tolerate preemption land there.
SPOT_TAINT = Taint.model_validate({"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"})


def pool_taints(pool: NodePoolConfig) -> list[Taint]:
    """The pool's taints from config, plus the spot taint for a spot pool and its ComputeClass's taint.

    A manually created pool serves a ComputeClass only with the class's node label and NoSchedule taint
    (https://cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes, "Configure
    manually-created node pools for ComputeClass use")."""
    taints = [*pool.taints, SPOT_TAINT] if pool.spot else list(pool.taints)
    if pool.compute_class is not None:
        taints.append(
            Taint.model_validate({"key": COMPUTE_CLASS_KEY, "value": pool.compute_class, "effect": "NO_SCHEDULE"})
        )
    return taints


def pool_labels(pool: NodePoolConfig) -> dict[str, str]:
    """The pool's node labels from config, plus its ComputeClass's label (see `pool_taints`)."""
    if pool.compute_class is None:
        return dict(pool.labels)
    return {**pool.labels, COMPUTE_CLASS_KEY: pool.compute_class}


def default_pool_node_config(service_account: pulumi.Input[str]) -> gcp.container.ClusterNodeConfigArgs:
    """Node settings for the pool GKE creates with the cluster and the platform deletes at once.

    It still boots nodes, so it gets the node identity and hardening too: the default compute
    service account may not exist (or must not be used) in the project.
    """
    return gcp.container.ClusterNodeConfigArgs(
        service_account=service_account,
        oauth_scopes=NODE_SCOPES,
        image_type=IMAGE_TYPE,
        shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(mode=WORKLOAD_METADATA_MODE),
        kubelet_config=gcp.container.ClusterNodeConfigKubeletConfigArgs(
            insecure_kubelet_readonly_port_enabled=KUBELET_READ_ONLY_PORT[False]
        ),
    )


class NodeServiceAccount(pulumi.ComponentResource):
    account: gcp.serviceaccount.Account
    bindings: list[gcp.projects.IAMMember]

    def __init__(self, name: str, cluster_name: str, project: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:nodes:NodeServiceAccount", name, None, opts)
        # Account ids are 6-30 characters; "-nodes" keeps it recognisable in IAM listings.
        account_id = f"{cluster_name[:24].rstrip('-')}-nodes"
        self.account = gcp.serviceaccount.Account(
            f"{name}-account",
            gcp.serviceaccount.AccountArgs(
                project=project,
                account_id=account_id,
                display_name=f"GKE nodes of {cluster_name}",
                description="Least-privilege identity of the cluster's nodes (logs, metrics, image pulls).",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bindings = [
            gcp.projects.IAMMember(
                f"{name}-{role.removeprefix('roles/').replace('.', '-').lower()}",
                gcp.projects.IAMMemberArgs(project=project, role=role, member=self.account.member),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for role in NODE_ROLES
        ]
        self.register_outputs({"email": self.account.email})


@dataclass(frozen=True)
class NodePoolArgs:
    pool: NodePoolConfig
    project: str
    location: str
    cluster: pulumi.Input[str]
    service_account: pulumi.Input[str]
    # Nodes need their IAM roles and the NAT before they boot, or image pulls fail.
    depends_on: Sequence[pulumi.Resource] = ()


class NodePool(pulumi.ComponentResource):
    node_pool: gcp.container.NodePool

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:nodes:NodePool", name, None, opts)
        pool = args.pool
        self.node_pool = gcp.container.NodePool(
            f"{name}-pool",
            gcp.container.NodePoolArgs(
                project=args.project,
                location=args.location,
                cluster=args.cluster,
                # A generated suffix keeps names unique, so a replacement is created before the old pool goes.
                name_prefix=f"{pool.name}-",
                node_locations=pool.node_locations or None,
                initial_node_count=pool.min_nodes,
                autoscaling=gcp.container.NodePoolAutoscalingArgs(
                    min_node_count=pool.min_nodes,
                    max_node_count=pool.max_nodes,
                    location_policy=pool.effective_location_policy,
                ),
                management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
                upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(
                    strategy="SURGE", max_surge=1, max_unavailable=0
                ),
                node_config=gcp.container.NodePoolNodeConfigArgs(
                    spot=pool.spot,
                    machine_type=pool.machine_type,
                    disk_size_gb=pool.disk_size_gb,
                    disk_type=pool.disk_type,
                    image_type=IMAGE_TYPE,
                    labels=pool_labels(pool),
                    taints=[
                        gcp.container.NodePoolNodeConfigTaintArgs(key=t.key, value=t.value, effect=t.effect)
                        for t in pool_taints(pool)
                    ],
                    service_account=args.service_account,
                    oauth_scopes=NODE_SCOPES,
                    shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                        enable_secure_boot=True, enable_integrity_monitoring=True
                    ),
                    workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                        mode=WORKLOAD_METADATA_MODE
                    ),
                    kubelet_config=gcp.container.NodePoolNodeConfigKubeletConfigArgs(
                        insecure_kubelet_readonly_port_enabled=KUBELET_READ_ONLY_PORT[pool.kubelet_read_only_port]
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.depends_on),
                # The autoscaler owns the size; a later minNodes change must not replace the pool.
                ignore_changes=["initialNodeCount"],
            ),
        )
        self.register_outputs({"name": self.node_pool.name})
