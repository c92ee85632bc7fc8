"""Every Kubernetes object, in every stack, is schema-valid for Kubernetes 1.31, 1.33 and 1.35 and
uses current API versions; plus hand-made manifests proving those gates bite."""

from __future__ import annotations

from typing import Any

from gates import (
    CRD_KINDS,
    CURRENT_API_VERSIONS,
    DEPRECATED_API_VERSIONS,
    Manifest,
    api_version_failures,
    check_api_versions,
    check_schemas,
    integral_floats_to_ints,
    manifests,
    platform_config,
    schema_failures,
    unvalidated_kinds,
)
from harness import ProgramRun, Registration

# --------------------------------------------------------------------------- the program, every stack


def test_every_manifest_validates_against_the_strict_schemas(run: ProgramRun) -> None:
    assert schema_failures(run) == []


def test_only_known_custom_resources_go_without_a_built_in_schema(run: ProgramRun) -> None:
    known = {f"{api_version} {kind}" for kind, api_version in CRD_KINDS.items()}
    assert set(unvalidated_kinds(run)) <= known


def test_every_kind_is_registered_at_its_current_api_version(run: ProgramRun) -> None:
    assert api_version_failures(run) == []


def test_no_deprecated_or_removed_api_version_is_registered(run: ProgramRun) -> None:
    registered = {item.api_version for item in manifests(run)}
    assert registered & DEPRECATED_API_VERSIONS == set()
    assert registered <= set(CURRENT_API_VERSIONS.values())


def test_the_gates_see_every_namespace_and_every_service_workload(run: ProgramRun) -> None:
    # Guards against a gate that passes because it was handed nothing.
    config = platform_config(run.stack)
    seen = {(item.kind, (item.body.get("metadata") or {}).get("name")) for item in manifests(run)}
    expected = {("Namespace", ns.name) for ns in config.namespaces} | {
        ("Deployment", service.name) for service in config.services
    }
    assert expected - seen == set()


# --------------------------------------------------------------------------- building manifests from a run


def _registration(type_: str, name: str, parent: str, inputs: dict[str, Any], custom: bool = True) -> Registration:
    return Registration(
        type=type_,
        name=name,
        urn=f"urn:pulumi:t::platform::{type_}::{name}",
        inputs=inputs,
        parent=parent,
        provider="",
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        dependencies=(),
        additional_secret_outputs=(),
        ignore_changes=(),
        replace_on_changes=(),
        custom=custom,
    )


def test_manifests_are_the_unwrapped_kubernetes_objects_with_their_owning_service() -> None:
    platform = _registration("platform:index:Platform", "shop", "", {}, custom=False)
    service = _registration("platform:workloads:Microservice", "checkout", platform.urn, {}, custom=False)
    nested = _registration("platform:workloads:Migration", "checkout-migration", service.urn, {}, custom=False)
    job = _registration(
        "kubernetes:batch/v1:Job",
        "checkout-migrate",
        nested.urn,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "checkout-migrate-1-9-0", "namespace": "shop"},
            "spec": {"backoffLimit": 3.0, "template": {"spec": {"restartPolicy": "Never", "containers": []}}},
        },
    )
    secret = _registration(
        "kubernetes:core/v1:Secret",
        "api-secrets",
        platform.urn,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"namespace": "shop"},
            "stringData": {
                "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                "value": {"TOKEN": "abc"},
            },
        },
    )
    provider = _registration("pulumi:providers:kubernetes", "k8s", platform.urn, {"kubeconfig": "x"})
    release = _registration(
        "kubernetes:helm.sh/v3:Release", "ingress-nginx", platform.urn, {"chart": "ingress-nginx", "version": "4.13.3"}
    )
    run = ProgramRun("t", [platform, service, nested, job, secret, provider, release], {}, set())

    found = manifests(run)

    assert [(item.resource_name, item.service, item.body) for item in found] == [
        (
            "checkout-migrate",
            "checkout",
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "checkout-migrate-1-9-0", "namespace": "shop"},
                "spec": {"backoffLimit": 3, "template": {"spec": {"restartPolicy": "Never", "containers": []}}},
            },
        ),
        (
            "api-secrets",
            None,
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "shop"}, "stringData": {"TOKEN": "abc"}},
        ),
    ]
    assert found[1].label == "Secret shop/<api-secrets-autonamed> (resource 'api-secrets')"


def test_integral_floats_become_ints_and_nothing_else_changes() -> None:
    assert integral_floats_to_ints({"a": 3.0, "b": [2.5, 1.0, "4.0"], "c": True, "d": {"e": 0.0}}) == {
        "a": 3,
        "b": [2.5, 1, "4.0"],
        "c": True,
        "d": {"e": 0},
    }


# --------------------------------------------------------------------------- the schema gate bites


def _deployment(**spec_changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1.2.3"}]},
        },
    }
    spec.update(spec_changes)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": spec,
    }


def _manifest(body: dict[str, Any]) -> Manifest:
    return Manifest(integral_floats_to_ints(body), "web")


LABEL = "Deployment shop/web (resource 'web')"


def test_a_valid_deployment_passes_every_version() -> None:
    report = check_schemas([_manifest(_deployment(replicas=3.0))])
    assert report.problems == []
    assert report.unvalidated == []


def test_a_missing_required_field_is_reported_for_each_version() -> None:
    body = _deployment()
    del body["spec"]["selector"]
    assert check_schemas([_manifest(body)]).problems == [
        f"{LABEL}: Kubernetes {version}: spec: 'selector' is a required property"
        for version in ("1.31", "1.33", "1.35")
    ]


def test_an_unknown_field_is_reported_because_the_schemas_are_strict() -> None:
    body = _deployment()
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert check_schemas([_manifest(body)], versions=("1.35",)).problems == [
        f"{LABEL}: Kubernetes 1.35: spec.template.spec.containers.0: "
        "Additional properties are not allowed ('imagePullPolicyy' was unexpected)"
    ]


def test_a_fractional_number_where_an_integer_belongs_is_reported() -> None:
    assert check_schemas([_manifest(_deployment(replicas=2.5))], versions=("1.31",)).problems == [
        f"{LABEL}: Kubernetes 1.31: spec.replicas: 2.5 is not of type 'integer', 'null'"
    ]


def test_a_misspelt_built_in_kind_is_not_waved_through_as_a_custom_resource() -> None:
    body = {**_deployment(), "kind": "Deploymnet"}
    report = check_schemas([_manifest(body)])
    assert report.unvalidated == ["apps/v1 Deploymnet"]
    assert report.problems == [
        "Deploymnet shop/web (resource 'web'): no schema for apps/v1 Deploymnet in Kubernetes 1.31, 1.33, 1.35, "
        "and it is not a known custom resource"
    ]


def test_a_removed_api_version_has_no_schema_and_is_reported() -> None:
    body = {
        "apiVersion": "autoscaling/v2beta2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3},
    }
    assert check_schemas([_manifest(body)]).problems == [
        "HorizontalPodAutoscaler shop/web (resource 'web'): no schema for autoscaling/v2beta2 HorizontalPodAutoscaler "
        "in Kubernetes 1.31, 1.33, 1.35, and it is not a known custom resource"
    ]
    assert check_api_versions([_manifest(body)]) == [
        "HorizontalPodAutoscaler shop/web (resource 'web'): autoscaling/v2beta2 is deprecated or removed; use autoscaling/v2"
    ]


def test_known_custom_resources_are_listed_as_unvalidated_but_a_wrong_version_of_one_is_not() -> None:
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "letsencrypt-staging"},
        "spec": {"acme": {}},
    }
    old_issuer = {**issuer, "apiVersion": "cert-manager.io/v1alpha2"}
    report = check_schemas([Manifest(issuer, "issuer"), Manifest(old_issuer, "old-issuer")])
    assert report.unvalidated == ["cert-manager.io/v1 ClusterIssuer", "cert-manager.io/v1alpha2 ClusterIssuer"]
    assert report.problems == [
        "ClusterIssuer letsencrypt-staging (resource 'old-issuer'): no schema for cert-manager.io/v1alpha2 "
        "ClusterIssuer in Kubernetes 1.31, 1.33, 1.35, and it is not a known custom resource"
    ]


def test_an_old_but_served_api_version_is_reported_as_not_current() -> None:
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}}
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert check_api_versions([Manifest(hpa, "web"), Manifest(unknown, "w")]) == [
        "HorizontalPodAutoscaler web (resource 'web'): autoscaling/v1 is not current; use autoscaling/v2",
        "Widget w (resource 'w'): Widget is not a kind this platform knows the current apiVersion of",
    ]
