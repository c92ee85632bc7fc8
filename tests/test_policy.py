"""Checkov's Kubernetes framework on the staging and production objects: 0 failed checks, bar the
two exceptions a service's config may choose; plus hand-made manifests proving the gate bites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gates import (
    CheckovReport,
    Finding,
    Manifest,
    checkov_executable,
    checkov_failures,
    checkov_report,
    judge_checkov,
    manifests,
    parse_checkov,
    platform_config,
    run_checkov,
)
from harness import ProgramRun

from components.config import PlatformConfig
from components.workloads.config import EnvSource


@pytest.fixture(scope="session")
def checkov() -> Path:
    """Checkov in .venv-checkov, built from requirements-checkov.txt on a fresh clone."""
    return checkov_executable()


# --------------------------------------------------------------------------- the program's GKE stacks


def test_checkov_reports_no_failed_check_but_the_justified_exceptions(gke_run: ProgramRun, checkov: Path) -> None:
    assert checkov_failures(gke_run, platform_config(gke_run.stack)) == []


def test_the_only_failures_left_are_the_exceptions_each_service_chose(gke_run: ProgramRun, checkov: Path) -> None:
    config = platform_config(gke_run.stack)
    expected = set()
    for item in manifests(gke_run):
        service = config.service(item.service) if item.service else None
        if service is None or item.kind not in ("Deployment", "Job"):
            continue
        if "@" not in service.image:
            expected.add(("CKV_K8S_43", item.label))
        if any(not isinstance(v, str) and v.secret_key_ref for v in service.env.values()) or any(
            source.secret for source in service.env_from
        ):
            expected.add(("CKV_K8S_35", item.label))
    assert {(f.check_id, f.manifest.label) for f in checkov_report(gke_run).failed} == expected


# --------------------------------------------------------------------------- hand-made manifests

SAMPLE_NAMESPACE = "samples"


def _hardened(name: str, image: str) -> dict[str, Any]:
    """A Deployment that passes every Checkov check: what each check wants, in one place."""
    labels = {"app.kubernetes.io/name": name, "sample": "hardened"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": SAMPLE_NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,  # CKV_K8S_38
                    "securityContext": {
                        "runAsNonRoot": True,  # CKV_K8S_23
                        "runAsUser": 10001,  # CKV_K8S_40: >= 10000
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},  # CKV_K8S_31
                    },
                    "containers": [
                        {
                            "name": name,
                            "image": image,  # CKV_K8S_43: a digest; CKV_K8S_14: no 'latest'
                            "imagePullPolicy": "Always",  # CKV_K8S_15
                            "resources": {  # CKV_K8S_10 to 13
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}},  # CKV_K8S_8
                            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},  # CKV_K8S_9
                            "securityContext": {
                                "allowPrivilegeEscalation": False,  # CKV_K8S_20
                                "readOnlyRootFilesystem": True,  # CKV_K8S_22
                                "capabilities": {"drop": ["ALL"]},  # CKV_K8S_28, CKV_K8S_37
                            },
                        }
                    ],
                },
            },
        },
    }


DIGEST_IMAGE = "registry.example.com/web@sha256:" + "a" * 64

SAMPLES = [
    Manifest(_hardened("hardened", DIGEST_IMAGE), "hardened"),
    # CKV2_K8S_6: a NetworkPolicy whose non-empty podSelector matches the pod's labels.
    Manifest(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "hardened", "namespace": SAMPLE_NAMESPACE},
            "spec": {"podSelector": {"matchLabels": {"sample": "hardened"}}, "policyTypes": ["Ingress"]},
        },
        "hardened-policy",
    ),
    Manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "privileged", "namespace": SAMPLE_NAMESPACE},
            "spec": {
                "selector": {"matchLabels": {"sample": "privileged"}},
                "template": {
                    "metadata": {"labels": {"sample": "privileged"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "registry.example.com/web:1.2.3",
                                "securityContext": {"privileged": True},
                            }
                        ]
                    },
                },
            },
        },
        "privileged",
    ),
    # Nameless and in the default namespace: Checkov must still see it, named as the engine would.
    Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}, "data": {"A": "b"}}, "settings"),
]
SKIPPING = _hardened("skipping", "registry.example.com/web:1.2.3")
SKIPPING["metadata"]["annotations"] = {"checkov.io/skip1": "CKV_K8S_43=pinned by tag"}
SAMPLES.append(Manifest(SKIPPING, "skipping"))


@pytest.fixture(scope="session")
def sample_report(checkov: Path) -> CheckovReport:
    return run_checkov(SAMPLES)


def _failed(report: CheckovReport, resource_name: str) -> set[str]:
    return {f.check_id for f in report.failed if f.manifest.resource_name == resource_name}


def test_a_privileged_unbounded_pod_fails_the_checks_that_matter(sample_report: CheckovReport) -> None:
    assert _failed(sample_report, "privileged") == {
        "CKV_K8S_8",  # no liveness probe
        "CKV_K8S_9",  # no readiness probe
        "CKV_K8S_10",  # no CPU request
        "CKV_K8S_11",  # no CPU limit
        "CKV_K8S_12",  # no memory request
        "CKV_K8S_13",  # no memory limit
        "CKV_K8S_15",  # pull policy defaults to IfNotPresent for a tag
        "CKV_K8S_16",  # privileged
        "CKV_K8S_20",  # privilege escalation not disabled
        "CKV_K8S_22",  # writable root filesystem
        "CKV_K8S_23",  # may run as root
        "CKV_K8S_28",  # NET_RAW not dropped
        "CKV_K8S_29",  # no pod security context
        "CKV_K8S_31",  # no seccomp profile
        "CKV_K8S_37",  # capabilities not dropped
        "CKV_K8S_38",  # service account token mounted
        "CKV_K8S_40",  # no high UID
        "CKV_K8S_43",  # tag, not digest
        "CKV2_K8S_6",  # no NetworkPolicy selects it
    }
    lines = judge_checkov(sample_report, platform_config("staging"))
    assert (
        "CKV_K8S_16 (Container should not be privileged) fails on Deployment samples/privileged "
        "(resource 'privileged') at spec/template/spec/containers/[0]/securityContext/privileged"
    ) in lines


def test_a_hardened_deployment_with_its_network_policy_passes_every_check(sample_report: CheckovReport) -> None:
    assert _failed(sample_report, "hardened") == set()
    assert _failed(sample_report, "hardened-policy") == set()


def test_a_nameless_object_is_scanned_under_the_name_the_engine_would_give_it(sample_report: CheckovReport) -> None:
    # Checkov drops objects without metadata.name; the gate names them after the Pulumi resource.
    assert [
        (f.check_id, f.resource, f.manifest.label)
        for f in sample_report.failed
        if f.manifest.resource_name == "settings"
    ] == [("CKV_K8S_21", "ConfigMap.default.settings", "ConfigMap <settings-autonamed> (resource 'settings')")]


def test_a_skip_annotation_is_reported_not_honoured(sample_report: CheckovReport) -> None:
    assert _failed(sample_report, "skipping") == set()
    lines = judge_checkov(sample_report, platform_config("staging"))
    assert (
        "CKV_K8S_43 skipped on Deployment samples/skipping (resource 'skipping') by an annotation; "
        "exceptions are judged by this gate, never skipped"
    ) in lines


# --------------------------------------------------------------------------- judging the exceptions

STOREFRONT_IMAGE = "europe-docker.pkg.dev/acme-shop/apps/storefront:2.4.1"


def _storefront(containers: list[dict[str, Any]]) -> Manifest:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "storefront", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }
    return Manifest(body, "storefront-deployment", service="storefront")


def _database_url(name: str = "DATABASE_URL", secret: str = "database-credentials", key: str = "url") -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _judge(check_id: str, manifest: Manifest, config: PlatformConfig | None = None) -> list[str]:
    finding = Finding(check_id, "a check", manifest, "Deployment.shop.storefront", ())
    report = CheckovReport(failed=[finding], skipped=[], parsing_errors=[], unscanned=[])
    return judge_checkov(report, config or platform_config("staging"))


def _with_storefront(**changes: Any) -> PlatformConfig:
    config = platform_config("staging")
    services = [s.model_copy(update=changes) if s.name == "storefront" else s for s in config.services]
    return config.model_copy(update={"services": services})


def test_a_tag_pinned_image_is_excused_where_the_service_config_pins_that_tag() -> None:
    manifest = _storefront([{"name": "storefront", "image": STOREFRONT_IMAGE}])
    assert _judge("CKV_K8S_43", manifest) == []


def test_a_tag_pinned_image_is_reported_where_the_service_config_pins_a_digest() -> None:
    digest = "europe-docker.pkg.dev/acme-shop/apps/storefront@sha256:" + "b" * 64
    manifest = _storefront([{"name": "storefront", "image": STOREFRONT_IMAGE}])
    assert _judge("CKV_K8S_43", manifest, _with_storefront(image=digest)) == [
        "CKV_K8S_43 (a check) fails on Deployment shop/storefront (resource 'storefront-deployment')"
    ]


def test_a_second_tagged_image_the_config_never_chose_is_reported() -> None:
    manifest = _storefront(
        [{"name": "storefront", "image": STOREFRONT_IMAGE}, {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}]
    )
    assert len(_judge("CKV_K8S_43", manifest)) == 1


def test_secret_env_vars_are_excused_where_the_service_config_declares_them() -> None:
    manifest = _storefront([{"name": "storefront", "image": STOREFRONT_IMAGE, "env": [_database_url()]}])
    assert _judge("CKV_K8S_35", manifest) == []


def test_a_secret_env_var_the_config_never_declared_is_reported() -> None:
    extra = _database_url("JWT_SECRET", "api-secrets", "JWT_SECRET")
    manifest = _storefront([{"name": "storefront", "image": STOREFRONT_IMAGE, "env": [_database_url(), extra]}])
    assert len(_judge("CKV_K8S_35", manifest)) == 1
    from_secret = _storefront(
        [{"name": "storefront", "image": STOREFRONT_IMAGE, "envFrom": [{"secretRef": {"name": "api-secrets"}}]}]
    )
    assert len(_judge("CKV_K8S_35", from_secret)) == 1


def test_an_envfrom_secret_is_excused_where_the_service_config_declares_it() -> None:
    config = _with_storefront(env={}, env_from=[EnvSource.model_validate({"secret": "api-secrets"})])
    manifest = _storefront(
        [{"name": "storefront", "image": STOREFRONT_IMAGE, "envFrom": [{"secretRef": {"name": "api-secrets"}}]}]
    )
    assert _judge("CKV_K8S_35", manifest, config) == []


def test_a_pull_policy_other_than_always_is_excused_only_where_the_environment_or_service_chose_it() -> None:
    if_not_present = _storefront([{"name": "storefront", "image": STOREFRONT_IMAGE, "imagePullPolicy": "IfNotPresent"}])
    dev = platform_config("dev")
    assert _judge("CKV_K8S_15", if_not_present, dev) == []
    assert len(_judge("CKV_K8S_15", if_not_present)) == 1  # staging pulls Always
    never = _storefront([{"name": "storefront", "image": STOREFRONT_IMAGE, "imagePullPolicy": "Never"}])
    assert len(_judge("CKV_K8S_15", never, dev)) == 1


def test_exceptions_never_cover_objects_outside_a_service_or_other_checks() -> None:
    addon = Manifest(_storefront([{"name": "x", "image": "x:1"}]).body, "some-addon")
    assert len(_judge("CKV_K8S_43", addon)) == 1
    manifest = _storefront([{"name": "storefront", "image": STOREFRONT_IMAGE}])
    assert len(_judge("CKV_K8S_16", manifest)) == 1


# --------------------------------------------------------------------------- reading Checkov's JSON


def _result(check_id: str, file_path: str) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "check_name": "name",
        "file_path": file_path,
        "resource": "ConfigMap.default.settings",
        "check_result": {"result": "FAILED", "evaluated_keys": ["metadata/namespace"]},
    }


CONFIG_MAP = Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}, "settings")
NAMESPACE = Manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}, "shop")


def test_a_list_of_framework_reports_is_read_for_its_kubernetes_one() -> None:
    document = [
        {"check_type": "secrets", "results": {"failed_checks": [_result("CKV_SECRET_1", "/0000.yaml")]}},
        {
            "check_type": "kubernetes",
            "results": {
                "passed_checks": [],
                "failed_checks": [_result("CKV_K8S_21", "/0000.yaml")],
                "skipped_checks": [],
                "parsing_errors": ["/0001.yaml"],
            },
        },
    ]
    report = parse_checkov(document, [CONFIG_MAP, NAMESPACE])
    assert [(f.check_id, f.manifest, f.evaluated_keys) for f in report.failed] == [
        ("CKV_K8S_21", CONFIG_MAP, ("metadata/namespace",))
    ]
    assert report.parsing_errors == [NAMESPACE]
    assert report.unscanned == []


def test_a_bare_summary_means_nothing_was_scanned_and_is_reported() -> None:
    summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    report = parse_checkov(summary, [CONFIG_MAP, NAMESPACE])
    # A Namespace has no Checkov check, so only the ConfigMap was owed a result.
    assert report.unscanned == [CONFIG_MAP]
    assert judge_checkov(report, platform_config("staging")) == [
        "Checkov reported nothing on ConfigMap settings (resource 'settings'); it was not scanned"
    ]


def test_a_canary_tagged_like_its_service_passes_checkov_but_that_exception(checkov: Path) -> None:
    """The canary track's Deployment `<service>-canary` is excused CKV_K8S_43 exactly as its service is."""
    from harness import run_program, stack_config

    values = stack_config("production")
    checkout = next(s for s in values["platform:services"] if s["name"] == "checkout")
    checkout["canary"] = {"image": "europe-docker.pkg.dev/acme-shop/apps/checkout:2.0.0", "weight": 10}
    run = run_program("production", values)
    assert checkov_failures(run, platform_config("production", values)) == []
    canary = [f for f in checkov_report(run).failed if "Deployment shop/checkout-canary" in f.manifest.label]
    assert {f.check_id for f in canary} == {"CKV_K8S_43", "CKV_K8S_35"}
