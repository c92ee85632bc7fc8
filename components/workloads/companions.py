"""A microservice's companions that follow from its config alone: HPA, PDB and NetworkPolicies.

Each builder creates its objects as children of the Microservice component (`Owner.component`) with
the component's own names, so moving them here changed no URN. The HPA and PDB are built once per
track (the stable track, and `<name>-canary` when a canary runs); the NetworkPolicies select the
service by name, so they cover both tracks and the migration Job's pods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kube import SERVICE_NAME_LABEL, Edge, namespaces_named
from components.workloads.config import HpaPolicy, ScalingRules, ServiceConfig


@dataclass(frozen=True)
class Owner:
    """What a companion object needs of its Microservice: parent, names, labels and options."""

    component: pulumi.Resource
    # The component's name, the prefix of every child's resource name.
    name: str
    # "" for the stable track, "-canary" for the canary's objects.
    suffix: str
    svc: ServiceConfig
    object_name: str
    labels: Mapping[str, str]
    selector: Mapping[str, str]
    metadata: Callable[[str, Mapping[str, str] | None], k8s.meta.v1.ObjectMetaArgs]
    opts: pulumi.ResourceOptions


@dataclass(frozen=True)
class PolicyPeers:
    """Who may reach the service, and whom it calls, as the platform wired them."""

    edge: Edge
    # (name, namespace) of each service its allowFrom names.
    callers: Sequence[tuple[str, str]]
    # The services whose allowFrom names it.
    callees: Sequence[ServiceConfig]
    scrape_namespace: str


def build_autoscaler(owner: Owner, monitoring_on: bool) -> None:
    """An autoscaling/v2 HPA for one track, with the service's metrics and behavior."""
    hpa = owner.svc.autoscaling
    if hpa is None:
        return
    metrics = [
        k8s.autoscaling.v2.MetricSpecArgs(
            type="Resource",
            resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                name=resource,
                target=k8s.autoscaling.v2.MetricTargetArgs(type="Utilization", average_utilization=target),
            ),
        )
        for resource, target in (("cpu", hpa.cpu_utilization), ("memory", hpa.memory_utilization))
        if target is not None
    ]
    metrics += [
        k8s.autoscaling.v2.MetricSpecArgs(
            type="Pods",
            pods=k8s.autoscaling.v2.PodsMetricSourceArgs(
                metric=k8s.autoscaling.v2.MetricIdentifierArgs(name=metric.name),
                target=k8s.autoscaling.v2.MetricTargetArgs(type="AverageValue", average_value=metric.average_value),
            ),
        )
        for metric in hpa.pods_metrics
    ]
    if hpa.pods_metrics and not monitoring_on and not owner.suffix:
        # prometheus-adapter (monitoring add-on) serves custom.metrics.k8s.io; without it the HPA
        # sees these metrics as missing and, by design, never scales down.
        names = ", ".join(metric.name for metric in hpa.pods_metrics)
        pulumi.log.warn(
            f"{owner.svc.name}: the HPA's Pods metrics ({names}) need the monitoring add-on's "
            "prometheus-adapter, which is off in this stack; the HPA scales on its resource metrics only "
            "while they are missing and never scales down",
            resource=owner.component,
        )
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{owner.name}{owner.suffix}-hpa",
        metadata=owner.metadata(owner.object_name, owner.labels),
        spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
            # A canary track is always a Deployment (a stateful service takes no canary).
            scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                api_version="apps/v1",
                kind="Deployment" if owner.suffix else owner.svc.kind,
                name=owner.object_name,
            ),
            min_replicas=hpa.min_replicas,
            max_replicas=hpa.max_replicas,
            metrics=metrics,
            behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                scale_up=_scaling_rules(hpa.behavior.scale_up),
                scale_down=_scaling_rules(hpa.behavior.scale_down),
            ),
        ),
        opts=owner.opts,
    )


def build_disruption_budget(owner: Owner) -> None:
    """A policy/v1 PDB for one track, when the service keeps one."""
    budget = owner.svc.pdb()
    if budget is None:
        return
    field_name, value = budget
    k8s.policy.v1.PodDisruptionBudget(
        f"{owner.name}{owner.suffix}-pdb",
        metadata=owner.metadata(owner.object_name, owner.labels),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=owner.selector),
            min_available=value if field_name == "minAvailable" else None,
            max_unavailable=value if field_name == "maxUnavailable" else None,
            # A crash-looping pod must never block a node drain.
            unhealthy_pod_eviction_policy="AlwaysAllow",
        ),
        opts=owner.opts,
    )


def build_network_policies(owner: Owner, peers: PolicyPeers, egress_cidrs: Sequence[tuple[str, int]]) -> None:
    """The service's ingress policy (edge on routed ports, callers, its own quorum, scraping) and, when it
    calls anything, its egress policy to exactly those callees and declared ranges."""
    svc = owner.svc
    net = k8s.networking.v1
    declared = {p.name: p for p in svc.ports}

    def allow(peers: list[net.NetworkPolicyPeerArgs], port_names: Sequence[str]) -> net.NetworkPolicyIngressRuleArgs:
        ports = [
            net.NetworkPolicyPortArgs(port=name, protocol=declared[name].protocol) for name in dict.fromkeys(port_names)
        ]
        return net.NetworkPolicyIngressRuleArgs(from_=peers, ports=ports)

    rules = []
    # An empty `from` would admit everyone: no edge peers, no edge rule.
    edge = peers.edge.peers()
    if svc.routes and edge:
        rules.append(allow(edge, [route.port for route in svc.routes]))
    if peers.callers:
        callers = [_service_peer(caller, namespace) for caller, namespace in peers.callers]
        rules.append(allow(callers, [p.name for p in svc.caller_ports]))
    own_pods = _service_peer(svc.name, svc.namespace)
    if svc.peer_ports:
        # Replication and quorum: the service's own pods reach each other on every port.
        rules.append(allow([own_pods], list(declared)))
    if svc.metrics is not None:
        scrape = net.NetworkPolicyPeerArgs(namespace_selector=namespaces_named(peers.scrape_namespace))
        rules.append(allow([scrape], [svc.metrics.port]))
    net.NetworkPolicy(
        f"{owner.name}-network-policy",
        metadata=owner.metadata(svc.name, None),
        spec=net.NetworkPolicySpecArgs(
            # By name only, so the migration Job's pods are covered too.
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={SERVICE_NAME_LABEL: svc.name}),
            policy_types=["Ingress"],
            ingress=rules,
        ),
        opts=owner.opts,
    )
    # Container ports by number: the callee's ingress rule names the same ports.
    egress = [
        net.NetworkPolicyEgressRuleArgs(
            to=[_service_peer(callee.name, callee.namespace)],
            ports=[net.NetworkPolicyPortArgs(port=p.container_port, protocol=p.protocol) for p in callee.caller_ports],
        )
        for callee in peers.callees
    ]
    if svc.peer_ports:
        egress.append(
            net.NetworkPolicyEgressRuleArgs(
                to=[own_pods],
                ports=[net.NetworkPolicyPortArgs(port=p.container_port, protocol=p.protocol) for p in svc.ports],
            )
        )
    for cidr, port in dict.fromkeys(egress_cidrs):
        egress.append(
            net.NetworkPolicyEgressRuleArgs(
                to=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=cidr))],
                ports=[net.NetworkPolicyPortArgs(port=port, protocol="TCP")],
            )
        )
    if not egress:
        return
    net.NetworkPolicy(
        f"{owner.name}-egress-policy",
        metadata=owner.metadata(f"{svc.name}-egress", None),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={SERVICE_NAME_LABEL: svc.name}),
            policy_types=["Egress"],
            egress=egress,
        ),
        opts=owner.opts,
    )


def _service_peer(name: str, namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """A catalog service's pods: its namespace AND its name label, in one peer."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=namespaces_named(namespace),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={SERVICE_NAME_LABEL: name}),
    )


def _scaling_rules(rules: ScalingRules) -> k8s.autoscaling.v2.HPAScalingRulesArgs:
    return k8s.autoscaling.v2.HPAScalingRulesArgs(
        stabilization_window_seconds=rules.stabilization_window_seconds,
        select_policy=rules.select_policy,
        policies=[_scaling_policy(policy) for policy in rules.policies],
    )


def _scaling_policy(policy: HpaPolicy) -> k8s.autoscaling.v2.HPAScalingPolicyArgs:
    return k8s.autoscaling.v2.HPAScalingPolicyArgs(
        type=policy.type, value=policy.value, period_seconds=policy.period_seconds
    )
