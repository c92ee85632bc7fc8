"""Managed data services (`mode: managed`) on the shop fixture: Cloud SQL, Memorystore, Cloud Storage.

Asserted from what the program registers: private connectivity (no public IP, the peering range,
the client's egress), TLS, HA, backups and PITR, deletion protection and `protect`, secret
credentials end to end, the clients' Secrets with the in-cluster keys, the bucket's IAM, the cost
entries, and one rejection per unsafe input.
"""

from __future__ import annotations

from typing import Any

from harness import (
    MOCK_SQL_DNS,
    ProgramRun,
    assert_rejected,
    is_secret_value,
    plain_strings,
    run_program,
    stack_config,
    unwrap,
)

from components.data.tls import GOOGLE_ROOTS

ORDERS_DB = {
    "name": "orders-db",
    "type": "postgres",
    "namespace": "shop-data",
    "clients": ["checkout", "order-worker"],
    "storage": {"size": "20Gi"},
    "critical": True,
}
SESSIONS = {"name": "sessions", "type": "redis", "namespace": "shop-data", "clients": ["storefront"]}
ASSETS = {"name": "assets", "type": "object-store", "namespace": "shop-data", "clients": ["storefront"]}
EVENTS = {"name": "events", "type": "kafka", "namespace": "shop-data", "replicas": 3, "clients": ["order-worker"]}
TOPICS = [
    {"name": "orders", "partitions": 6},
    {"name": "payments", "partitions": 3, "configs": {"retention.ms": "604800000"}},
]


def managed(store: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**store, "mode": "managed", **changes}


def with_stores(stack: str, stores: list[dict[str, Any]]) -> dict[str, Any]:
    config = stack_config(stack)
    config["platform:dataServices"] = [dict(store) for store in stores]
    return config


_RUNS: dict[str, ProgramRun] = {}


def production() -> ProgramRun:
    if "production" not in _RUNS:
        stores = [managed(ORDERS_DB, managed={"backupRetentionDays": 30, "pointInTimeRecoveryDays": 5})]
        stores += [managed(SESSIONS), managed(ASSETS, managed={"lifecycle": {"deleteAfterDays": 365}})]
        stores += [managed(EVENTS, managed={"vcpus": 3, "topics": TOPICS})]
        _RUNS["production"] = run_program("production", with_stores("production", stores))
    return _RUNS["production"]


def secret_data(run: ProgramRun, name: str, namespace: str) -> Any:
    (found,) = run.k8s("Secret", name, namespace)
    return found.inputs["stringData"]


# --------------------------------------------------------------------------- Cloud SQL


def test_cloud_sql_has_a_private_ip_only_and_requires_tls() -> None:
    run = production()
    instance = run.one("gcp:sql/databaseInstance:DatabaseInstance")
    settings = instance.inputs["settings"]
    network = run.one("gcp:compute/network:Network")
    assert settings["ipConfiguration"] == {
        "ipv4Enabled": False,
        "privateNetwork": f"{network.name}-id",
        "sslMode": "ENCRYPTED_ONLY",
        # The shared CA's certificates name the instance's DNS name, so clients verify it (verify-full).
        "serverCaMode": "GOOGLE_MANAGED_CAS_CA",
    }
    assert instance.inputs["databaseVersion"] == "POSTGRES_17"
    assert settings["tier"] == "db-custom-2-7680"
    assert settings["edition"] == "ENTERPRISE"
    assert settings["diskSize"] == 20
    assert settings["diskAutoresize"] is True
    assert instance.ignore_changes == ("settings.diskSize",)
    # The instance waits for the VPC peering it takes its address from.
    connection = run.one("gcp:servicenetworking/connection:Connection")
    assert connection.urn in instance.dependencies


def test_private_service_access_reserves_the_configured_range_on_the_platform_vpc() -> None:
    run = production()
    address = run.one("gcp:compute/globalAddress:GlobalAddress", "shop-private-services-range")
    assert address.inputs["purpose"] == "VPC_PEERING"
    assert address.inputs["addressType"] == "INTERNAL"
    assert (address.inputs["address"], address.inputs["prefixLength"]) == ("10.200.0.0", 20)
    network = run.one("gcp:compute/network:Network")
    assert address.inputs["network"] == f"{network.name}-id"
    connection = run.one("gcp:servicenetworking/connection:Connection")
    assert connection.inputs["service"] == "servicenetworking.googleapis.com"
    assert connection.inputs["reservedPeeringRanges"] == [address.inputs["name"]]


def test_production_cloud_sql_is_regional_backed_up_with_pitr_protected_and_maintained() -> None:
    run = production()
    instance = run.one("gcp:sql/databaseInstance:DatabaseInstance")
    settings = instance.inputs["settings"]
    assert settings["availabilityType"] == "REGIONAL"
    backups = settings["backupConfiguration"]
    assert backups["enabled"] is True
    assert backups["pointInTimeRecoveryEnabled"] is True
    assert backups["transactionLogRetentionDays"] == 5
    assert backups["backupRetentionSettings"] == {"retainedBackups": 30, "retentionUnit": "COUNT"}
    assert instance.inputs["deletionProtection"] is True
    assert settings["deletionProtectionEnabled"] is True
    assert instance.protect
    assert settings["maintenanceWindow"] == {"day": 7, "hour": 3, "updateTrack": "stable"}
    assert run.one("gcp:sql/database:Database").protect
    assert run.one("gcp:sql/user:User").protect


def test_staging_cloud_sql_is_zonal_and_unprotected_by_default() -> None:
    run = run_program("staging", with_stores("staging", [managed(ORDERS_DB)]))
    instance = run.one("gcp:sql/databaseInstance:DatabaseInstance")
    assert instance.inputs["settings"]["availabilityType"] == "ZONAL"
    assert instance.inputs["settings"]["tier"] == "db-custom-1-3840"
    assert instance.inputs["deletionProtection"] is False
    assert not instance.protect


def test_the_database_user_password_is_random_and_secret_end_to_end() -> None:
    run = production()
    user = run.one("gcp:sql/user:User")
    assert user.inputs["name"] == "app"
    assert is_secret_value(user.inputs["password"])
    password = unwrap(user.inputs["password"])
    assert len(password) == 32
    # The Cloud SQL user's password stays in the store's own Secret, in the store's namespace only.
    assert [r.manifest["metadata"]["namespace"] for r in run.k8s("Secret", "orders-db-credentials")] == ["shop-data"]
    admin = unwrap(secret_data(run, "orders-db-credentials", "shop-data"))
    assert admin["password"] == password
    # Each client connects as its own role, with its own generated password.
    for client, namespace in (("checkout", "shop"), ("order-worker", "shop-workers")):
        data = secret_data(run, f"orders-db-{client}", namespace)
        assert is_secret_value(data)
        values = unwrap(data)
        assert password not in str(values)
        # The instance's DNS name, which its certificate carries, and a URL that verifies both.
        assert values["host"] == MOCK_SQL_DNS
        assert values["username"] == client
        assert values["url"] == (
            f"postgresql://{client}:{values['password']}@{MOCK_SQL_DNS}:5432/orders-db"
            "?sslmode=verify-full&sslrootcert=/etc/ssl/platform/orders-db/ca.crt"
        )
        for resource in run.resources:
            assert values["password"] not in plain_strings(resource.inputs)
    assert not run.k8s("StatefulSet", "orders-db")


def test_a_managed_store_gives_its_clients_the_in_cluster_secret_keys() -> None:
    stores = [ORDERS_DB, SESSIONS, ASSETS, EVENTS]
    # All four in the cluster need 2.25 CPU in shop-data (Kafka's three brokers among them): more than
    # the fixture's 2, which the quota check refuses, so this comparison gives the namespace room.
    in_cluster_config = with_stores("staging", stores)
    shop_data = next(ns for ns in in_cluster_config["platform:namespaces"] if ns["name"] == "shop-data")
    shop_data["quota"] = {**shop_data["quota"], "requestsCpu": "4", "limitsCpu": "8"}
    in_cluster = run_program("staging", in_cluster_config)
    on_google = run_program("staging", with_stores("staging", [managed(s) for s in stores]))
    clients = {"orders-db-checkout": "shop", "sessions-storefront": "shop", "assets-storefront": "shop"}
    for name, namespace in {**clients, "events-order-worker": "shop-workers"}.items():
        keys = set(unwrap(secret_data(in_cluster, name, namespace)))
        assert "ca.crt" in keys, name
        if name == "events-order-worker":
            # The one documented difference: Managed Kafka clients authenticate as themselves (Workload
            # Identity, OAUTHBEARER), so no user in the Secret and Google's login handler instead.
            keys = keys - {"username", "password"} | {"sasl.login.callback.handler.class"}
        managed_keys = set(unwrap(secret_data(on_google, name, namespace)))
        assert keys == managed_keys, name
    # The client's env and its mounts (the CA where the URL names it) are the same objects in both.
    for service in ("checkout", "storefront"):
        (on_gcp,) = on_google.k8s("Deployment", service)
        (in_gke,) = in_cluster.k8s("Deployment", service)
        for key in ("env", "volumeMounts"):
            assert (
                on_gcp.manifest["spec"]["template"]["spec"]["containers"][0][key]
                == in_gke.manifest["spec"]["template"]["spec"]["containers"][0][key]
            ), (service, key)


# --------------------------------------------------------------------------- network


def egress_rules(run: ProgramRun, service: str) -> list[dict[str, Any]]:
    found = run.k8s("NetworkPolicy", f"{service}-egress")
    return [rule for policy in found for rule in policy.manifest["spec"]["egress"]]


def test_only_the_client_services_may_reach_the_private_ranges() -> None:
    run = production()
    private_services = {"to": [{"ipBlock": {"cidr": "10.200.0.0/20"}}], "ports": [{"port": 5432, "protocol": "TCP"}]}
    assert private_services in egress_rules(run, "checkout")
    assert private_services in egress_rules(run, "order-worker")
    assert private_services not in egress_rules(run, "storefront")
    redis = {"to": [{"ipBlock": {"cidr": "10.200.0.0/20"}}], "ports": [{"port": 6378, "protocol": "TCP"}]}
    assert redis in egress_rules(run, "storefront")
    assert redis not in egress_rules(run, "checkout")
    # No namespace-wide policy opens the range.
    for policy in run.k8s("NetworkPolicy"):
        if policy.manifest["spec"].get("podSelector") == {}:
            assert "10.200.0.0/20" not in str(policy.manifest["spec"])


# --------------------------------------------------------------------------- Memorystore


def test_memorystore_is_private_authenticated_encrypted_and_highly_available() -> None:
    run = production()
    instance = run.one("gcp:redis/instance:Instance")
    inputs = instance.inputs
    assert inputs["tier"] == "STANDARD_HA"
    assert inputs["connectMode"] == "PRIVATE_SERVICE_ACCESS"
    assert inputs["authEnabled"] is True
    assert inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert inputs["redisVersion"] == "REDIS_7_2"
    assert inputs["deletionProtection"] is True
    assert instance.protect
    assert inputs["maintenancePolicy"]["weeklyMaintenanceWindows"][0]["day"] == "SUNDAY"
    data = secret_data(run, "sessions-storefront", "shop")
    values = unwrap(data)
    assert values["host"] == "10.200.0.12"
    assert values["port"] == "6378"
    assert values["url"] == f"rediss://default:{values['password']}@10.200.0.12:6378/0"
    assert values["password"].startswith("A") and values["password"] not in plain_strings(data)
    assert "MOCK-REDIS-CA" in values["ca.crt"]


# --------------------------------------------------------------------------- Managed Kafka


def test_managed_kafka_is_sized_from_config_on_the_platform_subnet_with_its_topics() -> None:
    run = production()
    cluster = run.one("gcp:managedkafka/cluster:Cluster")
    inputs = cluster.inputs
    assert inputs["capacityConfig"] == {"vcpuCount": "3", "memoryBytes": str(12 * 2**30)}
    subnet = run.one("gcp:compute/subnetwork:Subnetwork")
    assert inputs["gcpConfig"]["accessConfig"]["networkConfigs"] == [{"subnet": f"{subnet.name}-id"}]
    assert inputs["deletionPolicy"] == "PREVENT"
    assert cluster.protect
    topics = {t.inputs["topicId"]: t for t in run.of_type("gcp:managedkafka/topic:Topic")}
    assert {name: t.inputs["partitionCount"] for name, t in topics.items()} == {"orders": 6, "payments": 3}
    assert topics["payments"].inputs["configs"] == {"retention.ms": "604800000"}
    assert all(t.inputs["replicationFactor"] == 3 and t.protect for t in topics.values())
    assert not run.k8s("StatefulSet", "events")


def test_kafka_clients_authenticate_with_their_own_workload_identity_over_oauthbearer() -> None:
    run = production()
    roles = [
        r for r in run.of_type("gcp:projects/iAMMember:IAMMember") if r.inputs["role"] == "roles/managedkafka.client"
    ]
    assert [r.inputs["member"] for r in roles] == ["serviceAccount:order-worker@acme-shop-prod.iam.gserviceaccount.com"]
    values = unwrap(secret_data(run, "events-order-worker", "shop-workers"))
    bootstrap = "bootstrap.shop-production-events.europe-west1.managedkafka.acme-shop-prod.cloud.goog"
    assert values["host"] == bootstrap
    assert values["url"] == f"{bootstrap}:9092"
    assert values["security.protocol"] == "SASL_SSL"
    assert values["sasl.mechanism"] == "OAUTHBEARER"
    assert values["sasl.login.callback.handler.class"] == "com.google.cloud.hosted.kafka.auth.GcpLoginCallbackHandler"
    # The client alone reaches the subnet's Kafka endpoints, on 9092.
    kafka = {"to": [{"ipBlock": {"cidr": "10.40.0.0/20"}}], "ports": [{"port": 9092, "protocol": "TCP"}]}
    assert kafka in egress_rules(run, "order-worker")
    assert kafka not in egress_rules(run, "checkout")


# --------------------------------------------------------------------------- Cloud Storage


def test_a_bucket_is_private_uniform_versioned_with_lifecycle() -> None:
    run = production()
    bucket = run.one("gcp:storage/bucket:Bucket")
    inputs = bucket.inputs
    assert inputs["name"] == "acme-shop-prod-assets"
    assert inputs["uniformBucketLevelAccess"] is True
    assert inputs["publicAccessPrevention"] == "enforced"
    assert inputs["versioning"] == {"enabled": True}
    assert inputs["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"age": 365}},
        {"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 30, "withState": "ARCHIVED"}},
    ]
    assert bucket.protect
    data = secret_data(run, "assets-storefront", "shop")
    values = unwrap(data)
    # The client signs with its own HMAC key, of an account of its own on this bucket only.
    hmacs = {h.inputs["serviceAccountEmail"]: h for h in run.of_type("gcp:storage/hmacKey:HmacKey")}
    assert "assets-storefront@acme-shop-prod.iam.gserviceaccount.com" in hmacs
    # The bucket itself has no key: only its clients do.
    assert len(hmacs) == 1
    store_keys = unwrap(secret_data(run, "assets-credentials", "shop-data"))
    assert "username" not in store_keys and "password" not in store_keys
    assert values["password"] not in plain_strings(data)
    assert values["username"].startswith("GOOG1E")
    assert {k: v for k, v in values.items() if k not in ("username", "password")} == {
        "bucket": "acme-shop-prod-assets",
        "host": "storage.googleapis.com",
        "port": "443",
        "url": "https://storage.googleapis.com",
        "ca.crt": GOOGLE_ROOTS,
    }


def test_each_bucket_client_gets_object_user_on_that_bucket_through_its_own_account() -> None:
    run = production()
    bindings = run.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert {(b.inputs["bucket"], b.inputs["role"]) for b in bindings} == {
        ("acme-shop-prod-assets", "roles/storage.objectUser")
    }
    members = {b.inputs["member"] for b in bindings}
    assert members == {
        "serviceAccount:storefront@acme-shop-prod.iam.gserviceaccount.com",
        # The client's own S3-compatible (HMAC) account.
        "serviceAccount:assets-storefront@acme-shop-prod.iam.gserviceaccount.com",
    }
    # Neither account gets a project-wide role.
    assert not [r for r in run.of_type("gcp:projects/iAMMember:IAMMember") if "storage" in r.inputs["role"]]
    accounts = {r.inputs["accountId"]: r for r in run.of_type("gcp:serviceaccount/account:Account")}
    assert "storefront" in accounts
    (sa,) = run.k8s("ServiceAccount", "storefront", "shop")
    assert sa.manifest["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "storefront@acme-shop-prod.iam.gserviceaccount.com"
    }
    # Through private.googleapis.com, on 443 only, for the client alone.
    api = {"to": [{"ipBlock": {"cidr": "199.36.153.8/30"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    assert api in egress_rules(run, "storefront")
    assert api not in egress_rules(run, "checkout")
    record = run.one("gcp:dns/recordSet:RecordSet", "shop-private-storage-record")
    assert record.inputs["name"] == "storage.googleapis.com."
    assert record.inputs["rrdatas"] == ["199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11"]


# --------------------------------------------------------------------------- cost


def test_cost_lists_each_managed_service_at_its_size_and_prices_it_unknown() -> None:
    cost = production().outputs["cost"]
    orders = cost["managedDataServices"]["orders-db"]
    assert orders["service"] == "Cloud SQL for PostgreSQL"
    assert (orders["tier"], orders["availability"], orders["diskGiB"]) == ("db-custom-2-7680", "REGIONAL", "20Gi")
    assert orders["monthlyUsd"] == "unknown"
    assert cost["managedDataServices"]["sessions"]["tier"] == "STANDARD_HA"
    assert (cost["managedDataServices"]["events"]["vcpus"], cost["managedDataServices"]["events"]["memoryGiB"]) == (
        3,
        12,
    )
    assert cost["totalMonthlyUsd"] == {"min": "unknown", "max": "unknown"}


# --------------------------------------------------------------------------- rejections


def test_managed_mode_on_an_existing_cluster_is_rejected() -> None:
    assert_rejected(
        "dev",
        with_stores("dev", [managed(ORDERS_DB)]),
        "stack 'dev': platform:dataServices[orders-db].mode: managed data services need cluster.mode 'gke' (a project and "
        "the platform's VPC); use mode 'in-cluster' on an existing cluster",
    )


def test_a_cloud_sql_tier_not_in_the_table_is_rejected() -> None:
    assert_rejected(
        "staging",
        with_stores("staging", [managed(ORDERS_DB, managed={"tier": "db-n1-standard-2"})]),
        "stack 'staging': platform:dataServices[orders-db].managed.tier: 'db-n1-standard-2' is not a Cloud SQL tier in the "
        "table; use one of db-f1-micro, db-g1-small, db-custom-1-3840, db-custom-2-7680, db-custom-4-15360, "
        "db-custom-8-30720, db-custom-16-61440",
    )


def test_ha_off_in_production_for_a_critical_store_is_rejected() -> None:
    assert_rejected(
        "production",
        with_stores("production", [managed(ORDERS_DB, managed={"highAvailability": False})]),
        "stack 'production': platform:dataServices[orders-db].managed.highAvailability: 'orders-db' is critical: production "
        "runs it highly available (REGIONAL); remove highAvailability: false or the critical mark",
    )


def test_a_bucket_name_that_is_not_valid_globally_is_rejected() -> None:
    assert_rejected(
        "production",
        with_stores("production", [managed(ASSETS, managed={"bucket": "Google-Assets"})]),
        "stack 'production': platform:dataServices[assets].managed.bucket: 'Google-Assets' is not a valid Cloud Storage "
        "bucket name: 3-63 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit, "
        "not starting with 'goog' nor containing 'google'",
    )


def test_a_kafka_topic_with_more_partitions_than_the_cluster_allows_is_rejected() -> None:
    topics = [{"name": "orders", "partitions": 200}, {"name": "clicks", "partitions": 120}]
    assert_rejected(
        "production",
        with_stores("production", [managed(EVENTS, managed={"vcpus": 3, "topics": topics})]),
        "stack 'production': platform:dataServices[events].managed.topics[clicks].partitions: 120 partitions bring "
        "'events' to 320, more than its 3 vCPUs allow (100 per vCPU, 300); add vCPUs or use fewer partitions",
    )


def test_switching_a_deployed_store_to_managed_in_place_is_rejected() -> None:
    previous = {"dataServices": {"orders-db": {"type": "postgres", "version": "17.6", "storage": "20Gi"}}}
    assert_rejected(
        "production",
        with_stores("production", [managed(ORDERS_DB)]),
        "stack 'production': platform:dataServices[orders-db].mode: 'orders-db' runs in-cluster and holds its data "
        "there; switching to managed would start an empty store: declare the new store under another name, copy "
        "the data, move the clients, then remove the old one",
        stack_outputs=previous,
    )


def test_a_deployed_managed_store_is_accepted_again() -> None:
    previous = {
        "dataServices": {"orders-db": {"type": "postgres", "version": "17.6", "storage": "20Gi", "mode": "managed"}}
    }
    run = run_program("production", with_stores("production", [managed(ORDERS_DB)]), stack_outputs=previous)
    assert run.outputs["dataServices"]["orders-db"]["mode"] == "managed"


def test_a_kafka_replication_factor_above_the_brokers_is_rejected() -> None:
    topics = [{"name": "orders", "partitions": 3, "replicationFactor": 4}]
    assert_rejected(
        "production",
        with_stores("production", [managed(EVENTS, managed={"topics": topics})]),
        "stack 'production': platform:dataServices[events].managed.topics[orders].replicationFactor: 4 exceeds the "
        "cluster's 3 brokers",
    )


def test_cloud_sql_roles_are_made_by_a_job_over_the_private_range_with_tls() -> None:
    run = production()
    (job,) = [j.manifest for j in run.k8s("Job") if j.manifest["metadata"]["name"].startswith("orders-db-roles-")]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    # Over TLS, verifying the instance's certificate and its DNS name, as every client's URL does.
    assert {"name": "PGSSLMODE", "value": "verify-full"} in container["env"]
    assert {"name": "PGSSLROOTCERT", "value": "/etc/ssl/platform/orders-db/ca.crt"} in container["env"]
    (egress,) = run.k8s("NetworkPolicy", "orders-db-roles-egress", "shop-data")
    assert egress.manifest["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.200.0.0/20"}}], "ports": [{"protocol": "TCP", "port": 5432}]}
    ]
    # No store pods to admit it in the cluster; Memorystore has no users to make.
    assert not run.k8s("NetworkPolicy", "orders-db-roles-ingress")
    assert not [j for j in run.k8s("Job") if j.manifest["metadata"]["name"].startswith("sessions-roles-")]
