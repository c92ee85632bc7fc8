"""Stateful services and the data-service catalog, on the shop fixture plus data stores declared here.

What is asserted is what the API server would receive: the StatefulSet's claims, retention and
update policy, the stores' Secrets (keys present, values secret), the network policy peers (the
declared clients, on the store's port only), production protection, Backup for GKE, capacity and
cost, and one rejection per unsafe input.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from harness import (
    ProgramRun,
    assert_rejected,
    is_secret_value,
    plain_strings,
    rejected,
    run_program,
    stack_config,
    unwrap,
)

STORES = [
    {
        "name": "orders-db",
        "type": "postgres",
        "namespace": "shop-data",
        "clients": ["checkout", "order-worker"],
        "storage": {"size": "20Gi"},
    },
    {"name": "events", "type": "kafka", "namespace": "shop-data", "replicas": 3, "clients": ["order-worker"]},
    {"name": "sessions", "type": "redis", "namespace": "shop-data", "clients": ["storefront"]},
]
STATEFUL_WORKER = {"volumes": [{"path": "/var/lib/worker", "size": "5Gi"}], "partition": 1}


def with_stores(stack: str, stores: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    config = stack_config(stack)
    config["platform:dataServices"] = [dict(store) for store in (STORES if stores is None else stores)]
    return config


def with_stateful_worker(stack: str, **changes: Any) -> dict[str, Any]:
    """The fixture's order-worker as a StatefulSet (its HPA dropped, as a StatefulSet needs)."""
    config = with_stores(stack)
    overrides = config.setdefault("platform:overrides", {}).setdefault("services", {})
    worker = overrides.setdefault("order-worker", {})
    worker.pop("autoscaling", None)
    for service in config["platform:services"]:
        if service["name"] == "order-worker":
            service.pop("autoscaling", None)
            service["replicas"] = 2
            service["stateful"] = {**STATEFUL_WORKER, **changes}
    return config


_RUNS: dict[str, ProgramRun] = {}


def data_run(stack: str) -> ProgramRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack, with_stores(stack))
    return _RUNS[stack]


def statefulset(run: ProgramRun, name: str) -> dict[str, Any]:
    (found,) = run.k8s("StatefulSet", name)
    return dict(found.manifest)


def secret_of(run: ProgramRun, name: str, namespace: str) -> Any:
    """The Secret's stringData as registered, secret markers kept."""
    (found,) = run.k8s("Secret", name, namespace)
    return found.inputs["stringData"]


# --------------------------------------------------------------------------- stateful services


def test_a_stateful_service_runs_as_a_statefulset_with_retained_claims() -> None:
    run = run_program("staging", with_stateful_worker("staging"))
    assert not run.k8s("Deployment", "order-worker")
    spec = statefulset(run, "order-worker")["spec"]
    assert spec["serviceName"] == "order-worker-headless"
    assert spec["replicas"] == 2
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert "app.kubernetes.io/version" not in claim["metadata"]["labels"]  # claim templates are immutable
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "standard-rwo",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    pod = spec["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["data"] == "/var/lib/worker"
    assert pod["securityContext"]["fsGroup"] == 10001
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert [c["topologyKey"] for c in pod["topologySpreadConstraints"]] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]


def test_a_stateful_service_gets_a_headless_service_beside_its_clusterip_service() -> None:
    run = run_program("dev", with_stateful_worker("dev"))
    (headless,) = run.k8s("Service", "order-worker-headless", "shop-workers")
    assert headless.manifest["spec"]["clusterIP"] == "None"
    assert headless.manifest["spec"]["publishNotReadyAddresses"] is True
    (service,) = run.k8s("Service", "order-worker", "shop-workers")
    assert service.manifest["spec"]["type"] == "ClusterIP"
    (budget,) = run.k8s("PodDisruptionBudget", "order-worker")
    assert budget.manifest["spec"]["maxUnavailable"] == 1


def test_on_kind_a_claim_names_no_storage_class_and_gke_takes_premium_by_config() -> None:
    dev = run_program("dev", with_stateful_worker("dev"))
    (claim,) = statefulset(dev, "order-worker")["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in claim["spec"]
    premium = {"volumes": [{"path": "/var/lib/worker", "size": "5Gi", "storageClass": "premium-rwo"}]}
    staging = run_program("staging", with_stateful_worker("staging", **premium))
    (claim,) = statefulset(staging, "order-worker")["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "premium-rwo"


def test_an_opted_in_hpa_scales_the_statefulset() -> None:
    config = with_stateful_worker("dev", allowAutoscaling=True)
    for service in config["platform:services"]:
        if service["name"] == "order-worker":
            del service["replicas"]
            service["autoscaling"] = {"minReplicas": 2, "maxReplicas": 4}
    run = run_program("dev", config)
    (hpa,) = run.k8s("HorizontalPodAutoscaler", "order-worker")
    assert hpa.manifest["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "order-worker",
    }
    assert "replicas" not in statefulset(run, "order-worker")["spec"]


def test_deployments_keep_their_names_and_urns() -> None:
    run = data_run("dev")
    (deployment,) = run.k8s("Deployment", "checkout")
    assert deployment.name == "checkout-deployment"
    assert deployment.urn.endswith("::checkout-deployment")


# --------------------------------------------------------------------------- data services


def test_a_data_service_is_a_statefulset_of_the_official_pinned_image() -> None:
    spec = statefulset(data_run("dev"), "orders-db")["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == "postgres:17.6"
    assert container["ports"] == [{"name": "postgres", "containerPort": 5432, "protocol": "TCP"}]
    env = {e["name"]: e for e in container["env"]}
    assert env["PGDATA"]["value"] == "/var/lib/postgresql/data/pgdata"
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "orders-db-credentials", "key": "password"}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"} <= mounts


def test_a_kafka_store_runs_a_kraft_quorum_in_parallel() -> None:
    spec = statefulset(data_run("dev"), "events")["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    env = {e["name"]: e for e in spec["template"]["spec"]["containers"][0]["env"]}
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"]["value"].split(",")
    assert voters[0] == "0@events-0.events-headless.shop-data.svc.cluster.local:9093"
    assert len(voters) == 3
    assert (
        env["KAFKA_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    )
    # $(POD_NAME) expands only if POD_NAME comes first.
    names = [e["name"] for e in spec["template"]["spec"]["containers"][0]["env"]]
    assert names.index("POD_NAME") < names.index("KAFKA_ADVERTISED_LISTENERS")


@pytest.mark.parametrize(
    ("store", "clients"),
    [("orders-db", {"checkout": "shop", "order-worker": "shop-workers"}), ("events", {"order-worker": "shop-workers"})],
)
def test_each_client_gets_its_own_secret_and_the_superusers_stays_with_the_store(
    store: str, clients: dict[str, str]
) -> None:
    run = data_run("staging")
    # The store's own (superuser) Secret is in its namespace only.
    assert {r.manifest["metadata"]["namespace"] for r in run.k8s("Secret", f"{store}-credentials")} == {"shop-data"}
    admin = unwrap(secret_of(run, f"{store}-credentials", "shop-data"))
    passwords = {admin["password"]}
    for client, namespace in clients.items():
        (found,) = run.k8s("Secret", f"{store}-{client}")
        assert found.manifest["metadata"]["namespace"] == namespace
        registered = secret_of(run, f"{store}-{client}", namespace)
        assert is_secret_value(registered)
        data = unwrap(registered)
        assert {"host", "port", "username", "password", "url"} <= set(data)
        assert data["username"] == client
        assert data["password"] not in passwords
        passwords.add(data["password"])
        assert admin["password"] not in str(data)
        assert data["password"] not in plain_strings(run.outputs)
        for resource in run.resources:
            assert data["password"] not in plain_strings(resource.inputs)


def test_the_client_url_is_ready_to_use_per_engine() -> None:
    run = data_run("dev")
    postgres = unwrap(secret_of(run, "orders-db-checkout", "shop"))
    assert postgres["host"] == "orders-db.shop-data.svc.cluster.local"
    assert postgres["port"] == "5432"
    assert postgres["url"] == (
        f"postgresql://checkout:{postgres['password']}@orders-db.shop-data.svc.cluster.local:5432/orders-db"
        "?sslmode=verify-full&sslrootcert=/etc/ssl/platform/orders-db/ca.crt"
    )
    assert postgres["password"].isalnum() and len(postgres["password"]) == 32
    redis = unwrap(secret_of(run, "sessions-storefront", "shop"))
    assert redis["url"] == f"rediss://storefront:{redis['password']}@sessions.shop-data.svc.cluster.local:6379/0"
    kafka = unwrap(secret_of(run, "events-order-worker", "shop-workers"))
    assert kafka["url"] == "events.shop-data.svc.cluster.local:9092"
    assert kafka["security.protocol"] == "SASL_SSL"
    assert f'username="order-worker" password="{kafka["password"]}"' in kafka["sasl.jaas.config"]
    # The brokers know the client as a SASL user with that password, beside their own user.
    brokers = unwrap(secret_of(run, "events-clients", "shop-data"))["sasl.jaas.config"]
    assert f'user_order-worker="{kafka["password"]}"' in brokers
    admin = unwrap(secret_of(run, "events-credentials", "shop-data"))
    assert f'username="app" password="{admin["password"]}"' in brokers


@pytest.mark.parametrize(
    ("engine", "scheme"),
    [("mongodb", "mongodb://checkout:"), ("object-store", "https://"), ("neo4j", "neo4j://")],
)
def test_the_other_engines_urls(engine: str, scheme: str) -> None:
    run = run_program(
        "dev",
        with_stores("dev", [{"name": "store", "type": engine, "namespace": "shop-data", "clients": ["checkout"]}]),
    )
    data = unwrap(secret_of(run, "store-checkout", "shop"))
    assert data["url"].startswith(scheme)
    assert "store.shop-data.svc.cluster.local" in data["url"]


def test_a_store_admits_exactly_its_clients_on_its_port() -> None:
    run = data_run("dev")
    (policy,) = run.k8s("NetworkPolicy", "orders-db", "shop-data")
    (rule,) = policy.manifest["spec"]["ingress"]
    assert rule["ports"] == [{"port": "postgres", "protocol": "TCP"}]
    peers = {
        (
            p["namespaceSelector"]["matchExpressions"][0]["values"][0],
            p["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        )
        for p in rule["from"]
    }
    assert peers == {("shop", "checkout"), ("shop-workers", "order-worker")}


def test_a_quorum_port_admits_only_the_stores_own_pods() -> None:
    run = data_run("dev")
    (policy,) = run.k8s("NetworkPolicy", "events", "shop-data")
    rules = policy.manifest["spec"]["ingress"]

    def names(rule: dict[str, Any]) -> list[str]:
        return [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]]

    by_peer = {tuple(names(rule)): [port["port"] for port in rule["ports"]] for rule in rules}
    # Clients reach the client listener only; the brokers reach each other on both listeners.
    assert by_peer == {("order-worker",): ["kafka"], ("events",): ["kafka", "controller"]}
    (egress,) = run.k8s("NetworkPolicy", "events-egress", "shop-data")
    (own,) = egress.manifest["spec"]["egress"]
    assert own["to"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "events"}
    assert [port["port"] for port in own["ports"]] == [9092, 9093]
    # The client's own egress opens the client port only.
    (worker,) = run.k8s("NetworkPolicy", "order-worker-egress", "shop-workers")
    to_events = [
        rule
        for rule in worker.manifest["spec"]["egress"]
        if rule["to"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "events"}
    ]
    assert [[port["port"] for port in rule["ports"]] for rule in to_events] == [[9092]]


def test_production_protects_data_and_keeps_quorum_or_the_primary() -> None:
    run = data_run("production")
    for name in ("orders-db", "events", "sessions"):
        (workload,) = run.k8s("StatefulSet", name)
        assert workload.protect
    (namespace,) = run.k8s("Namespace", "shop-data")
    assert namespace.protect
    (primary,) = run.k8s("PodDisruptionBudget", "orders-db")
    assert primary.manifest["spec"]["minAvailable"] == 1
    (quorum,) = run.k8s("PodDisruptionBudget", "events")
    assert quorum.manifest["spec"]["minAvailable"] == 2
    staging = data_run("staging")
    (workload,) = staging.k8s("StatefulSet", "orders-db")
    assert not workload.protect
    assert not staging.k8s("PodDisruptionBudget", "orders-db")


def test_gke_backs_up_the_data_namespaces() -> None:
    run = data_run("production")
    plan = run.one("gcp:gkebackup/backupPlan:BackupPlan").inputs
    assert plan["backupConfig"]["selectedNamespaces"]["namespaces"] == ["shop-data"]
    assert plan["backupConfig"]["includeVolumeData"] is True
    assert plan["backupConfig"]["includeSecrets"] is True
    assert plan["backupSchedule"]["cronSchedule"] == "0 2 * * *"
    assert plan["retentionPolicy"]["backupRetainDays"] == 14
    assert plan["location"] == "europe-west1"
    assert run.one("gcp:gkebackup/backupPlan:BackupPlan").protect
    cluster = run.one("gcp:container/cluster:Cluster").inputs
    assert cluster["addonsConfig"]["gkeBackupAgentConfig"] == {"enabled": True}
    assert not data_run("dev").of_type("gcp:gkebackup/backupPlan:BackupPlan")


def test_backup_schedule_and_retention_come_from_config() -> None:
    config = with_stores("staging")
    config["platform:backup"] = {"schedule": "30 3 * * 0", "retentionDays": 30, "deleteLockDays": 7}
    plan = run_program("staging", config).one("gcp:gkebackup/backupPlan:BackupPlan").inputs
    assert plan["backupSchedule"]["cronSchedule"] == "30 3 * * 0"
    assert plan["retentionPolicy"] == {"backupRetainDays": 30, "backupDeleteLockDays": 7}


def test_without_data_services_no_backup_agent_is_enabled() -> None:
    run = run_program("production")
    assert not run.of_type("gcp:gkebackup/backupPlan:BackupPlan")
    assert "gkeBackupAgentConfig" not in (run.one("gcp:container/cluster:Cluster").inputs.get("addonsConfig") or {})


def test_capacity_and_cost_count_the_stores() -> None:
    plain, stores = run_program("production"), data_run("production")
    before = plain.outputs["capacity"]["requested"]["min"]["cpuMillicores"]
    after = stores.outputs["capacity"]["requested"]["min"]["cpuMillicores"]
    # postgres small (250m) + redis small (250m) + kafka medium (500m) x 3
    assert after - before == 250 + 250 + 3 * 500
    # 20Gi postgres + 1Gi redis + 3 x 20Gi kafka, on standard-rwo at $0.10 per GiB-month.
    assert stores.outputs["capacity"]["persistentVolumesGiB"] == {"standard-rwo": {"min": 81.0, "max": 81.0}}
    cost = stores.outputs["cost"]
    assert cost["persistentVolumesMonthlyUsd"] == {"min": 8.1, "max": 8.1}
    assert cost["totalMonthlyUsd"]["min"] == pytest.approx(plain.outputs["cost"]["totalMonthlyUsd"]["min"] + 8.1)


def test_the_stack_exports_what_the_next_run_checks_against() -> None:
    assert data_run("dev").outputs["dataServices"]["orders-db"] == {
        "type": "postgres",
        "version": "17.6",
        "storage": "20Gi",
        "mode": "in-cluster",
        "image": "postgres",
    }


def test_a_first_deploy_and_a_compatible_change_are_accepted() -> None:
    previous = {"dataServices": {"orders-db": {"type": "postgres", "version": "17.2", "storage": "10Gi"}}}
    run = run_program("dev", with_stores("dev"), stack_outputs=previous)
    assert run.k8s("StatefulSet", "orders-db")


def test_a_client_reads_the_url_with_one_secret_key_ref() -> None:
    config = with_stores("dev")
    for service in config["platform:services"]:
        if service["name"] == "checkout":
            service["env"]["DATABASE_URL"] = {"secretKeyRef": {"name": "orders-db-checkout", "key": "url"}}
    run = run_program("dev", config)
    (deployment,) = run.k8s("Deployment", "checkout")
    env = {e["name"]: e for e in deployment.manifest["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "orders-db-checkout", "key": "url"}
    annotations = deployment.manifest["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/secret-orders-db-checkout" in annotations


# --------------------------------------------------------------------------- rejections


def test_a_volume_size_that_is_not_a_quantity_is_rejected() -> None:
    config = with_stores("dev")
    config["platform:dataServices"][0]["storage"] = {"size": "20 GB"}
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:dataServices[orders-db].storage.size: '20 GB' is not a storage quantity: use a "
        "number with a suffix Mi, Gi or Ti (or M, G, T), e.g. '10Gi'",
    )


def test_a_storage_class_the_mode_does_not_know_is_rejected() -> None:
    config = with_stores("dev")
    config["platform:dataServices"][0]["storage"] = {"size": "20Gi", "storageClass": "premium-rwo"}
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:dataServices[orders-db].storage.storageClass: 'premium-rwo' is not a storage class "
        "of cluster.mode 'existing'; use one of standard or leave it unset for the default",
    )


def test_a_statefulset_with_an_hpa_but_no_opt_in_is_rejected() -> None:
    config = with_stateful_worker("dev")
    for service in config["platform:services"]:
        if service["name"] == "order-worker":
            del service["replicas"]
            service["autoscaling"] = {"minReplicas": 2, "maxReplicas": 4}
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:services[order-worker].autoscaling: a StatefulSet keeps a volume per replica, so an "
        "HPA would add and drop copies of its data; remove autoscaling or set stateful.allowAutoscaling: true",
    )


def test_a_client_that_is_not_a_declared_service_is_rejected() -> None:
    config = with_stores("dev")
    config["platform:dataServices"][0]["clients"] = ["checkout", "billing"]
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:dataServices[orders-db].clients[1]: 'billing' is not a declared service; "
        "declared: checkout, order-worker, storefront",
    )


def test_shrinking_a_volume_is_rejected() -> None:
    previous = {"dataServices": {"orders-db": {"type": "postgres", "version": "17.6", "storage": "50Gi"}}}
    assert_rejected(
        "dev",
        with_stores("dev"),
        "stack 'dev': platform:dataServices[orders-db].storage.size: 20Gi is smaller than the 50Gi already "
        "provisioned; a persistent volume can only grow: keep the size, or move the data to a new store with a "
        "smaller volume",
        stack_outputs=previous,
    )


def test_a_major_upgrade_the_engine_cannot_do_in_place_is_rejected() -> None:
    previous = {"dataServices": {"orders-db": {"type": "postgres", "version": "16.10", "storage": "20Gi"}}}
    assert_rejected(
        "dev",
        with_stores("dev"),
        "stack 'dev': platform:dataServices[orders-db].version: PostgreSQL 16.10 -> 17.6 is a major upgrade the "
        "engine cannot do in place; declare a second store at the new version, copy the data with "
        "pg_dump/pg_restore (or pg_upgrade from a backup), move the clients, then remove the old store",
        stack_outputs=previous,
    )


def test_a_store_in_a_namespace_stricter_than_its_engine_needs_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every official image here runs under 'restricted'; an engine that needs more declares it in the table.
    from components.data import config as data_config

    needs_baseline = dataclasses.replace(data_config.ENGINES["redis"], pod_security="baseline")
    monkeypatch.setitem(data_config.ENGINES, "redis", needs_baseline)
    config = with_stores("dev", [{"name": "sessions", "type": "redis", "namespace": "shop", "clients": ["storefront"]}])
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:dataServices[sessions].namespace: 'shop' enforces Pod Security 'restricted', but "
        "Redis needs 'baseline'; set the namespace's podSecurity to 'baseline' or place the store elsewhere",
    )


# --------------------------------------------------------------------------- gates


@pytest.mark.parametrize("stack", ["dev", "production"])
def test_data_stores_pass_the_schema_and_checkov_gates(stack: str) -> None:
    from crd_schemas import crd_failures
    from gates import checkov_failures, custom_resources, platform_config, schema_failures

    run = data_run(stack)
    assert schema_failures(run) == []
    assert crd_failures(custom_resources(run)) == []
    assert checkov_failures(run, platform_config(stack, with_stores(stack))) == []


def test_a_client_rolls_out_after_its_stores() -> None:
    run = data_run("dev")
    # A dependency on a component reaches the engine as its children: here the StatefulSets.
    (orders_db,) = (r.urn for r in run.k8s("StatefulSet", "orders-db"))
    (events,) = (r.urn for r in run.k8s("StatefulSet", "events"))
    (worker,) = run.k8s("Deployment", "order-worker")
    assert {orders_db, events} <= set(worker.dependencies)
    (storefront,) = run.k8s("Deployment", "storefront")
    assert orders_db not in storefront.dependencies


def test_changing_a_stores_engine_is_rejected() -> None:
    previous = {"dataServices": {"orders-db": {"type": "mongodb", "version": "8.0.13", "storage": "20Gi"}}}
    assert_rejected(
        "dev",
        with_stores("dev"),
        "stack 'dev': platform:dataServices[orders-db].type: 'orders-db' holds mongodb data on its volumes; another "
        "engine cannot read it: declare the new store under another name and move the data",
        stack_outputs=previous,
    )


def test_a_mongodb_release_series_upgrades_one_step_at_a_time() -> None:
    def store(version: str) -> list[dict[str, Any]]:
        return [
            {"name": "docs", "type": "mongodb", "version": version, "namespace": "shop-data", "clients": ["checkout"]}
        ]

    previous = {"dataServices": {"docs": {"type": "mongodb", "version": "7.0.14", "storage": "10Gi"}}}
    assert run_program("dev", with_stores("dev", store("8.0.13")), stack_outputs=previous).k8s("StatefulSet", "docs")
    previous = {"dataServices": {"docs": {"type": "mongodb", "version": "6.0.19", "storage": "10Gi"}}}
    assert_rejected(
        "dev",
        with_stores("dev", store("8.0.13")),
        "stack 'dev': platform:dataServices[docs].version: MongoDB 6.0.19 -> 8.0.13 is a major upgrade the engine "
        "cannot do in place; upgrade one release series at a time (7.0 -> 8.0), after setting "
        "featureCompatibilityVersion to the running series, or restore a mongodump into a new store",
        stack_outputs=previous,
    )


def test_production_data_services_without_backups_are_rejected() -> None:
    config = with_stores("production")
    config["platform:backup"] = {"enabled": False}
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:backup.enabled: production data services must be backed up; keep Backup for "
        "GKE on",
    )


def _failing_output_reads(monkeypatch: pytest.MonkeyPatch, failures: int, message: str) -> list[str]:
    """The first `failures` reads of the stack's previous outputs raise `message`; the list records every read."""
    from harness import PlatformMocks

    import components.data.history as history

    original = PlatformMocks.call
    reads: list[str] = []

    def call(self: PlatformMocks, args: Any) -> dict[str, Any]:
        if args.token == "pulumi:pulumi:readStackOutputs":
            reads.append(args.token)
            if len(reads) <= failures:
                raise RuntimeError(message)
        return original(self, args)

    monkeypatch.setattr(PlatformMocks, "call", call)
    monkeypatch.setattr(history, "READ_RETRY_SECONDS", 0)
    return reads


def test_a_backend_that_cannot_read_the_previous_outputs_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.data.history import READ_ATTEMPTS

    reads = _failing_output_reads(monkeypatch, READ_ATTEMPTS, "no such stack")
    # Fail closed: skipping the checks could let a major upgrade or a shrink through.
    assert_rejected(
        "dev",
        with_stores("dev"),
        "stack 'dev': platform:dataServices: cannot read this stack's previous outputs to check data services' "
        "versions and volumes (no such stack)",
    )
    # Only after every attempt failed.
    assert len(reads) == READ_ATTEMPTS


def test_a_read_that_meets_the_checkpoint_mid_write_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = _failing_output_reads(monkeypatch, 1, "failed to load checkpoint: EOF")
    deployed = {"orders-db": {"type": "postgres", "version": "16.4", "storage": "20Gi", "mode": "in-cluster"}}
    # The second read returns the previous deploy, so its check still runs: 16 -> 17 is a major upgrade.
    message, registered = rejected("dev", with_stores("dev"), stack_outputs={"dataServices": deployed})
    assert len(reads) == 2 and registered == 0
    assert "major" in message and "orders-db" in message, message


# --------------------------------------------------------------------------- roles per client


def _pod_specs(run: ProgramRun) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, pod spec) of every workload the program registers."""
    found = []
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in run.k8s(kind):
            manifest = workload.manifest
            found.append((kind, manifest["metadata"]["name"], manifest["spec"]["template"]["spec"]))
    return found


def _secrets_read(pod: dict[str, Any]) -> set[str]:
    names = set()
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
        names.update(s["secretRef"]["name"] for s in container.get("envFrom", []) if s.get("secretRef"))
    names.update(v["secret"]["secretName"] for v in pod.get("volumes", []) if v.get("secret"))
    return names


def test_no_workload_but_the_store_and_its_role_job_reads_the_superusers_credentials() -> None:
    run = data_run("staging")
    private = {"orders-db-credentials", "orders-db-clients", "events-credentials", "events-clients"}
    private |= {"sessions-credentials", "sessions-clients"}
    readers = {(kind, name) for kind, name, pod in _pod_specs(run) if _secrets_read(pod) & private}
    jobs = {name for kind, name in readers if kind == "Job"}
    assert {name for kind, name in readers if kind != "Job"} == {"orders-db", "events", "sessions"}
    assert {job.rsplit("-", 1)[0] for job in jobs} == {"orders-db-roles", "sessions-roles"}
    # By value too: the superuser's password is in no Secret but the store's own.
    for store in ("orders-db", "sessions"):
        password = unwrap(secret_of(run, f"{store}-credentials", "shop-data"))["password"]
        holders = {r.manifest["metadata"]["name"] for r in run.k8s("Secret") if password in str(r.manifest)}
        assert holders == {f"{store}-credentials"}


def role_job(run: ProgramRun, store: str) -> dict[str, Any]:
    (job,) = [j.manifest for j in run.k8s("Job") if j.manifest["metadata"]["name"].startswith(f"{store}-roles-")]
    return job


def test_the_role_job_runs_the_engines_client_on_the_script_as_the_store_before_the_clients() -> None:
    config = with_stores("dev")
    config["platform:dataServices"][0]["clients"] = ["checkout", {"name": "order-worker", "access": "read-only"}]
    run = run_program("dev", config)
    job = role_job(run, "orders-db")
    assert job["metadata"]["namespace"] == "shop-data"
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "postgres:17.6"
    assert container["command"][:2] == ["sh", "-c"]
    assert container["command"][2].endswith("exec psql -X -q -v ON_ERROR_STOP=1 -f /roles/roles.sql")
    assert 'PGPASSWORD="$(cat /store/password)"' in container["command"][2]
    # The store's own user, from its Secret mounted as files; no secret in the environment.
    store_files = next(v for v in pod["volumes"] if v["name"] == "store")["secret"]
    assert store_files["secretName"] == "orders-db-credentials"
    assert all("valueFrom" not in e for e in container["env"])
    clients = next(v for v in pod["volumes"] if v["name"] == "clients")["secret"]
    assert clients["secretName"] == "orders-db-clients"
    assert [item["key"] for item in clients["items"]] == ["checkout.password", "order-worker.password"]
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # The script: the read-only client is a member of the reader group, with read-only sessions; the
    # read-write one of the owner group; neither is anything else.
    (script,) = [c.manifest for c in run.k8s("ConfigMap", "orders-db-roles")]
    sql = script["data"]["roles.sql"]
    assert 'GRANT "orders-db_reader" TO "order-worker";' in sql
    assert 'REVOKE "orders-db_owner" FROM "order-worker";' in sql
    assert 'ALTER ROLE "order-worker" IN DATABASE "orders-db" SET default_transaction_read_only = on;' in sql
    assert 'GRANT "orders-db_owner" TO "checkout";' in sql
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "orders-db_reader";' in sql
    assert "GRANT INSERT" not in sql and "SUPERUSER" not in sql.replace("NOSUPERUSER", "")
    # Clients roll out after the Job, which runs after the store's StatefulSet.
    (job_resource,) = [j for j in run.k8s("Job") if j.manifest["metadata"]["name"] == job["metadata"]["name"]]
    (checkout,) = run.k8s("Deployment", "checkout")
    (store,) = run.k8s("StatefulSet", "orders-db")
    assert job_resource.urn in checkout.dependencies
    assert store.urn in job_resource.dependencies


def test_the_role_job_reaches_the_store_and_the_store_admits_it_on_its_port_only() -> None:
    run = data_run("dev")
    (egress,) = run.k8s("NetworkPolicy", "orders-db-roles-egress", "shop-data")
    assert egress.manifest["spec"]["egress"] == [
        {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders-db"}}}],
            "ports": [{"protocol": "TCP", "port": 5432}],
        }
    ]
    (ingress,) = run.k8s("NetworkPolicy", "orders-db-roles-ingress", "shop-data")
    assert ingress.manifest["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "orders-db"}}
    assert ingress.manifest["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders-db-roles"}}}
    ]


def test_rotating_one_clients_password_changes_only_its_secret_its_pods_and_the_role_job() -> None:
    def reading_own_secrets(checkout_rotation: int) -> dict[str, Any]:
        config = with_stores("dev")
        config["platform:dataServices"][0]["clients"] = [
            {"name": "checkout", "rotation": checkout_rotation},
            "order-worker",
        ]
        for service in config["platform:services"]:
            if service["name"] in ("checkout", "order-worker"):
                ref = {"name": f"orders-db-{service['name']}", "key": "url"}
                service["env"]["DATABASE_URL"] = {"secretKeyRef": ref}
        return config

    before = run_program("dev", reading_own_secrets(1))
    after = run_program("dev", reading_own_secrets(2))
    changed = {
        r.manifest["metadata"]["name"]
        for r in after.k8s("Secret")
        if r.manifest != next(b.manifest for b in before.k8s("Secret") if b.urn == r.urn)
    }
    assert changed == {"orders-db-checkout", "orders-db-clients"}

    def annotations(run: ProgramRun, kind: str, name: str) -> dict[str, Any]:
        (found,) = run.k8s(kind, name)
        return dict(found.manifest["spec"]["template"]["metadata"].get("annotations", {}))

    assert annotations(after, "Deployment", "checkout") != annotations(before, "Deployment", "checkout")
    for kind, name in (("Deployment", "order-worker"), ("Deployment", "storefront"), ("StatefulSet", "orders-db")):
        assert annotations(after, kind, name) == annotations(before, kind, name), name
    assert role_job(after, "orders-db")["metadata"]["name"] != role_job(before, "orders-db")["metadata"]["name"]
    assert role_job(after, "sessions")["metadata"]["name"] == role_job(before, "sessions")["metadata"]["name"]


def test_each_object_store_client_has_its_own_s3_key_and_a_reader_only_reads() -> None:
    stores = [
        {
            "name": "assets",
            "type": "object-store",
            "namespace": "shop-data",
            "clients": ["checkout", {"name": "storefront", "access": "read-only"}],
        }
    ]
    run = run_program("dev", with_stores("dev", stores))
    own = unwrap(secret_of(run, "assets-credentials", "shop-data"))
    checkout = unwrap(secret_of(run, "assets-checkout", "shop"))
    storefront = unwrap(secret_of(run, "assets-storefront", "shop"))
    assert (checkout["username"], storefront["username"]) == ("checkout", "storefront")
    assert len({own["password"], checkout["password"], storefront["password"]}) == 3
    (container,) = statefulset(run, "assets")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") or e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env["S3_CLIENT_0_ACCESS_KEY"] == "checkout"
    assert env["S3_CLIENT_1_SECRET_KEY"] == {"name": "assets-clients", "key": "storefront.password"}
    identities = json.loads(container["command"][2].split("<<EOF\n", 1)[1].split("\nEOF", 1)[0])["identities"]
    actions = {identity["name"]: identity["actions"] for identity in identities}
    # A client's actions are scoped to the store's bucket; the reader may read and list it only.
    assert actions == {
        "app": ["Admin", "Read", "List", "Tagging", "Write"],
        "checkout": ["Read:assets", "Write:assets", "List:assets", "Tagging:assets"],
        "storefront": ["Read:assets", "List:assets"],
    }


# --------------------------------------------------------------------------- client rejections


def test_a_read_only_namespaces_service_may_only_be_a_read_only_client() -> None:
    config = with_stores("dev", STORES[:2])
    for namespace in config["platform:namespaces"]:
        if namespace["name"] == "shop":
            namespace["policy"] = "read-only"
            namespace["egress"] = {"namespaces": ["shop-data"]}
    for service in config["platform:services"]:
        service.pop("allowFrom", None)
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:dataServices[orders-db].clients[0]: 'checkout' runs in read-only namespace 'shop', "
        "so it may only read: set access 'read-only', or move it to a strict namespace",
    )


def test_a_client_secret_name_that_is_taken_in_its_namespace_is_rejected() -> None:
    config = with_stores("dev")
    config["platform:dataServices"][0]["clients"] = [
        {"name": "checkout", "secretName": "database-credentials"},
        "order-worker",
    ]
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:dataServices[orders-db].clients[checkout].secretName: 'orders-db' delivers the "
        "Secret 'database-credentials' into 'shop', where the secret 'database-credentials' in secrets already "
        "has that name; choose another secretName (or rename the other)",
    )


def test_read_only_is_refused_where_the_engine_cannot_enforce_it() -> None:
    config = with_stores("dev")
    config["platform:dataServices"][1]["clients"] = [{"name": "order-worker", "access": "read-only"}]
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:dataServices[events].clients[order-worker].access: read-only cannot be enforced: "
        "the in-cluster Kafka runs no authorizer, so every SASL user may produce; use read-write",
    )


def test_a_service_reading_a_stores_superuser_secret_is_told_its_own() -> None:
    config = with_stores("dev")
    for service in config["platform:services"]:
        if service["name"] == "checkout":
            service["env"]["DATABASE_URL"] = {"secretKeyRef": {"name": "orders-db-credentials", "key": "url"}}
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:services[checkout].env.DATABASE_URL.secretKeyRef.name: 'orders-db-credentials' "
        "holds data service 'orders-db''s superuser or every client's credentials, which no workload reads; "
        "read your own 'orders-db-checkout'",
    )
