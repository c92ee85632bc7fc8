"""TLS to the data stores, from what the program registers: the platform CA, each store's certificate,
the stores' TLS flags and mounts, every client's verifying URL and ca.crt (in the cluster and on
Google's services), rotation, and the one stack setting that turns it off (never in production).

The handshake itself runs against real servers in tests/test_roles.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from harness import MOCK_SQL_CA, MOCK_SQL_DNS, ProgramRun, assert_rejected, is_secret_value, plain_strings, run_program
from harness import unwrap as plain
from test_data import STORES, secret_of, with_stores
from test_managed import production as managed_production

from components.data.tls import GOOGLE_ROOTS

MONGO = {"name": "catalog", "type": "mongodb", "namespace": "shop-data", "clients": ["checkout"]}
ASSETS = {"name": "assets", "type": "object-store", "namespace": "shop-data", "clients": ["storefront"]}
GRAPH = {"name": "graph", "type": "neo4j", "namespace": "shop-data", "clients": ["order-worker"]}
# Every engine that serves TLS in the cluster, and who reads each (client -> namespace).
CLIENTS = {
    "orders-db": {"checkout": "shop", "order-worker": "shop-workers"},
    "events": {"order-worker": "shop-workers"},
    "sessions": {"storefront": "shop"},
    "catalog": {"checkout": "shop"},
    "assets": {"storefront": "shop"},
    "graph": {"order-worker": "shop-workers"},
}
CA_DIR = "/etc/ssl/platform"


def all_engines(stack: str, **tls: Any) -> dict[str, Any]:
    """The six engines in shop-data (given room in its quota), with `dataTls` set to `tls`."""
    config = with_stores(stack, [*STORES, MONGO, ASSETS, GRAPH])
    shop_data = next(ns for ns in config["platform:namespaces"] if ns["name"] == "shop-data")
    shop_data["quota"] = {
        **shop_data["quota"],
        "requestsCpu": "8",
        "limitsCpu": "16",
        "requestsMemory": "16Gi",
        "limitsMemory": "32Gi",
    }
    if tls:
        config["platform:dataTls"] = tls
    return config


_RUNS: dict[str, ProgramRun] = {}


def tls_run(stack: str = "staging") -> ProgramRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack, all_engines(stack))
    return _RUNS[stack]


def pod_spec(run: ProgramRun, kind: str, name: str) -> dict[str, Any]:
    (found,) = run.k8s(kind, name)
    spec: dict[str, Any] = found.manifest["spec"]["template"]
    return spec


def ca_certificate(run: ProgramRun) -> str:
    """The platform CA's certificate as the (mock) provider returned it."""
    (ca,) = run.of_type("tls:index/selfSignedCert:SelfSignedCert")
    return f"-----BEGIN CERTIFICATE-----\nMOCK-{ca.name}\n-----END CERTIFICATE-----\n"


# --------------------------------------------------------------------------- clients


def test_every_in_cluster_client_url_verifies_the_server_and_its_secret_carries_the_ca() -> None:
    run = tls_run()
    ca = ca_certificate(run)
    for store, clients in CLIENTS.items():
        host = f"{store}.shop-data.svc.cluster.local"
        ca_path = f"{CA_DIR}/{store}/ca.crt"
        for client, namespace in clients.items():
            data = plain(secret_of(run, f"{store}-{client}", namespace))
            assert data["ca.crt"] == ca, (store, client)
            url, password = data["url"], data["password"]
            if store == "orders-db":
                assert url == (
                    f"postgresql://{client}:{password}@{host}:5432/orders-db?sslmode=verify-full&sslrootcert={ca_path}"
                )
            elif store == "sessions":
                assert url == f"rediss://{client}:{password}@{host}:6379/0"
            elif store == "catalog":
                assert url == (
                    f"mongodb://{client}:{password}@{host}:27017/catalog?authSource=admin&tls=true&tlsCAFile={ca_path}"
                )
            elif store == "events":
                assert url == f"{host}:9092"
                assert (data["security.protocol"], data["ssl.truststore.type"]) == ("SASL_SSL", "PEM")
                assert data["ssl.truststore.location"] == ca_path
            elif store == "graph":
                # A Bolt URL names no CA: the driver trusts ca.crt (docs/data-access.md); the server takes TLS only.
                assert url == f"neo4j://{host}:7687"
            else:
                assert url == f"https://{host}:9000"


def test_each_client_mounts_its_own_ca_where_its_url_names_it() -> None:
    run = tls_run()
    template = pod_spec(run, "Deployment", "checkout")
    (container,) = template["spec"]["containers"]
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounted = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"] if m["name"] in volumes}
    for store in ("orders-db", "catalog"):
        volume = mounted[f"{CA_DIR}/{store}"]
        # Only ca.crt of the client's own Secret: no password lands in a file.
        assert volume["secret"] == {
            "secretName": f"{store}-checkout",
            "defaultMode": 0o440,
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
        }
    assert next(m for m in container["volumeMounts"] if m["mountPath"] == f"{CA_DIR}/orders-db")["readOnly"] is True
    # The client rolls when its Secret (so its CA) changes.
    assert "checksum/secret-orders-db-checkout" in template["metadata"]["annotations"]


def test_every_managed_client_url_verifies_the_server_and_its_secret_carries_the_ca() -> None:
    run = managed_production()
    checkout = plain(secret_of(run, "orders-db-checkout", "shop"))
    assert checkout["host"] == MOCK_SQL_DNS
    assert checkout["url"].endswith(
        f"@{MOCK_SQL_DNS}:5432/orders-db?sslmode=verify-full&sslrootcert={CA_DIR}/orders-db/ca.crt"
    )
    assert checkout["ca.crt"] == MOCK_SQL_CA
    sessions = plain(secret_of(run, "sessions-storefront", "shop"))
    assert sessions["url"].startswith("rediss://") and "MOCK-REDIS-CA" in sessions["ca.crt"]
    events = plain(secret_of(run, "events-order-worker", "shop-workers"))
    assert (events["security.protocol"], events["ssl.truststore.location"]) == ("SASL_SSL", f"{CA_DIR}/events/ca.crt")
    assets = plain(secret_of(run, "assets-storefront", "shop"))
    assert assets["url"] == "https://storage.googleapis.com"
    # Managed Kafka and Cloud Storage serve publicly trusted certificates: Google's roots verify them.
    assert events["ca.crt"] == assets["ca.crt"] == GOOGLE_ROOTS
    assert GOOGLE_ROOTS.count("-----BEGIN CERTIFICATE-----") == 4


def test_the_cloud_sql_dns_name_resolves_to_its_private_ip_inside_the_vpc_only() -> None:
    run = managed_production()
    zone = run.one("gcp:dns/managedZone:ManagedZone", "shop-orders-db-dns-zone")
    network = run.one("gcp:compute/network:Network")
    assert plain(zone.inputs["dnsName"]) == f"{MOCK_SQL_DNS}."
    assert zone.inputs["visibility"] == "private"
    assert zone.inputs["privateVisibilityConfig"] == {"networks": [{"networkUrl": f"{network.name}-id"}]}
    record = run.one("gcp:dns/recordSet:RecordSet", "shop-orders-db-dns-record")
    assert (plain(record.inputs["name"]), record.inputs["type"], record.inputs["rrdatas"]) == (
        f"{MOCK_SQL_DNS}.",
        "A",
        ["10.200.0.3"],
    )


# --------------------------------------------------------------------------- stores


def test_each_store_mounts_its_certificate_and_serves_tls_only() -> None:
    run = tls_run()
    for store in CLIENTS:
        template = pod_spec(run, "StatefulSet", store)
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        (container,) = template["spec"]["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/etc/ssl/store"]
        # Root-owned, read by owner and group only: PostgreSQL accepts such a key.
        assert volumes[mount["name"]]["secret"] == {"secretName": f"{store}-tls", "defaultMode": 0o440}
        assert f"checksum/secret-{store}-tls" in template["metadata"]["annotations"]
    postgres = pod_spec(run, "StatefulSet", "orders-db")["spec"]["containers"][0]
    start = postgres["args"][0]
    for setting in ("ssl=on", "ssl_cert_file=/etc/ssl/store/tls.crt", "ssl_key_file=/etc/ssl/store/tls.key"):
        assert f"-c {setting}" in start
    assert "hostssl all all all scram-sha-256" in start and "\nhost " not in start
    redis = pod_spec(run, "StatefulSet", "sessions")["spec"]["containers"][0]["args"][0]
    assert "--port 0 --tls-port 6379 --tls-cert-file /etc/ssl/store/tls.crt" in redis
    mongo = pod_spec(run, "StatefulSet", "catalog")["spec"]["containers"][0]["args"]
    assert mongo == ["mongod", "--tlsMode", "requireTLS", "--tlsCertificateKeyFile", "/etc/ssl/store/tls.pem"]
    kafka = {e["name"]: e.get("value") for e in pod_spec(run, "StatefulSet", "events")["spec"]["containers"][0]["env"]}
    assert kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "CLIENT:SASL_SSL,CONTROLLER:SSL"
    assert (kafka["KAFKA_SSL_KEYSTORE_TYPE"], kafka["KAFKA_SSL_KEYSTORE_LOCATION"]) == ("PEM", "/etc/ssl/store/tls.pem")
    assert kafka["KAFKA_SSL_TRUSTSTORE_LOCATION"] == "/etc/ssl/store/ca.crt"
    neo4j = {e["name"]: e.get("value") for e in pod_spec(run, "StatefulSet", "graph")["spec"]["containers"][0]["env"]}
    assert {name: value for name, value in neo4j.items() if "ssl" in name or "tls" in name or "http" in name} == {
        "NEO4J_server_bolt_tls__level": "REQUIRED",
        "NEO4J_dbms_ssl_policy_bolt_enabled": "true",
        "NEO4J_dbms_ssl_policy_bolt_base__directory": "/etc/ssl/store",
        "NEO4J_dbms_ssl_policy_bolt_private__key": "tls.key",
        "NEO4J_dbms_ssl_policy_bolt_public__certificate": "tls.crt",
        "NEO4J_dbms_ssl_policy_bolt_client__auth": "NONE",
        "NEO4J_server_http_enabled": "false",
    }


def test_each_certificate_names_every_service_name_and_each_kafka_broker() -> None:
    run = tls_run()
    requests = {r.name: r.inputs for r in run.of_type("tls:index/certRequest:CertRequest")}
    assert requests["shop-data-tls-orders-db-request"]["dnsNames"] == [
        "orders-db",
        "orders-db.shop-data",
        "orders-db.shop-data.svc",
        "orders-db.shop-data.svc.cluster.local",
    ]
    brokers = [f"events-{i}.events-headless.shop-data.svc.cluster.local" for i in range(3)]
    assert requests["shop-data-tls-events-request"]["dnsNames"][4:] == brokers
    assert requests["shop-data-tls-events-request"]["subject"]["commonName"] == "events.shop-data.svc.cluster.local"
    # One certificate per TLS store, each signed by the one CA for server use only.
    signed = run.of_type("tls:index/locallySignedCert:LocallySignedCert")
    assert len(signed) == len(CLIENTS)
    for certificate in signed:
        assert certificate.inputs["allowedUses"] == ["digital_signature", "key_encipherment", "server_auth"]
        assert plain(certificate.inputs["caCertPem"]) == ca_certificate(run)


def test_private_keys_and_the_ca_key_stay_secret() -> None:
    run = tls_run()
    for key in run.of_type("tls:index/privateKey:PrivateKey"):
        assert {"privateKeyPem", "privateKeyPemPkcs8"} <= set(key.additional_secret_outputs)
        assert (key.inputs["algorithm"], key.inputs["ecdsaCurve"]) == ("ECDSA", "P256")
    for certificate in run.of_type("tls:index/locallySignedCert:LocallySignedCert"):
        assert is_secret_value(certificate.inputs["caPrivateKeyPem"])
    for request in run.of_type("tls:index/certRequest:CertRequest"):
        assert is_secret_value(request.inputs["privateKeyPem"])
    (ca,) = run.of_type("tls:index/selfSignedCert:SelfSignedCert")
    assert is_secret_value(ca.inputs["privateKeyPem"])
    store_tls = secret_of(run, "orders-db-tls", "shop-data")
    assert is_secret_value(store_tls)
    key = plain(store_tls)["tls.key"]
    assert key.startswith("-----BEGIN PRIVATE KEY-----")
    assert plain(store_tls)["tls.pem"] == key + plain(store_tls)["tls.crt"]
    for resource in run.resources:
        assert key not in plain_strings(resource.inputs)
    # The store's key goes to its own namespace only.
    assert {r.manifest["metadata"]["namespace"] for r in run.k8s("Secret", "orders-db-tls")} == {"shop-data"}


def test_certificates_state_their_validity_and_renew_early() -> None:
    run = tls_run()
    (ca,) = run.of_type("tls:index/selfSignedCert:SelfSignedCert")
    assert (ca.inputs["validityPeriodHours"], ca.inputs["earlyRenewalHours"]) == (3650 * 24, 30 * 24)
    assert ca.inputs["isCaCertificate"] is True
    for certificate in run.of_type("tls:index/locallySignedCert:LocallySignedCert"):
        assert (certificate.inputs["validityPeriodHours"], certificate.inputs["earlyRenewalHours"]) == (365 * 24, 720)
    short = run_program("dev", all_engines("dev", certificateValidityDays=30, renewBeforeDays=10))
    for certificate in short.of_type("tls:index/locallySignedCert:LocallySignedCert"):
        assert (certificate.inputs["validityPeriodHours"], certificate.inputs["earlyRenewalHours"]) == (720, 240)


def test_rotation_replaces_the_ca_or_one_stores_key() -> None:
    def triggers(run: ProgramRun) -> dict[str, Any]:
        return {key.name: key.replacement_trigger for key in run.of_type("tls:index/privateKey:PrivateKey")}

    assert triggers(tls_run()) == {
        "shop-data-tls-ca-key": "1",
        **{f"shop-data-tls-{store}-key": "1/1" for store in CLIENTS},
    }
    config = all_engines("staging", rotation=2)
    for store in config["platform:dataServices"]:
        if store["name"] == "sessions":
            store["tls"] = {"rotation": 3}
    rotated = triggers(run_program("staging", config))
    # The CA's key (so the CA and every certificate) and the one store's key get a new trigger.
    assert rotated["shop-data-tls-ca-key"] == "2"
    assert rotated["shop-data-tls-sessions-key"] == "2/3"
    assert rotated["shop-data-tls-orders-db-key"] == "2/1"


# --------------------------------------------------------------------------- the switch


def test_production_refuses_store_tls_off() -> None:
    config = all_engines("production", enabled=False)
    assert_rejected(
        "production",
        config,
        "stack 'production': platform:dataTls.enabled: production serves every in-cluster data store over TLS; "
        "remove enabled: false (only a harness without the TLS provider may switch it off)",
    )


def test_a_certificate_renewing_before_it_is_valid_is_refused() -> None:
    assert_rejected(
        "dev",
        all_engines("dev", certificateValidityDays=30, renewBeforeDays=30),
        "stack 'dev': platform:dataTls.renewBeforeDays: 30 is not below certificateValidityDays (30); a certificate "
        "must be valid for a while before it is renewed",
    )


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_with_tls_off_nothing_claims_verification(stack: str) -> None:
    run = run_program(stack, all_engines(stack, enabled=False))
    assert not [r for r in run.resources if r.type.startswith("tls:")]
    assert not run.k8s("Secret", "orders-db-tls")
    urls = {
        store: plain(secret_of(run, f"{store}-{client}", namespace))
        for store, clients in CLIENTS.items()
        for client, namespace in list(clients.items())[:1]
    }
    assert urls["orders-db"]["url"].endswith("?sslmode=disable")
    assert urls["sessions"]["url"].startswith("redis://")
    assert "tls" not in urls["catalog"]["url"]
    assert urls["assets"]["url"].startswith("http://")
    assert urls["events"]["security.protocol"] == "SASL_PLAINTEXT"
    graph = {e["name"] for e in pod_spec(run, "StatefulSet", "graph")["spec"]["containers"][0]["env"]}
    assert not {name for name in graph if "ssl" in name or "tls" in name or "http" in name}
    # The keys stay (an empty ca.crt), so a client's env block does not change with the switch.
    assert {data["ca.crt"] for data in urls.values()} == {""}
    assert "args" not in pod_spec(run, "StatefulSet", "orders-db")["spec"]["containers"][0]


def test_the_role_jobs_connect_over_tls_and_verify_the_store() -> None:
    run = tls_run()
    jobs = {j.manifest["metadata"]["name"].rsplit("-", 1)[0]: j.manifest for j in run.k8s("Job")}
    postgres = jobs["orders-db-roles"]["spec"]["template"]["spec"]
    (container,) = postgres["containers"]
    assert {"name": "PGSSLMODE", "value": "verify-full"} in container["env"]
    assert {"name": "PGSSLROOTCERT", "value": f"{CA_DIR}/orders-db/ca.crt"} in container["env"]
    volumes = {v["name"]: v for v in postgres["volumes"]}
    assert volumes["ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    assert volumes["ca"]["secret"]["secretName"] == "orders-db-credentials"
    # The store's own Secret carries its URL's CA too (mongosh reads tlsCAFile from it).
    admin = plain(secret_of(run, "catalog-credentials", "shop-data"))
    assert admin["url"].endswith(f"&tls=true&tlsCAFile={CA_DIR}/catalog/ca.crt")
    (script,) = run.k8s("ConfigMap", "sessions-roles")
    assert f'--tls --cacert {CA_DIR}/sessions/ca.crt --sni "$REDIS_HOST"' in script.manifest["data"]["roles.sh"]


def test_a_service_mount_over_the_platforms_ca_directory_is_refused() -> None:
    config = all_engines("dev")
    checkout = next(s for s in config["platform:services"] if s["name"] == "checkout")
    checkout["mounts"] = [{"secret": "orders-db-checkout", "path": "/etc/ssl/platform/orders-db"}]
    assert_rejected(
        "dev",
        config,
        "stack 'dev': platform:services[checkout].mounts[0].path: '/etc/ssl/platform/orders-db' overlaps "
        "/etc/ssl/platform, where the platform mounts each store's ca.crt; choose another path",
    )
