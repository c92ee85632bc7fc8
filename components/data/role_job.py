"""The role Job: makes each client's own user in a store, after the store is ready and before its clients roll.

One Job per store whose engine has users per client (PostgreSQL in the cluster or on Cloud SQL,
Redis and MongoDB in the cluster). It runs the engine's own client (psql, redis-cli, mongosh) from
the store's image, as the store's own user (`<store>-credentials` in the store's namespace, mounted as
files), on the
script roles.py renders, with each client's password from `<store>-clients` mounted as files. The
script sits in the ConfigMap `<store>-roles`; it holds no secret.

The Job's name carries a hash of the script, the clients' passwords' checksum and the image, so it
runs again exactly when a client is added, removed, changes access or rotates its password (or the
engine changes), and a second `up` with nothing changed changes nothing. Clients depend on the Job,
so they roll out only once their users exist. It connects over TLS and verifies the store as its
clients do (the CA from `<store>-credentials` at the clients' path; psql with verify-full), whenever
the store serves TLS (a managed one always). Its pods run restricted (non-root, read-only root
filesystem, no service-account token); two NetworkPolicies let them reach the store's client port
(the store's pods in the cluster, the private services range for Cloud SQL), and nothing else but DNS.

Deliberately left out: Cloud SQL IAM database authentication (a client would need the Cloud SQL
Auth Proxy or a connector library to fetch tokens; a password role keeps its env identical in every mode).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.context import Context
from components.data.config import DataServiceConfig
from components.data.roles import CLIENTS_DIR, ClientRole, mongodb_script, postgres_script, redis_script
from components.data.tls import CA_FILE, client_ca_dir, client_ca_path
from components.kube import restricted_container
from components.workloads.config import SCRATCH_SIZE_LIMIT

ROLES_DIR = "/roles"
# The store's own Secret, mounted as files (never environment variables).
STORE_DIR = "/store"
# A high UID of no host user; the engines' clients need no passwd entry (HOME is /tmp).
JOB_UID = 10001
# How long the Job may take before the provider's wait gives up (a store still starting is retried).
DEADLINE_SECONDS = 300
POSTGRES_PORT = 5432
# Requested and limited like every service container's: its /tmp scratch (SCRATCH_SIZE_LIMIT, 256Mi) plus
# the kubelet's log allowance (LOG_ALLOWANCE, 64Mi), so the Job can neither fill a node's disk nor be
# evicted for a neighbour's.
JOB_EPHEMERAL_STORAGE = "320Mi"


def _read(variable: str, key: str) -> str:
    return f'{variable}="$(cat {STORE_DIR}/{key})"'


# The engine's own client, by store type: the script's file name and the shell line that runs it as the
# store's own user, read from the mounted Secret.
RUNNERS = {
    "postgres": (
        "roles.sql",
        "export "
        + " ".join(
            _read(variable, key)
            for variable, key in (
                ("PGHOST", "host"),
                ("PGPORT", "port"),
                ("PGUSER", "username"),
                ("PGPASSWORD", "password"),
                ("PGDATABASE", "database"),
            )
        )
        + f" && exec psql -X -q -v ON_ERROR_STOP=1 -f {ROLES_DIR}/roles.sql",
    ),
    "redis": (
        "roles.sh",
        "export "
        + " ".join(
            _read(variable, key)
            for variable, key in (("REDIS_HOST", "host"), ("REDIS_PORT", "port"), ("REDISCLI_AUTH", "password"))
        )
        + f" && exec sh {ROLES_DIR}/roles.sh",
    ),
    "mongodb": ("roles.js", f'exec mongosh --quiet "$(cat {STORE_DIR}/url)" {ROLES_DIR}/roles.js'),
}


def role_script(store: DataServiceConfig, tls_on: bool) -> str:
    """The script that reconciles the store's users with its clients."""
    clients = [ClientRole(client.name, client.access) for client in store.clients]
    database = store.database or store.name
    if store.type == "postgres":
        return postgres_script(database, clients, CLIENTS_DIR)
    if store.type == "redis":
        return redis_script(clients, CLIENTS_DIR, client_ca_path(store.name) if tls_on else None)
    return mongodb_script(database, clients, CLIENTS_DIR)


def verifies_tls(store: DataServiceConfig, tls_on: bool) -> bool:
    """Whether the Job connects over TLS and verifies the server: a managed store always (Cloud SQL), an
    in-cluster one when the stack serves TLS."""
    return store.is_managed or (tls_on and store.serves_tls)


@dataclass(frozen=True)
class StoreRolesArgs:
    store: DataServiceConfig
    context: Context
    namespace: k8s.core.v1.Namespace
    # The checksum of `<store>-clients` (its clients' passwords): a rotation runs the Job again.
    clients_checksum: pulumi.Input[str]
    # What the Job waits for: the store rolled out (or the managed instance), and the Secrets.
    depends_on: Sequence[pulumi.Resource]
    # A managed store: the private services range its address is in (the Job's egress), else None.
    private_cidr: str | None = None
    # The stack serves TLS from its in-cluster stores (`dataTls.enabled`).
    tls_on: bool = True


class StoreRoles(pulumi.ComponentResource):
    """The store's role Job with its script and network policies; `job` is what the clients wait for."""

    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: StoreRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:data:StoreRoles", name, None, opts)
        store, context = args.store, args.context
        self._name, self._args = name, args
        self._k8s = context.k8s_options(self)
        self._labels = {
            "app.kubernetes.io/name": f"{store.name}-roles",
            "app.kubernetes.io/component": "roles",
            "app.kubernetes.io/part-of": store.name,
            **context.labels,
        }
        file_name, _ = RUNNERS[store.type]
        self._tls = verifies_tls(store, args.tls_on)
        script = role_script(store, self._tls)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=context.object_metadata(f"{store.name}-roles", args.namespace),
            data={file_name: script},
            opts=self._k8s,
        )
        self._build_network_policies()
        image = store.image
        digest = pulumi.Output.from_input(args.clients_checksum).apply(
            lambda checksum: hashlib.sha256(f"{script}\n{checksum}\n{image}\n{self._tls}".encode()).hexdigest()[:8]
        )
        self.job = self._build_job(name, digest, config_map)
        self.register_outputs({})

    def _build_job(self, name: str, digest: pulumi.Output[str], config_map: k8s.core.v1.ConfigMap) -> k8s.batch.v1.Job:
        args, store = self._args, self._args.store
        _, command = RUNNERS[store.type]
        store_keys = ["host", "port", "username", "password", "database"] if store.type == "postgres" else []
        store_keys = store_keys or (["host", "port", "password"] if store.type == "redis" else ["url"])
        security = restricted_container(JOB_UID, JOB_UID)
        metadata = args.context.object_metadata(f"{store.name}-roles", args.namespace)
        return k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                # A new name (so a new Job) whenever what it makes changes; the URN stays.
                name=digest.apply(lambda short: f"{store.name}-roles-{short}"),
                namespace=metadata.namespace,
                labels=self._labels,
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                active_deadline_seconds=DEADLINE_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="Never",
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=JOB_UID,
                            run_as_group=JOB_UID,
                            fs_group=JOB_UID,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="roles",
                                image=store.image,
                                # Every run pulls: the Job runs rarely, and a re-pushed tag must not linger.
                                image_pull_policy="Always",
                                command=["sh", "-c", command],
                                env=self._env(),
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={
                                        "cpu": "50m",
                                        "memory": "128Mi",
                                        "ephemeral-storage": JOB_EPHEMERAL_STORAGE,
                                    },
                                    limits={
                                        "cpu": "500m",
                                        "memory": "512Mi",
                                        "ephemeral-storage": JOB_EPHEMERAL_STORAGE,
                                    },
                                ),
                                security_context=security,
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="script", mount_path=ROLES_DIR, read_only=True),
                                    k8s.core.v1.VolumeMountArgs(name="clients", mount_path=CLIENTS_DIR, read_only=True),
                                    k8s.core.v1.VolumeMountArgs(name="store", mount_path=STORE_DIR, read_only=True),
                                    k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                                    *self._ca_mounts(),
                                ],
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="script",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=config_map.metadata.apply(lambda meta: meta.name), default_mode=0o444
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="clients",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name=store.clients_secret_name,
                                    # `<client>.password` keys only (not the `clients` list), owner and group read.
                                    items=[
                                        k8s.core.v1.KeyToPathArgs(
                                            key=f"{client.name}.password", path=f"{client.name}.password"
                                        )
                                        for client in store.clients
                                    ]
                                    or None,
                                    default_mode=0o440,
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="store",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name=store.secret_name,
                                    items=[k8s.core.v1.KeyToPathArgs(key=key, path=key) for key in store_keys],
                                    default_mode=0o440,
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="tmp",
                                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=SCRATCH_SIZE_LIMIT),
                            ),
                            *self._ca_volumes(),
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                self._k8s, pulumi.ResourceOptions(depends_on=[config_map, *args.depends_on])
            ),
        )

    def _ca_mounts(self) -> list[k8s.core.v1.VolumeMountArgs]:
        """The store's CA where its clients have it, the path its URL names (tlsCAFile for mongosh)."""
        if not self._tls:
            return []
        store = self._args.store
        return [k8s.core.v1.VolumeMountArgs(name="ca", mount_path=client_ca_dir(store.name), read_only=True)]

    def _ca_volumes(self) -> list[k8s.core.v1.VolumeArgs]:
        if not self._tls:
            return []
        return [
            k8s.core.v1.VolumeArgs(
                name="ca",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name=self._args.store.secret_name,
                    items=[k8s.core.v1.KeyToPathArgs(key=CA_FILE, path=CA_FILE)],
                    default_mode=0o440,
                ),
            )
        ]

    def _env(self) -> list[k8s.core.v1.EnvVarArgs]:
        """No secret here: the store's user comes from its mounted Secret."""
        env = [k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp")]
        if self._tls and self._args.store.type == "postgres":
            # TLS only, and the server's certificate must be the CA's and name the host (as every client's URL asks).
            env += [
                k8s.core.v1.EnvVarArgs(name="PGSSLMODE", value="verify-full"),
                k8s.core.v1.EnvVarArgs(name="PGSSLROOTCERT", value=client_ca_path(self._args.store.name)),
            ]
        return env

    def _build_network_policies(self) -> None:
        """The Job's pods reach the store's client port; in the cluster the store admits them on it."""
        args, store = self._args, self._args.store
        net = k8s.networking.v1
        job_pods = k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": f"{store.name}-roles"})
        store_pods = k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": store.name})
        if args.private_cidr is not None:
            port = net.NetworkPolicyPortArgs(protocol="TCP", port=POSTGRES_PORT)
            target = net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=args.private_cidr))
        else:
            port = net.NetworkPolicyPortArgs(protocol="TCP", port=store.engine.port)
            target = net.NetworkPolicyPeerArgs(pod_selector=store_pods)
        net.NetworkPolicy(
            f"{self._name}-egress",
            metadata=args.context.object_metadata(f"{store.name}-roles-egress", args.namespace),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=job_pods,
                policy_types=["Egress"],
                egress=[net.NetworkPolicyEgressRuleArgs(to=[target], ports=[port])],
            ),
            opts=self._k8s,
        )
        if args.private_cidr is None:
            net.NetworkPolicy(
                f"{self._name}-ingress",
                metadata=args.context.object_metadata(f"{store.name}-roles-ingress", args.namespace),
                spec=net.NetworkPolicySpecArgs(
                    pod_selector=store_pods,
                    policy_types=["Ingress"],
                    ingress=[
                        net.NetworkPolicyIngressRuleArgs(
                            from_=[net.NetworkPolicyPeerArgs(pod_selector=job_pods)], ports=[port]
                        )
                    ],
                ),
                opts=self._k8s,
            )
