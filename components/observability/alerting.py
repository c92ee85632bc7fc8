"""Alert routing: Alertmanager's receivers and routes by severity, as one AlertmanagerConfig.

`addons.monitoring.alerting` names the receivers (Slack, PagerDuty, generic webhook) and which one
takes `page` and which `ticket` alerts. Each receiver's URL or routing key is a key of a catalog
Secret delivered to the monitoring namespace (normally a `type: config` key, set with
`pulumi config set --secret`); the AlertmanagerConfig (`monitoring.coreos.com/v1alpha1`) references
that Secret by name and key, so the value never appears in this resource, in the Helm values or in
the state outside the Secret itself. kube-prometheus-stack's Alertmanager uses it as its global
configuration (`alertmanagerSpec.alertmanagerConfiguration`, set in monitoring.py), so it routes
alerts from every namespace, not only the monitoring namespace's.

Deliberately left out: inhibition rules beyond "a page silences the ticket for the same SLO", and
receivers other than the three above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.context import Context
from components.observability.config import SILENT_RECEIVER, AlertingConfig, ReceiverConfig

ALERTMANAGER_CONFIG_NAME = "platform-alert-routing"
# kube-prometheus-stack's always-firing heartbeat and its info-level inhibitor: no one should be told.
SILENCED_ALERTS = "Watchdog|InfoInhibitor"
GROUP_BY = ["namespace", "service", "alertname", "slo"]


def _receiver(receiver: ReceiverConfig) -> dict[str, Any]:
    assert receiver.secret is not None  # validated on load
    secret = {"name": receiver.secret.name, "key": receiver.secret.key}
    if receiver.type == "slack":
        slack: dict[str, Any] = {"apiURL": secret, "sendResolved": receiver.send_resolved}
        if receiver.channel is not None:
            slack["channel"] = receiver.channel
        return {"name": receiver.name, "slackConfigs": [slack]}
    if receiver.type == "pagerduty":
        return {
            "name": receiver.name,
            "pagerdutyConfigs": [{"routingKey": secret, "sendResolved": receiver.send_resolved}],
        }
    return {"name": receiver.name, "webhookConfigs": [{"urlSecret": secret, "sendResolved": receiver.send_resolved}]}


def routing_spec(alerting: AlertingConfig) -> dict[str, Any]:
    """The AlertmanagerConfig spec: every receiver, a route per severity, the rest to the ticket receiver."""
    routes = alerting.routes
    default = routes.ticket or routes.page or alerting.receivers[0].name
    children = [
        {"receiver": SILENT_RECEIVER, "matchers": [{"name": "alertname", "value": SILENCED_ALERTS, "matchType": "=~"}]}
    ]
    children += [
        {"receiver": target, "matchers": [{"name": "severity", "value": severity, "matchType": "="}]}
        for severity, target in (("page", routes.page), ("ticket", routes.ticket))
        if target is not None
    ]
    return {
        "route": {
            "receiver": default,
            "groupBy": GROUP_BY,
            "groupWait": alerting.group_wait,
            "groupInterval": alerting.group_interval,
            "repeatInterval": alerting.repeat_interval,
            "routes": children,
        },
        "receivers": [*(_receiver(receiver) for receiver in alerting.receivers), {"name": SILENT_RECEIVER}],
        # While an SLO pages, its slower ticket for the same service and objective is noise.
        "inhibitRules": [
            {
                "sourceMatch": [{"name": "severity", "value": "page", "matchType": "="}],
                "targetMatch": [{"name": "severity", "value": "ticket", "matchType": "="}],
                "equal": ["namespace", "service", "slo"],
            }
        ],
    }


class AlertRouting(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        alerting: AlertingConfig,
        context: Context,
        *,
        namespace: k8s.core.v1.Namespace,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:observability:AlertRouting", name, None, opts)
        k8s.apiextensions.CustomResource(
            f"{name}-config",
            api_version="monitoring.coreos.com/v1alpha1",
            kind="AlertmanagerConfig",
            metadata=context.object_metadata(ALERTMANAGER_CONFIG_NAME, namespace),
            spec=routing_spec(alerting),
            # The CRD comes with the monitoring release; the receivers' Secrets with the catalog.
            opts=pulumi.ResourceOptions(parent=self, provider=context.provider, depends_on=list(depends_on)),
        )
        self.register_outputs({})
