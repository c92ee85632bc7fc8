"""The Microservice component: one test per documented default and per feature the seeds ask for.

Values are read from the registered inputs of the repo's stacks (cached per session); features no
stack uses yet run once through a module-scoped custom staging config (`custom`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from harness import ProgramRun, Registration, is_secret_value, run_program, stack_config, unwrap

from components.workloads.config import PROBE_DEFAULTS, ServiceConfig
from components.workloads.identity import gcp_account_id
from components.workloads.microservice import migration_job_name
from components.workloads.pod import to_dns_label

SERVICES = ("storefront", "checkout", "order-worker")
NAMESPACE_OF = {"storefront": "shop", "checkout": "shop", "order-worker": "shop-workers"}
SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
ON_SPOT = {"matchExpressions": [{"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]}]}


def _one(run: ProgramRun, kind: str, name: str) -> Registration:
    found = run.k8s(kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _manifest(run: ProgramRun, kind: str, name: str) -> dict[str, Any]:
    return _one(run, kind, name).manifest


def _pod(run: ProgramRun, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = _manifest(run, "Deployment", name)["spec"]["template"]["spec"]
    return pod


def _container(run: ProgramRun, name: str) -> dict[str, Any]:
    container: dict[str, Any] = _pod(run, name)["containers"][0]
    return container


# --------------------------------------------------------------------------- a custom stack for the rest

AUTH: dict[str, Any] = {
    "name": "auth",
    "namespace": "shop",
    "image": "europe-docker.pkg.dev/acme-shop/apps/auth:2024.10.01_RC1",
    "ports": [{"name": "http", "containerPort": 8000}, {"name": "health", "containerPort": 8081}],
    "config": {"TOKEN_TTL": "3600"},
    "env": {
        "POD_NAMESPACE": {"fieldRef": "metadata.namespace"},
        "JWT_SECRET": {"secretKeyRef": {"name": "api-secrets", "key": "JWT_SECRET"}},
        "REDIS_URL": {"configMapKeyRef": {"name": "app-config", "key": "REDIS_URL"}},
        "LOG_FORMAT": "json",
    },
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1000m", "memory": "2Gi"}},
    "probes": {
        "startup": {"tcpSocket": {"port": "health"}, "periodSeconds": 4, "failureThreshold": 60},
        "liveness": {"httpGet": {"path": "/health", "port": 8081}, "initialDelaySeconds": 30},
        "readiness": {"exec": {"command": ["/bin/ready"]}, "timeoutSeconds": 1},
    },
    "shutdown": {"preStopSleepSeconds": 0, "terminationGracePeriodSeconds": 60},
    "strategy": {"type": "Recreate"},
    "spread": {"mode": "anti-affinity"},
    "nodeSelector": {"workload-type": "compute"},
    "replicas": 2,
    "disruptionBudget": {"minAvailable": 1},
    "routes": [{"host": "api.${domain}", "path": "/api/auth"}],
    "allowFrom": ["storefront", "order-worker"],
    "migration": {"command": ["alembic", "upgrade", "head"], "backoffLimit": 1},
    "serviceAccount": {
        "automountToken": True,
        "workloadIdentity": {"roles": ["roles/cloudsql.client", "roles/storage.objectViewer"]},
    },
}


def _custom_config() -> dict[str, Any]:
    config = copy.deepcopy(stack_config("staging"))
    config["platform:services"].append(AUTH)
    config["platform:nodePools"].append(
        {
            "name": "compute",
            "machineType": "e2-standard-8",
            "minNodes": 0,
            "maxNodes": 2,
            "labels": {"workload-type": "compute"},
        }
    )
    # Seed 004's analysis service: scale up by 100 % or by 4 pods every 15 s, whichever is more.
    config["platform:overrides"]["services"]["storefront"]["autoscaling"]["behavior"] = {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 15},
                {"type": "Pods", "value": 4, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
        },
    }
    return config


@pytest.fixture(scope="module")
def custom() -> ProgramRun:
    return run_program("staging", _custom_config())


# --------------------------------------------------------------------------- naming and labels


def test_each_service_gets_its_objects_named_after_it(run: ProgramRun) -> None:
    for name in SERVICES:
        for kind in ("ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler", "NetworkPolicy"):
            meta = _manifest(run, kind, name)["metadata"]
            assert (meta["name"], meta["namespace"]) == (name, NAMESPACE_OF[name])


def test_recommended_labels_on_deployment_and_pods_and_a_stable_selector(staging: ProgramRun) -> None:
    deployment = _manifest(staging, "Deployment", "checkout")
    expected = {
        "app.kubernetes.io/name": "checkout",
        "app.kubernetes.io/instance": "checkout",
        "app.kubernetes.io/version": "1.9.0",
        "app.kubernetes.io/component": "service",
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/managed-by": "pulumi",
    }
    assert deployment["metadata"]["labels"] == expected
    assert deployment["spec"]["template"]["metadata"]["labels"] == expected
    # The version changes every release; selectors are immutable, so it stays out of them.
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "checkout",
        "app.kubernetes.io/instance": "checkout",
    }
    # Every other object of the service is labelled alike, without the version.
    unversioned = {key: value for key, value in expected.items() if key != "app.kubernetes.io/version"}
    for kind in ("Service", "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceAccount", "ConfigMap"):
        name = "checkout-config" if kind == "ConfigMap" else "checkout"
        assert _manifest(staging, kind, name)["metadata"]["labels"] == unversioned, kind


def test_an_image_tag_change_changes_only_the_deployment_and_the_migration_job() -> None:
    # Two runs of the same stack whose only difference is checkout's image tag (1.9.0 -> 1.9.1).
    config = stack_config("production")
    before = run_program("production", config)
    changed = copy.deepcopy(config)
    service = next(s for s in changed["platform:services"] if s["name"] == "checkout")
    service["image"] = service["image"].replace(":1.9.0", ":1.9.1")
    after = run_program("production", changed)

    def inputs(run: ProgramRun) -> dict[str, Any]:
        return {r.urn: r.inputs for r in run.resources}

    old, new = inputs(before), inputs(after)
    differing = sorted(urn.rsplit("::", 1)[1] for urn in old.keys() & new.keys() if old[urn] != new[urn])
    assert differing == ["checkout-deployment", "checkout-migrate"]
    # Nothing else is added or removed: the Job keeps its URN (its Kubernetes name carries the tag).
    assert old.keys() == new.keys()


def test_every_kubernetes_object_uses_the_cluster_provider_and_its_namespace_resource(run: ProgramRun) -> None:
    provider = run.one("pulumi:providers:kubernetes")
    namespaces = {r.manifest["metadata"]["name"]: r.urn for r in run.k8s("Namespace")}
    components = {r.urn for r in run.of_type("platform:workloads:Microservice")}
    children = [r for r in run.resources if r.parent in components and r.type.startswith("kubernetes:")]
    assert len(children) >= 3 * 5  # ServiceAccount, Deployment, Service, HPA and NetworkPolicy each
    for child in children:
        assert child.provider.startswith(provider.urn + "::"), child.urn
        namespace = child.manifest["metadata"]["namespace"]
        assert namespaces[namespace] in child.dependencies, child.urn


# --------------------------------------------------------------------------- service account and identity


def test_service_account_token_is_not_mounted_by_default(run: ProgramRun) -> None:
    for name in SERVICES:
        assert _manifest(run, "ServiceAccount", name)["automountServiceAccountToken"] is False
        assert _pod(run, name)["automountServiceAccountToken"] is False
        assert _pod(run, name)["serviceAccountName"] == name


def test_a_service_may_ask_for_its_token(custom: ProgramRun) -> None:
    assert _manifest(custom, "ServiceAccount", "auth")["automountServiceAccountToken"] is True
    assert _pod(custom, "auth")["automountServiceAccountToken"] is True


def test_workload_identity_binds_a_gcp_account_with_its_roles(custom: ProgramRun) -> None:
    account = custom.one("gcp:serviceaccount/account:Account", "auth-gsa")
    assert account.inputs["accountId"] == gcp_account_id("auth")
    assert account.inputs["project"] == "acme-shop-staging"
    email = f"{gcp_account_id('auth')}@acme-shop-staging.iam.gserviceaccount.com"

    roles = {r.inputs["role"]: r.inputs for r in custom.of_type("gcp:projects/iAMMember:IAMMember") if "auth" in r.name}
    assert set(roles) == {"roles/cloudsql.client", "roles/storage.objectViewer"}
    assert all(r["member"] == f"serviceAccount:{email}" for r in roles.values())
    assert all(r["project"] == "acme-shop-staging" for r in roles.values())

    binding = custom.one("gcp:serviceaccount/iAMMember:IAMMember", "auth-workload-identity")
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == "serviceAccount:acme-shop-staging.svc.id.goog[shop/auth]"
    assert binding.inputs["serviceAccountId"] == f"projects/acme-shop-staging/serviceAccounts/{email}"
    ksa = _one(custom, "ServiceAccount", "auth")
    assert ksa.manifest["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": email}
    # The cluster's identity pool exists once the cluster does; the Kubernetes SA comes after it.
    assert ksa.urn in binding.dependencies


def test_without_workload_identity_no_gcp_account_is_created(staging: ProgramRun) -> None:
    assert [r.name for r in staging.of_type("gcp:serviceaccount/account:Account") if r.name.endswith("-gsa")] == []
    assert "annotations" not in _manifest(staging, "ServiceAccount", "checkout")["metadata"]


def test_gcp_account_ids_are_valid_for_short_and_long_names() -> None:
    assert gcp_account_id("checkout") == "checkout"
    short, long = gcp_account_id("api"), gcp_account_id("a" * 40)
    assert 6 <= len(short) <= 30 and short.startswith("api-")
    assert len(long) == 30 and long.startswith("a" * 23 + "-")


# --------------------------------------------------------------------------- configuration and checksums


def test_own_config_map_holds_the_service_config_and_is_consumed_last_via_env_from(staging: ProgramRun) -> None:
    config_map = _manifest(staging, "ConfigMap", "checkout-config")
    assert config_map["data"] == {"PAYMENT_TIMEOUT_SECONDS": "10"}
    assert _container(staging, "checkout")["envFrom"] == [{"configMapRef": {"name": "checkout-config"}}]
    assert _container(staging, "storefront")["envFrom"] == [{"configMapRef": {"name": "app-config"}}]
    assert staging.k8s("ConfigMap", "storefront-config") == []


def test_checksum_annotations_cover_every_consumed_secret_and_config_map(staging: ProgramRun) -> None:
    annotations = {
        name: _manifest(staging, "Deployment", name)["spec"]["template"]["metadata"]["annotations"] for name in SERVICES
    }
    checksums = {name: {k for k in values if k.startswith("checksum/")} for name, values in annotations.items()}
    assert checksums == {
        "storefront": {"checksum/secret-database-credentials", "checksum/configmap-app-config"},
        "checkout": {
            "checksum/secret-database-credentials",
            "checksum/secret-api-secrets",
            "checksum/configmap-checkout-config",
        },
        "order-worker": {"checksum/secret-database-credentials", "checksum/configmap-app-config"},
    }
    # The service's own map is hashed like the shared ones: canonical JSON of its data.
    own = _manifest(staging, "ConfigMap", "checkout-config")["data"]
    expected = hashlib.sha256(json.dumps(own, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert annotations["checkout"]["checksum/configmap-checkout-config"] == expected
    shared = staging.k8s("ConfigMap", "app-config", namespace="shop")[0].manifest["data"]
    assert (
        annotations["storefront"]["checksum/configmap-app-config"]
        == hashlib.sha256(json.dumps(shared, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    )


def test_checksum_annotations_never_carry_a_secret_value(staging: ProgramRun) -> None:
    secret_values = set()
    for secret in staging.k8s("Secret"):
        for values in (secret.manifest.get("stringData") or {}, secret.manifest.get("data") or {}):
            secret_values.update(v for v in values.values() if len(v) >= 6)
    assert len(secret_values) >= 4
    for name in SERVICES:
        raw = _one(staging, "Deployment", name).inputs["spec"]["template"]["metadata"]["annotations"]
        for key, value in raw.items():
            if key.startswith("checksum/"):
                assert not is_secret_value(value) and len(value) == 64 and int(value, 16) >= 0
                assert not any(secret in value or value in secret for secret in secret_values)


# --------------------------------------------------------------------------- the container


def test_container_runs_the_pinned_image_pulling_always_outside_dev(run: ProgramRun) -> None:
    container = _container(run, "checkout")
    assert container["image"] == "europe-docker.pkg.dev/acme-shop/apps/checkout:1.9.0"
    # dev pulls IfNotPresent, so images loaded with `kind load docker-image` run.
    assert container["imagePullPolicy"] == ("IfNotPresent" if run.stack == "dev" else "Always")


def test_the_migration_job_pulls_like_its_service(run: ProgramRun) -> None:
    job = run.k8s("Job")[0].manifest["spec"]["template"]["spec"]["containers"][0]
    assert job["imagePullPolicy"] == _container(run, "checkout")["imagePullPolicy"]


def test_an_explicit_pull_policy_wins_over_the_environments_default() -> None:
    config = stack_config("dev")
    config["platform:overrides"] = {"services": {"checkout": {"imagePullPolicy": "Always"}}}
    assert _container(run_program("dev", config), "checkout")["imagePullPolicy"] == "Always"


def test_named_container_ports(run: ProgramRun) -> None:
    assert _container(run, "order-worker")["ports"] == [
        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
        {"name": "health", "containerPort": 8080, "protocol": "TCP"},
    ]


def test_env_lists_literals_then_secret_then_config_map_then_field_refs(custom: ProgramRun) -> None:
    env = _container(custom, "auth")["env"]
    # The platform's OpenTelemetry settings lead the literals (values in test_observability.py).
    assert [e["name"] for e in env[:6]] == [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    ]
    assert env[6:] == [
        {"name": "LOG_FORMAT", "value": "json"},
        {"name": "JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "JWT_SECRET"}}},
        {"name": "REDIS_URL", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "REDIS_URL"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]


def test_downward_api_fields_for_seed_003(run: ProgramRun) -> None:
    env = {e["name"]: e.get("valueFrom") for e in _container(run, "order-worker")["env"]}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_secrets_mount_read_only_and_tmp_is_a_bounded_empty_dir(run: ProgramRun) -> None:
    container, pod = _container(run, "checkout"), _pod(run, "checkout")
    assert container["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "mount-0", "mountPath": "/var/run/secrets/api", "readOnly": True},
    ]
    assert pod["volumes"] == [
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "mount-0", "secret": {"secretName": "api-secrets", "defaultMode": 0o440}},
    ]


def test_size_preset_small_sets_seed_003_requests_and_limits(run: ProgramRun) -> None:
    # Ephemeral storage: /tmp (256Mi) plus the log allowance (64Mi), requested and limited alike.
    assert _container(run, "storefront")["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "320Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "320Mi"},
    }


def test_explicit_resources_are_used_as_written(custom: ProgramRun) -> None:
    assert _container(custom, "auth")["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "320Mi"},
        "limits": {"cpu": "1000m", "memory": "2Gi", "ephemeral-storage": "320Mi"},
    }


def test_probe_timings_default_to_seed_002(run: ProgramRun) -> None:
    container = _container(run, "storefront")
    for kind, field in (("startup", "startupProbe"), ("liveness", "livenessProbe"), ("readiness", "readinessProbe")):
        probe = container[field]
        assert {k: v for k, v in probe.items() if k != "httpGet"} == PROBE_DEFAULTS[kind]
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz/startup", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz/ready", "port": "http"}


def test_probes_by_tcp_or_exec_with_custom_timings(custom: ProgramRun) -> None:
    container = _container(custom, "auth")
    assert container["startupProbe"] == {**PROBE_DEFAULTS["startup"], "periodSeconds": 4, "failureThreshold": 60} | {
        "tcpSocket": {"port": "health"}
    }
    # A probe port given by number is written by its name.
    assert container["livenessProbe"] == {**PROBE_DEFAULTS["liveness"], "initialDelaySeconds": 30} | {
        "httpGet": {"path": "/health", "port": "health"}
    }
    assert container["readinessProbe"] == {**PROBE_DEFAULTS["readiness"], "timeoutSeconds": 1} | {
        "exec": {"command": ["/bin/ready"]}
    }


def test_graceful_shutdown_defaults_to_seed_002(run: ProgramRun) -> None:
    assert _container(run, "storefront")["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    assert _pod(run, "storefront")["terminationGracePeriodSeconds"] == 30
    # Seed 003's workers: a short sleep and 60 s to finish their batch.
    assert _container(run, "order-worker")["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    assert _pod(run, "order-worker")["terminationGracePeriodSeconds"] == 60


def test_a_zero_pre_stop_sleep_adds_no_hook(custom: ProgramRun) -> None:
    assert "lifecycle" not in _container(custom, "auth")
    assert _pod(custom, "auth")["terminationGracePeriodSeconds"] == 60


def test_restricted_security_context(run: ProgramRun) -> None:
    for name in SERVICES:
        assert _pod(run, name)["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert _container(run, name)["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }


# --------------------------------------------------------------------------- the Deployment


def test_no_replicas_when_an_hpa_manages_the_deployment(run: ProgramRun) -> None:
    for name in SERVICES:
        assert "replicas" not in _manifest(run, "Deployment", name)["spec"]


def test_replicas_are_set_when_autoscaling_is_off(custom: ProgramRun) -> None:
    assert _manifest(custom, "Deployment", "auth")["spec"]["replicas"] == 2
    assert custom.k8s("HorizontalPodAutoscaler", "auth") == []


def test_rolling_update_surges_a_quarter_and_never_drops_below_desired(run: ProgramRun) -> None:
    spec = _manifest(run, "Deployment", "storefront")["spec"]
    # Kubernetes' own default surge: a 20-replica rollout takes 4 waves of 5, not 20 of 1.
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (5, 600)


def test_recreate_strategy_has_no_rolling_update_block(custom: ProgramRun) -> None:
    assert _manifest(custom, "Deployment", "auth")["spec"]["strategy"] == {"type": "Recreate"}


def test_metrics_are_scraped_by_the_service_monitor_not_by_pod_annotations(staging: ProgramRun) -> None:
    # Nothing reads prometheus.io/* (no annotation-driven job): the ServiceMonitor is the one scrape.
    annotations = _manifest(staging, "Deployment", "order-worker")["spec"]["template"]["metadata"]["annotations"]
    assert [k for k in annotations if k.startswith("prometheus.io/")] == []
    [monitor] = staging.k8s("ServiceMonitor", name="order-worker")
    assert monitor.manifest["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]


# --------------------------------------------------------------------------- placement


def test_spot_service_tolerates_and_requires_spot_nodes(staging: ProgramRun) -> None:
    pod = _pod(staging, "order-worker")
    assert pod["tolerations"] == [SPOT_TOLERATION]
    assert pod["affinity"]["nodeAffinity"] == {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [ON_SPOT]}
    }


def test_prefer_spot_service_tolerates_and_prefers_spot_nodes(staging: ProgramRun) -> None:
    pod = _pod(staging, "storefront")
    assert pod["tolerations"] == [SPOT_TOLERATION]
    assert pod["affinity"]["nodeAffinity"] == {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "preference": ON_SPOT}]
    }


def test_regular_service_gets_no_spot_toleration(production: ProgramRun) -> None:
    pod = _pod(production, "storefront")
    assert "tolerations" not in pod
    assert "affinity" not in pod


def test_spot_relaxes_to_prefer_spot_on_an_existing_cluster() -> None:
    config = copy.deepcopy(stack_config("dev"))
    next(s for s in config["platform:services"] if s["name"] == "order-worker")["placement"] = "spot"
    pod = _pod(run_program("dev", config), "order-worker")
    assert pod["tolerations"] == [SPOT_TOLERATION]
    assert pod["affinity"]["nodeAffinity"] == {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "preference": ON_SPOT}]
    }


def test_node_selector_from_config(custom: ProgramRun) -> None:
    assert _pod(custom, "auth")["nodeSelector"] == {"workload-type": "compute"}
    assert "nodeSelector" not in _pod(custom, "checkout")


def test_replicas_spread_over_zones_and_nodes_by_default(run: ProgramRun) -> None:
    selector = {"matchLabels": {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/instance": "checkout"}}
    assert _pod(run, "checkout")["topologySpreadConstraints"] == [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": selector,
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def test_anti_affinity_spread_prefers_distinct_nodes(custom: ProgramRun) -> None:
    pod = _pod(custom, "auth")
    assert "topologySpreadConstraints" not in pod
    assert pod["affinity"] == {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {
                            "matchLabels": {"app.kubernetes.io/name": "auth", "app.kubernetes.io/instance": "auth"}
                        },
                    },
                }
            ]
        }
    }


# --------------------------------------------------------------------------- Service, HPA, PDB


def test_cluster_ip_service_maps_http_to_80_and_keeps_named_ports(run: ProgramRun) -> None:
    spec = _manifest(run, "Service", "checkout")["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/instance": "checkout"}
    assert spec["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"},
    ]


def test_hpa_scales_the_deployment_on_cpu_memory_and_a_pods_metric(production: ProgramRun) -> None:
    storefront = _manifest(production, "HorizontalPodAutoscaler", "storefront")["spec"]
    assert storefront["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "storefront"}
    assert (storefront["minReplicas"], storefront["maxReplicas"]) == (3, 12)
    assert storefront["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
        {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
        },
    ]
    checkout = _manifest(production, "HorizontalPodAutoscaler", "checkout")["spec"]
    assert checkout["metrics"][-1] == {
        "type": "Pods",
        "pods": {
            "metric": {"name": "http_requests_per_second"},
            "target": {"type": "AverageValue", "averageValue": "1000"},
        },
    }


def test_hpa_behavior_defaults_to_seed_001(run: ProgramRun) -> None:
    assert _manifest(run, "HorizontalPodAutoscaler", "storefront")["spec"]["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
        },
    }


def test_hpa_behavior_expresses_seed_003s_conservative_profile(run: ProgramRun) -> None:
    assert _manifest(run, "HorizontalPodAutoscaler", "order-worker")["spec"]["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 300,
            "selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 600,
            "selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 180}],
        },
    }


def test_hpa_behavior_expresses_seed_004s_percent_or_pods(custom: ProgramRun) -> None:
    scale_up = _manifest(custom, "HorizontalPodAutoscaler", "storefront")["spec"]["behavior"]["scaleUp"]
    assert scale_up["policies"] == [
        {"type": "Percent", "value": 100, "periodSeconds": 15},
        {"type": "Pods", "value": 4, "periodSeconds": 15},
    ]
    assert scale_up["selectPolicy"] == "Max"


def test_pdb_allows_one_unavailable_by_default_in_production(production: ProgramRun) -> None:
    for name in SERVICES:
        assert _manifest(production, "PodDisruptionBudget", name)["spec"] == {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}},
            "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        }


def test_no_pdb_for_a_single_replica(dev: ProgramRun) -> None:
    assert dev.k8s("PodDisruptionBudget") == []


def test_pdb_min_available_from_config(custom: ProgramRun) -> None:
    spec = _manifest(custom, "PodDisruptionBudget", "auth")["spec"]
    assert spec["minAvailable"] == 1 and "maxUnavailable" not in spec


# --------------------------------------------------------------------------- NetworkPolicy


def _from_namespace(name: str) -> dict[str, Any]:
    selector = {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [name]}
    return {"namespaceSelector": {"matchExpressions": [selector]}}


def _service_pods(namespace: str, name: str) -> dict[str, Any]:
    return {**_from_namespace(namespace), "podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}


CONTROLLER_PODS = {
    **_from_namespace("ingress-nginx"),
    "podSelector": {
        "matchLabels": {
            "app.kubernetes.io/name": "ingress-nginx",
            "app.kubernetes.io/instance": "ingress-nginx",
            "app.kubernetes.io/component": "controller",
        }
    },
}


def test_network_policy_admits_the_edge_callers_and_monitoring(staging: ProgramRun) -> None:
    spec = _manifest(staging, "NetworkPolicy", "checkout")["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "checkout"}}
    assert spec["policyTypes"] == ["Ingress"]
    # The edge on GKE's Gateway: Google's front ends and health checkers, on the routed port only.
    google_front_ends = [{"ipBlock": {"cidr": "35.191.0.0/16"}}, {"ipBlock": {"cidr": "130.211.0.0/22"}}]
    assert spec["ingress"] == [
        {"from": google_front_ends, "ports": [{"port": "http", "protocol": "TCP"}]},
        {"from": [_service_pods("shop", "storefront")], "ports": [{"port": "http", "protocol": "TCP"}]},
        {"from": [_from_namespace("monitoring")], "ports": [{"port": "metrics", "protocol": "TCP"}]},
    ]


def test_a_caller_may_open_connections_only_to_the_services_that_admit_it(staging: ProgramRun) -> None:
    """storefront and checkout name each other in allowFrom: each gets an egress policy to the other's
    container port (not its metrics port); order-worker, named by nobody, gets none."""
    for caller, callee, port in (("storefront", "checkout", 8000), ("checkout", "storefront", 8080)):
        policy = _manifest(staging, "NetworkPolicy", f"{caller}-egress")
        assert policy["metadata"]["namespace"] == "shop"
        assert policy["spec"] == {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": caller}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [_service_pods("shop", callee)], "ports": [{"port": port, "protocol": "TCP"}]}],
        }
    assert staging.k8s("NetworkPolicy", name="order-worker-egress") == []
    registration = _one(staging, "NetworkPolicy", "storefront-egress")
    assert registration.name == "storefront-egress-policy"
    assert registration.parent.endswith("platform:workloads:Microservice::storefront")


def test_callers_in_other_namespaces_get_egress_to_each_callee(custom: ProgramRun) -> None:
    """auth admits storefront and order-worker on http and health (no metrics declared): both may call it."""
    to_auth = {
        "to": [_service_pods("shop", "auth")],
        "ports": [{"port": 8000, "protocol": "TCP"}, {"port": 8081, "protocol": "TCP"}],
    }
    assert _manifest(custom, "NetworkPolicy", "order-worker-egress")["spec"]["egress"] == [to_auth]
    storefront = _manifest(custom, "NetworkPolicy", "storefront-egress")["spec"]["egress"]
    assert storefront == [
        {"to": [_service_pods("shop", "checkout")], "ports": [{"port": 8000, "protocol": "TCP"}]},
        to_auth,
    ]


def test_unrouted_service_admits_only_monitoring_on_its_metrics_port(run: ProgramRun) -> None:
    assert _manifest(run, "NetworkPolicy", "order-worker")["spec"]["ingress"] == [
        {"from": [_from_namespace("monitoring")], "ports": [{"port": "metrics", "protocol": "TCP"}]}
    ]


def test_allow_from_names_callers_in_their_own_namespaces(custom: ProgramRun) -> None:
    rules = _manifest(custom, "NetworkPolicy", "auth")["spec"]["ingress"]
    assert rules[1] == {
        "from": [_service_pods("shop", "storefront"), _service_pods("shop-workers", "order-worker")],
        "ports": [{"port": "http", "protocol": "TCP"}, {"port": "health", "protocol": "TCP"}],
    }
    assert len(rules) == 2  # no metrics declared: no monitoring rule


# --------------------------------------------------------------------------- migration Job


def test_migration_job_runs_the_service_image_before_the_deployment(staging: ProgramRun) -> None:
    job = _one(staging, "Job", "checkout-migrate-1-9-0")
    spec = job.manifest["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["activeDeadlineSeconds"]) == (3, 86400, 600)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    container, service = pod["containers"][0], _container(staging, "checkout")
    assert container["command"] == ["alembic", "upgrade", "head"]
    for key in ("image", "imagePullPolicy", "env", "envFrom", "volumeMounts", "resources", "securityContext"):
        assert container[key] == service[key], key
    assert pod["volumes"] == _pod(staging, "checkout")["volumes"]
    assert pod["securityContext"] == _pod(staging, "checkout")["securityContext"]
    assert pod["serviceAccountName"] == "checkout" and pod["automountServiceAccountToken"] is False
    deployment = _one(staging, "Deployment", "checkout")
    assert job.urn in deployment.dependencies


def test_migration_pods_stay_out_of_the_service_selector(staging: ProgramRun) -> None:
    labels = _manifest(staging, "Job", "checkout-migrate-1-9-0")["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == "checkout-migrate-1-9-0"
    assert labels["app.kubernetes.io/component"] == "migration"
    selector = _manifest(staging, "Service", "checkout")["spec"]["selector"]
    assert not selector.items() <= labels.items()


def test_a_changed_migration_job_is_replaced_never_patched(staging: ProgramRun) -> None:
    job = _one(staging, "Job", "checkout-migrate-1-9-0")
    assert job.replace_on_changes == ("spec",)
    assert job.delete_before_replace is True
    assert job.name == "checkout-migrate"  # stable resource name: a new tag replaces the same resource


def test_migration_job_name_carries_the_tag_as_a_dns_label(custom: ProgramRun) -> None:
    assert _manifest(custom, "Job", "auth-migrate-2024-10-01-rc1")["spec"]["backoffLimit"] == 1


def test_migration_job_names_are_trimmed_to_63_characters_and_stay_distinct() -> None:
    def service(tag: str) -> ServiceConfig:
        return ServiceConfig.model_validate(
            {
                "name": "billing",
                "namespace": "shop",
                "image": f"registry.example.com/billing:{tag}",
                "ports": [{"name": "http", "containerPort": 8080}],
                "probes": {"liveness": {"httpGet": {"path": "/h"}}, "readiness": {"httpGet": {"path": "/r"}}},
            }
        )

    first, second = (migration_job_name(service("release-" + "x" * 70 + suffix)) for suffix in ("a", "b"))
    assert len(first) == len(second) == 63
    assert first != second and first.startswith("billing-migrate-release-xxx")
    assert migration_job_name(service("V1.2.3_beta")) == "billing-migrate-v1-2-3-beta"
    assert to_dns_label("--A__b--") == "a-b"


def test_no_migration_job_unless_declared(run: ProgramRun) -> None:
    assert [r.manifest["metadata"]["name"] for r in run.k8s("Job")] == ["checkout-migrate-1-9-0"]


# --------------------------------------------------------------------------- ServiceMonitor


def test_service_monitor_waits_for_the_crd_release_only(gke_run: ProgramRun) -> None:
    releases = {r.inputs.get("chart"): r.urn for r in gke_run.of_type("kubernetes:helm.sh/v3:Release")}
    monitor = _one(gke_run, "ServiceMonitor", "order-worker")
    assert releases["prometheus-operator-crds"] in monitor.dependencies
    # Not the whole monitoring stack (about 4 minutes), only the CRDs it needs.
    assert releases["kube-prometheus-stack"] not in monitor.dependencies
    assert unwrap(monitor.inputs)["spec"] == {
        "selector": {
            "matchLabels": {"app.kubernetes.io/name": "order-worker", "app.kubernetes.io/instance": "order-worker"}
        },
        "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
    }


def test_no_service_monitor_when_monitoring_is_off_or_metrics_undeclared(dev: ProgramRun, custom: ProgramRun) -> None:
    assert dev.k8s("ServiceMonitor") == []
    assert custom.k8s("ServiceMonitor", "auth") == []
