"""A service's Grafana dashboard, as the JSON model Grafana's dashboard sidecar loads from a ConfigMap.

Rows of time series, all read from the platform's Prometheus (the kube-prometheus-stack Grafana's
default datasource, uid `prometheus`): request rate by status, error ratio, latency percentiles
(p50, the objective's percentile, p99), CPU and memory against the pods' requests and limits,
HPA replicas against its bounds, and the error budget left per SLO. Request panels read the
service's SLO metric names, or the common HTTP defaults when it declares no SLO.
"""

from __future__ import annotations

import json
from typing import Any

from components.observability.config import SloMetrics
from components.observability.rules import ServiceFacts

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
PANEL_WIDTH = 12
PANEL_HEIGHT = 8


def _panel(index: int, title: str, unit: str, targets: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {
            "x": (index % 2) * PANEL_WIDTH,
            "y": (index // 2) * PANEL_HEIGHT,
            "w": PANEL_WIDTH,
            "h": PANEL_HEIGHT,
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard_uid(facts: ServiceFacts) -> str:
    # Grafana uids are at most 40 characters; namespace + name keeps them unique across namespaces.
    return f"svc-{facts.namespace}-{facts.name}"[:40]


def panel_queries(facts: ServiceFacts) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(title, unit, [(expr, legend)]) per panel, in order."""
    metrics = facts.slo.metrics if facts.slo is not None else SloMetrics()
    service = f'namespace="{facts.namespace}", service="{facts.name}"'
    pods = facts.pod_selector
    containers = f'{pods}, container!="", container!="POD"'
    percentile = facts.slo.latency.percentile if facts.slo is not None and facts.slo.latency is not None else 95
    quantiles = sorted({50.0, float(percentile), 99.0})
    latency = f"sum by (le) (rate({metrics.duration}_bucket{{{service}}}[5m]))"
    hpa = f'namespace="{facts.namespace}", horizontalpodautoscaler="{facts.name}"'
    panels: list[tuple[str, str, list[tuple[str, str]]]] = [
        (
            "Request rate",
            "reqps",
            [
                (
                    f"sum by ({metrics.status_label}) (rate({metrics.requests}{{{service}}}[5m]))",
                    "{{" + metrics.status_label + "}}",
                )
            ],
        ),
        (
            "Error ratio",
            "percentunit",
            [
                (
                    f'sum(rate({metrics.requests}{{{service}, {metrics.status_label}=~"{metrics.error_status}"}}[5m])) '
                    f"/ sum(rate({metrics.requests}{{{service}}}[5m]))",
                    "errors",
                )
            ],
        ),
        (
            "Latency percentiles",
            "s",
            [(f"histogram_quantile({q / 100:g}, {latency})", f"p{q:g}") for q in quantiles],
        ),
        (
            "CPU against requests and limits",
            "cores",
            [
                (f"sum(rate(container_cpu_usage_seconds_total{{{containers}}}[5m]))", "used"),
                (f'sum(kube_pod_container_resource_requests{{{pods}, resource="cpu"}})', "requested"),
                (f'sum(kube_pod_container_resource_limits{{{pods}, resource="cpu"}})', "limit"),
            ],
        ),
        (
            "Memory against requests and limits",
            "bytes",
            [
                (f"sum(container_memory_working_set_bytes{{{containers}}})", "working set"),
                (f'sum(kube_pod_container_resource_requests{{{pods}, resource="memory"}})', "requested"),
                (f'sum(kube_pod_container_resource_limits{{{pods}, resource="memory"}})', "limit"),
            ],
        ),
        (
            "HPA replicas",
            "short",
            [
                (f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}", "current"),
                (f"kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}}", "desired"),
                (f"kube_horizontalpodautoscaler_spec_min_replicas{{{hpa}}}", "min"),
                (f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}", "max"),
            ],
        ),
        (
            "SLO error budget left",
            "percentunit",
            [(f"slo:error_budget:remaining{{{service}}}", "{{slo}}")],
        ),
    ]
    return panels


def dashboard(facts: ServiceFacts) -> dict[str, Any]:
    return {
        "uid": dashboard_uid(facts),
        "title": f"{facts.name} ({facts.namespace})",
        "tags": ["platform", facts.namespace],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [_panel(i, title, unit, targets) for i, (title, unit, targets) in enumerate(panel_queries(facts))],
    }


def dashboard_json(facts: ServiceFacts) -> str:
    return json.dumps(dashboard(facts), indent=2, sort_keys=True)
