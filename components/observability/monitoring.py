"""The monitoring stack: kube-prometheus-stack, prometheus-adapter, Grafana's admin password, log retention.

The prometheus-operator CRDs come first, from their own pinned `prometheus-operator-crds` release,
so ServiceMonitors and the charts shipping them wait only for that. Then kube-prometheus-stack
(Prometheus Operator with its own CRD copy switched off, Prometheus, Alertmanager, Grafana,
kube-state-metrics, node-exporter) runs pinned in the monitoring namespace, which enforces the
`privileged` Pod Security level because node-exporter needs hostNetwork, hostPID and hostPath.
Prometheus keeps metrics for `retention` on a `storageSize` volume and selects every
ServiceMonitor, PodMonitor, Probe and PrometheusRule in the cluster, not only the chart's own, so
the services' ServiceMonitors are scraped. prometheus-adapter (pinned, after the stack) reads that
Prometheus and serves the services' custom Pods metrics to their HPAs. Grafana's admin password is a `RandomPassword` kept in a
Kubernetes Secret that the chart references (`grafana.admin.existingSecret`); it never appears
in the Helm values. On GKE, logs go to Cloud Logging: the project's `_Default` log bucket keeps
them for `logRetention` (seed 004: 30 days), and the control-plane scrapes GKE does not expose
are off.

Grafana's dashboard sidecar loads every ConfigMap labelled `grafana_dashboard: "1"` in any
namespace (the per-service dashboards of signals.py, the catalog's labelled maps); with receivers
configured, Alertmanager takes the platform's AlertmanagerConfig (alerting.py) as its configuration.
This is the cluster's one Prometheus: GKE's managed collection is off (cluster/cluster.py).

Deliberately out of scope: Grafana's exposure (port-forward, or an Ingress in the catalog),
Loki and Tempo, and log buckets other than `_Default`. Removing this from
the program leaves `_Default` at its last retention (its config is only dropped from the state).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_random

from components.charts import KUBE_PROMETHEUS_STACK, PROMETHEUS_ADAPTER, PROMETHEUS_OPERATOR_CRDS
from components.helm import AddonArgs, HelmChart, addon_namespace, helm_release
from components.observability.alerting import ALERTMANAGER_CONFIG_NAME
from components.observability.config import MonitoringConfig
from components.observability.signals import DASHBOARD_LABEL, DASHBOARD_LABEL_VALUE

RELEASE = "kube-prometheus-stack"
# The prometheus-operator CRDs as their own small release, so what needs only the CRDs (every
# ServiceMonitor, the charts that ship one) waits ~20 s for them rather than ~4 min for the stack.
CRDS_RELEASE = "prometheus-operator-crds"
ADAPTER_RELEASE = "prometheus-adapter"
# The chart names Prometheus's Service `<release>-prometheus` when the release is named after the chart.
PROMETHEUS_SERVICE = f"{RELEASE}-prometheus"
PROMETHEUS_PORT = 9090
# GKE's private control plane reaches nodes only on 443 and 10250; the aggregated API must listen there.
ADAPTER_LISTEN_PORT = 10250
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"
GRAFANA_PASSWORD_LENGTH = 32


class Monitoring(pulumi.ComponentResource):
    crds: k8s.helm.v3.Release
    release: k8s.helm.v3.Release
    adapter: k8s.helm.v3.Release
    namespace: k8s.core.v1.Namespace

    def __init__(
        self, name: str, monitoring: MonitoringConfig, args: AddonArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:addons:Monitoring", name, None, opts)
        context = args.context
        namespace = addon_namespace(self, name, args, monitoring.namespace, "privileged")
        self.namespace = namespace
        grafana_admin = self._grafana_admin(name, args, namespace)
        self.crds = helm_release(
            self,
            f"{name}-crds",
            args,
            HelmChart(
                CRDS_RELEASE, PROMETHEUS_OPERATOR_CRDS, monitoring.crds_chart_version, monitoring.crds_chart_source
            ),
            namespace,
            {},
        )
        self.release = helm_release(
            self,
            name,
            args,
            HelmChart(RELEASE, KUBE_PROMETHEUS_STACK, monitoring.chart_version, monitoring.chart_source),
            namespace,
            _values(monitoring, context.creates_cluster, context.autopilot),
            depends_on=[grafana_admin, self.crds],
        )
        self.adapter = helm_release(
            self,
            f"{name}-adapter",
            args,
            HelmChart(
                ADAPTER_RELEASE, PROMETHEUS_ADAPTER, monitoring.adapter_chart_version, monitoring.adapter_chart_source
            ),
            namespace,
            _adapter_values(monitoring, context.is_production),
            depends_on=[self.release],
        )
        if context.creates_cluster:
            self._retain_logs(name, monitoring, context.project)
        self.register_outputs({"grafanaAdminSecret": GRAFANA_ADMIN_SECRET})

    def _grafana_admin(self, name: str, args: AddonArgs, namespace: k8s.core.v1.Namespace) -> k8s.core.v1.Secret:
        password = pulumi_random.RandomPassword(
            f"{name}-grafana-password",
            length=GRAFANA_PASSWORD_LENGTH,
            # Letters and digits only: easy to paste into a login form, still ~190 bits.
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=GRAFANA_ADMIN_SECRET,
                namespace=namespace.metadata.name,
                labels=args.context.labels,
            ),
            type="Opaque",
            string_data=pulumi.Output.secret({"admin-user": GRAFANA_ADMIN_USER, "admin-password": password.result}),
            opts=pulumi.ResourceOptions(parent=self, provider=args.context.provider),
        )

    def _retain_logs(
        self, name: str, monitoring: MonitoringConfig, project: str | None
    ) -> gcp.logging.ProjectBucketConfig:
        days = monitoring.log_retention_days
        assert days is not None  # validated on load
        return gcp.logging.ProjectBucketConfig(
            f"{name}-log-retention",
            project=project,
            location="global",
            # The bucket every project log lands in by default, the cluster's included.
            bucket_id="_Default",
            retention_days=days,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _adapter_values(monitoring: MonitoringConfig, production: bool) -> dict[str, Any]:
    """prometheus-adapter: the chart's default rules expose every per-pod series, counters as
    `<name>_per_second` rates (seed 001's http_requests_per_second) and gauges as they are
    (seed 003's projection_lag_events). It serves custom.metrics.k8s.io only, never
    metrics.k8s.io, which stays GKE's metrics-server."""
    replicas = 2 if production else 1
    return {
        "prometheus": {
            "url": f"http://{PROMETHEUS_SERVICE}.{monitoring.namespace}.svc",
            "port": PROMETHEUS_PORT,
        },
        "rules": {"default": True},
        "listenPort": ADAPTER_LISTEN_PORT,
        "replicas": replicas,
        "podDisruptionBudget": {"enabled": replicas > 1, "maxUnavailable": 1},
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    }


def _values(monitoring: MonitoringConfig, creates_cluster: bool, autopilot: bool = False) -> dict[str, Any]:
    values: dict[str, Any] = {
        # The CRDs come from their own release (CRDS_RELEASE), installed first.
        "crds": {"enabled": False},
        "grafana": {
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            # The per-service dashboards (signals.py) and the catalog's labelled ConfigMaps, in any namespace.
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL,
                    "labelValue": DASHBOARD_LABEL_VALUE,
                    "searchNamespace": "ALL",
                }
            },
        },
        "prometheus": {
            "prometheusSpec": {
                "retention": monitoring.retention,
                # Select every monitor and rule in the cluster, not only those labelled for this release.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": monitoring.storage_size}},
                        }
                    }
                },
            }
        },
    }
    if monitoring.alerting.receivers:
        # The platform's AlertmanagerConfig is Alertmanager's whole configuration: it routes every namespace's alerts.
        values["alertmanager"] = {"alertmanagerSpec": {"alertmanagerConfiguration": {"name": ALERTMANAGER_CONFIG_NAME}}}
    if creates_cluster:
        # GKE manages the control plane and Dataplane V2 replaces kube-proxy: nothing there to scrape.
        for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
            values[component] = {"enabled": False}
    if autopilot:
        # Autopilot refuses node-exporter's hostNetwork, hostPID and hostPath; node metrics come from the
        # kubelet and cAdvisor, which the stack still scrapes.
        values["nodeExporter"] = {"enabled": False}
    return values
