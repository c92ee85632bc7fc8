"""GKE custom ComputeClasses declared from the node-pool config: Spot first, on-demand when Spot runs out.

Manages one `cloud.google.com/v1` ComputeClass per `nodePools[].computeClass` name
(https://cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass; GKE 1.30.3-gke.1451000
and later, Standard and Autopilot, installed in every eligible cluster):
- `priorities`: the class's spot pools first, then its on-demand pools, each a `nodepools` rule. The
  pools in one rule have no order among themselves; the rules are tried in order, so a scale-up takes
  Spot nodes while GKE has them and on-demand nodes when it does not;
- `activeMigration.optimizeRulePriority: true`: once Spot capacity returns, GKE replaces the on-demand
  nodes with Spot ones and moves the pods back (respecting PodDisruptionBudgets);
- `nodePoolAutoCreation.enabled: false`: only the declared pools, which carry the class's label and
  taint (node_pool.py), are scaled;
- `whenUnsatisfiable: DoNotScaleUp`, stated because GKE's default changed in 1.33: when every pool of
  the class is at its maximum, pods wait Pending rather than landing on a default E2 node the
  platform did not declare (and the capacity check refuses a stack whose maximum does not fit).

Pods select a class with `nodeSelector: cloud.google.com/compute-class: <name>` (pod.py).

Deliberately left out: node pool auto-creation, machine-family rules and capacity buffers; a class
is only as large as its pools' maxNodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.config import NodePoolConfig

API_VERSION = "cloud.google.com/v1"
KIND = "ComputeClass"
WHEN_UNSATISFIABLE = "DoNotScaleUp"


def compute_class_spec(
    spot_pools: Sequence[pulumi.Input[str]], on_demand_pools: Sequence[pulumi.Input[str]]
) -> dict[str, object]:
    """The spec of a fallback class over these pools' GKE names."""
    return {
        "priorities": [{"nodepools": list(spot_pools)}, {"nodepools": list(on_demand_pools)}],
        "activeMigration": {"optimizeRulePriority": True},
        "nodePoolAutoCreation": {"enabled": False},
        "whenUnsatisfiable": WHEN_UNSATISFIABLE,
    }


class ComputeClasses(pulumi.ComponentResource):
    """One ComputeClass per class name in `classes`; `pool_names` maps a pool's config name to its GKE name."""

    objects: dict[str, k8s.apiextensions.CustomResource]

    def __init__(
        self,
        name: str,
        classes: dict[str, list[NodePoolConfig]],
        pool_names: Mapping[str, pulumi.Input[str]],
        labels: dict[str, str],
        provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:cluster:ComputeClasses", name, None, opts)
        self.objects = {}
        for class_name, pools in classes.items():
            spec = compute_class_spec(
                [pool_names[p.name] for p in pools if p.spot], [pool_names[p.name] for p in pools if not p.spot]
            )
            self.objects[class_name] = k8s.apiextensions.CustomResource(
                f"{name}-{class_name}",
                api_version=API_VERSION,
                kind=KIND,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=class_name, labels=labels),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
        self.register_outputs({"classes": sorted(self.objects)})
