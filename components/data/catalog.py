"""A data store as the platform runs it in the cluster: a stateful service, its Secret and its clients'.

`store_service` turns one `DataServiceConfig` into the `ServiceConfig` of a StatefulSet of the
engine's official image, so the store gets everything a service gets (restricted pods, spread, PDB,
network policy) from the same component; its `allowFrom` is the store's `clients`, so the network
policy admits exactly them, on the client port only.

`credentials_secret` is the store's own Secret, `<store>-credentials`: its superuser, generated with
pulumi-random by the tenancy Secrets component, in the store's namespace only (the store's pods and
its role Job read it; no client does). `client_secrets` gives each client its own Secret
(`<store>-<client>`, or its `secretName`) in its namespace, with the same keys on every engine:
`host`, `port`, `username` (the client's own user), `password` (its own), `url` (plus `database` for
PostgreSQL and MongoDB, and `security.protocol`, `sasl.mechanism` and `sasl.jaas.config` for Kafka),
and `<store>-clients`, the store's namespace's copy of each client's password, from which the role
Job (roles.py, role_job.py), Kafka's brokers (their SASL users) and the object store (its S3
identities) learn the clients. Neo4j Community has one user: its clients get the store's own keys.
A client reads its `url` with one `secretKeyRef`; its `rotation` regenerates its password alone.

TLS (`dataTls`, tls.py): each store serves TLS only, from `<store>-tls` mounted at `/etc/ssl/store`
(`postgres_tls_args`, `redis_start_command`, `mongodb_tls_args`, `kafka_tls_env`, SeaweedFS's
`-s3.cert.file`, `neo4j_settings`), and every Secret carries `ca.crt` and a URL that verifies the
server against it at the path each client mounts it (`client_ca_path`); a Bolt URL cannot name a CA,
so a Neo4j client sets it in its driver (docs/data-access.md). With TLS off, plaintext and URLs that
claim no verification.

Deliberately left out: replication for engines whose official image has no clustering without an
operator (PostgreSQL, Redis, MongoDB, SeaweedFS, Neo4j run one replica; Kafka runs a KRaft quorum).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.data.config import TLS_ENGINES, DataServiceConfig, StoreClient
from components.data.tls import (
    CA_FILE,
    SERVER_CERT,
    SERVER_DIR,
    SERVER_KEY,
    SERVER_PEM,
    client_ca_path,
    server_file,
)
from components.tenancy.config import SecretConfig
from components.workloads.config import DEFAULT_STORAGE_CLASS, ServiceConfig

PASSWORD_LENGTH = 32
# Engines with one user in this build: their clients receive the store's own credentials (docs/data-access.md).
SHARED_USER_ENGINES = ("neo4j",)
# Data stores run a little longer than services to stop: flush, checkpoint, hand over leadership.
STOP_SECONDS = {"kafka": 120}
DEFAULT_STOP_SECONDS = 60


def object_store_bucket(store: DataServiceConfig) -> str:
    """The in-cluster object store's bucket, created by the store itself: named after the store."""
    return store.name


def host(store: DataServiceConfig) -> str:
    return f"{store.name}.{store.namespace}.svc.cluster.local"


def _ref(store: DataServiceConfig, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": store.secret_name, "key": key}}


def _pod_dns(store: DataServiceConfig, ordinal: int) -> str:
    return f"{store.name}-{ordinal}.{store.name}-headless.{store.namespace}.svc.cluster.local"


def kafka_cluster_id(store: DataServiceConfig) -> str:
    """KRaft's cluster id: 16 bytes, base64url without padding, stable per store."""
    digest = hashlib.sha256(f"{store.namespace}/{store.name}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class S3Identity:
    """One SeaweedFS identity: its name, the env variables holding its keys, and what it may do."""

    name: str
    access_key_env: str
    secret_key_env: str
    # SeaweedFS actions, optionally scoped to a bucket ('Read:assets'); unscoped: every bucket.
    actions: tuple[str, ...] = ("Admin", "Read", "List", "Tagging", "Write")


# What a client's key may do in the store's bucket, by its access (SeaweedFS actions, scoped with ':<bucket>').
CLIENT_ACTIONS = {"read-write": ("Read", "Write", "List", "Tagging"), "read-only": ("Read", "List")}


def s3_identities(store: DataServiceConfig) -> list[S3Identity]:
    """The store's own identity (its admin, for operators; no workload holds its key), then one per
    client, its key scoped to the store's bucket with the actions its access allows."""
    bucket = object_store_bucket(store)
    admin = S3Identity(store.engine.username, "S3_ACCESS_KEY", "S3_SECRET_KEY")
    clients = [
        S3Identity(
            client.name,
            f"S3_CLIENT_{index}_ACCESS_KEY",
            f"S3_CLIENT_{index}_SECRET_KEY",
            tuple(f"{action}:{bucket}" for action in CLIENT_ACTIONS[client.access]),
        )
        for index, client in enumerate(store.clients)
    ]
    return [admin, *clients]


def _client_key_env(store: DataServiceConfig) -> dict[str, Any]:
    """Each client's access key (its name, not secret) and secret key (from `<store>-clients`)."""
    env: dict[str, Any] = {}
    for index, client in enumerate(store.clients):
        env[f"S3_CLIENT_{index}_ACCESS_KEY"] = client.name
        env[f"S3_CLIENT_{index}_SECRET_KEY"] = {
            "secretKeyRef": {"name": store.clients_secret_name, "key": f"{client.name}.password"}
        }
    return env


# Where the rendered identities file lives: /tmp is the pod's own emptyDir, the root filesystem is read-only.
S3_CONFIG_PATH = "/tmp/s3.json"
# Written once the store's buckets exist; the readiness probe waits for it, so no client is admitted before.
BUCKETS_READY_PATH = "/tmp/buckets-ready"
# Each `weed shell` call is bounded: it waits for the master while the server is still starting.
SHELL_TIMEOUT_SECONDS = 30


def seaweedfs_script(
    store: DataServiceConfig, identities: Sequence[S3Identity], buckets: Sequence[str], tls_dir: str | None = None
) -> str:
    """The store container's command: write the identities file from the env, start `weed server`,
    create the buckets the identities are scoped to (idempotently), then wait on the server.

    The keys come from Secrets through the env and never appear in the pod spec; generated keys are
    letters and digits only, so they need no JSON escaping. A changed key changes a consumed Secret,
    whose checksum annotation rolls the pod, so the file is always the one the Secrets describe.
    The shell stays as PID 1 only to pass Kubernetes' stop signal on to the server and exit with it.
    """
    engine = store.engine
    config = {
        "identities": [
            {
                "name": identity.name,
                "credentials": [
                    {"accessKey": f"${{{identity.access_key_env}}}", "secretKey": f"${{{identity.secret_key_env}}}"}
                ],
                "actions": list(identity.actions),
            }
            for identity in identities
        ]
    }
    server = " ".join(
        [
            "weed -logtostderr=true server",
            f"-dir={engine.data_path}",
            # Its components find each other on loopback, a name that survives restarts; clients reach S3 on every address.
            "-ip=127.0.0.1 -ip.bind=0.0.0.0",
            # Volumes sized from the disk's free space, 1 GiB each (the default 30 GB would leave a small disk none).
            "-volume.max=0 -master.volumeSizeLimitMB=1024",
            f"-s3 -s3.port={engine.port} -s3.config={S3_CONFIG_PATH}",
            # With a key and no -s3.port.https, the S3 port serves HTTPS only.
            *([f"-s3.cert.file={tls_dir}/{SERVER_CERT} -s3.key.file={tls_dir}/{SERVER_KEY}"] if tls_dir else []),
        ]
    )
    shell = f"timeout {SHELL_TIMEOUT_SECONDS} weed shell -master=127.0.0.1:9333 -filer=127.0.0.1:8888"
    return "\n".join(
        [
            "set -eu",
            "umask 077",
            f"cat > {S3_CONFIG_PATH} <<EOF",
            json.dumps(config, separators=(",", ":")),
            "EOF",
            f"{server} &",
            "server=$!",
            "trap 'kill -TERM \"$server\" 2>/dev/null || true' TERM INT",
            f'weed_shell() {{ echo "$1" | {shell} 2>&1 || true; }}',
            "tab=$(printf '\\t')",
            # s3.bucket.list prints '  <name><TAB>size:...' per bucket.
            f"for bucket in {' '.join(buckets)}; do",
            '  until weed_shell s3.bucket.list | grep -q "^  $bucket$tab"; do',
            '    kill -0 "$server"',
            '    weed_shell "s3.bucket.create -name $bucket" >/dev/null',
            "    sleep 2",
            "  done",
            "done",
            f": > {BUCKETS_READY_PATH}",
            "status=0",
            'wait "$server" || status=$?',
            # A stop signal interrupts the first wait; the second waits for the server to finish stopping.
            'if [ "$status" -gt 128 ]; then status=0; wait "$server" || status=$?; fi',
            'exit "$status"',
        ]
    )


def _engine_pod(store: DataServiceConfig, tls_on: bool) -> dict[str, Any]:
    """The engine-specific part of the pod: command, args, env and probes (camelCase config); with
    `tls_on`, the engine's TLS flags over the files of `<store>-tls` mounted at SERVER_DIR."""
    engine = store.engine
    port = engine.port_name
    tcp = {"tcpSocket": {"port": port}}
    if store.type == "postgres":
        ready = {"exec": {"command": ["sh", "-c", 'pg_isready -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"']}}
        tls_start = {}
        if tls_on:
            # The image's entrypoint starts `postgres` with these settings (its first-start setup included).
            tls_start = {
                "command": ["sh", "-c"],
                "args": [
                    f"printf '%s' '{POSTGRES_HBA}' > {POSTGRES_HBA_PATH} && exec docker-entrypoint.sh postgres "
                    + " ".join(postgres_tls_args(SERVER_DIR, POSTGRES_HBA_PATH))
                ],
            }
        return {
            **tls_start,
            "env": {
                "POSTGRES_USER": _ref(store, "username"),
                "POSTGRES_PASSWORD": _ref(store, "password"),
                "POSTGRES_DB": _ref(store, "database"),
                # A subdirectory: the volume's root holds lost+found, which initdb refuses.
                "PGDATA": f"{engine.data_path}/pgdata",
            },
            "probes": {"startup": ready, "liveness": tcp, "readiness": ready},
        }
    if store.type == "redis":
        cli = f"redis-cli --tls --cacert {server_file(CA_FILE)}" if tls_on else "redis-cli"
        ping = {"exec": {"command": ["sh", "-c", f'REDISCLI_AUTH="$REDIS_PASSWORD" {cli} ping | grep -q PONG']}}
        return {
            "command": ["sh", "-c"],
            # The ACL file on the volume keeps the clients' users (roles.py) across restarts; its `default`
            # line is written from the store's own password at every start, since an ACL file overrides
            # --requirepass. Append-only file: every write survives a restart, not just the last snapshot.
            "args": [redis_start_command(engine.data_path, SERVER_DIR if tls_on else None, engine.port)],
            "env": {"REDIS_PASSWORD": _ref(store, "password")},
            "probes": {"startup": ping, "liveness": tcp, "readiness": ping},
        }
    if store.type == "mongodb":
        # The probe checks the chain, not the name: it reaches the server on localhost.
        probe_tls = ["--tls", "--tlsCAFile", server_file(CA_FILE), "--tlsAllowInvalidHostnames"] if tls_on else []
        ping = {"exec": {"command": ["mongosh", "--quiet", *probe_tls, "--eval", "db.adminCommand('ping').ok"]}}
        return {
            # The image's entrypoint runs its first-start setup on localhost without TLS (allowTLS), then this.
            **({"args": ["mongod", *mongodb_tls_args(SERVER_DIR)]} if tls_on else {}),
            "env": {
                "MONGO_INITDB_ROOT_USERNAME": _ref(store, "username"),
                "MONGO_INITDB_ROOT_PASSWORD": _ref(store, "password"),
            },
            "probes": {
                "startup": tcp,
                "liveness": tcp,
                "readiness": {**ping, "periodSeconds": 10, "timeoutSeconds": 5},
            },
        }
    if store.type == "kafka":
        replicas = store.replicas
        voters = ",".join(f"{i}@{_pod_dns(store, i)}:9093" for i in range(replicas))
        factor = str(min(3, replicas))
        return {
            "env": {
                "CLUSTER_ID": kafka_cluster_id(store),
                "KAFKA_PROCESS_ROLES": "broker,controller",
                "KAFKA_LISTENERS": "CLIENT://:9092,CONTROLLER://:9093",
                "KAFKA_ADVERTISED_LISTENERS": (
                    f"CLIENT://$(POD_NAME).{store.name}-headless.{store.namespace}.svc.cluster.local:9092"
                ),
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
                    "CLIENT:SASL_SSL,CONTROLLER:SSL" if tls_on else "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
                ),
                "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
                "KAFKA_INTER_BROKER_LISTENER_NAME": "CLIENT",
                "KAFKA_SASL_ENABLED_MECHANISMS": "PLAIN",
                "KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL": "PLAIN",
                "KAFKA_CONTROLLER_QUORUM_VOTERS": voters,
                "KAFKA_LOG_DIRS": f"{engine.data_path}/logs",
                "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": factor,
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": factor,
                "KAFKA_DEFAULT_REPLICATION_FACTOR": factor,
                "KAFKA_MIN_INSYNC_REPLICAS": str(max(1, min(3, replicas) - 1)),
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": str(max(1, min(3, replicas) - 1)),
                "KAFKA_HEAP_OPTS": "-Xms512m -Xmx512m",
                # The brokers' SASL users: the admin (inter-broker) and every client, each its own password.
                "KAFKA_LISTENER_NAME_CLIENT_PLAIN_SASL_JAAS_CONFIG": {
                    "secretKeyRef": {"name": store.clients_secret_name, "key": "sasl.jaas.config"}
                },
                **(kafka_tls_env(SERVER_DIR) if tls_on else {}),
                "KAFKA_NODE_ID": {"fieldRef": "metadata.labels['apps.kubernetes.io/pod-index']"},
                "POD_NAME": {"fieldRef": "metadata.name"},
            },
            "probes": {"startup": tcp, "liveness": tcp, "readiness": tcp},
        }
    if store.type == "object-store":
        # The kubelet's HTTPS probe does not verify the certificate; the clients do.
        health = {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTPS" if tls_on else "HTTP"}}
        # Ready once the buckets exist (the filer answered) and, in plaintext, the gateway (busybox wget).
        gateway_ready = f"test -e {BUCKETS_READY_PATH}"
        if not tls_on:
            gateway_ready += f" && wget -q -O /dev/null http://127.0.0.1:{engine.port}/healthz"
        return {
            # The image's entrypoint chowns /data as root and drops to its own user; the pod already runs
            # as an unprivileged user whose fsGroup owns the volume, so `weed` is started directly.
            "command": [
                "/bin/sh",
                "-c",
                seaweedfs_script(
                    store, s3_identities(store), [object_store_bucket(store)], SERVER_DIR if tls_on else None
                ),
            ],
            "env": {
                "S3_ACCESS_KEY": _ref(store, "username"),
                "S3_SECRET_KEY": _ref(store, "password"),
                **_client_key_env(store),
            },
            "probes": {
                "startup": health,
                "liveness": health,
                "readiness": {"exec": {"command": ["sh", "-c", gateway_ready]}},
            },
        }
    # neo4j
    settings = {
        "server.memory.heap.max_size": "512m",
        "server.memory.pagecache.size": "256m",
        **neo4j_settings(SERVER_DIR if tls_on else None),
    }
    return {
        "env": {"NEO4J_AUTH": _ref(store, "NEO4J_AUTH"), **neo4j_env(settings)},
        "probes": {"startup": {**tcp, "failureThreshold": 60}, "liveness": tcp, "readiness": tcp},
    }


def redis_start_command(data_path: str, tls_dir: str | None = None, port: int = 6379) -> str:
    """The in-cluster Redis's start: the ACL file's `default` user from $REDIS_PASSWORD, then the server
    (with `tls_dir`, on TLS only: `--port 0` closes the plaintext port)."""
    acl = f"{data_path}/users.acl"
    listen = f"--port {port}"
    if tls_dir is not None:
        listen = (
            f"--port 0 --tls-port {port} --tls-cert-file {tls_dir}/{SERVER_CERT} --tls-key-file {tls_dir}/{SERVER_KEY} "
            f"--tls-ca-cert-file {tls_dir}/{CA_FILE} --tls-auth-clients no"
        )
    return (
        '{ echo "user default on #$(printf %s "$REDIS_PASSWORD" | sha256sum | cut -d" " -f1) ~* &* +@all"; '
        f'grep -v "^user default " {acl} 2>/dev/null || true; }} > {acl}.next && mv {acl}.next {acl} && '
        f"exec redis-server --aclfile {acl} --appendonly yes --dir {data_path} {listen}"
    )


# PostgreSQL's host-based access with TLS: every TCP connection must be TLS (no `host` line matches a plaintext
# one, so it is refused); the local socket serves the image's first-start setup, with the password too.
POSTGRES_HBA = "local all all scram-sha-256\nhostssl all all all scram-sha-256\n"
# Written at every start into the socket directory (a scratch emptyDir), where hba_file points.
POSTGRES_HBA_PATH = "/var/run/postgresql/pg_hba.conf"


def postgres_tls_args(tls_dir: str, hba_file: str) -> list[str]:
    """`postgres` settings: TLS on with the store's key and certificate, TLS 1.2 at least, the hostssl-only
    pg_hba. The key is root-owned, mode 0440 (a Secret volume): PostgreSQL accepts that."""
    return [
        "-c ssl=on",
        f"-c ssl_cert_file={tls_dir}/{SERVER_CERT}",
        f"-c ssl_key_file={tls_dir}/{SERVER_KEY}",
        "-c ssl_min_protocol_version=TLSv1.2",
        f"-c hba_file={hba_file}",
    ]


def mongodb_tls_args(tls_dir: str) -> list[str]:
    """`mongod` flags: TLS required on every connection, the key and certificate in one PEM file."""
    return ["--tlsMode", "requireTLS", "--tlsCertificateKeyFile", f"{tls_dir}/{SERVER_PEM}"]


def kafka_tls_env(tls_dir: str) -> dict[str, str]:
    """The brokers' PEM keystore (PKCS#8 key and certificate) and truststore (the platform CA), for both
    listeners: clients reach CLIENT over SASL_SSL, brokers reach each other there and the controllers over
    SSL, each verifying the other's name (every broker's headless name is in the certificate)."""
    return {
        "KAFKA_SSL_KEYSTORE_TYPE": "PEM",
        "KAFKA_SSL_KEYSTORE_LOCATION": f"{tls_dir}/{SERVER_PEM}",
        "KAFKA_SSL_TRUSTSTORE_TYPE": "PEM",
        "KAFKA_SSL_TRUSTSTORE_LOCATION": f"{tls_dir}/{CA_FILE}",
        "KAFKA_SSL_CLIENT_AUTH": "none",
        "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM": "https",
    }


def neo4j_settings(tls_dir: str | None) -> dict[str, str]:
    """Neo4j's settings for Bolt over TLS only, with `tls_dir`: the key and certificate from there, no client
    certificates, and the plaintext HTTP API off (drivers speak Bolt). Without it, none."""
    if tls_dir is None:
        return {}
    return {
        "server.bolt.tls_level": "REQUIRED",
        "dbms.ssl.policy.bolt.enabled": "true",
        "dbms.ssl.policy.bolt.base_directory": tls_dir,
        "dbms.ssl.policy.bolt.private_key": SERVER_KEY,
        "dbms.ssl.policy.bolt.public_certificate": SERVER_CERT,
        "dbms.ssl.policy.bolt.client_auth": "NONE",
        "server.http.enabled": "false",
    }


def neo4j_env(settings: Mapping[str, str]) -> dict[str, str]:
    """`settings` as the neo4j image reads them: `NEO4J_` + the name with `_` doubled and `.` as `_`."""
    return {"NEO4J_" + name.replace("_", "__").replace(".", "_"): value for name, value in settings.items()}


def _disruption_budget(store: DataServiceConfig, production: bool) -> dict[str, Any]:
    """A quorum keeps its majority; a single primary is never evicted in production (drain it by hand)."""
    if store.replicas >= 3:
        return {"minAvailable": store.replicas // 2 + 1}
    if production:
        return {"minAvailable": 1}
    return {"enabled": False}


def store_service(store: DataServiceConfig, cluster_mode: str, production: bool, tls_on: bool) -> ServiceConfig:
    """The StatefulSet service that runs `store` in the cluster; with `tls_on`, serving TLS from `<store>-tls`."""
    engine = store.engine
    serves_tls = tls_on and store.serves_tls
    pod = _engine_pod(store, serves_tls)
    document: dict[str, Any] = {
        "name": store.name,
        "namespace": store.namespace,
        "image": store.image,
        "ports": [
            {"name": engine.port_name, "containerPort": engine.port},
            *({"name": name, "containerPort": number} for name, number in engine.peer_ports),
        ],
        **pod,
        "replicas": store.replicas,
        "shutdown": {
            # Clients keep their connections until the store stops; no load balancer to leave.
            "preStopSleepSeconds": 5,
            "terminationGracePeriodSeconds": STOP_SECONDS.get(store.type, DEFAULT_STOP_SECONDS),
        },
        "disruptionBudget": _disruption_budget(store, production),
        "allowFrom": store.client_names,
        # The key, certificate and CA: a new one changes the Secret's checksum, which rolls the store.
        **({"mounts": [{"secret": store.tls_secret_name, "path": SERVER_DIR}]} if serves_tls else {}),
        "stateful": {
            "volumes": [
                {
                    "name": "data",
                    "path": engine.data_path,
                    "size": store.storage_size,
                    "storageClass": store.storage.storage_class or DEFAULT_STORAGE_CLASS[cluster_mode],
                }
            ],
            # A quorum's members find each other only once all of them are scheduled.
            "podManagementPolicy": "Parallel" if store.replicas > 1 else "OrderedReady",
            "peerPorts": [name for name, _ in engine.peer_ports],
            "scratchPaths": list(engine.scratch_paths),
        },
    }
    if store.resources is not None:
        document["resources"] = store.resources.model_dump(by_alias=True)
    else:
        document["size"] = store.size or engine.default_size
    if document["stateful"]["volumes"][0]["storageClass"] is None:
        del document["stateful"]["volumes"][0]["storageClass"]
    return ServiceConfig.model_validate(document)


def _url(store: DataServiceConfig, user: str, tls_on: bool) -> str:
    """The client URL of `store` for `user`: verifying the server over TLS when the store serves it."""
    engine = store.engine
    template = engine.tls_url if tls_on and store.serves_tls else engine.url
    return template.format(
        user=user,
        password="{password}",
        host=host(store),
        port=engine.port,
        database=store.database or store.name,
        ca=client_ca_path(store.name),
    )


def _ca_key(store: DataServiceConfig, tls_on: bool) -> dict[str, Any]:
    """`ca.crt`: the platform CA, copied from `<store>-tls`; empty when the store serves no TLS."""
    if tls_on and store.serves_tls:
        return {"type": "provided", "secret": store.tls_secret_name, "key": CA_FILE}
    return _format("")


def credentials_secret(store: DataServiceConfig, tls_on: bool) -> SecretConfig:
    """The store's own credentials (its superuser), in its namespace only: read by the store's pods and
    its role Job, never by a client."""
    engine = store.engine
    database = store.database or store.name
    keys: dict[str, Any] = {
        "host": _format(host(store)),
        "port": _format(str(engine.port)),
        "username": _format(engine.username),
        # Letters and digits only, so the password needs no escaping inside the URL.
        "password": {"type": "password", "length": PASSWORD_LENGTH, "special": False},
        "url": _format(_url(store, engine.username, tls_on)),
    }
    if store.type in TLS_ENGINES:
        keys[CA_FILE] = _ca_key(store, tls_on)
    if store.type in ("postgres", "mongodb"):
        keys["database"] = _format(database)
    if store.type == "kafka":
        keys.update(_kafka_client_keys(store, engine.username, tls_on))
    if store.type == "neo4j":
        keys["NEO4J_AUTH"] = _format(f"{engine.username}/{{password}}")
    if store.type == "object-store":
        keys["bucket"] = _format(object_store_bucket(store))
    return SecretConfig.model_validate({"name": store.secret_name, "namespaces": [store.namespace], "keys": keys})


def client_secrets(store: DataServiceConfig, client_namespaces: Mapping[str, str], tls_on: bool) -> list[SecretConfig]:
    """One Secret per client, in its namespace, with its own user and password (`client_namespaces`:
    client name -> namespace; clients not in it are skipped), then the store's `<store>-clients`."""
    secrets = [
        _client_secret(store, client, client_namespaces[client.name], tls_on)
        for client in store.clients
        if client.name in client_namespaces
    ]
    return [*secrets, _clients_secret(store, [c for c in store.clients if c.name in client_namespaces])]


def _client_secret(store: DataServiceConfig, client: StoreClient, namespace: str, tls_on: bool) -> SecretConfig:
    engine = store.engine
    name = store.client_secret_name(client)
    if store.type in SHARED_USER_ENGINES:
        # The engine has a single user here (docs/data-access.md): the client reads the store's own keys.
        keys: dict[str, Any] = {
            key: {"type": "provided", "secret": store.secret_name, "key": key}
            for key in credentials_secret(store, tls_on).keys
        }
    else:
        keys = {
            "host": _format(host(store)),
            "port": _format(str(engine.port)),
            "username": _format(client.name),
            "password": {"type": "password", "length": PASSWORD_LENGTH, "special": False},
            "url": _format(_url(store, client.name, tls_on)),
            CA_FILE: _ca_key(store, tls_on),
        }
        if store.type in ("postgres", "mongodb"):
            keys["database"] = _format(store.database or store.name)
        if store.type == "kafka":
            keys.update(_kafka_client_keys(store, client.name, tls_on))
        if store.type == "object-store":
            # The same keys as a Cloud Storage bucket's clients get: the access key is `username`.
            keys["bucket"] = _format(object_store_bucket(store))
    return SecretConfig.model_validate(
        {"name": name, "namespaces": [namespace], "rotation": client.rotation, "keys": keys}
    )


def _clients_secret(store: DataServiceConfig, clients: Sequence[StoreClient]) -> SecretConfig:
    """`<store>-clients`: each client's password beside its name, in the store's namespace, for the
    role Job (and, for Kafka, the brokers' list of SASL users)."""
    keys: dict[str, Any] = {"clients": _format(",".join(client.name for client in clients))}
    if store.type not in SHARED_USER_ENGINES:
        for client in clients:
            keys[f"{client.name}.password"] = {
                "type": "provided",
                "secret": store.client_secret_name(client),
                "key": "password",
            }
    if store.type == "kafka":
        admin = store.engine.username
        keys["admin.password"] = {"type": "provided", "secret": store.secret_name, "key": "password"}
        users = " ".join(f'user_{name}="{{{name}.password}}"' for name in [c.name for c in clients])
        keys["sasl.jaas.config"] = _format(
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{admin}" password="{{admin.password}}" user_{admin}="{{admin.password}}"'
            + (f" {users}" if users else "")
            + ";"
        )
    return SecretConfig.model_validate(
        {"name": store.clients_secret_name, "namespaces": [store.namespace], "keys": keys}
    )


def kafka_truststore_keys(store: str, tls_on: bool) -> dict[str, Any]:
    """A Java client's truststore: the Secret's ca.crt as its clients mount it (PEM, Kafka >= 2.7)."""
    if not tls_on:
        return {"ssl.truststore.type": _format(""), "ssl.truststore.location": _format("")}
    return {"ssl.truststore.type": _format("PEM"), "ssl.truststore.location": _format(client_ca_path(store))}


def _kafka_client_keys(store: DataServiceConfig, user: str, tls_on: bool) -> dict[str, Any]:
    # The client's protocol travels with the credentials, so a managed Kafka (SASL_SSL, OAUTHBEARER)
    # changes the Secret, not the client's env.
    return {
        "security.protocol": _format("SASL_SSL" if tls_on else "SASL_PLAINTEXT"),
        **kafka_truststore_keys(store.name, tls_on),
        "sasl.mechanism": _format("PLAIN"),
        "sasl.jaas.config": _format(
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{{password}}";'
        ),
    }


def _format(template: str) -> dict[str, str]:
    return {"type": "format", "template": template}
