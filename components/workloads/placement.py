"""Where a microservice's pods run: node selector, tolerations, affinity and topology spread.

`Placement` turns one `ServiceConfig`'s `placement`, `nodeSelector` and `spread` into the scheduling
fields of its pod template:
- `regular`: no toleration, so the spot pools' NoSchedule taint keeps the pods on on-demand nodes;
- `spot`: the spot toleration and a required affinity for spot nodes;
- `prefer-spot`: the spot toleration and a preferred affinity for spot nodes (on-demand when there
  is room there and none on Spot; the cluster autoscaler does not know the preference);
- `spot-fallback` (gke mode): `nodeSelector: cloud.google.com/compute-class: <class>`, the GKE way of
  selecting a ComputeClass (https://cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes),
  which scales the class's spot pools first and its on-demand pools when Spot is out. The pods
  tolerate the class's taint and the spot taint themselves (GKE adds the first at admission; stating
  both keeps the pod valid on any scheduler) and carry no spot selector or affinity, which GKE
  rejects beside a ComputeClass.

On an existing cluster (`cluster.mode: existing`) the platform knows no node pools, so `spot` relaxes
to `prefer-spot`: pods tolerate and prefer spot nodes but still schedule on a cluster that has none.
`spot-fallback` relaxes the same way unless the stack's `nodePools` describe that cluster's pools with a
`computeClass`, in which case the class is declared there too (cluster.py) and selected.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi_kubernetes as k8s

from components.cluster.config import COMPUTE_CLASS_KEY
from components.workloads.config import ServiceConfig

SPOT_LABEL = "cloud.google.com/gke-spot"


class Placement:
    """The scheduling fields of one service's pods; `selector` is the labels its replicas share."""

    def __init__(self, svc: ServiceConfig, selector: Mapping[str, str], creates_cluster: bool) -> None:
        self._svc = svc
        self._selector = dict(selector)
        self._creates_cluster = creates_cluster

    def mode(self) -> str:
        # On an existing cluster the platform knows no pools: insisting on spot could leave pods Pending. A
        # spot-fallback service keeps its class only where the stack declares one (root.py `placed`).
        if self._svc.placement == "spot" and not self._creates_cluster:
            return "prefer-spot"
        if self._svc.placement == "spot-fallback" and self._svc.compute_class is None:
            return "prefer-spot"
        return self._svc.placement

    def node_selector(self) -> dict[str, str] | None:
        selector = dict(self._svc.node_selector)
        if self.mode() == "spot-fallback":
            assert self._svc.compute_class is not None  # see mode()
            selector[COMPUTE_CLASS_KEY] = self._svc.compute_class
        return selector or None

    def tolerations(self) -> list[k8s.core.v1.TolerationArgs] | None:
        mode = self.mode()
        if mode == "regular":
            return None  # the spot pools' NoSchedule taint keeps regular services off them
        spot = k8s.core.v1.TolerationArgs(key=SPOT_LABEL, operator="Equal", value="true", effect="NoSchedule")
        if mode != "spot-fallback":
            return [spot]
        own_class = k8s.core.v1.TolerationArgs(
            key=COMPUTE_CLASS_KEY, operator="Equal", value=self._svc.compute_class, effect="NoSchedule"
        )
        return [own_class, spot]

    def affinity(self) -> k8s.core.v1.AffinityArgs | None:
        on_spot = k8s.core.v1.NodeSelectorTermArgs(
            match_expressions=[k8s.core.v1.NodeSelectorRequirementArgs(key=SPOT_LABEL, operator="In", values=["true"])]
        )
        node_affinity = None
        if self.mode() == "spot":
            node_affinity = k8s.core.v1.NodeAffinityArgs(
                required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                    node_selector_terms=[on_spot]
                )
            )
        elif self.mode() == "prefer-spot":
            node_affinity = k8s.core.v1.NodeAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    k8s.core.v1.PreferredSchedulingTermArgs(weight=100, preference=on_spot)
                ]
            )
        pod_anti_affinity = None
        if self._svc.spread.mode == "anti-affinity":
            pod_anti_affinity = k8s.core.v1.PodAntiAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    k8s.core.v1.WeightedPodAffinityTermArgs(
                        weight=100,
                        pod_affinity_term=k8s.core.v1.PodAffinityTermArgs(
                            topology_key="kubernetes.io/hostname",
                            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                        ),
                    )
                ]
            )
        if node_affinity is None and pod_anti_affinity is None:
            return None
        return k8s.core.v1.AffinityArgs(node_affinity=node_affinity, pod_anti_affinity=pod_anti_affinity)

    def spread(self) -> list[k8s.core.v1.TopologySpreadConstraintArgs] | None:
        if self._svc.spread.mode != "topology":
            return None
        # ScheduleAnyway: spreading is a preference; it must never leave a replica Pending.
        return [
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=self._svc.spread.max_skew,
                topology_key=key,
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
            )
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]
