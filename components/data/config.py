"""Config of the data domain: the catalog of data stores, the engines that run them, and backups.

`DataServiceConfig` is one store as a team declares it (`platform:dataServices`); `ENGINES` is the
per-type table every store is built from: the official image and its pinned default version, the
client port, the Pod Security level the image needs, the client URL format, which version changes
the engine makes in place, and how many replicas the image can run. The in-cluster build of a store
(catalog.py) reads only this table, so another way of running a type (a managed service, issue #16)
is one more column, and the client Secret's keys stay the same.

Rules that need other domains (clients are declared services, the namespace's Pod Security level,
the previous deploy's versions and sizes) live in `config/checks.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from components.config.errors import Problem
from components.config.values import DnsLabel, DnsSubdomain, Model, Resources, ServiceName, Storage

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
    # Client URL; {user}, {password}, {host}, {port}, {database} are filled in (password from the secret).
    url: str
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
        default_version="17.6",
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
        default_version="7.4.5",
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
        max_replicas=1,
        major_fields=1,
        # Redis reads older RDB/AOF files, so a forward upgrade of any size happens on restart.
        one_major_at_a_time=False,
        major_upgrade="",
    ),
    "mongodb": Engine(
        label="MongoDB",
        image="mongo",
        default_version="8.0.13",
        port_name="mongodb",
        port=27017,
        peer_ports=(),
        data_path="/data/db",
        scratch_paths=("/data/configdb",),
        default_storage="10Gi",
        default_size="small",
        pod_security="restricted",
        username="root",
        url="mongodb://{user}:{password}@{host}:{port}/?authSource=admin",
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
        default_version="3.9.1",
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
        max_replicas=None,
        major_fields=1,
        one_major_at_a_time=False,
        major_upgrade=(
            "upgrade to the last release of the current major first (3.9), finalize its metadata.version, "
            "then move to the next major in a second change"
        ),
    ),
    "object-store": Engine(
        label="MinIO",
        image="minio/minio",
        default_version="RELEASE.2025-04-22T22-12-26Z",
        port_name="s3",
        port=9000,
        peer_ports=(),
        data_path="/data",
        scratch_paths=(),
        default_storage="20Gi",
        default_size="small",
        pod_security="restricted",
        username="app",
        url="http://{host}:{port}",
        max_replicas=1,
        # RELEASE.<date>: releases are ordered by date and always upgrade in place.
        major_fields=0,
        one_major_at_a_time=False,
        major_upgrade="",
    ),
    "neo4j": Engine(
        label="Neo4j",
        image="neo4j",
        default_version="5.26.10",
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
        max_replicas=1,
        major_fields=1,
        one_major_at_a_time=False,
        major_upgrade=(
            "dump the database with neo4j-admin database dump, declare a store at the new version, "
            "then load and migrate it with neo4j-admin database load and migrate"
        ),
    ),
}


class DataStorage(Model):
    # Unset: the engine's default (README, "Data services").
    size: Storage | None = None
    # Unset: the cluster mode's default class (GKE standard-rwo; kind: the cluster default).
    storage_class: DnsSubdomain | None = None


class DataServiceConfig(Model):
    name: ServiceName
    enabled: bool = True
    type: EngineType
    # The official image's tag; unset: the engine's pinned default.
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")] | None = None
    namespace: DnsLabel
    size: Literal["small", "medium", "large"] | None = None
    resources: Resources | None = None
    storage: DataStorage = DataStorage()
    replicas: int = Field(1, ge=1, le=9)
    # The services (by name) that may connect; each gets the client Secret in its namespace.
    clients: list[ServiceName] = []
    # The database PostgreSQL creates on first start; unset: the store's name.
    database: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] | None = None

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
    def secret_name(self) -> str:
        """The Secret the store and each client namespace receive: host, port, username, password, url."""
        return f"{self.name}-credentials"


class BackupConfig(Model):
    """Backup for GKE: one BackupPlan over the namespaces that hold data stores (gke mode)."""

    enabled: bool = True
    # Cron in the plan's time zone (UTC): daily at 02:00.
    schedule: Annotated[str, Field(pattern=r"^(\S+\s+){4}\S+$")] = "0 2 * * *"
    retention_days: int = Field(14, ge=1, le=365)
    # Backups cannot be deleted before this many days (ransomware guard); 0 = off.
    delete_lock_days: int = Field(0, ge=0, le=90)


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
    if store.database is not None and store.type != "postgres":
        yield f"{path}.database", "only PostgreSQL creates a named database"


def check_retention(backup: BackupConfig, path: str) -> Iterator[Problem]:
    if backup.delete_lock_days > backup.retention_days:
        yield (
            f"{path}.deleteLockDays",
            f"{backup.delete_lock_days} exceeds retentionDays ({backup.retention_days}); a backup cannot be "
            "locked longer than it is kept",
        )
