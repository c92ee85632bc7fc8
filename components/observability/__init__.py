"""The observability domain: metrics, dashboards and log retention."""
