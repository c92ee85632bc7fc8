"""Tracing: an OpenTelemetry Collector that receives the services' OTLP traces and exports them.

The collector is the pinned `opentelemetry-collector` chart (contrib image, deployment mode) in its
own namespace, receiving OTLP over gRPC (4317) and HTTP (4318), with memory_limiter and batch
processors. In gke mode it exports to Cloud Trace with the `googlecloud` exporter, authenticated by
Workload Identity: a GCP service account with `roles/cloudtrace.agent` only, bound to the
collector's Kubernetes ServiceAccount; no key exists. Cloud Trace keeps spans for 30 days, a
retention Google fixes and no setting changes (seed 004 asks for 7: it gets more). On an existing
cluster (dev, kind) it exports to the `debug` exporter (span counts in the collector's log) and keeps
nothing, so there is no retention to set.

Every service gets `otlp_env`: OTEL_EXPORTER_OTLP_ENDPOINT (the collector's OTLP/HTTP port),
OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the parent-based
ratio sampler at `samplingRatio`; a service's own `env` wins over any of them. The catalog's
namespaces may send to the collector's OTLP ports (tenancy/namespaces.py, `telemetry`).

Deliberately left out: metrics and logs pipelines (Prometheus and Cloud Logging carry those) and
tail sampling.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.charts import OPENTELEMETRY_COLLECTOR
from components.helm import AddonArgs, HelmChart, addon_namespace, helm_release
from components.kube import PodPeer, workload_identity_member
from components.observability.config import TracingConfig

RELEASE = "opentelemetry-collector"
# Names the chart's Deployment, Service and ServiceAccount, so the endpoint below is stable.
FULLNAME = "otel-collector"
IMAGE = "otel/opentelemetry-collector-contrib"
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
# The chart labels its pods app.kubernetes.io/name=<chart name> and instance=<release>.
COLLECTOR_POD_LABELS = {"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": RELEASE}
CLOUD_TRACE_ROLE = "roles/cloudtrace.agent"


def collector_peer(tracing: TracingConfig) -> PodPeer:
    """The collector's pods, as the catalog's namespaces' egress policies address them."""
    return PodPeer(namespace=tracing.namespace, labels=COLLECTOR_POD_LABELS)


def otlp_env(tracing: TracingConfig, service: str, namespace: str, environment: str) -> dict[str, str]:
    """The OpenTelemetry SDK environment every service gets."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{FULLNAME}.{tracing.namespace}.svc:{OTLP_HTTP_PORT}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": service,
        "OTEL_RESOURCE_ATTRIBUTES": f"k8s.namespace.name={namespace},deployment.environment={environment}",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": f"{tracing.sampling_ratio:g}",
    }


class Tracing(pulumi.ComponentResource):
    release: pulumi.Resource

    def __init__(
        self, name: str, tracing: TracingConfig, args: AddonArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:addons:Tracing", name, None, opts)
        context = args.context
        namespace = addon_namespace(self, name, args, tracing.namespace, "restricted")
        account = (
            self._cloud_trace_account(name, tracing, context.project, context.environment) if context.project else None
        )
        replicas = tracing.replicas or (2 if context.is_production else 1)
        self.release = helm_release(
            self,
            name,
            args,
            HelmChart(RELEASE, OPENTELEMETRY_COLLECTOR, tracing.chart_version, tracing.chart_source),
            namespace,
            collector_values(account.email if account is not None else None, replicas),
        )
        self.register_outputs({})

    def _cloud_trace_account(
        self, name: str, tracing: TracingConfig, project: str, environment: str
    ) -> gcp.serviceaccount.Account:
        account = gcp.serviceaccount.Account(
            f"{name}-trace-writer",
            # Per environment: two stacks may share a project.
            account_id=f"otel-collector-{environment}",
            display_name="OpenTelemetry Collector (Cloud Trace writer)",
            project=project,
            opts=pulumi.ResourceOptions(parent=self),
        )
        gcp.projects.IAMMember(
            f"{name}-trace-writer-cloudtrace-agent",
            project=project,
            role=CLOUD_TRACE_ROLE,
            member=account.member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            # The chart's ServiceAccount is named after fullnameOverride.
            member=workload_identity_member(project, tracing.namespace, FULLNAME),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return account


def collector_values(cloud_trace_account: pulumi.Output[str] | None, replicas: int) -> dict[str, Any]:
    exporter = "googlecloud" if cloud_trace_account is not None else "debug"
    exporters: dict[str, Any] = {"debug": {"verbosity": "basic"}}
    if cloud_trace_account is not None:
        # The project comes from the metadata server; credentials from Workload Identity.
        exporters["googlecloud"] = {}
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        "mode": "deployment",
        "replicaCount": replicas,
        "image": {"repository": IMAGE},
        "command": {"name": "otelcol-contrib"},
        "podDisruptionBudget": {"enabled": replicas > 1, "maxUnavailable": 1},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "ports": {
            # OTLP only: the chart's Jaeger and Zipkin receivers are switched off below.
            "jaeger-compact": {"enabled": False},
            "jaeger-thrift": {"enabled": False},
            "jaeger-grpc": {"enabled": False},
            "zipkin": {"enabled": False},
        },
        "config": {
            "receivers": {
                "jaeger": None,
                "zipkin": None,
                "prometheus": None,
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": f"${{env:MY_POD_IP}}:{OTLP_GRPC_PORT}"},
                        "http": {"endpoint": f"${{env:MY_POD_IP}}:{OTLP_HTTP_PORT}"},
                    }
                },
            },
            "exporters": exporters,
            "service": {
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["memory_limiter", "batch"],
                        "exporters": [exporter],
                    },
                    # Metrics and logs travel through Prometheus and Cloud Logging, not the collector.
                    "metrics": None,
                    "logs": None,
                }
            },
        },
    }
    if cloud_trace_account is not None:
        values["serviceAccount"] = {
            "create": True,
            "annotations": {"iam.gke.io/gcp-service-account": cloud_trace_account},
        }
    return values
