"""One microservice: every object a production service needs, secure by default.

Per service declared in config this component creates:
- a ServiceAccount (token not mounted unless asked) and, optionally, Workload Identity (identity.py);
- the service's own ConfigMap `<name>-config` when `config` is set, consumed via envFrom;
- the Deployment, whose pod (pod.py) has a restricted security context, probes with every timing
  set, a preStop sleep, spot placement, zone/node spread and checksum annotations that roll pods
  when consumed Secrets or ConfigMaps change; no `spec.replicas` when an HPA owns the count;
- a ClusterIP Service with named ports, an autoscaling/v2 HPA, a policy/v1 PodDisruptionBudget;
- a NetworkPolicy admitting exactly: the edge's peers on the routed ports, the `allowFrom` callers'
  pods on the caller ports (all but a dedicated metrics port) and the monitoring namespace on the
  metrics port; and, when other services' `allowFrom` name this one, an egress NetworkPolicy letting
  its pods open connections to exactly those services' pods on their caller ports, plus the private
  ranges of the managed data stores it is a client of, on their ports (the namespace's default deny
  blocks all other egress but its declared targets);
- an optional migration Job that the Deployment waits for, and a ServiceMonitor when monitoring is on;
- the OpenTelemetry SDK environment handed in by name (`telemetry_env`), under the service's own `env`.
- with `canary`, a second track `<name>-canary`: its own Deployment (the canary image, pods labelled
  `track: canary` and selected by their own instance label), Service, HPA and PDB; the HTTPRoutes
  split traffic between the two Services by weight (traffic/routes.py).

A stateful service (`stateful`) runs as a StatefulSet instead: a headless Service `<name>-headless`
gives each pod a stable DNS name, `volumeClaimTemplates` a volume per replica (storage class by
cluster mode), and `persistentVolumeClaimRetentionPolicy` Retain/Retain keeps every volume when the
set is deleted or scaled down; ordered or parallel pod management, RollingUpdate with a partition.
Its PDB, spread, security contexts and network policy are a Deployment's; callers are not admitted
on its `peerPorts`, and when it has any its own pods reach each other on every port (a quorum). With
`protect` (production data stores) Pulumi can neither delete nor replace the StatefulSet.

Only the Deployment (or StatefulSet), its pod template and the migration Job carry `app.kubernetes.io/version`, so
an image-tag change updates exactly those two objects (the Job by replacement, see below).

Migration Job: named `<svc>-migrate-<tag>`, so a new image tag replaces it (and the Deployment,
which depends on it, rolls only after it completes; the provider awaits Job completion). Any
other change to its spec also replaces it rather than patching a finished Job that the TTL
controller may already have deleted. After the TTL removes it, `pulumi refresh` drops it from
the state and the next `up` runs it again for the same tag: migrations must be idempotent.

Deliberately left out: shared Secrets and ConfigMaps and namespace-wide default-deny and egress
policies (tenancy/), the Ingresses, which aggregate routes across services per host
(traffic/ingress.py), and the add-ons (platform.py wires them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp
import pulumi_kubernetes as k8s

from components.context import Context
from components.kube import Edge
from components.workloads.companions import (
    Owner,
    PolicyPeers,
    build_autoscaler,
    build_disruption_budget,
    build_network_policies,
)
from components.workloads.config import DEFAULT_STORAGE_CLASS, ServiceConfig
from components.workloads.identity import ServiceIdentity, build_identity
from components.workloads.pod import PodParts, to_dns_label

# Margin over a migration's own deadline, so the Job, not the provider's wait, decides that it failed.
JOB_AWAIT_MARGIN_SECONDS = 60


def migration_job_name(svc: ServiceConfig) -> str:
    return to_dns_label(f"{svc.name}-migrate-{svc.image_tag}")


def _version_label(tag: str) -> str:
    """An image tag as a label value: at most 63 characters, starting and ending alphanumeric."""
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", tag[:63])


@dataclass(frozen=True)
class _Track:
    """One Deployment of the service with its Service, HPA and PDB: the stable track or the canary."""

    # Appended to resource names (the stable track's is empty, so its URNs never change).
    suffix: str
    # The objects' metadata.name.
    object_name: str
    selector: dict[str, str]
    # The Service's, HPA's and PDB's labels; `versioned` adds the image tag for the workload and its pods.
    labels: dict[str, str]
    versioned: dict[str, str]
    pod: PodParts


@dataclass(frozen=True)
class MicroserviceArgs:
    service: ServiceConfig
    context: Context
    namespace: k8s.core.v1.Namespace
    # The ingress data plane, admitted on the routed ports (traffic domain).
    edge: Edge
    # The monitoring namespace, admitted on the metrics port (observability domain).
    scrape_namespace: str
    # The services named in `allowFrom`, as (name, namespace), in catalog order.
    callers: Sequence[tuple[str, str]] = ()
    # The services whose `allowFrom` names this one, in catalog order: its pods' egress.
    callees: Sequence[ServiceConfig] = ()
    # "secret/<name>" and "configmap/<name>" -> checksum of the content, for pod-template annotations.
    checksums: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    # The OpenTelemetry SDK settings (observability domain): collector endpoint, sampler; `env` wins.
    telemetry_env: Mapping[str, str] = field(default_factory=dict)
    # The prometheus-operator CRD release when monitoring is on: the ServiceMonitor CRD comes with it.
    monitoring: pulumi.Resource | None = None
    depends_on: Sequence[pulumi.Resource] = ()
    # Protect the workload from deletion and replacement (production data stores).
    protect: bool = False
    # (CIDR, TCP port) outside the cluster its pods open connections to: the managed data stores it is
    # a client of (the private services range, private.googleapis.com), in its egress policy only.
    egress_cidrs: Sequence[tuple[str, int]] = ()


class Microservice(pulumi.ComponentResource):
    # The service's own GCP service account (Workload Identity), or None.
    gcp_account: pulumi_gcp.serviceaccount.Account | None

    def __init__(self, name: str, args: MicroserviceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:workloads:Microservice", name, None, opts)
        self._name = name
        self._args = args
        self._svc = args.service
        self._namespace = args.namespace.metadata.apply(lambda meta: meta.name)
        self._k8s = pulumi.ResourceOptions(parent=self, provider=args.context.provider)
        # Selectors are immutable: name + instance only, never the version.
        self._selector = {"app.kubernetes.io/name": self._svc.name, "app.kubernetes.io/instance": self._svc.name}
        # The version label only where the image is: an image-tag change then touches the Deployment
        # (and the migration Job) alone, not the Service, HPA, PDB, policy, account or monitor.
        self._labels = self._labels_for(self._svc.name, "service")
        self._versioned = self._with_version(self._labels)
        self._pod = PodParts(
            self._svc,
            self._selector,
            args.checksums,
            args.context.creates_cluster,
            self._svc.pull_policy(args.context.environment),
            platform_env=args.telemetry_env,
        )

        service_account, self.gcp_account = build_identity(
            self, ServiceIdentity(name, self._svc, args.context, self._namespace, self._labels)
        )
        config_map = self._build_config_map()
        job = self._build_migration(service_account, config_map)
        self._stable, *canary = self._tracks()
        if self._svc.stateful is not None:
            self._build_stateful_set(service_account, config_map, job)
            self._build_headless_service()
        else:
            self._build_deployment(self._stable, service_account, config_map, job)
        # Each track's Service: what an HTTPRoute needs to exist before it names it (routes.py).
        self.services: list[k8s.core.v1.Service] = []
        for track in [self._stable, *canary]:
            if track is not self._stable:
                self._build_deployment(track, service_account, config_map, job)
            self.services.append(self._build_service(track))
            self._build_autoscaler(track)
            self._build_disruption_budget(track)
        self._build_network_policy()
        self._build_service_monitor()
        self.register_outputs({})

    # ------------------------------------------------------------------ metadata

    def _tracks(self) -> list[_Track]:
        """The stable track and, when the service declares one, the canary: its own image, Deployment,
        Service, HPA and PDB, and pods labelled `track: canary` that neither the stable Service nor its
        PDB selects. The network policy selects by service name, so it covers both tracks."""
        svc, args = self._svc, self._args
        stable = _Track("", svc.name, self._selector, self._labels, self._versioned, self._pod)
        if svc.canary is None:
            return [stable]
        canary_svc = svc.model_copy(update={"image": svc.canary.image})
        name = f"{svc.name}-canary"
        selector = {**self._selector, "app.kubernetes.io/instance": name}
        labels = {**self._labels_for(name, "service"), "track": "canary"}
        versioned = {**labels, "app.kubernetes.io/version": _version_label(canary_svc.image_tag)}
        pod = PodParts(
            canary_svc,
            selector,
            args.checksums,
            args.context.creates_cluster,
            canary_svc.pull_policy(args.context.environment),
        )
        return [stable, _Track("-canary", name, selector, labels, versioned, pod)]

    def _labels_for(self, instance: str, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": self._svc.name,
            "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/component": component,
            **self._args.context.labels,
        }

    def _with_version(self, labels: Mapping[str, str]) -> dict[str, str]:
        return {**labels, "app.kubernetes.io/version": _version_label(self._svc.image_tag)}

    def _metadata(self, name: str, labels: Mapping[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self._namespace, labels=labels or self._labels)

    def _team_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """`labels` with the team's own (`services[].labels`) first: never in a selector, and no key the
        platform sets (refused on load), so the platform's values stand."""
        return {**self._svc.labels, **labels}

    def _workload_metadata(self, name: str, labels: Mapping[str, str]) -> k8s.meta.v1.ObjectMetaArgs:
        """A workload's metadata (Deployment, StatefulSet, migration Job): the team's labels and annotations too."""
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self._namespace,
            labels=self._team_labels(labels),
            annotations=dict(self._svc.annotations) or None,
        )

    def _pod_metadata(
        self, labels: Mapping[str, str], annotations: Mapping[str, pulumi.Input[str]] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        """A pod template's metadata: the team's labels and annotations beside the platform's (checksums)."""
        if self._svc.annotations:
            annotations = {**self._svc.annotations, **(annotations or {})}
        return k8s.meta.v1.ObjectMetaArgs(labels=self._team_labels(labels), annotations=annotations)

    # ------------------------------------------------------------------ identity

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

    def _pod_spec(
        self,
        track: _Track,
        service_account: k8s.core.v1.ServiceAccount,
        config_map: k8s.core.v1.ConfigMap | None,
    ) -> k8s.core.v1.PodTemplateSpecArgs:
        svc = self._svc
        pod = k8s.core.v1.PodSpecArgs(
            service_account_name=service_account.metadata.apply(lambda meta: meta.name),
            automount_service_account_token=svc.service_account.automount_token,
            security_context=track.pod.pod_security(),
            termination_grace_period_seconds=svc.shutdown.termination_grace_period_seconds,
            containers=[track.pod.container(config_map)],
            volumes=track.pod.volumes(),
            node_selector=track.pod.placement.node_selector(),
            tolerations=track.pod.placement.tolerations(),
            affinity=track.pod.placement.affinity(),
            topology_spread_constraints=track.pod.placement.spread(),
        )
        return k8s.core.v1.PodTemplateSpecArgs(
            metadata=self._pod_metadata(track.versioned, track.pod.pod_annotations()),
            spec=pod,
        )

    def _workload_options(self, job: k8s.batch.v1.Job | None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(
            self._k8s,
            pulumi.ResourceOptions(
                depends_on=[*self._args.depends_on, *([job] if job is not None else [])],
                protect=self._args.protect or None,
            ),
        )

    def _build_deployment(
        self,
        track: _Track,
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
        return k8s.apps.v1.Deployment(
            f"{self._name}{track.suffix}-deployment",
            metadata=self._workload_metadata(track.object_name, track.versioned),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # An HPA owns the count: setting it here would fight the HPA on every `up`.
                replicas=None if svc.autoscaling is not None else svc.min_replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=track.selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type=svc.strategy.type, rolling_update=rolling_update),
                revision_history_limit=svc.revision_history_limit,
                progress_deadline_seconds=svc.progress_deadline_seconds,
                template=self._pod_spec(track, service_account, config_map),
            ),
            opts=self._workload_options(job),
        )

    def _build_stateful_set(
        self,
        service_account: k8s.core.v1.ServiceAccount,
        config_map: k8s.core.v1.ConfigMap | None,
        job: k8s.batch.v1.Job | None,
    ) -> k8s.apps.v1.StatefulSet:
        svc, stateful = self._svc, self._svc.stateful
        assert stateful is not None
        default_class = DEFAULT_STORAGE_CLASS["gke" if self._args.context.creates_cluster else "existing"]
        claims = [
            k8s.core.v1.PersistentVolumeClaimArgs(
                # Claim templates are immutable: no version label, which changes with every image.
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=volume.name, labels={**self._selector, **self._args.context.labels}
                ),
                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                    access_modes=volume.access_modes,
                    # Unset on kind: the cluster's default class provisions it.
                    storage_class_name=volume.storage_class or default_class,
                    resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": volume.size}),
                ),
            )
            for volume in stateful.volumes
        ]
        return k8s.apps.v1.StatefulSet(
            f"{self._name}-statefulset",
            metadata=self._workload_metadata(svc.name, self._versioned),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=svc.headless_service_name,
                # An HPA (opted in) owns the count, as for a Deployment.
                replicas=None if svc.autoscaling is not None else svc.min_replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                pod_management_policy=stateful.pod_management_policy,
                update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateStatefulSetStrategyArgs(partition=stateful.partition),
                ),
                # Neither deleting the set nor scaling it down ever deletes a volume.
                persistent_volume_claim_retention_policy=k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted="Retain", when_scaled="Retain"
                ),
                revision_history_limit=svc.revision_history_limit,
                volume_claim_templates=claims,
                template=self._pod_spec(self._stable, service_account, config_map),
            ),
            opts=self._workload_options(job),
        )

    def _build_headless_service(self) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-headless",
            metadata=self._metadata(self._svc.headless_service_name),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                cluster_ip="None",
                selector=self._selector,
                # Peers must resolve each other before they are Ready (a quorum forming).
                publish_not_ready_addresses=True,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name=p.name, port=p.container_port, target_port=p.name, protocol=p.protocol
                    )
                    for p in self._svc.ports
                ],
            ),
            opts=self._k8s,
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
        labels = self._with_version(self._labels_for(job_name, "migration"))
        container = k8s.core.v1.ContainerArgs(
            name="migrate",
            image=svc.image,
            image_pull_policy=svc.pull_policy(self._args.context.environment),
            command=migration.command,
            env=self._pod.env(),
            env_from=self._pod.env_from(config_map),
            volume_mounts=self._pod.volume_mounts(),
            resources=self._pod.resources(),
            security_context=self._pod.container_security(),
        )
        # No spot toleration: a preemption half-way through a migration is worse than waiting for a node.
        pod = k8s.core.v1.PodSpecArgs(
            restart_policy="Never",
            service_account_name=service_account.metadata.apply(lambda meta: meta.name),
            automount_service_account_token=svc.service_account.automount_token,
            security_context=self._pod.pod_security(),
            containers=[container],
            volumes=self._pod.volumes(),
        )
        return k8s.batch.v1.Job(
            f"{self._name}-migrate",
            metadata=self._workload_metadata(job_name, labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=migration.backoff_limit,
                ttl_seconds_after_finished=migration.ttl_seconds_after_finished,
                active_deadline_seconds=migration.active_deadline_seconds,
                template=k8s.core.v1.PodTemplateSpecArgs(metadata=self._pod_metadata(labels), spec=pod),
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

    def _build_service(self, track: _Track) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}{track.suffix}-service",
            metadata=self._metadata(track.object_name, track.labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=track.selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name=p.name, port=p.effective_service_port, target_port=p.name, protocol=p.protocol
                    )
                    for p in self._svc.ports
                ],
            ),
            opts=self._k8s,
        )

    def _build_autoscaler(self, track: _Track) -> None:
        build_autoscaler(self._owner(track), self._args.monitoring is not None)

    def _build_disruption_budget(self, track: _Track) -> None:
        build_disruption_budget(self._owner(track))

    def _build_network_policy(self) -> None:
        build_network_policies(
            self._owner(None),
            PolicyPeers(self._args.edge, self._args.callers, self._args.callees, self._args.scrape_namespace),
            self._args.egress_cidrs,
        )

    def _owner(self, track: _Track | None) -> Owner:
        """What a companion object needs of this component: its names, metadata and options."""
        if track is None:
            return Owner(self, self._name, "", self._svc, self._svc.name, {}, {}, self._metadata, self._k8s)
        return Owner(
            self,
            self._name,
            track.suffix,
            self._svc,
            track.object_name,
            track.labels,
            track.selector,
            self._metadata,
            self._k8s,
        )

    def _build_service_monitor(self) -> None:
        metrics = self._svc.metrics
        if metrics is None or self._args.monitoring is None:
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
            # The ServiceMonitor CRD arrives with the CRD release, long before the monitoring stack.
            opts=pulumi.ResourceOptions.merge(
                self._k8s,
                pulumi.ResourceOptions(depends_on=[self._args.monitoring] if self._args.monitoring else []),
            ),
        )
