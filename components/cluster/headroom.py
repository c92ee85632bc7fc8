"""Placeholder pods that keep spare capacity warm on the node pools (sized by planning/headroom.py).

Manages, when any pool has headroom:
- the `platform-headroom` PriorityClass at -10, below every service: services keep Kubernetes'
  default priority 0 (no PriorityClass of their own), so the scheduler preempts placeholders first
  whenever a service pod needs their room; `preemptionPolicy: Never` so a placeholder never evicts
  anything itself. It is not the global default;
- the `platform-headroom` namespace (Pod Security `restricted`, a default-deny NetworkPolicy: the
  placeholders talk to nothing);
- per pool, a Deployment `headroom-<pool>` of pause containers (PAUSE_IMAGE, pinned by tag and digest) that
  request and limit the planned room, pinned to the pool by its GKE name
  (`cloud.google.com/gke-nodepool`) and tolerating its taints (spot, ComputeClass). They carry no
  PodDisruptionBudget, so a drain or an upgrade never waits for them, and no probes: pause has
  nothing to probe.

Deliberately left out: GKE's capacity buffers (a newer ComputeClass field), which would do the same
without pods once the cluster's version supports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import versions
from components.cluster.config import NodePoolConfig
from components.cluster.node_pool import pool_taints
from components.context import Context
from components.kube import restricted_container
from components.planning.headroom import PoolHeadroom

# Kubernetes' own sandbox image, which does nothing, by digest (CKV_K8S_43): the tag's pin and where it was
# verified are in components/versions.py; this digest moves with it.
PAUSE_DIGEST = "sha256:278fb9dbcca9518083ad1e11276933a2e96f23de604a3a08cc3c80002767d24c"
PAUSE_IMAGE = f"registry.k8s.io/pause:{versions.PAUSE_IMAGE}@{PAUSE_DIGEST}"
NAMESPACE = "platform-headroom"
PRIORITY_CLASS = "platform-headroom"
# Below the default 0 that every service runs at.
PRIORITY = -10
# The GKE label carrying a node's pool name.
NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
# Nobody's user: pause needs no identity.
PAUSE_USER = 65535
# The kubelet's log cap, rounded up: pause writes nothing else.
MIN_EPHEMERAL_MIB = 64
_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}


def _quantities(room: PoolHeadroom) -> dict[str, str]:
    each = room.per_pod
    return {
        "cpu": f"{round(each.cpu)}m",
        "memory": f"{round(each.memory)}Mi",
        "ephemeral-storage": f"{max(round(each.disk), MIN_EPHEMERAL_MIB)}Mi",
    }


class Placeholders(pulumi.ComponentResource):
    deployments: dict[str, k8s.apps.v1.Deployment]

    def __init__(
        self,
        name: str,
        plans: Mapping[str, PoolHeadroom],
        pools: Sequence[NodePoolConfig],
        gke_names: Mapping[str, pulumi.Input[str]],
        context: Context,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:cluster:Placeholders", name, None, opts)
        k8s_opts = context.k8s_options(self)
        k8s.scheduling.v1.PriorityClass(
            f"{name}-priority",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=PRIORITY_CLASS, labels=context.labels),
            value=PRIORITY,
            global_default=False,
            preemption_policy="Never",
            description="Headroom placeholders: preempted first by any service pod, never preempting.",
            opts=k8s_opts,
        )
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE, labels=context.namespace_labels(context.environment, "restricted")
            ),
            opts=k8s_opts,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-deny-all",
            metadata=context.object_metadata("default-deny", namespace),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
            ),
            opts=k8s_opts,
        )
        by_name = {pool.name: pool for pool in pools}
        self.deployments = {
            pool: self._deployment(name, room, by_name[pool], gke_names[pool], namespace, context)
            for pool, room in plans.items()
        }
        self.register_outputs({"pools": sorted(self.deployments)})

    def _deployment(
        self,
        name: str,
        room: PoolHeadroom,
        pool: NodePoolConfig,
        gke_name: pulumi.Input[str],
        namespace: k8s.core.v1.Namespace,
        context: Context,
    ) -> k8s.apps.v1.Deployment:
        labels = {
            "app.kubernetes.io/name": "headroom",
            "app.kubernetes.io/instance": f"headroom-{pool.name}",
            "app.kubernetes.io/component": "headroom",
        }
        quantities = _quantities(room)
        container = k8s.core.v1.ContainerArgs(
            name="pause",
            image=PAUSE_IMAGE,
            image_pull_policy="Always",
            resources=k8s.core.v1.ResourceRequirementsArgs(requests=quantities, limits=quantities),
            security_context=restricted_container(PAUSE_USER, PAUSE_USER),
        )
        pod = k8s.core.v1.PodSpecArgs(
            priority_class_name=PRIORITY_CLASS,
            automount_service_account_token=False,
            # Evicted the moment a service needs the room: nothing to shut down.
            termination_grace_period_seconds=0,
            node_selector={NODE_POOL_LABEL: gke_name},
            tolerations=[
                k8s.core.v1.TolerationArgs(key=t.key, operator="Equal", value=t.value, effect=_EFFECTS[t.effect])
                for t in pool_taints(pool)
            ]
            or None,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=PAUSE_USER,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=[container],
        )
        return k8s.apps.v1.Deployment(
            f"{name}-{pool.name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"headroom-{pool.name}",
                namespace=namespace.metadata.name,
                labels={**labels, **context.labels},
                # Placeholders may stay Pending while the autoscaler adds their node: `up` never waits for them.
                annotations={"pulumi.com/skipAwait": "true"},
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=room.pods,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=pod),
            ),
            opts=context.k8s_options(self),
        )
