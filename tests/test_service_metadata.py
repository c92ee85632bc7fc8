"""A service's own labels, annotations and ServiceAccount name, on the shop fixture.

Asserted from the registered objects: the team's labels and annotations reach the workloads
(Deployment, canary Deployment, StatefulSet, migration Job) and their pods, while every selector
and the Service's, PDB's and account's own labels stay the platform's; keys the platform, Kubernetes
or a network policy relies on are refused; a chosen ServiceAccount name is the account the pods and
Workload Identity use, and two accounts may not share a name in a namespace.
"""

from __future__ import annotations

from typing import Any

import pytest
from harness import ProgramRun, assert_rejected, run_program, stack_config

TEAM_LABELS = {"team.example.com/cost-centre": "cc-1234", "app": "checkout", "version": "v1"}
TEAM_ANNOTATIONS = {
    "team.example.com/owner": "payments@example.com",
    "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
}
SELECTOR = {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/instance": "checkout"}


def with_service(stack: str, name: str, **changes: Any) -> dict[str, Any]:
    config = stack_config(stack)
    for service in config["platform:services"]:
        if service["name"] == name:
            service.update(changes)
    return config


_RUNS: dict[str, ProgramRun] = {}


def labelled_run(stack: str) -> ProgramRun:
    if stack not in _RUNS:
        config = with_service(
            stack,
            "checkout",
            labels=TEAM_LABELS,
            annotations=TEAM_ANNOTATIONS,
            canary={"image": "europe-docker.pkg.dev/acme-shop/apps/checkout:2.0.0", "weight": 10},
        )
        _RUNS[stack] = run_program(stack, config)
    return _RUNS[stack]


def manifest(run: ProgramRun, kind: str, name: str) -> dict[str, Any]:
    (found,) = run.k8s(kind, name, "shop")
    return dict(found.manifest)


def test_team_labels_and_annotations_reach_the_deployment_and_its_pods() -> None:
    run = labelled_run("staging")
    deployment = manifest(run, "Deployment", "checkout")
    meta, template = deployment["metadata"], deployment["spec"]["template"]["metadata"]
    for labels in (meta["labels"], template["labels"]):
        assert labels.items() >= TEAM_LABELS.items()
        # The platform's labels stay as they were.
        assert labels["app.kubernetes.io/name"] == "checkout"
        assert labels["app.kubernetes.io/version"] == "1.9.0"
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"
    assert meta["annotations"] == TEAM_ANNOTATIONS
    assert template["annotations"].items() >= TEAM_ANNOTATIONS.items()
    # The checksums that roll pods are still there.
    assert "checksum/secret-api-secrets" in template["annotations"]


def test_selectors_never_carry_team_labels() -> None:
    run = labelled_run("staging")
    assert manifest(run, "Deployment", "checkout")["spec"]["selector"] == {"matchLabels": SELECTOR}
    assert manifest(run, "Service", "checkout")["spec"]["selector"] == SELECTOR
    canary_selector = {**SELECTOR, "app.kubernetes.io/instance": "checkout-canary"}
    assert manifest(run, "Deployment", "checkout-canary")["spec"]["selector"] == {"matchLabels": canary_selector}
    assert manifest(run, "Service", "checkout-canary")["spec"]["selector"] == canary_selector
    (policy,) = run.k8s("NetworkPolicy", "checkout", "shop")
    assert policy.manifest["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "checkout"}}
    # Only workloads and pods carry them: the Service, the account and the HPA keep the platform's labels.
    for kind in ("Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        metadata = manifest(run, kind, "checkout")["metadata"]
        assert not set(metadata["labels"]) & set(TEAM_LABELS), kind
        assert not set(metadata.get("annotations", {})) & set(TEAM_ANNOTATIONS), kind


def test_the_canary_and_the_migration_job_carry_them_too() -> None:
    run = labelled_run("staging")
    canary = manifest(run, "Deployment", "checkout-canary")
    assert canary["metadata"]["labels"].items() >= TEAM_LABELS.items()
    assert canary["spec"]["template"]["metadata"]["labels"].items() >= TEAM_LABELS.items()
    assert canary["spec"]["template"]["metadata"]["labels"]["track"] == "canary"
    (job,) = run.k8s("Job", "checkout-migrate-1-9-0", "shop")
    assert job.manifest["metadata"]["labels"].items() >= TEAM_LABELS.items()
    assert job.manifest["metadata"]["annotations"] == TEAM_ANNOTATIONS
    pod = job.manifest["spec"]["template"]["metadata"]
    assert pod["labels"].items() >= TEAM_LABELS.items()
    assert pod["labels"]["app.kubernetes.io/instance"] == "checkout-migrate-1-9-0"
    assert pod["annotations"] == TEAM_ANNOTATIONS


def test_a_statefulset_carries_them_but_not_its_immutable_claims() -> None:
    config = with_service("staging", "checkout", labels=TEAM_LABELS, annotations=TEAM_ANNOTATIONS)
    for service in config["platform:services"]:
        if service["name"] == "checkout":
            service.pop("autoscaling")
            service.pop("migration")
            service["replicas"] = 3
            service["stateful"] = {"volumes": [{"path": "/var/lib/checkout", "size": "5Gi"}]}
    overrides = config.get("platform:overrides", {}).get("services", {}).get("checkout", {})
    overrides.pop("autoscaling", None)
    run = run_program("staging", config)
    statefulset = manifest(run, "StatefulSet", "checkout")
    assert statefulset["metadata"]["labels"].items() >= TEAM_LABELS.items()
    assert statefulset["metadata"]["annotations"] == TEAM_ANNOTATIONS
    assert statefulset["spec"]["template"]["metadata"]["labels"].items() >= TEAM_LABELS.items()
    assert statefulset["spec"]["selector"] == {"matchLabels": SELECTOR}
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert not set(claim["metadata"]["labels"]) & set(TEAM_LABELS)


def test_without_team_metadata_nothing_changes() -> None:
    run = run_program("staging")
    deployment = manifest(run, "Deployment", "checkout")
    assert "annotations" not in deployment["metadata"]
    assert set(deployment["metadata"]["labels"]) == {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/component",
        "app.kubernetes.io/part-of",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/version",
    }


@pytest.mark.parametrize(
    ("field", "key", "message"),
    [
        (
            "labels",
            "app.kubernetes.io/name",
            "the 'kubernetes.io' prefix is reserved: selectors, budgets and network policies rely on it; "
            "use a key of your own, e.g. 'team.example.com/owner' or 'app'",
        ),
        (
            "labels",
            "track",
            "'track' is set by the platform: selectors, budgets and network policies rely on it; "
            "use a key of your own, e.g. 'team.example.com/owner' or 'app'",
        ),
        (
            "labels",
            "acme.cert-manager.io/http01-solver",
            "the 'acme.cert-manager.io' prefix is reserved: selectors, budgets and network policies rely on it; "
            "use a key of your own, e.g. 'team.example.com/owner' or 'app'",
        ),
        (
            "annotations",
            "checksum/secret-api-secrets",
            "the 'checksum' prefix is reserved: the platform's checksums roll pods and Pulumi reads its own; "
            "use a key of your own",
        ),
        (
            "annotations",
            "pulumi.com/skipAwait",
            "the 'pulumi.com' prefix is reserved: the platform's checksums roll pods and Pulumi reads its own; "
            "use a key of your own",
        ),
    ],
)
def test_keys_the_platform_relies_on_are_refused(field: str, key: str, message: str) -> None:
    assert_rejected(
        "staging",
        with_service("staging", "checkout", **{field: {key: "true"}}),
        f"stack 'staging': platform:services[checkout].{field}.{key}: {message}",
    )


def test_a_malformed_annotation_key_is_refused() -> None:
    from harness import rejected

    message, registered = rejected("staging", with_service("staging", "checkout", annotations={"-owner": "x"}))
    assert registered == 0
    assert message.startswith("stack 'staging': platform:services[checkout].annotations: ")
    assert "'-owner' is not a valid annotation key" in message
    assert "\n" not in message


# --------------------------------------------------------------------------- service account names


def test_a_chosen_service_account_name_is_the_pods_account() -> None:
    run = run_program("staging", with_service("staging", "checkout", serviceAccount={"name": "payments-api"}))
    (account,) = run.k8s("ServiceAccount", "payments-api", "shop")
    assert account.manifest["automountServiceAccountToken"] is False
    assert not run.k8s("ServiceAccount", "checkout", "shop")
    deployment = manifest(run, "Deployment", "checkout")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "payments-api"
    (job,) = run.k8s("Job", "checkout-migrate-1-9-0", "shop")
    assert job.manifest["spec"]["template"]["spec"]["serviceAccountName"] == "payments-api"


def test_workload_identity_binds_the_chosen_account() -> None:
    config = with_service(
        "staging",
        "checkout",
        serviceAccount={"name": "payments-api", "workloadIdentity": {"roles": ["roles/storage.objectViewer"]}},
    )
    run = run_program("staging", config)
    (binding,) = [r for r in run.of_type("gcp:serviceaccount/iAMMember:IAMMember") if "checkout" in r.name]
    assert binding.inputs["member"].endswith("[shop/payments-api]")
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (
            "storefront",
            "'storefront' is already the ServiceAccount of service 'storefront' in namespace 'shop'; "
            "ServiceAccount names must be unique within a namespace",
        ),
        ("default", "'default' is the namespace's own ServiceAccount, which Kubernetes manages; choose another name"),
    ],
)
def test_a_service_account_name_taken_in_the_namespace_is_refused(chosen: str, message: str) -> None:
    assert_rejected(
        "staging",
        with_service("staging", "checkout", serviceAccount={"name": chosen}),
        f"stack 'staging': platform:services[checkout].serviceAccount.name: {message}",
    )


def test_two_services_choosing_one_account_are_refused() -> None:
    config = with_service("staging", "checkout", serviceAccount={"name": "shop-api"})
    for service in config["platform:services"]:
        if service["name"] == "storefront":
            service["serviceAccount"] = {"name": "shop-api"}
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:services[checkout].serviceAccount.name: 'shop-api' is already the ServiceAccount "
        "of service 'storefront' in namespace 'shop'; ServiceAccount names must be unique within a namespace",
    )


def test_the_same_account_name_in_two_namespaces_is_accepted() -> None:
    config = with_service("staging", "checkout", serviceAccount={"name": "worker"})
    for service in config["platform:services"]:
        if service["name"] == "order-worker":
            service["serviceAccount"] = {"name": "worker"}
    run = run_program("staging", config)
    assert run.k8s("ServiceAccount", "worker", "shop") and run.k8s("ServiceAccount", "worker", "shop-workers")


def test_a_data_stores_account_is_taken() -> None:
    config = with_service("staging", "order-worker", serviceAccount={"name": "orders-db"})
    config["platform:dataServices"] = [{"name": "orders-db", "type": "postgres", "namespace": "shop-workers"}]
    assert_rejected(
        "staging",
        config,
        "stack 'staging': platform:services[order-worker].serviceAccount.name: 'orders-db' is already the "
        "ServiceAccount of data service 'orders-db' in namespace 'shop-workers'; ServiceAccount names must be unique "
        "within a namespace",
    )
