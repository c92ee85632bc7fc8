"""A service's Prometheus rules: SLO recording rules, multi-window multi-burn-rate alerts, basic health.

Pure functions from a service's facts to the `spec` of a `monitoring.coreos.com/v1` PrometheusRule,
so tests can parse every expression. Series are selected by `namespace` and `service`, the labels the
Prometheus Operator puts on every target a ServiceMonitor scrapes (the Service's name is the
service's name).

SLO alerts follow Google's SRE workbook ("Alerting on SLOs", multiwindow multi-burn-rate): an alert
fires while the error ratio over BOTH a long and a short window exceeds `burn rate x (1 - target)`;
the short window makes it stop soon after the burn stops. By default 14.4x over 1h & 5m and 6x over
6h & 30m page, 3x over 1d & 2h and 1x over 3d & 6h open a ticket, for a 30-day objective; a shorter
or longer objective window scales every alert window by the same factor (rounded to whole minutes,
at least one), so each alert still means "this much of the budget is gone".

Basic rules, from kube-state-metrics: crash-looping containers, pods not ready, the HPA pinned at its
maximum, and a PDB that allows no disruption (which blocks node drains and upgrades). They open tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.observability.config import (
    WORKBOOK_ALERTS,
    WORKBOOK_WINDOW,
    BurnRateAlert,
    SloConfig,
    duration_seconds,
)

# Deployment pods are named <deployment>-<pod-template-hash>-<5 chars>: this matches the service's
# pods and not its migration Job's (<name>-migrate-<tag>-<5 chars>) nor another service's.
POD_NAME_PATTERN = "{name}-[a-z0-9]+-[a-z0-9]{{5}}"
# A StatefulSet's pods are <name>-<ordinal>.
STATEFUL_POD_NAME_PATTERN = "{name}-[0-9]+"
# Where the error and total expressions take their range.
WINDOW = "__WINDOW__"
BASIC_FOR = "15m"
# An HPA at its ceiling for this long means the service needs a higher maxReplicas (or is stuck).
HPA_AT_MAX_FOR = "1h"
# A PDB allowing nothing for this long blocks node drains and GKE upgrades.
PDB_BLOCKED_FOR = "1h"


@dataclass(frozen=True)
class ServiceFacts:
    """What the rules need to know about one service."""

    name: str
    namespace: str
    slo: SloConfig | None
    has_hpa: bool
    has_pdb: bool
    # Runs as a StatefulSet (services.stateful), whose pods are named by ordinal.
    stateful: bool = False

    @property
    def pod_selector(self) -> str:
        """The PromQL matchers of this service's pods."""
        pattern = STATEFUL_POD_NAME_PATTERN if self.stateful else POD_NAME_PATTERN
        return f'namespace="{self.namespace}", pod=~"{pattern.format(name=self.name)}"'


@dataclass(frozen=True)
class Objective:
    """One SLO as the rules see it: its name, the allowed error ratio and the error-ratio expression."""

    name: str
    target: float
    window: str
    errors: str  # PromQL with WINDOW as the range
    total: str

    @property
    def budget(self) -> float:
        """The allowed error ratio, e.g. 0.001 for 99.9 %."""
        return round(1 - self.target / 100, 10)


def minutes(seconds: float) -> str:
    """A Prometheus duration in whole minutes, at least one."""
    return f"{max(1, round(seconds / 60))}m"


def alerts_for(slo: SloConfig, window: str) -> list[BurnRateAlert]:
    """The configured burn-rate alerts, or the workbook's scaled from 30 days to `window`."""
    if slo.burn_rate_alerts is not None:
        return list(slo.burn_rate_alerts)
    factor = duration_seconds(window) / duration_seconds(WORKBOOK_WINDOW)
    return [
        BurnRateAlert.model_validate(
            {
                "severity": severity,
                "longWindow": minutes(duration_seconds(long) * factor),
                "shortWindow": minutes(duration_seconds(short) * factor),
                "burnRate": rate,
            }
        )
        for severity, long, short, rate in WORKBOOK_ALERTS
    ]


def _le_matcher(threshold: float) -> str:
    # Client libraries print bucket bounds differently ('3' in Go, '3.0' in Python): match both.
    text = f"{threshold:g}"
    return f'le=~"{text}|{text}\\\\.0+"' if "." not in text else f'le="{text}"'


def objectives(facts: ServiceFacts) -> list[Objective]:
    slo = facts.slo
    if slo is None:
        return []
    selector = f'namespace="{facts.namespace}", service="{facts.name}"'
    metrics = slo.metrics
    found = []
    if slo.availability is not None:
        found.append(
            Objective(
                name="availability",
                target=slo.availability.target,
                window=slo.availability.window,
                errors=(
                    f"sum(rate({metrics.requests}{{{selector}, "
                    f'{metrics.status_label}=~"{metrics.error_status}"}}[__WINDOW__]))'
                ),
                total=f"sum(rate({metrics.requests}{{{selector}}}[__WINDOW__]))",
            )
        )
    latency = slo.latency
    threshold = latency.threshold_seconds if latency is not None else None
    if latency is not None and threshold is not None:
        total = f"sum(rate({metrics.duration}_count{{{selector}}}[__WINDOW__]))"
        fast = f"sum(rate({metrics.duration}_bucket{{{selector}, {_le_matcher(threshold)}}}[__WINDOW__]))"
        found.append(
            Objective(
                name="latency",
                target=latency.effective_target,
                window=latency.window,
                # Requests slower than the threshold: all of them minus those in the threshold's bucket.
                errors=f"({total} - {fast})",
                total=total,
            )
        )
    return found


def ratio_record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def _labels(facts: ServiceFacts, objective: Objective) -> dict[str, str]:
    return {"namespace": facts.namespace, "service": facts.name, "slo": objective.name}


def _slo_groups(facts: ServiceFacts) -> list[dict[str, Any]]:
    groups = []
    assert facts.slo is not None
    for objective in objectives(facts):
        alerts = alerts_for(facts.slo, objective.window)
        windows = sorted(
            {w for alert in alerts for w in (alert.long_window, alert.short_window)} | {objective.window},
            key=duration_seconds,
        )
        labels = _labels(facts, objective)
        records = [
            {
                "record": ratio_record(window),
                "expr": f"{objective.errors.replace(WINDOW, window)} / {objective.total.replace(WINDOW, window)}",
                "labels": labels,
            }
            for window in windows
        ]
        match = f'{{namespace="{facts.namespace}", service="{facts.name}", slo="{objective.name}"}}'
        records.append(
            {
                # 1 = the whole budget left, 0 = spent, below 0 = the objective is missed.
                "record": "slo:error_budget:remaining",
                "expr": f"1 - {ratio_record(objective.window)}{match} / {objective.budget}",
                "labels": labels,
            }
        )
        rules: list[dict[str, Any]] = [*records]
        for alert in alerts:
            threshold = f"({alert.burn_rate} * {objective.budget})"
            rules.append(
                {
                    "alert": f"SLO{objective.name.capitalize()}BudgetBurn",
                    "expr": (
                        f"{ratio_record(alert.long_window)}{match} > {threshold} "
                        f"and {ratio_record(alert.short_window)}{match} > {threshold}"
                    ),
                    # The short window already debounces; 2 minutes rides out one odd scrape.
                    "for": "2m",
                    "labels": {**labels, "severity": alert.severity, "window": alert.long_window},
                    "annotations": {
                        "summary": (
                            f"{facts.name} is burning its {objective.name} error budget {alert.burn_rate:g}x "
                            f"too fast (over {alert.long_window} and {alert.short_window})"
                        ),
                        "description": (
                            f"The {objective.name} objective is {objective.target:g}% over {objective.window}; "
                            "at this rate the budget is gone well before the window ends."
                        ),
                    },
                }
            )
        groups.append({"name": f"{facts.name}-slo-{objective.name}", "rules": rules})
    return groups


def _basic_group(facts: ServiceFacts) -> dict[str, Any]:
    pods = facts.pod_selector
    labels = {"namespace": facts.namespace, "service": facts.name, "severity": "ticket"}

    def alert(name: str, expr: str, for_: str, summary: str) -> dict[str, Any]:
        return {"alert": name, "expr": expr, "for": for_, "labels": labels, "annotations": {"summary": summary}}

    rules = [
        alert(
            "ServicePodCrashLooping",
            f'max_over_time(kube_pod_container_status_waiting_reason{{{pods}, reason="CrashLoopBackOff"}}[5m]) >= 1',
            BASIC_FOR,
            f"A {facts.name} container has been crash-looping for {BASIC_FOR}",
        ),
        alert(
            "ServicePodsNotReady",
            f'sum(kube_pod_status_ready{{{pods}, condition="false"}}) > 0',
            BASIC_FOR,
            f"{facts.name} has pods that have not been ready for {BASIC_FOR}",
        ),
    ]
    if facts.has_hpa:
        hpa = f'namespace="{facts.namespace}", horizontalpodautoscaler="{facts.name}"'
        rules.append(
            alert(
                "ServiceAutoscalerAtMax",
                f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}} "
                f">= kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}",
                HPA_AT_MAX_FOR,
                f"{facts.name}'s HPA has run at maxReplicas for {HPA_AT_MAX_FOR}",
            )
        )
    if facts.has_pdb:
        rules.append(
            alert(
                "ServiceDisruptionBudgetBlocked",
                f'kube_poddisruptionbudget_status_pod_disruptions_allowed{{namespace="{facts.namespace}", '
                f'poddisruptionbudget="{facts.name}"}} == 0',
                PDB_BLOCKED_FOR,
                f"{facts.name}'s PodDisruptionBudget has allowed no disruption for {PDB_BLOCKED_FOR}; "
                "node drains and upgrades are blocked",
            )
        )
    return {"name": f"{facts.name}-health", "rules": rules}


def rule_spec(facts: ServiceFacts) -> dict[str, Any]:
    """The PrometheusRule spec: the basic health group, then one group per SLO objective."""
    groups = [_basic_group(facts)]
    if facts.slo is not None:
        groups += _slo_groups(facts)
    return {"groups": groups}


def rule_expressions(spec: dict[str, Any]) -> list[str]:
    return [rule["expr"] for group in spec["groups"] for rule in group["rules"]]
