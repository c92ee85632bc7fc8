"""Config of the data domain: the catalog of data stores, the engines that run them, and backups.

`DataServiceConfig` is one store as a team declares it (`platform:dataServices`); `ENGINES` is the
per-type table every store is built from: the official image and its pinned default version
(components/versions.py), the client port, the Pod Security level the image needs, the client URL
format, which version changes
the engine makes in place, and how many replicas the image can run. The in-cluster build of a store
(catalog.py) reads only this table, so another way of running a type (a managed service, issue #16)
is one more column, and the client Secret's keys stay the same.

`mode: managed` runs a store on Google's managed service instead (gke mode only): PostgreSQL on
Cloud SQL, Redis on Memorystore for Redis, the object store on Cloud Storage (managed.py). Its
`managed` block sizes it; `CLOUD_SQL_TIERS` is the table of machine tiers a stack may choose.
Clients receive the same Secret keys in either mode.

Rules that need other domains (clients are declared services, the namespace's Pod Security level,
the previous deploy's versions and sizes) live in `config/checks.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from components import versions
from components.errors import Problem
from components.values import DnsLabel, DnsSubdomain, Model, Resources, ServiceName, Storage

EngineType = Literal["postgres", "redis", "mongodb", "kafka", "object-store", "neo4j"]
# Pod Security levels, most restrictive first.
PSA_LEVELS = ("restricted", "baseline", "privileged")


def _numbers(version: str) -> tuple[int, ...]:
    """'17.6' -> (17, 6); the leading numeric part of each dot-separated field."""
    parts = []
    for field in version.split("-")[0].split("."):
        digits = "".join(c for c in field if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@dataclass(frozen=True)
class Engine:
    """How one type of store runs from its official image, and what its clients receive."""

    label: str
    image: str
    default_version: str
    port_name: str
    port: int
    # Ports only the store's own pods use (a KRaft quorum's controller listener).
    peer_ports: tuple[tuple[str, int], ...]
    data_path: str
    # Writable directories outside the data volume, so the root filesystem stays read-only.
    scratch_paths: tuple[str, ...]
    default_storage: str
    # The resource preset a store gets when it sets neither size nor resources (JVMs need more).
    default_size: str
    # The least restrictive Pod Security level the pods need; a namespace enforcing a stricter one refuses them.
    pod_security: str
    username: str
    # Client URL without TLS; {user}, {password}, {host}, {port}, {database} are filled in (password from the secret).
    url: str
    # Client URL over TLS that verifies the server; {ca} is the path of the client's mounted ca.crt.
    tls_url: str
    # The highest replica count the official image runs without an operator; None: any odd count (a quorum).
    max_replicas: int | None
    # A major version's position in the version string: postgres 17.6 -> 17; kafka 3.9.1 -> (3, 9) is not major.
    major_fields: int
    # Upgrades of one major at a time only (MongoDB's featureCompatibilityVersion); else majors never change.
    one_major_at_a_time: bool
    # How to change a major version instead, for the refusal message.
    major_upgrade: str

    def major(self, version: str) -> tuple[int, ...]:
        return _numbers(version)[: self.major_fields]

    def refuse_version_change(self, old: str, new: str) -> str | None:
        """Why `old` -> `new` cannot be done in place, or None when the engine does it on restart."""
        old_numbers, new_numbers = _numbers(old), _numbers(new)
        if new_numbers < old_numbers:
            return (
                f"{self.label} {old} cannot be downgraded to {new} in place: its data files are already "
                f"upgraded; restore a backup taken under {new} into a new store instead"
            )
        old_major, new_major = self.major(old), self.major(new)
        if old_major == new_major:
            return None
        if self.one_major_at_a_time and new_major[0] == old_major[0] + 1:
            return None
        return f"{self.label} {old} -> {new} is a major upgrade the engine cannot do in place; {self.major_upgrade}"


ENGINES: dict[str, Engine] = {
    "postgres": Engine(
        label="PostgreSQL",
        image="postgres",
        default_version=versions.POSTGRES_IMAGE,
        port_name="postgres",
        port=5432,
        peer_ports=(),
        data_path="/var/lib/postgresql/data",
        scratch_paths=("/var/run/postgresql",),
        default_storage="10Gi",
        default_size="small",
        pod_security="restricted",
        username="app",
        url="postgresql://{user}:{password}@{host}:{port}/{database}?sslmode=disable",
        tls_url="postgresql://{user}:{password}@{host}:{port}/{database}?sslmode=verify-full&sslrootcert={ca}",
        max_replicas=1,
        major_fields=1,
        one_major_at_a_time=False,
        major_upgrade=(
            "declare a second store at the new version, copy the data with pg_dump/pg_restore "
            "(or pg_upgrade from a backup), move the clients, then remove the old store"
        ),
    ),
    "redis": Engine(
        label="Redis",
        image="redis",
        default_version=versions.REDIS_IMAGE,
        port_name="redis",
        port=6379,
        peer_ports=(),
        data_path="/data",
        scratch_paths=(),
        default_storage="1Gi",
        default_size="small",
        pod_security="restricted",
        username="default",
        url="redis://{user}:{password}@{host}:{port}/0",
        # The CA is the client's setting (ca.crt): Redis URLs carry no CA path every client library reads.
        tls_url="rediss://{user}:{password}@{host}:{port}/0",
        max_replicas=1,
        major_fields=1,
        # Redis reads older RDB/AOF files, so a forward upgrade of any size happens on restart.
        one_major_at_a_time=False,
        major_upgrade="",
    ),
    "mongodb": Engine(
        label="MongoDB",
        image="mongo",
        default_version=versions.MONGODB_IMAGE,
        port_name="mongodb",
        port=27017,
        peer_ports=(),
        data_path="/data/db",
        scratch_paths=("/data/configdb",),
        default_storage="10Gi",
        default_size="small",
        pod_security="restricted",
        username="root",
        url="mongodb://{user}:{password}@{host}:{port}/{database}?authSource=admin",
        tls_url="mongodb://{user}:{password}@{host}:{port}/{database}?authSource=admin&tls=true&tlsCAFile={ca}",
        max_replicas=1,
        major_fields=2,
        one_major_at_a_time=True,
        major_upgrade=(
            "upgrade one release series at a time (7.0 -> 8.0), after setting featureCompatibilityVersion "
            "to the running series, or restore a mongodump into a new store"
        ),
    ),
    "kafka": Engine(
        label="Kafka",
        image="apache/kafka",
        default_version=versions.KAFKA_IMAGE,
        port_name="kafka",
        port=9092,
        peer_ports=(("controller", 9093),),
        data_path="/var/lib/kafka/data",
        scratch_paths=("/opt/kafka/config", "/opt/kafka/logs"),
        default_storage="20Gi",
        default_size="medium",
        pod_security="restricted",
        username="app",
        url="{host}:{port}",
        # bootstrap.servers; TLS is the Secret's security.protocol and ssl.truststore.* keys.
        tls_url="{host}:{port}",
        max_replicas=None,
        major_fields=1,
        one_major_at_a_time=False,
        major_upgrade=(
            "upgrade to the last release of the current major first (3.9), finalize its metadata.version, "
            "then move to the next major in a second change"
        ),
    ),
    "object-store": Engine(
        label="SeaweedFS",
        # Apache-2.0 and maintained (components/versions.py says where the tag was verified).
        image="chrislusf/seaweedfs",
        default_version=versions.SEAWEEDFS_IMAGE,
        port_name="s3",
        # MinIO's port, so a client's URL keeps its shape (http://<store>.<namespace>.svc.cluster.local:9000).
        port=9000,
        peer_ports=(),
        data_path="/data",
        scratch_paths=(),
        default_storage="20Gi",
        default_size="small",
        pod_security="restricted",
        username="app",
        url="http://{host}:{port}",
        tls_url="https://{host}:{port}",
        max_replicas=1,
        major_fields=1,
        one_major_at_a_time=False,
        major_upgrade=(
            "declare a second store at the new version, copy the buckets with an S3 sync tool "
            "(rclone sync), move the clients, then remove the old store"
        ),
    ),
    "neo4j": Engine(
        label="Neo4j",
        image="neo4j",
        default_version=versions.NEO4J_IMAGE,
        port_name="bolt",
        port=7687,
        peer_ports=(),
        data_path="/data",
        scratch_paths=("/logs", "/var/lib/neo4j/conf", "/var/lib/neo4j/run"),
        default_storage="10Gi",
        default_size="medium",
        pod_security="restricted",
        username="neo4j",
        url="neo4j://{host}:{port}",
        # The same URL: a Bolt URL names no CA, and `neo4j+s://` means the system's CAs (drivers refuse a CA
        # of one's own with it), so the client turns encryption on and trusts ca.crt in its driver's
        # settings; the server accepts TLS only, so a client that does not is refused, never downgraded.
        tls_url="neo4j://{host}:{port}",
        max_replicas=1,
        major_fields=1,
        one_major_at_a_time=False,
        major_upgrade=(
            "dump the database with neo4j-admin database dump, declare a store at the new version, "
            "then load and migrate it with neo4j-admin database load and migrate"
        ),
    ),
}


# Images a type ran in the cluster before this stack's record named the image (data/history.py):
# the object store ran MinIO, whose data files SeaweedFS cannot read.
FORMER_IMAGES = {"object-store": ("minio/minio", "MinIO")}


# Cloud SQL for PostgreSQL machine tiers a stack may use: tier -> (vCPUs, memory GiB, shared core).
# Enterprise edition (custom machine types); shared-core tiers carry no SLA, so production refuses them.
CLOUD_SQL_TIERS: dict[str, tuple[float, float, bool]] = {
    "db-f1-micro": (0.2, 0.6, True),
    "db-g1-small": (0.5, 1.7, True),
    "db-custom-1-3840": (1, 3.75, False),
    "db-custom-2-7680": (2, 7.5, False),
    "db-custom-4-15360": (4, 15, False),
    "db-custom-8-30720": (8, 30, False),
    "db-custom-16-61440": (16, 60, False),
}
DEFAULT_CLOUD_SQL_TIER = {"production": "db-custom-2-7680", "other": "db-custom-1-3840"}
# Which engines have a managed service here, and what it is.
MANAGED_SERVICES = {
    "postgres": "Cloud SQL for PostgreSQL",
    "redis": "Memorystore for Redis",
    "object-store": "Cloud Storage",
    "kafka": "Managed Service for Apache Kafka",
}
# Managed Kafka brokers: one per 15 vCPUs or 120 GiB, whichever gives more, over three zones (so at
# least three); 1 to 8 GiB of memory per vCPU (cloud.google.com/managed-service-for-apache-kafka/docs/overview).
KAFKA_VCPUS_PER_BROKER = 15
KAFKA_GIB_PER_BROKER = 120
KAFKA_MIN_BROKERS = 3
# The platform's own sizing rule, not a Google quota: partition leaders a managed cluster may carry per vCPU.
KAFKA_PARTITIONS_PER_VCPU = 100
# Memorystore for Redis speaks Redis 7.2 at most; its TLS port is 6378.
MEMORYSTORE_REDIS_VERSION = "REDIS_7_2"
# A Cloud Storage bucket name (https://cloud.google.com/storage/docs/buckets#naming), dotless form:
# 3-63 characters of lowercase letters, digits, '-' and '_', starting and ending with a letter or digit.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")


class MaintenanceWindow(Model):
    """A weekly hour (UTC) in which Google may restart the instance for updates."""

    # 1 = Monday ... 7 = Sunday.
    day: int = Field(7, ge=1, le=7)
    """1 = Monday … 7 = Sunday."""
    hour: int = Field(3, ge=0, le=23)
    """Hour of the day, UTC (0-23)."""


class Lifecycle(Model):
    # Delete objects this many days after creation; unset: never.
    delete_after_days: int | None = Field(None, ge=1)
    """Delete objects this many days after creation."""
    # Delete a replaced or deleted object's older versions after this many days (versioning on).
    noncurrent_versions_days: int | None = Field(30, ge=1)
    """Delete replaced or deleted objects' older versions after this many days (with versioning)."""


class KafkaTopic(Model):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9._-]{1,249}$")]
    """Topic name: letters, digits, `.`, `_`, `-` (1-249)."""
    partitions: int = Field(3, ge=1)
    """Partitions of the topic."""
    replication_factor: int = Field(3, ge=1)
    """Replicas of each partition, at most the cluster's brokers."""
    # Topic-level Kafka configs, e.g. retention.ms.
    configs: dict[str, str] = {}
    """Topic-level Kafka configs, e.g. `retention.ms`."""


class ManagedConfig(Model):
    """How a `mode: managed` store is sized and kept. Unset keys take the defaults in docs/reference.md."""

    # Cloud SQL machine tier (CLOUD_SQL_TIERS); unset: db-custom-2-7680 in production, else db-custom-1-3840.
    tier: str | None = None
    """Cloud SQL only: one of `db-f1-micro`, `db-g1-small` (shared core, refused in production), `db-custom-1-3840`, `db-custom-2-7680`, `db-custom-4-15360`, `db-custom-8-30720`, `db-custom-16-61440` (Enterprise edition). Disk: `storage.size` (at least 10 GB, auto-resize on); version: the major of `version`."""
    # REGIONAL Cloud SQL / STANDARD_HA Memorystore; unset: on in production only.
    high_availability: bool | None = None
    """Cloud SQL `REGIONAL` (else `ZONAL`), Memorystore `STANDARD_HA` (else `BASIC`)."""
    # Cloud SQL: automated daily backups kept this many days, and point-in-time recovery over this many.
    backup_retention_days: int = Field(14, ge=1, le=365)
    """Cloud SQL: daily automated backups kept (1-365)."""
    point_in_time_recovery_days: int = Field(7, ge=1, le=7)
    """Cloud SQL: days of transaction logs for point-in-time recovery (1-7, Enterprise edition)."""
    maintenance: MaintenanceWindow = MaintenanceWindow()
    """The weekly maintenance window of Cloud SQL and Memorystore: Sunday 03:00 UTC by default."""
    # Memorystore capacity; Managed Kafka's memory. Unset: 1 GiB for Redis, 4 GiB per vCPU for Kafka.
    memory_gib: int | None = Field(None, ge=1)
    """Memorystore capacity, or Managed Kafka's memory (1-8 GiB per vCPU), in GiB."""
    # Managed Kafka: vCPUs (at least 3) and the topics to create.
    vcpus: int = Field(3, ge=3, le=1500)
    """Managed Kafka vCPUs (at least 3; one broker per 15)."""
    topics: list[KafkaTopic] = []
    """Managed Kafka topics to create. At most 100 partitions per vCPU in all (the platform's sizing rule)."""
    # Cloud Storage: bucket name (globally unique); unset: '<project>-<store name>'.
    bucket: str | None = None
    """Cloud Storage bucket name, globally unique: 3-63 lowercase letters, digits, `-`, `_`, starting and ending with a letter or digit, not starting with `goog` nor containing `google`."""
    versioning: bool = True
    """Object versioning on the bucket."""
    lifecycle: Lifecycle = Lifecycle()
    """Bucket lifecycle rules."""


class DataStorage(Model):
    # Unset: the engine's default (docs/data.md).
    size: Storage | None = None
    """A volume only grows: a size below the last deployed one is refused."""
    # Unset: the cluster mode's default class (GKE standard-rwo; kind: the cluster default).
    storage_class: DnsSubdomain | None = None
    """As `services.stateful.volumes.storageClass`."""


Access = Literal["read-write", "read-only"]
# Engines whose clients get their own user with its own grants, made by the platform (roles.py).
# Kafka (a SASL user per client, no ACLs) and the object store (an S3 identity per client) get their own
# credentials from the store's config, not a Job; Neo4j Community has one user (`READ_ONLY_LIMITS`).
ROLE_ENGINES = ("postgres", "redis", "mongodb")
# Why an engine, in a mode, cannot enforce `access: read-only` for one client (config/checks.py refuses it).
READ_ONLY_LIMITS = {
    ("kafka", "in-cluster"): "the in-cluster Kafka runs no authorizer, so every SASL user may produce",
    ("kafka", "managed"): "Managed Kafka clients hold roles/managedkafka.client, which produces and consumes",
    ("neo4j", "in-cluster"): "Neo4j Community Edition has no roles: every user may write",
    ("redis", "managed"): "Memorystore for Redis has one AUTH string for every client (no ACL users)",
}


# Engines whose in-cluster store serves TLS with a certificate from the platform CA (tls.py): all of them.
TLS_ENGINES = ("postgres", "redis", "mongodb", "kafka", "object-store", "neo4j")
HOURS_PER_DAY = 24


class StoreTlsConfig(Model):
    """One in-cluster store's certificate (from the stack's platform CA)."""

    rotation: int = Field(1, ge=1)
    """Bump to replace this store's private key and certificate on the next `up`; the store's pods roll, its clients keep the same CA."""


class DataTlsConfig(Model):
    """TLS between clients and the data stores: a platform CA per stack, a certificate per in-cluster store."""

    enabled: bool = True
    """In-cluster stores serve TLS only and every client URL verifies the server. `false` (plaintext, URLs verify nothing) is for a harness that cannot run the TLS provider; production refuses it."""
    rotation: int = Field(1, ge=1)
    """Bump to replace the platform CA, and so every store's certificate, on the next `up`: every in-cluster store and every client of one rolls."""
    ca_validity_days: int = Field(3650, ge=30, le=36500)
    """How long the platform CA is valid, in days."""
    certificate_validity_days: int = Field(365, ge=7, le=3650)
    """How long a store's certificate is valid, in days; at most `caValidityDays`."""
    renew_before_days: int = Field(30, ge=1, le=365)
    """An `up` within this many days of a certificate's (or the CA's) expiry issues a new one; less than `certificateValidityDays`."""

    def hours(self, days: int) -> int:
        return days * HOURS_PER_DAY


class StoreClient(Model):
    """A service that may connect to a store, with its own credentials and what they may do."""

    name: ServiceName = Field(description="The client service, by name; its pods alone may connect.")
    access: Access = Field(
        "read-write",
        description="read-write, or read-only: SELECT / find / read commands only, enforced by the user's grants.",
    )
    secret_name: DnsSubdomain | None = Field(
        None, description="The Secret in the client's namespace with its own credentials; unset: <store>-<client>."
    )
    rotation: int = Field(
        1, ge=1, description="Bump to regenerate this client's password on the next up; only its pods roll."
    )


def _client_entry(value: object) -> object:
    """A bare service name is a read-write client."""
    return {"name": value} if isinstance(value, str) else value


class DataServiceConfig(Model):
    name: ServiceName
    """DNS-1035 label: the StatefulSet, its Services and the Secret `<name>-credentials` take it. Not also a service's name."""
    enabled: bool = True
    """`false` leaves the store out of a stack (its volumes stay: PVCs are retained)."""
    type: EngineType
    """The engine: official images `postgres`, `redis`, `mongo`, `apache/kafka` (KRaft), `chrislusf/seaweedfs` (the object store), `neo4j`."""
    # The official image's tag; unset: the engine's pinned default.
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")] | None = None
    """The official image's tag. A change the engine cannot make in place (a major PostgreSQL or Neo4j upgrade, a MongoDB release series, any downgrade) is refused, with how to do it instead."""
    namespace: DnsLabel
    """A declared namespace whose Pod Security level admits the engine (each engine states the level it needs; all run under `restricted`)."""
    size: Literal["small", "medium", "large"] | None = None
    """Resource preset (as for services); the JVM engines get `medium`."""
    resources: Resources | None = None
    """Explicit requests and limits instead of `size`."""
    storage: DataStorage = DataStorage()
    """The store's volume, one per replica."""
    replicas: int = Field(1, ge=1, le=9)
    """Kafka: an odd quorum (1, 3, 5); the other engines' official images run one replica without an operator."""
    clients: list[
        Annotated[StoreClient, BeforeValidator(_client_entry, json_schema_input_type=ServiceName | StoreClient)]
    ] = []
    """The services that connect: the store's `allowFrom` (its network policy admits exactly them, on the client port). Each gets its own user and its own Secret (`<store>-<client>` in its namespace, or `secretName`); `access: read-only` where the engine enforces it (docs/data-access.md). Each must be a declared service."""
    # The database PostgreSQL creates on first start; unset: the store's name.
    database: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] | None = None
    """PostgreSQL only: the database created on first start."""
    # in-cluster: a StatefulSet of the official image; managed: Google's managed service (gke mode).
    # Never derived from the cluster mode: switching a store's mode moves it to a new, empty store.
    mode: Literal["in-cluster", "managed"] = "in-cluster"
    """`managed` runs the store on Google's managed service (gke mode only; see [data](data.md#managed-data-services)): `postgres` on Cloud SQL, `redis` on Memorystore for Redis, `kafka` on Managed Service for Apache Kafka, `object-store` on Cloud Storage; `mongodb` and `neo4j` have none here. Never derived from the cluster mode: switching it moves the store to a new, empty one. Set per stack through `overrides.dataServices.<name>.mode`."""
    # A critical store may not run without high availability in production.
    critical: bool = False
    """A critical managed store cannot run without high availability in production."""
    managed: ManagedConfig = ManagedConfig()
    """Size and safety of a `managed` store; ignored in the cluster."""
    tls: StoreTlsConfig = StoreTlsConfig()
    """The in-cluster store's certificate (see [data access](data-access.md#tls)); ignored for managed stores."""

    @property
    def engine(self) -> Engine:
        return ENGINES[self.type]

    @property
    def effective_version(self) -> str:
        return self.version or self.engine.default_version

    @property
    def image(self) -> str:
        return f"{self.engine.image}:{self.effective_version}"

    @property
    def storage_size(self) -> str:
        return self.storage.size or self.engine.default_storage

    @property
    def is_managed(self) -> bool:
        return self.mode == "managed"

    def high_availability(self, production: bool) -> bool:
        wanted = self.managed.high_availability
        return production if wanted is None else wanted

    def cloud_sql_tier(self, production: bool) -> str:
        return self.managed.tier or DEFAULT_CLOUD_SQL_TIER["production" if production else "other"]

    @property
    def memory_gib(self) -> int:
        """Memorystore's capacity or Managed Kafka's memory, in GiB."""
        if self.managed.memory_gib is not None:
            return self.managed.memory_gib
        # Google's recommendation for Kafka: 4 GiB per vCPU.
        return 4 * self.managed.vcpus if self.type == "kafka" else 1

    @property
    def kafka_brokers(self) -> int:
        vcpus, memory = self.managed.vcpus, self.memory_gib
        return max(KAFKA_MIN_BROKERS, -(-vcpus // KAFKA_VCPUS_PER_BROKER), -(-memory // KAFKA_GIB_PER_BROKER))

    def bucket_name(self, project: str | None) -> str:
        return self.managed.bucket or f"{project}-{self.name}"

    @property
    def secret_name(self) -> str:
        """The store's own Secret, in its namespace only: the superuser's credentials, never a client's."""
        return f"{self.name}-credentials"

    @property
    def clients_secret_name(self) -> str:
        """The store's namespace's copy of every client's password, read by the role-making Job alone."""
        return f"{self.name}-clients"

    @property
    def client_names(self) -> list[str]:
        return [client.name for client in self.clients]

    def client(self, name: str) -> StoreClient | None:
        return next((client for client in self.clients if client.name == name), None)

    def client_secret_name(self, client: StoreClient) -> str:
        """The Secret in the client's namespace holding its own credentials."""
        return client.secret_name or f"{self.name}-{client.name}"

    @property
    def makes_roles(self) -> bool:
        """Whether each client gets its own user, made by the platform's role Job."""
        return self.type in ROLE_ENGINES and not (self.type == "redis" and self.is_managed)

    @property
    def serves_tls(self) -> bool:
        """Whether the store, in the cluster, serves TLS with a certificate from the platform CA (when on)."""
        return self.type in TLS_ENGINES and not self.is_managed

    @property
    def tls_secret_name(self) -> str:
        """The in-cluster store's key, certificate and CA, in its namespace only (its pods mount it)."""
        return f"{self.name}-tls"

    @property
    def has_client_keys(self) -> bool:
        """Whether each client gets its own access key named after it: the in-cluster object store's
        identities (SeaweedFS), each scoped to the store's bucket."""
        return self.type == "object-store" and not self.is_managed


class BackupConfig(Model):
    """Backup for GKE: one BackupPlan over the namespaces that hold data stores (gke mode)."""

    enabled: bool = True
    """Create the BackupPlan when the stack has data services; production with data services must keep it."""
    # Cron in the plan's time zone (UTC): daily at 02:00.
    schedule: Annotated[str, Field(pattern=r"^(\S+\s+){4}\S+$")] = "0 2 * * *"
    """Cron schedule of the backups (UTC)."""
    retention_days: int = Field(14, ge=1, le=365)
    """Days each backup is kept (1-365)."""
    # Backups cannot be deleted before this many days (ransomware guard); 0 = off.
    delete_lock_days: int = Field(0, ge=0, le=90)
    """Days a backup cannot be deleted (0-90, at most `retentionDays`)."""


# --------------------------------------------------------------------------- rules


def check_data_service(store: DataServiceConfig, path: str) -> Iterator[Problem]:
    """One store's own rules: sizing, replicas the engine's image can run."""
    engine = store.engine
    if store.resources is not None and store.size is not None:
        yield f"{path}.size", "set either size (a preset) or resources, not both"
    if engine.max_replicas is not None and store.replicas > engine.max_replicas:
        yield (
            f"{path}.replicas",
            f"{engine.label} from its official image runs {engine.max_replicas} replica(s) without an operator; "
            f"got {store.replicas}",
        )
    if engine.max_replicas is None and store.replicas % 2 == 0:
        yield f"{path}.replicas", f"{engine.label} runs a quorum: use an odd number of replicas, got {store.replicas}"
    if store.database is not None and store.type not in ("postgres", "mongodb"):
        yield f"{path}.database", "only PostgreSQL and MongoDB have a named database for their clients"
    if store.has_client_keys and len(store.name) < 3:
        # SeaweedFS (like S3) takes bucket names of 3 to 63 characters; the store's bucket takes its name.
        yield f"{path}.name", f"'{store.name}' also names the store's bucket, which needs 3 to 63 characters"
    yield from _check_clients(store, path)


def _check_clients(store: DataServiceConfig, path: str) -> Iterator[Problem]:
    """Each client once, not named like the superuser, and read-only only where the engine enforces it."""
    seen: set[str] = set()
    for index, client in enumerate(store.clients):
        client_path = f"{path}.clients[{index}]"
        if client.name in seen:
            yield f"{client_path}.name", f"'{client.name}' is listed twice; each client is listed once"
        seen.add(client.name)
        if (store.makes_roles or store.has_client_keys) and client.name == store.engine.username:
            yield (
                f"{client_path}.name",
                f"'{client.name}' is {store.engine.label}'s superuser name; a client's user takes its service's name",
            )
        limit = READ_ONLY_LIMITS.get((store.type, store.mode))
        if client.access == "read-only" and limit is not None:
            yield f"{client_path}.access", f"read-only cannot be enforced: {limit}; use read-write"


def check_managed(
    store: DataServiceConfig, path: str, *, production: bool, creates_cluster: bool, project: str | None
) -> Iterator[Problem]:
    """A managed store's rules: a GKE stack, an engine with a managed service, a tier from the table,
    HA where the store is critical, a bucket name Cloud Storage accepts."""
    if not store.is_managed:
        return
    if not creates_cluster:
        yield (
            f"{path}.mode",
            "managed data services need cluster.mode 'gke' (a project and the platform's VPC); "
            "use mode 'in-cluster' on an existing cluster",
        )
        return
    service = MANAGED_SERVICES.get(store.type)
    if service is None:
        offered = ", ".join(f"{engine} ({name})" for engine, name in MANAGED_SERVICES.items())
        yield f"{path}.mode", f"{store.engine.label} has no managed service here; managed types: {offered}"
        return
    managed = store.managed
    if store.type == "postgres":
        tier = store.cloud_sql_tier(production)
        if tier not in CLOUD_SQL_TIERS:
            yield (
                f"{path}.managed.tier",
                f"'{tier}' is not a Cloud SQL tier in the table; use one of {', '.join(CLOUD_SQL_TIERS)}",
            )
        elif production and CLOUD_SQL_TIERS[tier][2]:
            yield (
                f"{path}.managed.tier",
                f"'{tier}' is a shared-core tier without an SLA; production uses a db-custom tier",
            )
    elif managed.tier is not None:
        yield f"{path}.managed.tier", f"a machine tier applies to Cloud SQL only, not {service}"
    # Cloud Storage and Managed Kafka are multi-zone by design; the instances choose.
    if (
        production
        and store.critical
        and not store.high_availability(production)
        and store.type in ("postgres", "redis")
    ):
        yield (
            f"{path}.managed.highAvailability",
            f"'{store.name}' is critical: production runs it highly available ({'REGIONAL' if store.type == 'postgres' else 'STANDARD_HA'}); "
            "remove highAvailability: false or the critical mark",
        )
    if store.type == "kafka":
        yield from _check_kafka(store, path)
    if store.type == "object-store":
        name = store.bucket_name(project)
        if not BUCKET_NAME.match(name) or name.startswith("goog") or "google" in name or "g00gle" in name:
            yield (
                f"{path}.managed.bucket",
                f"'{name}' is not a valid Cloud Storage bucket name: 3-63 lowercase letters, digits, '-' or '_', "
                "starting and ending with a letter or digit, not starting with 'goog' nor containing 'google'",
            )


def _check_kafka(store: DataServiceConfig, path: str) -> Iterator[Problem]:
    vcpus, memory = store.managed.vcpus, store.memory_gib
    if not vcpus <= memory <= 8 * vcpus:
        yield f"{path}.managed.memoryGib", f"{memory} GiB for {vcpus} vCPUs: Managed Kafka needs 1 to 8 GiB per vCPU"
    limit = vcpus * KAFKA_PARTITIONS_PER_VCPU
    total = 0
    for index, topic in enumerate(store.managed.topics):
        topic_path = f"{path}.managed.topics[{index}]"
        total += topic.partitions
        if total > limit:
            yield (
                f"{topic_path}.partitions",
                f"{topic.partitions} partitions bring '{store.name}' to {total}, more than its {vcpus} vCPUs allow "
                f"({KAFKA_PARTITIONS_PER_VCPU} per vCPU, {limit}); add vCPUs or use fewer partitions",
            )
        if topic.replication_factor > store.kafka_brokers:
            yield (
                f"{topic_path}.replicationFactor",
                f"{topic.replication_factor} exceeds the cluster's {store.kafka_brokers} brokers",
            )


def check_data_tls(tls: DataTlsConfig, path: str, *, production: bool) -> Iterator[Problem]:
    """Production keeps TLS on; a certificate renews before it expires and lives no longer than its CA."""
    if production and not tls.enabled:
        yield (
            f"{path}.enabled",
            "production serves every in-cluster data store over TLS; remove enabled: false "
            "(only a harness without the TLS provider may switch it off)",
        )
    if tls.renew_before_days >= tls.certificate_validity_days:
        yield (
            f"{path}.renewBeforeDays",
            f"{tls.renew_before_days} is not below certificateValidityDays ({tls.certificate_validity_days}); "
            "a certificate must be valid for a while before it is renewed",
        )
    if tls.certificate_validity_days > tls.ca_validity_days:
        yield (
            f"{path}.certificateValidityDays",
            f"{tls.certificate_validity_days} exceeds caValidityDays ({tls.ca_validity_days}); "
            "a certificate cannot outlive its CA",
        )


def check_retention(backup: BackupConfig, path: str) -> Iterator[Problem]:
    if backup.delete_lock_days > backup.retention_days:
        yield (
            f"{path}.deleteLockDays",
            f"{backup.delete_lock_days} exceeds retentionDays ({backup.retention_days}); a backup cannot be "
            "locked longer than it is kept",
        )
