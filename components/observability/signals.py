"""What each service gets from observability: its PrometheusRule and its Grafana dashboard.

Per service: a `monitoring.coreos.com/v1` PrometheusRule `<service>-rules` in the service's own
namespace (basic health alerts always, SLO recording rules and burn-rate alerts when `slo` is set;
rules.py), which the platform's Prometheus selects in every namespace; and a ConfigMap
`dashboard-<namespace>-<service>` in the monitoring namespace labelled `grafana_dashboard: "1"`,
which kube-prometheus-stack's Grafana sidecar loads (dashboards.py).

Deliberately left out: the ServiceMonitor, which the microservice component owns beside its Service,
and alert routing (alerting.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.context import Context
from components.observability.config import duration_seconds
from components.observability.dashboards import dashboard_json
from components.observability.rules import ServiceFacts, objectives, rule_spec

# The label and value kube-prometheus-stack's Grafana sidecar watches for (monitoring.py sets them).
DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_LABEL_VALUE = "1"


def dashboard_config_map_name(facts: ServiceFacts) -> str:
    return f"dashboard-{facts.namespace}-{facts.name}"[:253]


class ServiceSignals(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        services: Sequence[ServiceFacts],
        context: Context,
        *,
        namespaces: Mapping[str, k8s.core.v1.Namespace],
        monitoring_namespace: k8s.core.v1.Namespace,
        retention: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:observability:ServiceSignals", name, None, opts)
        # The PrometheusRule CRD arrives with the monitoring release.
        options = pulumi.ResourceOptions(parent=self, provider=context.provider, depends_on=list(depends_on))
        for facts in services:
            self._warn_beyond_retention(facts, retention)
            k8s.apiextensions.CustomResource(
                f"{name}-{facts.name}-rules",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=context.object_metadata(f"{facts.name}-rules", namespaces[facts.namespace]),
                spec=rule_spec(facts),
                opts=options,
            )
            k8s.core.v1.ConfigMap(
                f"{name}-{facts.name}-dashboard",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=dashboard_config_map_name(facts),
                    namespace=monitoring_namespace.metadata.name,
                    labels={**context.labels, DASHBOARD_LABEL: DASHBOARD_LABEL_VALUE},
                ),
                data={f"{facts.namespace}-{facts.name}.json": dashboard_json(facts)},
                opts=options,
            )
        self.register_outputs({})

    def _warn_beyond_retention(self, facts: ServiceFacts, retention: str) -> None:
        """An objective's window longer than Prometheus keeps data is measured over the data kept."""
        for objective in objectives(facts):
            if duration_seconds(objective.window) > duration_seconds(retention):
                pulumi.log.warn(
                    f"{facts.name}: the {objective.name} SLO's window ({objective.window}) is longer than "
                    f"Prometheus's retention ({retention}); its error budget is computed over the {retention} "
                    "kept; raise addons.monitoring.retention to cover it",
                    resource=self,
                )
