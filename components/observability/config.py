"""Config of the observability domain: the monitoring add-on, log retention, alert routing and SLOs.

`MonitoringConfig` is the add-on's slice (`addons.monitoring`); `SloConfig` is one service's
objectives (`services[].slo`), read by the per-service rules and dashboard (service_signals.py).
The `check_*` functions are this domain's own rules; those that need the secrets catalog run from
`config/checks.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from components import versions
from components.charts import ChartSource, ChartVersion
from components.errors import Problem
from components.values import DnsLabel, DnsSubdomain, Duration, Memory, Model

# A Prometheus metric or label name.
MetricName = Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]

_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def duration_seconds(duration: str) -> int:
    """A validated single-unit duration ('30d', '5m') in seconds."""
    return int(duration[:-1]) * _SECONDS_PER_UNIT[duration[-1]]


# --------------------------------------------------------------------------- SLOs


class BurnRateAlert(Model):
    """One multi-window burn-rate alert: fires while both windows burn the budget `burnRate` times too fast."""

    severity: Literal["page", "ticket"]
    """The alert's severity label, which routes it."""
    long_window: Duration
    """The long window."""
    short_window: Duration
    """The short window, shorter than the long one."""
    burn_rate: float = Field(gt=0)
    """How many times faster than sustainable the budget burns."""


class AvailabilityObjective(Model):
    # Percent of requests that must not fail (e.g. 99.9), over `window`.
    target: float
    """Percent of requests that must succeed, strictly between 0 and 100, e.g. `99.9`."""
    window: Duration = "30d"
    """The objective's window."""


class LatencyObjective(Model):
    # `target` percent of requests finish within `thresholdSeconds`; `percentile` is the line the
    # dashboard draws against the threshold (the code-review example: p95 < 3 s).
    threshold_seconds: float | None = None
    """Required in a latency objective. The threshold; it must be a bucket bound of the duration histogram."""
    percentile: float = 95
    """The percentile the dashboard draws (the code-review example: p95 < 3 s); also the target when `target` is unset."""
    target: float | None = None
    """Unset: `percentile`. Percent of requests that must finish within the threshold."""
    window: Duration = "30d"
    """The objective's window."""

    @property
    def effective_target(self) -> float:
        return self.target if self.target is not None else self.percentile


class SloMetrics(Model):
    """The service's request metrics; the defaults match common HTTP instrumentation (Prometheus client
    libraries, OpenTelemetry's Prometheus exporter)."""

    requests: MetricName = "http_requests_total"
    """Request counter."""
    # The label holding the HTTP status, and which of its values count as errors.
    status_label: LabelName = "code"
    """Its HTTP status label (`status` in some libraries)."""
    error_status: str = "5.."
    """Regex of the status values that count as errors."""
    # A histogram in seconds: <name>_bucket and <name>_count are read.
    duration: MetricName = "http_request_duration_seconds"
    """Request duration histogram (`_bucket`, `_count` are read)."""


class SloConfig(Model):
    availability: AvailabilityObjective | None = None
    """Error-ratio objective."""
    latency: LatencyObjective | None = None
    """Latency objective: `target` % of requests within `thresholdSeconds`."""
    metrics: SloMetrics = SloMetrics()
    """The request metrics the SLIs read."""
    # Unset: the SRE workbook's four alerts (14.4x over 1h & 5m and 6x over 6h & 30m page; 3x over
    # 1d & 2h and 1x over 3d & 6h open a ticket), their windows scaled to each objective's window.
    burn_rate_alerts: list[BurnRateAlert] | None = None
    """Unset: 14.4x over 1h & 5m and 6x over 6h & 30m page, 3x over 1d & 2h and 1x over 3d & 6h open a ticket, for 30 days, every window scaled to the objective's window (whole minutes, at least 1). Set: used as written; no window may exceed the objective's window."""


# The SRE workbook's alerts for a 30-day window (chapter "Alerting on SLOs", table 5-8).
WORKBOOK_WINDOW = "30d"
WORKBOOK_ALERTS: tuple[tuple[str, str, str, float], ...] = (
    ("page", "1h", "5m", 14.4),
    ("page", "6h", "30m", 6),
    ("ticket", "1d", "2h", 3),
    ("ticket", "3d", "6h", 1),
)


def check_slo(slo: SloConfig, path: str, *, scraped: bool) -> Iterator[Problem]:
    """One service's objectives; `scraped` when the service declares a metrics port to read them from."""
    if slo.availability is None and slo.latency is None:
        yield path, "declare at least one objective: availability or latency"
    if not scraped:
        yield path, "an SLO is computed from the service's request metrics; declare metrics (port and path) to scrape"
    objectives: list[tuple[str, float | None, str]] = []
    if slo.availability is not None:
        objectives.append(("availability", slo.availability.target, slo.availability.window))
    if slo.latency is not None:
        latency = slo.latency
        if latency.threshold_seconds is None:
            yield f"{path}.latency.thresholdSeconds", "a latency objective needs thresholdSeconds, e.g. 3"
        elif latency.threshold_seconds <= 0:
            yield f"{path}.latency.thresholdSeconds", f"{latency.threshold_seconds} must be above 0"
        if not 0 < latency.percentile < 100:
            yield f"{path}.latency.percentile", f"{latency.percentile} must be between 0 and 100, exclusive"
        objectives.append(("latency", latency.target, latency.window))
    for name, target, window in objectives:
        if target is not None and not 0 < target < 100:
            yield (
                f"{path}.{name}.target",
                f"{target:g} must be a percentage between 0 and 100, exclusive (e.g. 99.9)",
            )
        for index, alert in enumerate(slo.burn_rate_alerts or []):
            for key, length in (("longWindow", alert.long_window), ("shortWindow", alert.short_window)):
                if duration_seconds(length) > duration_seconds(window):
                    yield (
                        f"{path}.burnRateAlerts[{index}].{key}",
                        f"{length} is longer than the {name} objective's window ({window}); "
                        "a burn rate is measured inside the SLO window",
                    )
    for index, alert in enumerate(slo.burn_rate_alerts or []):
        if duration_seconds(alert.short_window) >= duration_seconds(alert.long_window):
            yield (
                f"{path}.burnRateAlerts[{index}].shortWindow",
                f"{alert.short_window} must be shorter than longWindow ({alert.long_window})",
            )


# --------------------------------------------------------------------------- alert routing


class SecretKeyRef(Model):
    """A key of a catalog Secret (`platform:secrets`) delivered to the monitoring namespace."""

    name: DnsSubdomain
    """The catalog secret; it must list the monitoring namespace (declare that namespace in `namespaces`)."""
    key: str
    """Its key."""


class ReceiverConfig(Model):
    name: DnsLabel
    """Receiver name, unique; routes name it."""
    type: Literal["slack", "pagerduty", "webhook"]
    """The integration."""
    # The Slack webhook URL, PagerDuty routing key or webhook URL: always a secret.
    secret: SecretKeyRef | None = None
    """Required. The Slack webhook URL, PagerDuty routing key or webhook URL: `{name, key}` of a catalog secret delivered to the monitoring namespace, whose key is `type: config` (set with `pulumi config set --secret`). The AlertmanagerConfig references the Secret; the value never appears in plain."""
    # Accepted only to be refused with a clear message: a URL or key in plain config would be in plaintext.
    url: str | None = None
    """Refused: a URL in config would be plaintext; use `secret`."""
    routing_key: str | None = None
    """Refused: a key in config would be plaintext; use `secret`."""
    channel: str | None = None
    """Slack only: the channel, e.g. `#alerts`."""
    send_resolved: bool = True
    """Notify when an alert resolves."""


class AlertRoutes(Model):
    # Receiver names per severity: `page` for fast SLO burns, `ticket` for slow burns and the basic rules.
    page: DnsLabel | None = None
    """Receiver of `severity: page` (fast SLO burns)."""
    ticket: DnsLabel | None = None
    """Receiver of `severity: ticket` (slow SLO burns, the basic health rules)."""


class AlertingConfig(Model):
    receivers: list[ReceiverConfig] = []
    """Where alerts go."""
    routes: AlertRoutes = AlertRoutes()
    """Which receiver takes which severity; everything else goes to the ticket receiver (else the page receiver, else the first). A page inhibits the ticket for the same service and SLO."""
    group_wait: Duration = "30s"
    """Alertmanager's group wait."""
    group_interval: Duration = "5m"
    """Alertmanager's group interval."""
    repeat_interval: Duration = "4h"
    """How often a firing alert is re-sent."""


# The receiver the platform adds for kube-prometheus-stack's heartbeat alerts (alerting.py).
SILENT_RECEIVER = "platform-silent"


def check_alerting(alerting: AlertingConfig, path: str) -> Iterator[Problem]:
    """Receivers and routes; the secrets they reference are checked in config/checks.py."""
    names = [receiver.name for receiver in alerting.receivers]
    for index, receiver in enumerate(alerting.receivers):
        item = f"{path}.receivers[{index}]"
        if names.index(receiver.name) != index:
            yield f"{item}.name", f"'{receiver.name}' is declared twice; receiver names must be unique"
        if receiver.name == SILENT_RECEIVER:
            yield (
                f"{item}.name",
                f"'{SILENT_RECEIVER}' is the platform's own receiver for heartbeat alerts; choose another",
            )
        for key, value in (("url", receiver.url), ("routingKey", receiver.routing_key)):
            if value is not None:
                yield (
                    f"{item}.{key}",
                    "a receiver's URL or key is a secret and may not be written in config; declare it as a "
                    "`type: config` key of a secret in the monitoring namespace and reference it with secret: {name, key}",
                )
        if receiver.secret is None and receiver.url is None and receiver.routing_key is None:
            yield f"{item}.secret", "is required: the secret holding the receiver's URL or key, as {name, key}"
        if receiver.channel is not None and receiver.type != "slack":
            yield f"{item}.channel", "only a slack receiver has a channel"
    for severity in ("page", "ticket"):
        target = getattr(alerting.routes, severity)
        if target is not None and target not in names:
            yield (
                f"{path}.routes.{severity}",
                f"'{target}' is not a declared receiver; declared: {', '.join(names) or 'none'}",
            )


# --------------------------------------------------------------------------- tracing


class TracingConfig(Model):
    """The OpenTelemetry Collector every service sends OTLP traces to."""

    enabled: bool = True
    """Install it and give every service the OTLP environment."""
    namespace: DnsLabel = "tracing"
    """Its namespace (created with `restricted` Pod Security unless the catalog declares it)."""
    chart_version: ChartVersion = versions.OPENTELEMETRY_COLLECTOR_CHART
    """Pinned `opentelemetry-collector` chart."""
    chart_source: ChartSource = Field(
        ChartSource(),
        description="Where the opentelemetry-collector chart comes from: its upstream repository (unset), a mirror repository, an OCI registry or a local chart.",
    )
    # The share of new traces sampled (parent-based: a sampled caller's trace is always kept); seed 004: 10 %.
    sampling_ratio: float = Field(0.1, ge=0, le=1)
    """Share of new traces sampled, 0 to 1 (parent-based: a sampled caller's trace is kept)."""
    # Unset: 2 in production (with a PDB), 1 elsewhere.
    replicas: int | None = Field(None, ge=1, le=20)
    """Collector replicas; unset: 2 in production (with a PDB), 1 elsewhere."""


# --------------------------------------------------------------------------- the add-on


class MonitoringConfig(Model):
    enabled: bool = True
    """Install it."""
    namespace: DnsLabel = "monitoring"
    """Its namespace; the namespaces' policies allow scraping from here."""
    chart_version: ChartVersion = versions.KUBE_PROMETHEUS_STACK_CHART
    """Pinned chart version."""
    chart_source: ChartSource = Field(
        ChartSource(),
        description="Where the kube-prometheus-stack chart comes from: its upstream repository (unset), a mirror repository, an OCI registry or a local chart.",
    )
    # prometheus-community's prometheus-operator-crds, installed before the stack (crds.enabled false there).
    crds_chart_version: ChartVersion = versions.PROMETHEUS_OPERATOR_CRDS_CHART
    """Pinned `prometheus-operator-crds` chart: the prometheus-operator CRDs as their own release, installed first (kube-prometheus-stack runs with `crds.enabled: false`), so ServiceMonitors and the charts shipping them wait only for the CRDs."""
    crds_chart_source: ChartSource = Field(
        ChartSource(),
        description="Where the prometheus-operator-crds chart comes from: its upstream repository (unset), a mirror repository, an OCI registry or a local chart.",
    )
    # prometheus-adapter serves the services' custom Pods metrics (custom.metrics.k8s.io) to HPAs.
    adapter_chart_version: ChartVersion = versions.PROMETHEUS_ADAPTER_CHART
    """Pinned prometheus-adapter chart, which serves the services' custom Pods metrics (`autoscaling.podsMetrics`) to their HPAs."""
    adapter_chart_source: ChartSource = Field(
        ChartSource(),
        description="Where the prometheus-adapter chart comes from: its upstream repository (unset), a mirror repository, an OCI registry or a local chart.",
    )
    retention: Duration = "15d"
    """Prometheus metrics retention, e.g. `15d`."""
    # Cloud Logging's retention for the project's _Default log bucket (gke mode), in whole days.
    log_retention: Duration = "30d"
    """Log retention (Cloud Logging's `_Default` bucket in gke mode)."""
    storage_size: Memory = "50Gi"
    """Prometheus volume size."""
    alerting: AlertingConfig = AlertingConfig()
    """Alertmanager's receivers and routes by severity, delivered as the AlertmanagerConfig `platform-alert-routing` that Alertmanager uses as its whole configuration. No receivers: the chart's default configuration (nothing is sent)."""

    @property
    def log_retention_days(self) -> int | None:
        """The log retention in days, or None when it is not a whole number of days."""
        days_per_unit = {"d": 1, "w": 7, "y": 365}
        unit = self.log_retention[-1]
        return int(self.log_retention[:-1]) * days_per_unit[unit] if unit in days_per_unit else None
