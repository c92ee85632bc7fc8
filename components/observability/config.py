"""Config of the observability domain: the monitoring add-on and log retention."""

from __future__ import annotations

from components.config.values import DnsLabel, Duration, Memory, Model


class MonitoringConfig(Model):
    enabled: bool = True
    namespace: DnsLabel = "monitoring"
    chart_version: str = "92.3.0"
    # prometheus-community's prometheus-operator-crds, installed before the stack (crds.enabled false there).
    crds_chart_version: str = "32.0.1"
    # prometheus-adapter serves the services' custom Pods metrics (custom.metrics.k8s.io) to HPAs.
    adapter_chart_version: str = "5.3.0"
    retention: Duration = "15d"
    # Cloud Logging's retention for the project's _Default log bucket (gke mode), in whole days.
    log_retention: Duration = "30d"
    storage_size: Memory = "50Gi"

    @property
    def log_retention_days(self) -> int | None:
        """The log retention in days, or None when it is not a whole number of days."""
        days_per_unit = {"d": 1, "w": 7, "y": 365}
        unit = self.log_retention[-1]
        return int(self.log_retention[:-1]) * days_per_unit[unit] if unit in days_per_unit else None
