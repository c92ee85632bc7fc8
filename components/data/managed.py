"""Data stores Google runs (`mode: managed`, gke mode): Cloud SQL, Memorystore, Managed Kafka, Cloud Storage.

- `PrivateServiceAccess`: a reserved peering range on the platform's VPC (`network.privateServicesCidr`,
  purpose VPC_PEERING) and the `servicenetworking` connection, so Cloud SQL and Memorystore get
  private addresses in it and no public IP.
- `ManagedStore`: one store. PostgreSQL -> a Cloud SQL instance (private IP only, TLS required,
  tier/disk/version from config, disk auto-resize; REGIONAL, daily backups with point-in-time
  recovery, deletion protection and `protect` in production; a maintenance window), its database
  and a user whose password comes from pulumi-random. Redis -> a Memorystore for Redis instance
  (PRIVATE_SERVICE_ACCESS, AUTH on, SERVER_AUTHENTICATION in-transit encryption, STANDARD_HA in
  production, RDB persistence, a maintenance window). Object store -> a Cloud Storage bucket
  (uniform access, public access prevention enforced, versioning and lifecycle from config),
  `roles/storage.objectUser` on that bucket only for each client's Workload Identity account, and
  for each client an HMAC key of an account of its own, on that bucket only, as `username`/`password`,
  so S3 clients written against the in-cluster store work unchanged against Cloud Storage's XML API
  (the bucket itself has no key: nothing used one).

TLS, verified the same way as in the cluster (every Secret's `ca.crt` and URL): Cloud SQL uses the
shared CA (`GOOGLE_MANAGED_CAS_CA`), whose certificate names the instance's DNS name, which is `host`
and which a private zone on the VPC resolves to the private IP; Memorystore's `ca.crt` is its server
CA; Managed Kafka and Cloud Storage serve publicly trusted certificates, so theirs is Google's roots.

`values` are the store's computed Secret keys (host, password, the CA) and `client_values` a client's
own (its bucket HMAC key); `secret_values()` hands both, by Secret name, to the tenancy Secrets
component as `provided` keys, so each client's own `<store>-<client>` Secret has the in-cluster keys.
Cloud SQL clients connect as their own roles, made by the role Job (role_job.py) as the user `app`;
Memorystore for Redis has one AUTH string, which every client receives.
`egress` is (CIDR, port) each client's egress NetworkPolicy opens.

Memorystore for Redis rather than Memorystore for Valkey: it keeps the client contract of the
in-cluster store (a password, AUTH, over TLS) and uses the same Private Service Access range as
Cloud SQL; Valkey instances authenticate with IAM tokens and attach through Private Service Connect
policies, which would change every client's configuration.

Kafka -> a Managed Service for Apache Kafka cluster sized from config (vCPUs, memory) on the node
subnet, its topics, and `roles/managedkafka.client` for each client's Workload Identity account;
clients connect over SASL_SSL with OAUTHBEARER (docs/data.md).

Deliberately left out: Kafka ACLs per topic, read replicas, customer-managed encryption keys, Cloud SQL IAM database
authentication (docs/data-access.md says why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.context import Context
from components.data.catalog import kafka_truststore_keys
from components.data.config import ENGINES, MEMORYSTORE_REDIS_VERSION, DataServiceConfig
from components.data.tls import CA_FILE, GOOGLE_ROOTS, client_ca_path
from components.tenancy.config import SecretConfig
from components.values import storage_bytes
from components.workloads.identity import gcp_account_id

PASSWORD_LENGTH = 32
POSTGRES_PORT = 5432
# Memorystore serves TLS clients on 6378.
REDIS_TLS_PORT = 6378
# Cloud Storage's API, reached on private.googleapis.com (Private Google Access) from the nodes.
STORAGE_ENDPOINT = "storage.googleapis.com"
# private.googleapis.com: Google APIs on addresses routed only from inside Google Cloud.
PRIVATE_GOOGLE_APIS = "199.36.153.8/30"
PRIVATE_GOOGLE_API_ADDRESSES = ["199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11"]
KAFKA_PORT = 9092
# Cloud SQL's shared CA: its server certificates carry the instance's DNS name (sslmode=verify-full).
CLOUD_SQL_CA_MODE = "GOOGLE_MANAGED_CAS_CA"
# Google's login callback handler (Maven com.google.cloud.hosted.kafka:managed-kafka-auth-login-handler).
KAFKA_LOGIN_HANDLER = "com.google.cloud.hosted.kafka.auth.GcpLoginCallbackHandler"
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _format(template: str) -> dict[str, str]:
    return {"type": "format", "template": template}


PROVIDED = {"type": "provided"}


def _keys(store: DataServiceConfig, project: str | None, user: str | None) -> dict[str, dict[str, Any]]:
    """The managed store's Secret keys, with the addresses Google assigns; `user` is a client's own
    user (a Cloud SQL role), None for the store's own Secret or an engine without per-client users."""
    keys: dict[str, dict[str, Any]]
    if store.type == "postgres":
        database = store.database or store.name
        username = user or store.engine.username
        keys = {
            # The instance's DNS name, which its certificate (shared CA) carries.
            "host": PROVIDED,
            "port": _format(str(POSTGRES_PORT)),
            "username": _format(username),
            # A client's password is generated for its Secret; the store's own comes from Cloud SQL's user.
            "password": {"type": "password", "length": PASSWORD_LENGTH, "special": False} if user else PROVIDED,
            "database": _format(database),
            # Cloud SQL refuses unencrypted connections (ENCRYPTED_ONLY); the URL verifies it as in the cluster.
            "url": _format(
                ENGINES["postgres"].tls_url.format(
                    user=username,
                    password="{password}",
                    host="{host}",
                    port=POSTGRES_PORT,
                    database=database,
                    ca=client_ca_path(store.name),
                )
            ),
        }
    elif store.type == "redis":
        # Memorystore for Redis has one AUTH string: every client uses it (docs/data-access.md).
        keys = {
            "host": PROVIDED,
            "port": _format(str(REDIS_TLS_PORT)),
            "username": _format(store.engine.username),
            "password": PROVIDED,
            "url": _format(f"rediss://{store.engine.username}:{{password}}@{{host}}:{REDIS_TLS_PORT}/0"),
        }
    elif store.type == "kafka":
        # Workload Identity over SASL_SSL/OAUTHBEARER: the login handler takes the pod's Google token.
        keys = {
            "host": PROVIDED,
            "port": _format(str(KAFKA_PORT)),
            "url": _format(f"{{host}}:{KAFKA_PORT}"),
            "security.protocol": _format("SASL_SSL"),
            **kafka_truststore_keys(store.name, True),
            "sasl.mechanism": _format("OAUTHBEARER"),
            "sasl.login.callback.handler.class": _format(KAFKA_LOGIN_HANDLER),
            "sasl.jaas.config": _format(
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
            ),
        }
    else:  # object-store: Cloud Storage's S3-compatible XML API, so an S3 client keeps its config
        keys = {
            "host": _format(STORAGE_ENDPOINT),
            "port": _format("443"),
            # Each client's own HMAC key (ManagedStore.secret_values); the bucket itself has none.
            **({"username": PROVIDED, "password": PROVIDED} if user else {}),
            "url": _format(f"https://{STORAGE_ENDPOINT}"),
            "bucket": _format(store.bucket_name(project)),
        }
    # What verifies the server (PEM): the instance's CA (Cloud SQL, Memorystore), or Google's public roots.
    keys[CA_FILE] = PROVIDED
    return keys


def managed_secrets(
    store: DataServiceConfig, client_namespaces: Mapping[str, str], project: str | None
) -> list[SecretConfig]:
    """The managed store's own Secret (its namespace only), one Secret per client in the client's
    namespace with the in-cluster keys, and, for Cloud SQL, `<store>-clients` for the role Job."""
    secrets = [
        SecretConfig.model_validate(
            {"name": store.secret_name, "namespaces": [store.namespace], "keys": _keys(store, project, None)}
        )
    ]
    clients = [client for client in store.clients if client.name in client_namespaces]
    for client in clients:
        user = client.name if store.makes_roles or store.type == "object-store" else None
        secrets.append(
            SecretConfig.model_validate(
                {
                    "name": store.client_secret_name(client),
                    "namespaces": [client_namespaces[client.name]],
                    "rotation": client.rotation,
                    "keys": _keys(store, project, user),
                }
            )
        )
    if store.makes_roles:
        keys: dict[str, Any] = {"clients": _format(",".join(client.name for client in clients))}
        for client in clients:
            keys[f"{client.name}.password"] = {
                "type": "provided",
                "secret": store.client_secret_name(client),
                "key": "password",
            }
        secrets.append(
            SecretConfig.model_validate(
                {"name": store.clients_secret_name, "namespaces": [store.namespace], "keys": keys}
            )
        )
    return secrets


def managed_egress(store: DataServiceConfig, private_services_cidr: str, subnet_cidr: str) -> list[tuple[str, int]]:
    """(CIDR, TCP port) a client of `store` must reach."""
    if store.type == "postgres":
        return [(private_services_cidr, POSTGRES_PORT)]
    if store.type == "redis":
        return [(private_services_cidr, REDIS_TLS_PORT)]
    if store.type == "kafka":
        # Managed Kafka's Private Service Connect endpoints sit in the platform's node subnet.
        return [(subnet_cidr, KAFKA_PORT)]
    return [(PRIVATE_GOOGLE_APIS, 443)]


class PrivateServiceAccess(pulumi.ComponentResource):
    """The VPC's peering with Google's service producers (Cloud SQL, Memorystore)."""

    range: gcp.compute.GlobalAddress
    connection: gcp.servicenetworking.Connection

    def __init__(
        self,
        name: str,
        context: Context,
        *,
        network: pulumi.Input[str],
        network_name: str,
        cidr: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:data:PrivateServiceAccess", name, None, opts)
        address, prefix = cidr.split("/")
        self.range = gcp.compute.GlobalAddress(
            f"{name}-range",
            gcp.compute.GlobalAddressArgs(
                project=context.project,
                name=f"{network_name}-private-services",
                description="Private Service Access: Cloud SQL and Memorystore addresses",
                purpose="VPC_PEERING",
                address_type="INTERNAL",
                address=address,
                prefix_length=int(prefix),
                network=network,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.connection = gcp.servicenetworking.Connection(
            f"{name}-connection",
            gcp.servicenetworking.ConnectionArgs(
                network=network,
                service="servicenetworking.googleapis.com",
                reserved_peering_ranges=[self.range.name],
                # Removing the peering while an instance still uses it fails; leave it to be removed by hand.
                deletion_policy="ABANDON",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


class PrivateStorageAccess(pulumi.ComponentResource):
    """storage.googleapis.com resolved to private.googleapis.com inside the VPC, so bucket clients'
    egress opens one /30 on 443 rather than Google's public ranges."""

    def __init__(
        self, name: str, context: Context, *, network: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:data:PrivateStorageAccess", name, None, opts)
        zone = gcp.dns.ManagedZone(
            f"{name}-zone",
            gcp.dns.ManagedZoneArgs(
                project=context.project,
                name=f"{context.app}-{context.environment}-storage-api",
                dns_name=f"{STORAGE_ENDPOINT}.",
                description="Cloud Storage over private.googleapis.com (Private Google Access)",
                visibility="private",
                private_visibility_config=gcp.dns.ManagedZonePrivateVisibilityConfigArgs(
                    networks=[gcp.dns.ManagedZonePrivateVisibilityConfigNetworkArgs(network_url=network)]
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        gcp.dns.RecordSet(
            f"{name}-record",
            gcp.dns.RecordSetArgs(
                project=context.project,
                managed_zone=zone.name,
                name=f"{STORAGE_ENDPOINT}.",
                type="A",
                ttl=300,
                rrdatas=PRIVATE_GOOGLE_API_ADDRESSES,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


@dataclass(frozen=True)
class StoreParts:
    """What each engine's builder shares with its ManagedStore: names, config, options, labels."""

    name: str
    store: DataServiceConfig
    context: Context
    # Protected in production, parented to the store.
    keep: pulumi.ResourceOptions
    # Parented to the store only (random values, accounts, keys: nothing to protect).
    child: pulumi.ResourceOptions
    labels: dict[str, str]


class ManagedStore(pulumi.ComponentResource):
    """One managed data store; `values` are its computed Secret keys, `client_values` a client's own
    (its bucket HMAC key), and `secret_values()` both by Secret name for the tenancy Secrets."""

    values: dict[str, pulumi.Output[str]]
    client_values: dict[str, dict[str, pulumi.Output[str]]]

    def __init__(
        self,
        name: str,
        store: DataServiceConfig,
        context: Context,
        *,
        region: str,
        network: pulumi.Input[str] | None,
        peering: pulumi.Resource | None,
        subnet: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:data:ManagedStore", name, None, opts)
        self._name = name
        self._store = store
        self._context = context
        production = context.is_production
        # Production data outlives a mistaken `pulumi destroy` or a replacing change.
        self._keep = pulumi.ResourceOptions(parent=self, protect=production)
        self._labels = {"environment": context.environment, "managed-by": "pulumi", "data-service": store.name}
        self.bucket: gcp.storage.Bucket | None = None
        self.client_values = {}
        parts = StoreParts(name, store, context, self._keep, pulumi.ResourceOptions(parent=self), self._labels)
        if store.type == "postgres":
            assert network is not None and peering is not None
            self.values = cloud_sql(parts, region, network, peering)
        elif store.type == "redis":
            assert network is not None and peering is not None
            self.values = memorystore(parts, region, network, peering)
        elif store.type == "kafka":
            assert subnet is not None
            self.values = managed_kafka(parts, region, subnet)
        else:
            self.values = self._build_bucket(region)
        self.register_outputs({})

    def secret_values(self) -> dict[str, dict[str, pulumi.Output[str]]]:
        """The computed keys of the store's own Secret and each client's, by Secret name."""
        store = self._store
        values = {store.secret_name: self.values}
        for client in store.clients:
            # The store's address for everyone; a client's own key (HMAC) where it has one.
            own = {key: value for key, value in self.values.items() if key not in ("username", "password")}
            if store.type == "redis":
                own = dict(self.values)  # Memorystore's single AUTH string
            values[store.client_secret_name(client)] = {**own, **self.client_values.get(client.name, {})}
        return values

    # ------------------------------------------------------------------ Cloud Storage

    def _build_bucket(self, region: str) -> dict[str, pulumi.Output[str]]:
        store, context = self._store, self._context
        managed = store.managed
        storage = gcp.storage
        rules = []
        if managed.lifecycle.delete_after_days is not None:
            rules.append(
                storage.BucketLifecycleRuleArgs(
                    action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=storage.BucketLifecycleRuleConditionArgs(age=managed.lifecycle.delete_after_days),
                )
            )
        if managed.versioning and managed.lifecycle.noncurrent_versions_days is not None:
            rules.append(
                storage.BucketLifecycleRuleArgs(
                    action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=storage.BucketLifecycleRuleConditionArgs(
                        days_since_noncurrent_time=managed.lifecycle.noncurrent_versions_days, with_state="ARCHIVED"
                    ),
                )
            )
        bucket = storage.Bucket(
            f"{self._name}-bucket",
            storage.BucketArgs(
                project=context.project,
                name=store.bucket_name(context.project),
                location=region.upper(),
                storage_class="STANDARD",
                uniform_bucket_level_access=True,
                public_access_prevention="enforced",
                versioning=storage.BucketVersioningArgs(enabled=managed.versioning),
                lifecycle_rules=rules,
                # A bucket with objects is never deleted by the program.
                force_destroy=False,
                labels=self._labels,
            ),
            opts=self._keep,
        )
        self.bucket = bucket
        # S3-compatible clients (the in-cluster store's username/password) sign with an HMAC key of their own
        # account, which may use this bucket's objects only; native clients use their own Workload Identity.
        for client in store.clients:
            self.client_values[client.name] = self._client_hmac(client.name, client.access == "read-only")
        return {CA_FILE: pulumi.Output.secret(GOOGLE_ROOTS)}

    def _client_hmac(self, client: str, read_only: bool) -> dict[str, pulumi.Output[str]]:
        """One client's own HMAC key, of an account that may read (read-only) or use this bucket's objects."""
        store, context = self._store, self._context
        assert self.bucket is not None
        account = gcp.serviceaccount.Account(
            f"{self._name}-{client}-s3",
            gcp.serviceaccount.AccountArgs(
                project=context.project,
                account_id=gcp_account_id(f"{store.name}-{client}"),
                display_name=f"{store.name} bucket, S3-compatible access for {client} ({context.environment})",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        gcp.storage.BucketIAMMember(
            f"{self._name}-{client}-s3-access",
            gcp.storage.BucketIAMMemberArgs(
                bucket=self.bucket.name,
                role="roles/storage.objectViewer" if read_only else "roles/storage.objectUser",
                member=account.member,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        hmac = gcp.storage.HmacKey(
            f"{self._name}-{client}-hmac",
            gcp.storage.HmacKeyArgs(project=context.project, service_account_email=account.email),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return {"username": pulumi.Output.secret(hmac.access_id), "password": pulumi.Output.secret(hmac.secret)}

    def grant(self, client: str, member: pulumi.Input[str]) -> None:
        """`client`'s Workload Identity account may use this store: a bucket's objects (that bucket only),
        or Managed Kafka as a client (a project role: the service has no per-cluster IAM)."""
        if self._store.type == "kafka":
            project = self._context.project
            assert project is not None  # gke mode
            gcp.projects.IAMMember(
                f"{self._name}-{client}-kafka-client",
                gcp.projects.IAMMemberArgs(project=project, role="roles/managedkafka.client", member=member),
                opts=pulumi.ResourceOptions(parent=self),
            )
            return
        if self.bucket is None:
            return
        entry = self._store.client(client)
        read_only = entry is not None and entry.access == "read-only"
        gcp.storage.BucketIAMMember(
            f"{self._name}-{client}-object-user",
            gcp.storage.BucketIAMMemberArgs(
                bucket=self.bucket.name,
                role="roles/storage.objectViewer" if read_only else "roles/storage.objectUser",
                member=member,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


# --------------------------------------------------------------------------- Cloud SQL


def cloud_sql(
    parts: StoreParts, region: str, network: pulumi.Input[str], peering: pulumi.Resource
) -> dict[str, pulumi.Output[str]]:
    store, context = parts.store, parts.context
    managed = store.managed
    production = context.is_production
    sql = gcp.sql
    (major,) = store.engine.major(store.effective_version)
    instance_name = f"{context.app}-{context.environment}-{store.name}"
    instance = sql.DatabaseInstance(
        f"{parts.name}-instance",
        sql.DatabaseInstanceArgs(
            project=context.project,
            name=instance_name,
            region=region,
            database_version=f"POSTGRES_{major}",
            deletion_protection=production,
            settings=sql.DatabaseInstanceSettingsArgs(
                # Custom and shared-core tiers exist only in the Enterprise edition.
                edition="ENTERPRISE",
                tier=store.cloud_sql_tier(production),
                availability_type="REGIONAL" if store.high_availability(production) else "ZONAL",
                disk_type="PD_SSD",
                disk_size=max(10, _gib(store.storage_size)),
                disk_autoresize=True,
                deletion_protection_enabled=production,
                # No public IP: reachable only over the VPC's private service access, with TLS. The shared CA
                # signs a certificate that names the instance's DNS name, so clients verify the name too
                # (the per-instance CA's certificate names only project:instance, which verify-full cannot match).
                ip_configuration=sql.DatabaseInstanceSettingsIpConfigurationArgs(
                    ipv4_enabled=False,
                    private_network=network,
                    ssl_mode="ENCRYPTED_ONLY",
                    server_ca_mode=CLOUD_SQL_CA_MODE,
                ),
                backup_configuration=sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                    enabled=True,
                    start_time="02:00",
                    point_in_time_recovery_enabled=True,
                    transaction_log_retention_days=managed.point_in_time_recovery_days,
                    backup_retention_settings=sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs(
                        retained_backups=managed.backup_retention_days, retention_unit="COUNT"
                    ),
                ),
                maintenance_window=sql.DatabaseInstanceSettingsMaintenanceWindowArgs(
                    day=managed.maintenance.day, hour=managed.maintenance.hour, update_track="stable"
                ),
                insights_config=sql.DatabaseInstanceSettingsInsightsConfigArgs(query_insights_enabled=True),
                user_labels=parts.labels,
            ),
        ),
        opts=pulumi.ResourceOptions.merge(
            parts.keep,
            # Auto-resize grows the disk past the configured size; the next run must not try to shrink it.
            pulumi.ResourceOptions(depends_on=[peering], ignore_changes=["settings.diskSize"]),
        ),
    )
    sql.Database(
        f"{parts.name}-database",
        sql.DatabaseArgs(project=context.project, instance=instance.name, name=store.database or store.name),
        opts=parts.keep,
    )
    password = random.RandomPassword(
        f"{parts.name}-password",
        # Letters and digits only, so the password needs no escaping inside the URL.
        random.RandomPasswordArgs(length=PASSWORD_LENGTH, special=False),
        opts=parts.child,
    )
    secret_password: pulumi.Output[str] = pulumi.Output.secret(password.result)
    sql.User(
        f"{parts.name}-user",
        sql.UserArgs(
            project=context.project,
            instance=instance.name,
            name=store.engine.username,
            password=secret_password,
        ),
        opts=parts.keep,
    )
    # Secret like every value of a client's Secret, here and in the DNS zone that resolves it.
    named: pulumi.Output[str] = instance.dns_names.apply(lambda names: cloud_sql_dns_name(instance_name, names))
    dns_name: pulumi.Output[str] = pulumi.Output.secret(named)
    _private_record(parts, network, dns_name, instance.private_ip_address)
    return {
        "host": dns_name,
        "password": secret_password,
        # The CA bundle Cloud SQL publishes for the instance (the shared CA's chain).
        CA_FILE: pulumi.Output.secret(
            instance.server_ca_certs.apply(lambda certs: "".join(c.cert or "" for c in certs or []))
        ),
    }


def cloud_sql_dns_name(instance: str, names: Sequence[gcp.sql.outputs.DatabaseInstanceDnsName] | None) -> str:
    """The instance's DNS name for private services access connections (no trailing dot)."""
    for entry in names or []:
        if entry.connection_type == "PRIVATE_SERVICES_ACCESS" and entry.name:
            return entry.name.rstrip(".")
    raise ValueError(
        f"Cloud SQL gave instance {instance} no PRIVATE_SERVICES_ACCESS DNS name (dnsNames); its certificate "
        f"cannot be verified by name: check that serverCaMode is {CLOUD_SQL_CA_MODE}"
    )


def _private_record(
    parts: StoreParts, network: pulumi.Input[str], dns_name: pulumi.Output[str], address: pulumi.Output[str]
) -> None:
    """The instance's DNS name resolves to its private IP inside the VPC: a private zone for that one name
    (Cloud SQL does not publish it for private services access)."""
    context = parts.context
    zone = gcp.dns.ManagedZone(
        f"{parts.name}-dns-zone",
        gcp.dns.ManagedZoneArgs(
            project=context.project,
            name=f"{context.app}-{context.environment}-{parts.store.name}-sql",
            dns_name=dns_name.apply(lambda name: f"{name}."),
            description=f"{parts.store.name}: the Cloud SQL instance's DNS name, to its private IP",
            visibility="private",
            private_visibility_config=gcp.dns.ManagedZonePrivateVisibilityConfigArgs(
                networks=[gcp.dns.ManagedZonePrivateVisibilityConfigNetworkArgs(network_url=network)]
            ),
        ),
        opts=parts.child,
    )
    gcp.dns.RecordSet(
        f"{parts.name}-dns-record",
        gcp.dns.RecordSetArgs(
            project=context.project,
            managed_zone=zone.name,
            name=dns_name.apply(lambda name: f"{name}."),
            type="A",
            ttl=300,
            rrdatas=[address],
        ),
        opts=parts.child,
    )


# --------------------------------------------------------------------------- Memorystore


def memorystore(
    parts: StoreParts, region: str, network: pulumi.Input[str], peering: pulumi.Resource
) -> dict[str, pulumi.Output[str]]:
    store, context = parts.store, parts.context
    managed = store.managed
    redis = gcp.redis
    instance = redis.Instance(
        f"{parts.name}-instance",
        redis.InstanceArgs(
            project=context.project,
            name=f"{context.app}-{context.environment}-{store.name}",
            region=region,
            tier="STANDARD_HA" if store.high_availability(context.is_production) else "BASIC",
            memory_size_gb=store.memory_gib,
            redis_version=MEMORYSTORE_REDIS_VERSION,
            authorized_network=network,
            connect_mode="PRIVATE_SERVICE_ACCESS",
            auth_enabled=True,
            transit_encryption_mode="SERVER_AUTHENTICATION",
            # RDB snapshots every hour: a restart or failover loses at most the last hour.
            persistence_config=redis.InstancePersistenceConfigArgs(
                persistence_mode="RDB", rdb_snapshot_period="ONE_HOUR"
            ),
            maintenance_policy=redis.InstanceMaintenancePolicyArgs(
                weekly_maintenance_windows=[
                    redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs(
                        day=DAYS[managed.maintenance.day - 1],
                        start_time=redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs(
                            hours=managed.maintenance.hour, minutes=0, seconds=0, nanos=0
                        ),
                    )
                ]
            ),
            deletion_protection=context.is_production,
            labels=parts.labels,
        ),
        opts=pulumi.ResourceOptions.merge(
            parts.keep,
            # The CA certificates are secret too, whatever the provider schema says.
            pulumi.ResourceOptions(depends_on=[peering], additional_secret_outputs=["serverCaCerts"]),
        ),
    )
    return {
        "host": pulumi.Output.secret(instance.host),
        "password": pulumi.Output.secret(instance.auth_string),
        CA_FILE: pulumi.Output.secret(
            instance.server_ca_certs.apply(lambda certs: "".join(c.cert or "" for c in certs or []))
        ),
    }


# --------------------------------------------------------------------------- Managed Kafka


def managed_kafka(parts: StoreParts, region: str, subnet: pulumi.Input[str]) -> dict[str, pulumi.Output[str]]:
    store, context = parts.store, parts.context
    kafka = gcp.managedkafka
    # Production clusters and topics survive a `pulumi destroy` both in Pulumi (protect) and the provider.
    deletion_policy = "PREVENT" if context.is_production else "DELETE"
    cluster = kafka.Cluster(
        f"{parts.name}-cluster",
        kafka.ClusterArgs(
            project=context.project,
            cluster_id=f"{context.app}-{context.environment}-{store.name}",
            location=region,
            capacity_config=kafka.ClusterCapacityConfigArgs(
                vcpu_count=str(store.managed.vcpus), memory_bytes=str(store.memory_gib * 2**30)
            ),
            # Reachable only inside the VPC: Private Service Connect endpoints in the node subnet.
            gcp_config=kafka.ClusterGcpConfigArgs(
                access_config=kafka.ClusterGcpConfigAccessConfigArgs(
                    network_configs=[kafka.ClusterGcpConfigAccessConfigNetworkConfigArgs(subnet=subnet)]
                )
            ),
            rebalance_config=kafka.ClusterRebalanceConfigArgs(mode="AUTO_REBALANCE_ON_SCALE_UP"),
            deletion_policy=deletion_policy,
            labels=parts.labels,
        ),
        opts=parts.keep,
    )
    for topic in store.managed.topics:
        kafka.Topic(
            f"{parts.name}-topic-{topic.name}",
            kafka.TopicArgs(
                project=context.project,
                cluster=cluster.cluster_id,
                location=region,
                topic_id=topic.name,
                partition_count=topic.partitions,
                replication_factor=topic.replication_factor,
                configs=dict(topic.configs),
                deletion_policy=deletion_policy,
            ),
            opts=parts.keep,
        )
    # bootstrap.<cluster>.<region>.managedkafka.<project>.cloud.goog:9092
    host = cluster.bootstrap_address.apply(lambda address: (address or "").rsplit(":", 1)[0])
    # The bootstrap address serves a publicly trusted certificate: Google's roots verify it.
    return {"host": pulumi.Output.secret(host), CA_FILE: pulumi.Output.secret(GOOGLE_ROOTS)}


def _gib(size: str) -> int:
    """A storage quantity in whole GiB (Cloud SQL counts its disk in GB; never rounded down)."""
    return -(-storage_bytes(size) // 2**30)
