"""Observability a team can operate: SLO rules and burn-rate alerts, basic health alerts, dashboards,
alert routing, and one Prometheus per mode. Values come from the registered objects; custom configs
run the whole program only where the fixture's stack files cannot show the behaviour."""

from __future__ import annotations

import copy
import json
from typing import Any

from crd_schemas import crd_failures
from harness import ProgramRun, assert_rejected, is_secret_value, plain_strings, run_program, stack_config
from promql import promql_failures

RELEASE = "kubernetes:helm.sh/v3:Release"


def _rules(run: ProgramRun, service: str, namespace: str) -> dict[str, Any]:
    [rule] = run.k8s("PrometheusRule", name=f"{service}-rules", namespace=namespace)
    return rule.manifest


def _group(manifest: dict[str, Any], name: str) -> list[dict[str, Any]]:
    [group] = [g for g in manifest["spec"]["groups"] if g["name"] == name]
    rules: list[dict[str, Any]] = group["rules"]
    return rules


def _burn_alerts(rules: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["labels"]["severity"], r["labels"]["window"], r["expr"]) for r in rules if "alert" in r]


def _values(run: ProgramRun) -> dict[str, Any]:
    [release] = [r for r in run.of_type(RELEASE) if r.inputs["chart"] == "kube-prometheus-stack"]
    values: dict[str, Any] = release.inputs["values"]
    return values


# --------------------------------------------------------------------------- SLOs


def test_availability_slo_records_error_ratios_and_pages_on_a_fast_burn(production: ProgramRun) -> None:
    rules = _group(_rules(production, "storefront", "shop"), "storefront-slo-availability")
    records = {r["record"]: r for r in rules if "record" in r}
    assert records["slo:sli_error:ratio_rate5m"]["expr"] == (
        'sum(rate(http_requests_total{namespace="shop", service="storefront", code=~"5.."}[5m])) '
        '/ sum(rate(http_requests_total{namespace="shop", service="storefront"}[5m]))'
    )
    assert records["slo:sli_error:ratio_rate5m"]["labels"] == {
        "namespace": "shop",
        "service": "storefront",
        "slo": "availability",
    }
    assert sorted(records) == sorted(
        ["slo:error_budget:remaining"]
        + [f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "60m", "120m", "360m", "1440m", "4320m", "30d")]
    )
    match = '{namespace="shop", service="storefront", slo="availability"}'
    assert _burn_alerts(rules) == [
        (
            "page",
            "60m",
            f"slo:sli_error:ratio_rate60m{match} > (14.4 * 0.001) and slo:sli_error:ratio_rate5m{match} > (14.4 * 0.001)",
        ),
        (
            "page",
            "360m",
            f"slo:sli_error:ratio_rate360m{match} > (6.0 * 0.001) and slo:sli_error:ratio_rate30m{match} > (6.0 * 0.001)",
        ),
        (
            "ticket",
            "1440m",
            f"slo:sli_error:ratio_rate1440m{match} > (3.0 * 0.001) and slo:sli_error:ratio_rate120m{match} > (3.0 * 0.001)",
        ),
        (
            "ticket",
            "4320m",
            f"slo:sli_error:ratio_rate4320m{match} > (1.0 * 0.001) and slo:sli_error:ratio_rate360m{match} > (1.0 * 0.001)",
        ),
    ]
    assert records["slo:error_budget:remaining"]["expr"] == f"1 - slo:sli_error:ratio_rate30d{match} / 0.001"


def test_latency_slo_counts_requests_slower_than_the_threshold(production: ProgramRun) -> None:
    rules = _group(_rules(production, "storefront", "shop"), "storefront-slo-latency")
    [record] = [r for r in rules if r.get("record") == "slo:sli_error:ratio_rate5m"]
    total = 'sum(rate(http_request_duration_seconds_count{namespace="shop", service="storefront"}[5m]))'
    fast = (
        'sum(rate(http_request_duration_seconds_bucket{namespace="shop", service="storefront", le=~"3|3\\\\.0+"}[5m]))'
    )
    assert record["expr"] == f"({total} - {fast}) / {total}"
    # target 99: 1 % of requests may be slower than 3 s.
    assert all("* 0.01)" in expr for _, _, expr in _burn_alerts(rules))


def test_burn_rate_windows_scale_with_a_shorter_slo_window(staging: ProgramRun) -> None:
    # checkout: 99.5 % over 7 days; the workbook's 30-day windows shrink by 7/30.
    rules = _group(_rules(staging, "checkout", "shop"), "checkout-slo-availability")
    windows = [(severity, window) for severity, window, _ in _burn_alerts(rules)]
    assert windows == [("page", "14m"), ("page", "84m"), ("ticket", "336m"), ("ticket", "1008m")]
    [short] = [r for r in rules if r.get("record") == "slo:sli_error:ratio_rate1m"]
    # Its own metric and status label.
    assert 'checkout_requests_total{namespace="shop", service="checkout", status=~"5.."}[1m]' in short["expr"]


def test_every_service_has_basic_health_alerts(staging: ProgramRun) -> None:
    rules = _group(_rules(staging, "order-worker", "shop-workers"), "order-worker-health")
    by_name = {r["alert"]: r for r in rules}
    assert sorted(by_name) == [
        "ServiceAutoscalerAtMax",
        "ServiceDisruptionBudgetBlocked",
        "ServicePodCrashLooping",
        "ServicePodsNotReady",
    ]
    assert by_name["ServicePodCrashLooping"]["expr"] == (
        'max_over_time(kube_pod_container_status_waiting_reason{namespace="shop-workers", '
        'pod=~"order-worker-[a-z0-9]+-[a-z0-9]{5}", reason="CrashLoopBackOff"}[5m]) >= 1'
    )
    assert by_name["ServiceAutoscalerAtMax"]["for"] == "1h"
    assert by_name["ServiceDisruptionBudgetBlocked"]["expr"] == (
        'kube_poddisruptionbudget_status_pod_disruptions_allowed{namespace="shop-workers", '
        'poddisruptionbudget="order-worker"} == 0'
    )
    assert {r["labels"]["severity"] for r in rules} == {"ticket"}
    # No SLO declared: no SLO group.
    assert [g["name"] for g in _rules(staging, "order-worker", "shop-workers")["spec"]["groups"]] == [
        "order-worker-health"
    ]


def test_an_slo_window_beyond_prometheus_retention_is_warned_about(staging: ProgramRun) -> None:
    assert not [w for w in staging.warnings if "retention" in w]
    config = copy.deepcopy(stack_config("staging"))
    del config["platform:overrides"]["services"]["storefront"]["slo"]
    run = run_program("staging", config)
    assert [w for w in run.warnings if "retention" in w] == [
        f"storefront: the {name} SLO's window (30d) is longer than Prometheus's retention (7d); its error budget "
        "is computed over the 7d kept; raise addons.monitoring.retention to cover it"
        for name in ("availability", "latency")
    ]


def test_no_pdb_rule_without_a_pdb() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:overrides"]["services"]["order-worker"]["disruptionBudget"] = {"enabled": False}
    run = run_program("staging", config)
    alerts = [r["alert"] for r in _group(_rules(run, "order-worker", "shop-workers"), "order-worker-health")]
    assert "ServiceDisruptionBudgetBlocked" not in alerts


def test_rules_pass_the_crd_schema_and_parse(staging: ProgramRun) -> None:
    rules = [r.manifest for r in staging.k8s("PrometheusRule")]
    assert len(rules) == 3
    assert crd_failures(rules) == []
    expressions = [rule["expr"] for m in rules for g in m["spec"]["groups"] for rule in g["rules"]]
    assert promql_failures(expressions) == []
    # The parser really rejects broken PromQL, so the check above means something.
    assert promql_failures(["sum(rate(x[5m])"]) != []


def test_no_rules_or_dashboards_without_monitoring(dev: ProgramRun) -> None:
    assert dev.k8s("PrometheusRule") == []
    assert [
        c for c in dev.k8s("ConfigMap") if "grafana_dashboard" in (c.manifest["metadata"].get("labels") or {})
    ] == []


# --------------------------------------------------------------------------- dashboards


def test_every_service_has_a_dashboard_the_grafana_sidecar_loads(staging: ProgramRun) -> None:
    [config_map] = staging.k8s("ConfigMap", name="dashboard-shop-storefront", namespace="monitoring")
    assert config_map.manifest["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(config_map.manifest["data"]["shop-storefront.json"])
    assert [panel["title"] for panel in board["panels"]] == [
        "Request rate",
        "Error ratio",
        "Latency percentiles",
        "CPU against requests and limits",
        "Memory against requests and limits",
        "HPA replicas",
        "SLO error budget left",
    ]
    latency = board["panels"][2]["targets"]
    assert [t["legendFormat"] for t in latency] == ["p50", "p95", "p99"]
    assert latency[1]["expr"] == (
        "histogram_quantile(0.95, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{namespace="shop", service="storefront"}[5m])))'
    )
    assert (
        board["panels"][6]["targets"][0]["expr"] == 'slo:error_budget:remaining{namespace="shop", service="storefront"}'
    )
    names = {c.manifest["metadata"]["name"] for c in staging.k8s("ConfigMap", namespace="monitoring")}
    assert {"dashboard-shop-checkout", "dashboard-shop-workers-order-worker"} <= names


def test_grafana_sidecar_watches_every_namespace_for_the_dashboard_label(staging: ProgramRun) -> None:
    assert _values(staging)["grafana"]["sidecar"]["dashboards"] == {
        "enabled": True,
        "label": "grafana_dashboard",
        "labelValue": "1",
        "searchNamespace": "ALL",
    }


# --------------------------------------------------------------------------- one Prometheus


def test_managed_prometheus_is_off_where_kube_prometheus_stack_collects(gke_run: ProgramRun) -> None:
    [cluster] = gke_run.of_type("gcp:container/cluster:Cluster")
    assert cluster.inputs["monitoringConfig"]["managedPrometheus"] == {"enabled": False}
    assert _values(gke_run)["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is False


# --------------------------------------------------------------------------- rejected SLOs


def _with_slo(slo: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:overrides"]["services"]["order-worker"]["slo"] = slo
    return config


def test_an_slo_target_outside_0_100_is_rejected() -> None:
    assert_rejected(
        "staging",
        _with_slo({"availability": {"target": 100}}),
        "stack 'staging': platform:overrides.services.order-worker.slo.availability.target: 100 must be a percentage "
        "between 0 and 100, exclusive (e.g. 99.9)",
    )


def test_a_latency_objective_without_a_threshold_is_rejected() -> None:
    assert_rejected(
        "staging",
        _with_slo({"latency": {"percentile": 95}}),
        "stack 'staging': platform:overrides.services.order-worker.slo.latency.thresholdSeconds: a latency objective "
        "needs thresholdSeconds, e.g. 3",
    )


def test_a_burn_rate_window_longer_than_the_slo_window_is_rejected() -> None:
    assert_rejected(
        "staging",
        _with_slo(
            {
                "availability": {"target": 99.9, "window": "7d"},
                "burnRateAlerts": [{"severity": "ticket", "longWindow": "14d", "shortWindow": "1d", "burnRate": 1}],
            }
        ),
        "stack 'staging': platform:overrides.services.order-worker.slo.burnRateAlerts[0].longWindow: 14d is longer than "
        "the availability objective's window (7d); a burn rate is measured inside the SLO window",
    )


def test_an_slo_without_scraped_metrics_is_rejected() -> None:
    config = _with_slo({"availability": {"target": 99.9}})
    config["platform:overrides"]["services"]["order-worker"]["metrics"] = None
    message = (
        "stack 'staging': platform:overrides.services.order-worker.slo: an SLO is computed from the service's request"
    )
    from harness import rejected

    text, registered = rejected("staging", config)
    assert text.startswith(message) and registered == 0


# --------------------------------------------------------------------------- alert routing

WEBHOOK = "https://hooks.slack.example/services/T000/B000/very-secret"


def _alerting_config(receivers: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:namespaces"].append(
        {"name": "monitoring", "environment": "shared", "podSecurity": "privileged", "policy": "relaxed"}
    )
    config["platform:secrets"].append(
        {
            "name": "alert-receivers",
            "namespaces": ["monitoring"],
            "keys": {
                "slack-url": {"type": "config", "key": "slackWebhookUrl"},
                "pagerduty-key": {"type": "config", "key": "pagerdutyRoutingKey"},
            },
        }
    )
    config["platform:slackWebhookUrl"] = WEBHOOK
    config["platform:pagerdutyRoutingKey"] = "pd-routing-key-0123456789abcdef"
    config["platform:addons"]["monitoring"]["alerting"] = {
        "receivers": receivers,
        "routes": {"page": "oncall", "ticket": "team"},
    }
    return config, ["platform:slackWebhookUrl", "platform:pagerdutyRoutingKey"]


RECEIVERS = [
    {"name": "oncall", "type": "pagerduty", "secret": {"name": "alert-receivers", "key": "pagerduty-key"}},
    {
        "name": "team",
        "type": "slack",
        "channel": "#shop-alerts",
        "secret": {"name": "alert-receivers", "key": "slack-url"},
    },
]


def test_alerts_route_by_severity_to_receivers_whose_secrets_stay_secret() -> None:
    config, secret_keys = _alerting_config(RECEIVERS)
    run = run_program("staging", config, secret_keys)
    [routing] = run.k8s("AlertmanagerConfig", name="platform-alert-routing", namespace="monitoring")
    spec = routing.manifest["spec"]
    assert spec["route"]["receiver"] == "team"
    assert spec["route"]["routes"] == [
        # The chart's always-firing heartbeat goes nowhere.
        {
            "receiver": "platform-silent",
            "matchers": [{"name": "alertname", "value": "Watchdog|InfoInhibitor", "matchType": "=~"}],
        },
        {"receiver": "oncall", "matchers": [{"name": "severity", "value": "page", "matchType": "="}]},
        {"receiver": "team", "matchers": [{"name": "severity", "value": "ticket", "matchType": "="}]},
    ]
    assert spec["receivers"] == [
        {
            "name": "oncall",
            "pagerdutyConfigs": [
                {"routingKey": {"name": "alert-receivers", "key": "pagerduty-key"}, "sendResolved": True}
            ],
        },
        {
            "name": "team",
            "slackConfigs": [
                {
                    "apiURL": {"name": "alert-receivers", "key": "slack-url"},
                    "sendResolved": True,
                    "channel": "#shop-alerts",
                }
            ],
        },
        {"name": "platform-silent"},
    ]
    assert crd_failures([routing.manifest]) == []
    # Alertmanager takes it as its whole configuration, so alerts from every namespace are routed.
    assert _values(run)["alertmanager"]["alertmanagerSpec"]["alertmanagerConfiguration"] == {
        "name": "platform-alert-routing"
    }
    # The webhook exists only inside the Secret, as a secret.
    [secret] = run.k8s("Secret", name="alert-receivers", namespace="monitoring")
    assert is_secret_value(secret.inputs["stringData"]) or is_secret_value(secret.inputs["stringData"]["slack-url"])
    for resource in run.resources:
        assert WEBHOOK not in plain_strings(resource.inputs), resource.name
    assert run.k8s("Secret", namespace="monitoring") and secret.urn in routing.dependencies


def test_no_alertmanager_config_without_receivers(staging: ProgramRun) -> None:
    assert staging.k8s("AlertmanagerConfig") == []
    assert "alertmanager" not in _values(staging)


def test_a_receiver_url_in_plain_config_is_rejected() -> None:
    config, secret_keys = _alerting_config([{"name": "oncall", "type": "webhook", "url": WEBHOOK}, RECEIVERS[1]])
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:addons.monitoring.alerting.receivers[oncall].url: a receiver's URL or key is a "
        "secret and may not be written in config; declare it as a `type: config` key of a secret in the "
        "monitoring namespace and reference it with secret: {name, key}",
        secret_keys,
    )


def test_a_receiver_secret_outside_the_monitoring_namespace_is_rejected() -> None:
    config, secret_keys = _alerting_config(RECEIVERS)
    config["platform:secrets"][-1]["namespaces"] = ["shop"]
    assert_rejected(
        "staging",
        config,
        "\n".join(
            f"stack 'staging': platform:addons.monitoring.alerting.receivers[{name}].secret.name: no secret "
            "'alert-receivers' is declared in the monitoring namespace 'monitoring'; Alertmanager reads receiver "
            "secrets from its own namespace"
            for name in ("oncall", "team")
        ),
        secret_keys,
    )


def test_a_route_to_an_undeclared_receiver_is_rejected() -> None:
    config, secret_keys = _alerting_config(RECEIVERS)
    config["platform:addons"]["monitoring"]["alerting"]["routes"]["page"] = "pager"
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:addons.monitoring.alerting.routes.page: 'pager' is not a declared receiver; "
        "declared: oncall, team",
        secret_keys,
    )


# --------------------------------------------------------------------------- tracing

COLLECTOR = "opentelemetry-collector"


def _collector(run: ProgramRun) -> Any:
    [release] = [r for r in run.of_type(RELEASE) if r.inputs["chart"] == COLLECTOR]
    return release


def _env(run: ProgramRun, service: str) -> dict[str, Any]:
    [deployment] = run.k8s("Deployment", name=service)
    container = deployment.manifest["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_collector_is_a_pinned_chart_receiving_otlp(run: ProgramRun) -> None:
    release = _collector(run)
    assert (release.inputs["repositoryOpts"]["repo"], release.inputs["version"], release.inputs["namespace"]) == (
        "https://open-telemetry.github.io/opentelemetry-helm-charts",
        "0.170.0",
        "tracing",
    )
    values = release.inputs["values"]
    assert values["mode"] == "deployment"
    assert values["config"]["receivers"]["otlp"]["protocols"] == {
        "grpc": {"endpoint": "${env:MY_POD_IP}:4317"},
        "http": {"endpoint": "${env:MY_POD_IP}:4318"},
    }
    assert values["config"]["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]


def test_every_service_sends_traces_to_the_collector_at_the_configured_ratio(run: ProgramRun) -> None:
    for service, namespace in (("storefront", "shop"), ("order-worker", "shop-workers")):
        env = _env(run, service)
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.tracing.svc:4318"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
        assert env["OTEL_SERVICE_NAME"] == service
        assert env["OTEL_RESOURCE_ATTRIBUTES"] == f"k8s.namespace.name={namespace},deployment.environment={run.stack}"


def test_gke_exports_to_cloud_trace_with_workload_identity_and_no_key(gke_run: ProgramRun) -> None:
    values = _collector(gke_run).inputs["values"]
    assert values["config"]["service"]["pipelines"]["traces"]["exporters"] == ["googlecloud"]
    accounts = [a for a in gke_run.of_type("gcp:serviceaccount/account:Account") if "tracing" in a.name]
    [account] = accounts
    assert account.inputs["accountId"] == f"otel-collector-{gke_run.stack}"
    email = f"otel-collector-{gke_run.stack}@{account.inputs['project']}.iam.gserviceaccount.com"
    assert values["serviceAccount"]["annotations"] == {"iam.gke.io/gcp-service-account": email}
    [role] = [m for m in gke_run.of_type("gcp:projects/iAMMember:IAMMember") if "tracing" in m.name]
    assert (role.inputs["role"], role.inputs["member"]) == ("roles/cloudtrace.agent", f"serviceAccount:{email}")
    [binding] = [m for m in gke_run.of_type("gcp:serviceaccount/iAMMember:IAMMember") if "tracing" in m.name]
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == f"serviceAccount:{account.inputs['project']}.svc.id.goog[tracing/otel-collector]"
    assert gke_run.of_type("gcp:serviceaccount/key:Key") == []


def test_dev_exports_to_the_debug_exporter(dev: ProgramRun) -> None:
    values = _collector(dev).inputs["values"]
    assert values["config"]["service"]["pipelines"]["traces"]["exporters"] == ["debug"]
    assert "serviceAccount" not in values
    assert [a for a in dev.of_type("gcp:serviceaccount/account:Account") if "tracing" in a.name] == []


def test_every_namespace_may_send_otlp_to_the_collector_only(staging: ProgramRun) -> None:
    for namespace in ("shop", "shop-workers", "shop-data"):
        [policy] = staging.k8s("NetworkPolicy", name="allow-telemetry-export", namespace=namespace)
        assert policy.manifest["spec"] == {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["tracing"]}
                                ]
                            },
                            "podSelector": {
                                "matchLabels": {
                                    "app.kubernetes.io/name": "opentelemetry-collector",
                                    "app.kubernetes.io/instance": "opentelemetry-collector",
                                }
                            },
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": 4317}, {"protocol": "TCP", "port": 4318}],
                }
            ],
        }


def test_a_service_env_overrides_the_sampling_and_tracing_off_removes_it() -> None:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:overrides"]["services"]["order-worker"]["env"] = {"OTEL_TRACES_SAMPLER_ARG": "1"}
    config["platform:addons"]["tracing"] = {"samplingRatio": 0.25}
    run = run_program("staging", config)
    assert _env(run, "order-worker")["OTEL_TRACES_SAMPLER_ARG"] == "1"
    assert _env(run, "storefront")["OTEL_TRACES_SAMPLER_ARG"] == "0.25"

    config["platform:addons"]["tracing"] = {"enabled": False}
    run = run_program("staging", config)
    assert [r for r in run.of_type(RELEASE) if r.inputs["chart"] == COLLECTOR] == []
    assert [k for k in _env(run, "storefront") if k.startswith("OTEL_")] == []
    assert run.k8s("NetworkPolicy", name="allow-telemetry-export") == []


def test_a_stateful_service_s_pods_are_matched_by_ordinal() -> None:
    from components.observability.rules import ServiceFacts, rule_spec

    facts = ServiceFacts(name="ledger", namespace="shop", slo=None, has_hpa=False, has_pdb=False, stateful=True)
    [crash] = [r for r in rule_spec(facts)["groups"][0]["rules"] if r["alert"] == "ServicePodCrashLooping"]
    assert 'pod=~"ledger-[0-9]+"' in crash["expr"]
