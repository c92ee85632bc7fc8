"""What every cluster add-on shares: its inputs, its namespace and its pinned Helm release.

An add-on installs into the platform's Namespace when its namespace is declared in the catalog,
and otherwise creates its own, labelled like the platform's. Each chart is a `helm.v3.Release`
(Helm keeps the release history, rolls a failed upgrade back and owns the chart's CRDs and hooks),
pinned to one version, on the platform's provider, waiting explicitly for the node pools. Where the
chart is fetched from (upstream, a mirror, an OCI registry or a local copy) is charts.py's `locate`.

Deliberately out of scope: the add-ons' own settings (traffic/ingress_controller.py,
traffic/cert_manager.py, observability/monitoring.py) and any NetworkPolicy of the add-on
namespaces (the charts' components need the API server and, for ingress-nginx, the internet; the
catalog's namespaces get theirs from tenancy/namespaces.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components.charts import ChartSource, Upstream, locate
from components.context import Context

PodSecurity = Literal["restricted", "baseline", "privileged"]

# Helm waits for every Deployment, DaemonSet, Job hook and LoadBalancer address of the release.
RELEASE_TIMEOUT_SECONDS = 600
# Each revision is a Secret in the release namespace; ten are enough to roll back.
RELEASE_MAX_HISTORY = 10


@dataclass(frozen=True)
class AddonArgs:
    # The platform's provider and the node pools every release waits for.
    context: Context
    # The platform's namespace catalog: an add-on whose namespace is declared there installs into it.
    namespaces: Mapping[str, k8s.core.v1.Namespace]
    # The prometheus-operator CRD release when monitoring is on: a chart's ServiceMonitor needs its CRDs.
    monitoring: pulumi.Resource | None = None

    @property
    def monitoring_crds(self) -> list[pulumi.Resource]:
        """What a chart shipping a ServiceMonitor waits for: the CRD release, if there is one."""
        return [self.monitoring] if self.monitoring is not None else []


@dataclass(frozen=True)
class HelmChart:
    release: str
    upstream: Upstream
    version: str
    # Where this stack fetches the chart from: the add-on's `chartSource` (empty: `upstream`).
    source: ChartSource


def addon_namespace(
    parent: pulumi.Resource, name: str, args: AddonArgs, namespace: str, pod_security: PodSecurity
) -> k8s.core.v1.Namespace:
    """The catalog's Namespace named `namespace`, or a new one enforcing `pod_security`."""
    declared = args.namespaces.get(namespace)
    if declared is not None:
        return declared
    context = args.context
    return k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=namespace,
            labels=context.namespace_labels(context.environment, pod_security),
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=context.provider, depends_on=list(context.node_pools)),
    )


def helm_release(
    parent: pulumi.Resource,
    name: str,
    args: AddonArgs,
    chart: HelmChart,
    namespace: k8s.core.v1.Namespace,
    values: Mapping[str, Any],
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.helm.v3.Release:
    """`chart` at its pinned version, released into `namespace` after the node pools and `depends_on`."""
    location = locate(chart.upstream, chart.source)
    return k8s.helm.v3.Release(
        f"{name}-release",
        k8s.helm.v3.ReleaseArgs(
            # An explicit release name keeps the chart's object names stable (no random suffix).
            name=chart.release,
            chart=location.chart,
            version=chart.version,
            # An OCI or local chart has no repository: the provider loads a local one only then.
            repository_opts=(
                k8s.helm.v3.RepositoryOptsArgs(repo=location.repository) if location.repository is not None else None
            ),
            namespace=namespace.metadata.name,
            create_namespace=False,
            # A failed install or upgrade is rolled back rather than left half-applied.
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT_SECONDS,
            max_history=RELEASE_MAX_HISTORY,
            values=values,
        ),
        opts=pulumi.ResourceOptions(
            parent=parent, provider=args.context.provider, depends_on=[*args.context.node_pools, *depends_on]
        ),
    )
