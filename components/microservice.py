"""One microservice: every object a production service needs, secure by default.

Per service declared in config this component creates:
- a ServiceAccount (token not mounted unless asked) and, optionally, Workload Identity: a GCP
  service account, its project roles and the `roles/iam.workloadIdentityUser` binding;
- the service's own ConfigMap `<name>-config` when `config` is set, consumed via envFrom;
- the Deployment: restricted security context, probes with every timing set, preStop sleep,
  spot placement, zone/node spread, checksum annotations that roll pods when consumed
  Secrets or ConfigMaps change, and no `spec.replicas` when an HPA owns the count;
- a ClusterIP Service with named ports, an autoscaling/v2 HPA, a policy/v1 PodDisruptionBudget;
- a NetworkPolicy admitting the ingress controller (routed ports), `allowFrom` callers and the
  monitoring namespace (metrics port);
- an optional migration Job that the Deployment waits for, and a ServiceMonitor when monitoring is on.

Placement: on an existing cluster (`cluster.mode: existing`) the platform knows no node pools,
so `spot` relaxes to `prefer-spot`: pods tolerate and prefer spot nodes but still schedule on a
cluster that has none.

Migration Job: named `<svc>-migrate-<tag>`, so a new image tag replaces it (and the Deployment,
which depends on it, rolls only after it completes; the provider awaits Job completion). Any
other change to its spec also replaces it rather than patching a finished Job that the TTL
controller may already have deleted. After the TTL removes it, `pulumi refresh` drops it from
the state and the next `up` runs it again for the same tag: migrations must be idempotent.

Deliberately left out: shared Secrets and ConfigMaps (secrets.py, config_maps.py), namespace-wide
default-deny and egress policies (namespaces.py), the Ingresses, which aggregate routes across
services per host (ingress.py), and the add-ons (addons.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pydantic.alias_generators import to_camel

from components.config import PROBE_DEFAULTS, HpaPolicy, PlatformConfig, Probe, ScalingRules, ServiceConfig
from components.namespaces import namespaces_named, platform_labels
from components.secrets import content_checksum

SPOT_LABEL = "cloud.google.com/gke-spot"
WORKLOAD_IDENTITY_ANNOTATION = "iam.gke.io/gcp-service-account"
# Bounds the scratch volume so a runaway temp file evicts the pod, not the node.
TMP_SIZE_LIMIT = "256Mi"
# Owner and group may read mounted files (fsGroup makes the group ours); nobody may write.
READ_ONLY_FILE_MODE = 0o440
# Margin over a migration's own deadline, so the Job, not the provider's wait, decides that it failed.
JOB_AWAIT_MARGIN_SECONDS = 60


def to_dns_label(value: str, limit: int = 63) -> str:
    """`value` as a DNS-1123 label of at most `limit` characters; a hash keeps trimmed names distinct."""
    label = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", value.lower())).strip("-")
    if len(label) <= limit:
        return label
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{label[: limit - len(digest) - 1].rstrip('-')}-{digest}"


def gcp_account_id(service: str) -> str:
    """A GCP service account id (6-30 characters) derived from the service name."""
    if 6 <= len(service) <= 30:
        return service
    digest = hashlib.sha256(service.encode()).hexdigest()[:6]
    return f"{service[:23].rstrip('-')}-{digest}"


def migration_job_name(svc: ServiceConfig) -> str:
    return to_dns_label(f"{svc.name}-migrate-{svc.image_tag}")


def _version_label(tag: str) -> str:
    """An image tag as a label value: at most 63 characters, starting and ending alphanumeric."""
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", tag[:63])


@dataclass(frozen=True)
class MicroserviceArgs:
    service: ServiceConfig
    platform: PlatformConfig
    provider: k8s.Provider
    namespace: k8s.core.v1.Namespace
    # "secret/<name>" and "configmap/<name>" -> checksum of the content, for pod-template annotations.
    checksums: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    monitoring: pulumi.Resource | None = None
    depends_on: Sequence[pulumi.Resource] = ()


class Microservice(pulumi.ComponentResource):
    def __init__(self, name: str, args: MicroserviceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:workloads:Microservice", name, None, opts)
        self._name = name
        self._args = args
        self._svc = args.service
        self._namespace = args.namespace.metadata.apply(lambda meta: meta.name)
        self._k8s = pulumi.ResourceOptions(parent=self, provider=args.provider)
        # Selectors are immutable: name + instance only, never the version.
        self._selector = {"app.kubernetes.io/name": self._svc.name, "app.kubernetes.io/instance": self._svc.name}
        self._labels = self._labels_for(self._svc.name, "service")

        gcp_account = self._build_gcp_account()
        service_account = self._build_service_account(gcp_account)
        if gcp_account is not None:
            self._build_workload_identity(gcp_account, service_account)
        config_map = self._build_config_map()
        job = self._build_migration(service_account, config_map)
        self._build_deployment(service_account, config_map, job)
        self._build_service()
        self._build_autoscaler()
        self._build_disruption_budget()
        self._build_network_policy()
        self._build_service_monitor()
        self.register_outputs({})

    # ------------------------------------------------------------------ metadata

    def _labels_for(self, instance: str, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": self._svc.name,
            "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/version": _version_label(self._svc.image_tag),
            "app.kubernetes.io/component": component,
            **platform_labels(self._args.platform),
        }

    def _metadata(self, name: str, labels: Mapping[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=labels or self._labels)

    # ------------------------------------------------------------------ identity

    def _build_gcp_account(self) -> gcp.serviceaccount.Account | None:
        identity = self._svc.service_account.workload_identity
        if identity is None:
            return None
        project = self._args.platform.project
        account = gcp.serviceaccount.Account(
            f"{self._name}-gsa",
            account_id=gcp_account_id(self._svc.name),
            display_name=f"{self._svc.name} workload ({self._args.platform.environment})",
            project=project,
            opts=pulumi.ResourceOptions(parent=self),
        )
        for role in identity.roles:
            gcp.projects.IAMMember(
                f"{self._name}-gsa-{role.removeprefix('roles/')}",
                project=project,
                role=role,
                member=account.member,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return account

    def _build_service_account(self, gcp_account: gcp.serviceaccount.Account | None) -> k8s.core.v1.ServiceAccount:
        annotations = {WORKLOAD_IDENTITY_ANNOTATION: gcp_account.email} if gcp_account is not None else None
        return k8s.core.v1.ServiceAccount(
            f"{self._name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self._svc.name, namespace=self._namespace, labels=self._labels, annotations=annotations
            ),
            automount_service_account_token=self._svc.service_account.automount_token,
            opts=self._k8s,
        )

    def _build_workload_identity(
        self, gcp_account: gcp.serviceaccount.Account, service_account: k8s.core.v1.ServiceAccount
    ) -> None:
        member = pulumi.Output.all(self._namespace, service_account.metadata.apply(lambda meta: meta.name)).apply(
            lambda ns_and_name: (
                f"serviceAccount:{self._args.platform.project}.svc.id.goog[{ns_and_name[0]}/{ns_and_name[1]}]"
            )
        )
        gcp.serviceaccount.IAMMember(
            f"{self._name}-workload-identity",
            service_account_id=gcp_account.name,
            role="roles/iam.workloadIdentityUser",
            member=member,
            # The cluster's identity pool must exist first; the Kubernetes SA is created after the cluster.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service_account]),
        )

    # ------------------------------------------------------------------ configuration

    def _build_config_map(self) -> k8s.core.v1.ConfigMap | None:
        if not self._svc.config:
            return None
        return k8s.core.v1.ConfigMap(
            f"{self._name}-config",
            metadata=self._metadata(f"{self._svc.name}-config"),
            data=self._svc.config,
            opts=self._k8s,
        )

    def _consumed_sources(self) -> list[tuple[str, str]]:
        """Every (kind, name) of Secret and ConfigMap the pod reads, in a stable order."""
        svc = self._svc
        sources: list[tuple[str, str]] = []
        for value in svc.env.values():
            if isinstance(value, str):
                continue
            if value.secret_key_ref is not None:
                sources.append(("secret", value.secret_key_ref.name))
            if value.config_map_key_ref is not None:
                sources.append(("configmap", value.config_map_key_ref.name))
        for item in [*svc.env_from, *svc.mounts]:
            if item.secret is not None:
                sources.append(("secret", item.secret))
            if item.config_map is not None:
                sources.append(("configmap", item.config_map))
        if svc.config:
            sources.append(("configmap", f"{svc.name}-config"))
        return sorted(set(sources))

    def _checksum_annotations(self) -> dict[str, pulumi.Input[str]]:
        checksums: dict[str, pulumi.Input[str]] = dict(self._args.checksums)
        if self._svc.config:
            # This component owns the service's own map, so it hashes it the way the shared maps are hashed.
            checksums[f"configmap/{self._svc.name}-config"] = content_checksum(self._svc.config)
        return {
            f"checksum/{to_dns_label(f'{kind}-{name}')}": checksums[f"{kind}/{name}"]
            for kind, name in self._consumed_sources()
        }

    # ------------------------------------------------------------------ the pod

    def _env(self) -> list[k8s.core.v1.EnvVarArgs]:
        # Grouped by source, literals first, so a rendered spec reads the same way every time.
        literals, secrets, config_maps, fields = [], [], [], []
        for name, value in self._svc.env.items():
            if isinstance(value, str):
                literals.append(k8s.core.v1.EnvVarArgs(name=name, value=value))
            elif value.secret_key_ref is not None:
                ref = value.secret_key_ref
                source = k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=ref.name, key=ref.key)
                )
                secrets.append(k8s.core.v1.EnvVarArgs(name=name, value_from=source))
            elif value.config_map_key_ref is not None:
                ref = value.config_map_key_ref
                source = k8s.core.v1.EnvVarSourceArgs(
                    config_map_key_ref=k8s.core.v1.ConfigMapKeySelectorArgs(name=ref.name, key=ref.key)
                )
                config_maps.append(k8s.core.v1.EnvVarArgs(name=name, value_from=source))
            elif value.field_ref is not None:
                source = k8s.core.v1.EnvVarSourceArgs(
                    field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path=value.field_ref)
                )
                fields.append(k8s.core.v1.EnvVarArgs(name=name, value_from=source))
        return [*literals, *secrets, *config_maps, *fields]

    def _env_from(self, config_map: k8s.core.v1.ConfigMap | None) -> list[k8s.core.v1.EnvFromSourceArgs]:
        sources = [
            k8s.core.v1.EnvFromSourceArgs(
                config_map_ref=k8s.core.v1.ConfigMapEnvSourceArgs(name=item.config_map) if item.config_map else None,
                secret_ref=k8s.core.v1.SecretEnvSourceArgs(name=item.secret) if item.secret else None,
            )
            for item in self._svc.env_from
        ]
        if config_map is not None:
            # Last, so the service's own settings win over shared maps with the same keys.
            own = k8s.core.v1.ConfigMapEnvSourceArgs(name=config_map.metadata.apply(lambda meta: meta.name))
            sources.append(k8s.core.v1.EnvFromSourceArgs(config_map_ref=own))
        return sources

    def _volumes(self) -> list[k8s.core.v1.VolumeArgs]:
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=TMP_SIZE_LIMIT)
            )
        ]
        for index, mount in enumerate(self._svc.mounts):
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name=f"mount-{index}",
                    secret=(
                        k8s.core.v1.SecretVolumeSourceArgs(secret_name=mount.secret, default_mode=READ_ONLY_FILE_MODE)
                        if mount.secret
                        else None
                    ),
                    config_map=(
                        k8s.core.v1.ConfigMapVolumeSourceArgs(name=mount.config_map, default_mode=READ_ONLY_FILE_MODE)
                        if mount.config_map
                        else None
                    ),
                )
            )
        return volumes

    def _volume_mounts(self) -> list[k8s.core.v1.VolumeMountArgs]:
        mounts = [k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")]
        mounts += [
            k8s.core.v1.VolumeMountArgs(name=f"mount-{index}", mount_path=mount.path, read_only=True)
            for index, mount in enumerate(self._svc.mounts)
        ]
        return mounts

    def _resources(self) -> k8s.core.v1.ResourceRequirementsArgs:
        res = self._svc.effective_resources
        return k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": res.requests.cpu, "memory": res.requests.memory},
            limits={"cpu": res.limits.cpu, "memory": res.limits.memory},
        )

    def _container_security(self) -> k8s.core.v1.SecurityContextArgs:
        security = self._svc.security
        return k8s.core.v1.SecurityContextArgs(
            run_as_non_root=True,
            run_as_user=security.run_as_user,
            run_as_group=security.run_as_group,
            allow_privilege_escalation=False,
            read_only_root_filesystem=security.read_only_root_filesystem,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        )

    def _pod_security(self) -> k8s.core.v1.PodSecurityContextArgs:
        security = self._svc.security
        return k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=security.run_as_user,
            run_as_group=security.run_as_group,
            fs_group=security.fs_group,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        )

    def _probe(self, kind: str) -> k8s.core.v1.ProbeArgs | None:
        probe: Probe | None = getattr(self._svc.probes, kind)
        if probe is None:
            return None

        def timing(field_name: str) -> int:
            # Unset timings take seed 002's defaults, so every probe states all five.
            value: int | None = getattr(probe, field_name)
            return value if value is not None else PROBE_DEFAULTS[kind][to_camel(field_name)]

        http_get = tcp_socket = exec_ = None
        if probe.http_get is not None:
            port = self._port_name(probe.http_get.port)
            http_get = k8s.core.v1.HTTPGetActionArgs(path=probe.http_get.path, port=port)
        elif probe.tcp_socket is not None:
            tcp_socket = k8s.core.v1.TCPSocketActionArgs(port=self._port_name(probe.tcp_socket.port))
        elif probe.exec is not None:
            exec_ = k8s.core.v1.ExecActionArgs(command=probe.exec.command)
        return k8s.core.v1.ProbeArgs(
            http_get=http_get,
            tcp_socket=tcp_socket,
            exec_=exec_,
            initial_delay_seconds=timing("initial_delay_seconds"),
            period_seconds=timing("period_seconds"),
            timeout_seconds=timing("timeout_seconds"),
            success_threshold=timing("success_threshold"),
            failure_threshold=timing("failure_threshold"),
        )

    def _port_name(self, ref: int | str) -> str:
        port = self._svc.port(ref)
        assert port is not None  # validated on load: probes name declared ports
        return port.name

    def _container(self, config_map: k8s.core.v1.ConfigMap | None) -> k8s.core.v1.ContainerArgs:
        svc = self._svc
        pre_stop = svc.shutdown.pre_stop_sleep_seconds
        return k8s.core.v1.ContainerArgs(
            name=svc.name,
            image=svc.image,
            image_pull_policy=svc.image_pull_policy,
            command=svc.command,
            args=svc.args,
            ports=[
                k8s.core.v1.ContainerPortArgs(name=p.name, container_port=p.container_port, protocol=p.protocol)
                for p in svc.ports
            ],
            env=self._env(),
            env_from=self._env_from(config_map),
            volume_mounts=self._volume_mounts(),
            resources=self._resources(),
            startup_probe=self._probe("startup"),
            liveness_probe=self._probe("liveness"),
            readiness_probe=self._probe("readiness"),
            # The native sleep action needs no shell, so it works in distroless images.
            lifecycle=(
                k8s.core.v1.LifecycleArgs(
                    pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=pre_stop))
                )
                if pre_stop > 0
                else None
            ),
            security_context=self._container_security(),
        )

    # ------------------------------------------------------------------ placement

    def _placement(self) -> str:
        # On an existing cluster the platform knows no pools: insisting on spot could leave pods Pending.
        if self._svc.placement == "spot" and not self._args.platform.creates_cluster:
            return "prefer-spot"
        return self._svc.placement

    def _tolerations(self) -> list[k8s.core.v1.TolerationArgs] | None:
        if self._placement() == "regular":
            return None  # the spot pools' NoSchedule taint keeps regular services off them
        return [k8s.core.v1.TolerationArgs(key=SPOT_LABEL, operator="Equal", value="true", effect="NoSchedule")]

    def _affinity(self) -> k8s.core.v1.AffinityArgs | None:
        on_spot = k8s.core.v1.NodeSelectorTermArgs(
            match_expressions=[k8s.core.v1.NodeSelectorRequirementArgs(key=SPOT_LABEL, operator="In", values=["true"])]
        )
        node_affinity = None
        if self._placement() == "spot":
            node_affinity = k8s.core.v1.NodeAffinityArgs(
                required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                    node_selector_terms=[on_spot]
                )
            )
        elif self._placement() == "prefer-spot":
            node_affinity = k8s.core.v1.NodeAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    k8s.core.v1.PreferredSchedulingTermArgs(weight=100, preference=on_spot)
                ]
            )
        pod_anti_affinity = None
        if self._svc.spread.mode == "anti-affinity":
            pod_anti_affinity = k8s.core.v1.PodAntiAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    k8s.core.v1.WeightedPodAffinityTermArgs(
                        weight=100,
                        pod_affinity_term=k8s.core.v1.PodAffinityTermArgs(
                            topology_key="kubernetes.io/hostname",
                            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                        ),
                    )
                ]
            )
        if node_affinity is None and pod_anti_affinity is None:
            return None
        return k8s.core.v1.AffinityArgs(node_affinity=node_affinity, pod_anti_affinity=pod_anti_affinity)

    def _spread(self) -> list[k8s.core.v1.TopologySpreadConstraintArgs] | None:
        if self._svc.spread.mode != "topology":
            return None
        # ScheduleAnyway: spreading is a preference; it must never leave a replica Pending.
        return [
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=self._svc.spread.max_skew,
                topology_key=key,
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
            )
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ]

    # ------------------------------------------------------------------ workloads

    def _pod_annotations(self) -> dict[str, pulumi.Input[str]]:
        annotations: dict[str, pulumi.Input[str]] = {}
        metrics = self._svc.metrics
        if metrics is not None:
            port = self._svc.port(metrics.port)
            assert port is not None  # validated on load
            annotations.update(
                {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(port.container_port),
                    "prometheus.io/path": metrics.path,
                }
            )
        annotations.update(self._checksum_annotations())
        return annotations

    def _build_deployment(
        self,
        service_account: k8s.core.v1.ServiceAccount,
        config_map: k8s.core.v1.ConfigMap | None,
        job: k8s.batch.v1.Job | None,
    ) -> k8s.apps.v1.Deployment:
        svc = self._svc
        rolling_update = (
            k8s.apps.v1.RollingUpdateDeploymentArgs(
                max_surge=svc.strategy.max_surge, max_unavailable=svc.strategy.max_unavailable
            )
            if svc.strategy.type == "RollingUpdate"
            else None
        )
        pod = k8s.core.v1.PodSpecArgs(
            service_account_name=service_account.metadata.apply(lambda meta: meta.name),
            automount_service_account_token=svc.service_account.automount_token,
            security_context=self._pod_security(),
            termination_grace_period_seconds=svc.shutdown.termination_grace_period_seconds,
            containers=[self._container(config_map)],
            volumes=self._volumes(),
            node_selector=svc.node_selector or None,
            tolerations=self._tolerations(),
            affinity=self._affinity(),
            topology_spread_constraints=self._spread(),
        )
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._metadata(svc.name),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # An HPA owns the count: setting it here would fight the HPA on every `up`.
                replicas=None if svc.autoscaling is not None else svc.min_replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type=svc.strategy.type, rolling_update=rolling_update),
                revision_history_limit=svc.revision_history_limit,
                progress_deadline_seconds=svc.progress_deadline_seconds,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels, annotations=self._pod_annotations()),
                    spec=pod,
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                self._k8s,
                pulumi.ResourceOptions(depends_on=[*self._args.depends_on, *([job] if job is not None else [])]),
            ),
        )

    def _build_migration(
        self, service_account: k8s.core.v1.ServiceAccount, config_map: k8s.core.v1.ConfigMap | None
    ) -> k8s.batch.v1.Job | None:
        svc, migration = self._svc, self._svc.migration
        if migration is None:
            return None
        job_name = migration_job_name(svc)
        await_seconds = migration.active_deadline_seconds + JOB_AWAIT_MARGIN_SECONDS
        # Its own instance label keeps migration pods out of the Service and the PDB.
        labels = self._labels_for(job_name, "migration")
        container = k8s.core.v1.ContainerArgs(
            name="migrate",
            image=svc.image,
            image_pull_policy=svc.image_pull_policy,
            command=migration.command,
            env=self._env(),
            env_from=self._env_from(config_map),
            volume_mounts=self._volume_mounts(),
            resources=self._resources(),
            security_context=self._container_security(),
        )
        # No spot toleration: a preemption half-way through a migration is worse than waiting for a node.
        pod = k8s.core.v1.PodSpecArgs(
            restart_policy="Never",
            service_account_name=service_account.metadata.apply(lambda meta: meta.name),
            automount_service_account_token=svc.service_account.automount_token,
            security_context=self._pod_security(),
            containers=[container],
            volumes=self._volumes(),
        )
        return k8s.batch.v1.Job(
            f"{self._name}-migrate",
            metadata=self._metadata(job_name, labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=migration.backoff_limit,
                ttl_seconds_after_finished=migration.ttl_seconds_after_finished,
                active_deadline_seconds=migration.active_deadline_seconds,
                template=k8s.core.v1.PodTemplateSpecArgs(metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=pod),
            ),
            opts=pulumi.ResourceOptions.merge(
                self._k8s,
                pulumi.ResourceOptions(
                    depends_on=list(self._args.depends_on),
                    # A finished Job is never patched (the TTL controller may have removed it): it is run anew.
                    replace_on_changes=["spec"],
                    delete_before_replace=True,
                    # The provider awaits completion for 10 minutes by default; allow the Job its whole deadline.
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{await_seconds}s", update=f"{await_seconds}s"),
                ),
            ),
        )

    # ------------------------------------------------------------------ traffic and scaling

    def _build_service(self) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-service",
            metadata=self._metadata(self._svc.name),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=self._selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name=p.name, port=p.effective_service_port, target_port=p.name, protocol=p.protocol
                    )
                    for p in self._svc.ports
                ],
            ),
            opts=self._k8s,
        )

    def _build_autoscaler(self) -> None:
        hpa = self._svc.autoscaling
        if hpa is None:
            return
        metrics = [
            k8s.autoscaling.v2.MetricSpecArgs(
                type="Resource",
                resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                    name=resource,
                    target=k8s.autoscaling.v2.MetricTargetArgs(type="Utilization", average_utilization=target),
                ),
            )
            for resource, target in (("cpu", hpa.cpu_utilization), ("memory", hpa.memory_utilization))
            if target is not None
        ]
        metrics += [
            k8s.autoscaling.v2.MetricSpecArgs(
                type="Pods",
                pods=k8s.autoscaling.v2.PodsMetricSourceArgs(
                    metric=k8s.autoscaling.v2.MetricIdentifierArgs(name=metric.name),
                    target=k8s.autoscaling.v2.MetricTargetArgs(type="AverageValue", average_value=metric.average_value),
                ),
            )
            for metric in hpa.pods_metrics
        ]
        if hpa.pods_metrics and not self._args.platform.addons.monitoring.enabled:
            # prometheus-adapter (monitoring add-on) serves custom.metrics.k8s.io; without it the HPA
            # sees these metrics as missing and, by design, never scales down.
            names = ", ".join(metric.name for metric in hpa.pods_metrics)
            pulumi.log.warn(
                f"{self._svc.name}: the HPA's Pods metrics ({names}) need the monitoring add-on's "
                "prometheus-adapter, which is off in this stack; the HPA scales on its resource metrics only "
                "while they are missing and never scales down",
                resource=self,
            )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-hpa",
            metadata=self._metadata(self._svc.name),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self._svc.name
                ),
                min_replicas=hpa.min_replicas,
                max_replicas=hpa.max_replicas,
                metrics=metrics,
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    scale_up=_scaling_rules(hpa.behavior.scale_up),
                    scale_down=_scaling_rules(hpa.behavior.scale_down),
                ),
            ),
            opts=self._k8s,
        )

    def _build_disruption_budget(self) -> None:
        budget = self._svc.pdb()
        if budget is None:
            return
        field_name, value = budget
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-pdb",
            metadata=self._metadata(self._svc.name),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                min_available=value if field_name == "minAvailable" else None,
                max_unavailable=value if field_name == "maxUnavailable" else None,
                # A crash-looping pod must never block a node drain.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=self._k8s,
        )

    def _build_network_policy(self) -> None:
        svc, platform = self._svc, self._args.platform
        declared = {p.name: p for p in svc.ports}
        metrics_port = svc.metrics.port if svc.metrics is not None else None

        def allow(
            peers: list[k8s.networking.v1.NetworkPolicyPeerArgs], port_names: Sequence[str]
        ) -> k8s.networking.v1.NetworkPolicyIngressRuleArgs:
            ports = [
                k8s.networking.v1.NetworkPolicyPortArgs(port=name, protocol=declared[name].protocol)
                for name in dict.fromkeys(port_names)
            ]
            return k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=peers, ports=ports)

        def from_namespace(name: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
            return k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=namespaces_named(name))

        rules = []
        if svc.routes:
            ingress_controller = from_namespace(platform.addons.ingress_nginx.namespace)
            rules.append(allow([ingress_controller], [route.port for route in svc.routes]))
        app_ports = [name for name in declared if name != metrics_port]
        callers = [caller for caller in platform.services if caller.name in svc.allow_from]
        if callers and app_ports:
            peers = [
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    namespace_selector=namespaces_named(caller.namespace),
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": caller.name}),
                )
                for caller in callers
            ]
            rules.append(allow(peers, app_ports))
        if metrics_port is not None:
            rules.append(allow([from_namespace(platform.addons.monitoring.namespace)], [metrics_port]))
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-network-policy",
            metadata=self._metadata(svc.name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                # By name only, so the migration Job's pods are covered too.
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": svc.name}),
                policy_types=["Ingress"],
                ingress=rules,
            ),
            opts=self._k8s,
        )

    def _build_service_monitor(self) -> None:
        metrics = self._svc.metrics
        if metrics is None or not self._args.platform.addons.monitoring.enabled:
            return
        k8s.apiextensions.CustomResource(
            f"{self._name}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._metadata(self._svc.name),
            spec={
                "selector": {"matchLabels": self._selector},
                "endpoints": [{"port": metrics.port, "path": metrics.path, "interval": metrics.interval}],
            },
            # The ServiceMonitor CRD arrives with the kube-prometheus-stack release.
            opts=pulumi.ResourceOptions.merge(
                self._k8s,
                pulumi.ResourceOptions(depends_on=[self._args.monitoring] if self._args.monitoring else []),
            ),
        )


def _scaling_rules(rules: ScalingRules) -> k8s.autoscaling.v2.HPAScalingRulesArgs:
    return k8s.autoscaling.v2.HPAScalingRulesArgs(
        stabilization_window_seconds=rules.stabilization_window_seconds,
        select_policy=rules.select_policy,
        policies=[_scaling_policy(policy) for policy in rules.policies],
    )


def _scaling_policy(policy: HpaPolicy) -> k8s.autoscaling.v2.HPAScalingPolicyArgs:
    return k8s.autoscaling.v2.HPAScalingPolicyArgs(
        type=policy.type, value=policy.value, period_seconds=policy.period_seconds
    )
