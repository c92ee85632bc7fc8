"""The pod a microservice runs: its container, security contexts, probes, volumes and placement.

`PodParts` turns one `ServiceConfig` into the pieces of a pod template that the Deployment and the
migration Job share: the container (env from literals, Secrets, ConfigMaps and the downward API;
envFrom; read-only mounts; requests and limits; probes with every timing stated; a native preStop
sleep; ephemeral storage requested and limited), the restricted security contexts, the `/tmp` scratch
volume, and the annotations that roll pods when a consumed Secret or ConfigMap changes.

Deliberately left out: where the pod runs (placement.py) and the objects themselves (microservice.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic.alias_generators import to_camel

from components.kube import content_checksum, restricted_container
from components.workloads.config import PROBE_DEFAULTS, SCRATCH_SIZE_LIMIT, Probe, ServiceConfig
from components.workloads.placement import Placement

# Owner and group may read mounted files (fsGroup makes the group ours); nobody may write.
READ_ONLY_FILE_MODE = 0o440


def to_dns_label(value: str, limit: int = 63) -> str:
    """`value` as a DNS-1123 label of at most `limit` characters; a hash keeps trimmed names distinct."""
    label = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", value.lower())).strip("-")
    if len(label) <= limit:
        return label
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{label[: limit - len(digest) - 1].rstrip('-')}-{digest}"


def _items(keys: list[str]) -> list[k8s.core.v1.KeyToPathArgs] | None:
    """A mount's chosen keys, each a file of its name; None mounts every key."""
    return [k8s.core.v1.KeyToPathArgs(key=key, path=key) for key in keys] or None


class PodParts:
    """The pod-template pieces of one service; `selector` is the labels its replicas share."""

    def __init__(
        self,
        svc: ServiceConfig,
        selector: Mapping[str, str],
        checksums: Mapping[str, pulumi.Output[str]],
        creates_cluster: bool,
        pull_policy: str,
        platform_env: Mapping[str, str] | None = None,
    ) -> None:
        self._svc = svc
        # Literal settings the platform adds (the OpenTelemetry SDK's); the service's own `env` overrides them.
        self._platform_env = {k: v for k, v in (platform_env or {}).items() if k not in svc.env}
        self._pull_policy = pull_policy
        # Where the pods run: node selector, tolerations, affinity, spread.
        self.placement = Placement(svc, selector, creates_cluster)
        # "secret/<name>" and "configmap/<name>" -> checksum of the content, for pod-template annotations.
        self._checksums = checksums

    def consumed_sources(self) -> list[tuple[str, str]]:
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

    def checksum_annotations(self) -> dict[str, pulumi.Input[str]]:
        checksums: dict[str, pulumi.Input[str]] = dict(self._checksums)
        if self._svc.config:
            # This component owns the service's own map, so it hashes it the way the shared maps are hashed.
            checksums[f"configmap/{self._svc.name}-config"] = content_checksum(self._svc.config)
        return {
            f"checksum/{to_dns_label(f'{kind}-{name}')}": checksums[f"{kind}/{name}"]
            for kind, name in self.consumed_sources()
        }

    def env(self) -> list[k8s.core.v1.EnvVarArgs]:
        # Grouped by source, literals first, so a rendered spec reads the same way every time; a literal
        # that expands another variable ('$(POD_NAME)') comes last, since Kubernetes expands only earlier ones.
        # The platform's settings (OpenTelemetry) lead the literals; the service's own `env` replaced any it sets.
        literals = [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in self._platform_env.items()]
        dependent: list[k8s.core.v1.EnvVarArgs] = []
        secrets, config_maps, fields = [], [], []
        for name, value in self._svc.env.items():
            if isinstance(value, str):
                (dependent if "$(" in value else literals).append(k8s.core.v1.EnvVarArgs(name=name, value=value))
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
        return [*literals, *secrets, *config_maps, *fields, *dependent]

    def env_from(self, config_map: k8s.core.v1.ConfigMap | None) -> list[k8s.core.v1.EnvFromSourceArgs]:
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

    def _scratch_paths(self) -> list[str]:
        return list(self._svc.stateful.scratch_paths) if self._svc.stateful is not None else []

    def volumes(self) -> list[k8s.core.v1.VolumeArgs]:
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=SCRATCH_SIZE_LIMIT)
            )
        ]
        volumes += [
            k8s.core.v1.VolumeArgs(
                name=f"scratch-{index}", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=SCRATCH_SIZE_LIMIT)
            )
            for index, _ in enumerate(self._scratch_paths())
        ]
        for index, mount in enumerate(self._svc.mounts):
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name=f"mount-{index}",
                    secret=(
                        k8s.core.v1.SecretVolumeSourceArgs(
                            secret_name=mount.secret, default_mode=READ_ONLY_FILE_MODE, items=_items(mount.keys)
                        )
                        if mount.secret
                        else None
                    ),
                    config_map=(
                        k8s.core.v1.ConfigMapVolumeSourceArgs(
                            name=mount.config_map, default_mode=READ_ONLY_FILE_MODE, items=_items(mount.keys)
                        )
                        if mount.config_map
                        else None
                    ),
                )
            )
        return volumes

    def volume_mounts(self) -> list[k8s.core.v1.VolumeMountArgs]:
        mounts = [k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")]
        mounts += [
            k8s.core.v1.VolumeMountArgs(name=f"mount-{index}", mount_path=mount.path, read_only=True)
            for index, mount in enumerate(self._svc.mounts)
        ]
        mounts += [
            k8s.core.v1.VolumeMountArgs(name=f"scratch-{index}", mount_path=path)
            for index, path in enumerate(self._scratch_paths())
        ]
        if self._svc.stateful is not None:
            # The volumeClaimTemplates' volumes, by claim name.
            mounts += [
                k8s.core.v1.VolumeMountArgs(name=volume.name, mount_path=volume.path)
                for volume in self._svc.stateful.volumes
            ]
        return mounts

    def resources(self) -> k8s.core.v1.ResourceRequirementsArgs:
        res = self._svc.effective_resources
        # Requested and limited alike: the scheduler reserves the disk, and a pod that writes more is
        # evicted alone instead of filling the node's disk and getting its neighbours evicted.
        scratch = self._svc.effective_ephemeral_storage
        return k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": res.requests.cpu, "memory": res.requests.memory, "ephemeral-storage": scratch},
            limits={"cpu": res.limits.cpu, "memory": res.limits.memory, "ephemeral-storage": scratch},
        )

    def container_security(self) -> k8s.core.v1.SecurityContextArgs:
        security = self._svc.security
        return restricted_container(security.run_as_user, security.run_as_group, security.read_only_root_filesystem)

    def pod_security(self) -> k8s.core.v1.PodSecurityContextArgs:
        security = self._svc.security
        return k8s.core.v1.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=security.run_as_user,
            run_as_group=security.run_as_group,
            fs_group=security.fs_group,
            # A large data volume is re-owned only when its root is not already ours.
            fs_group_change_policy="OnRootMismatch" if self._svc.stateful is not None else None,
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        )

    def probe(self, kind: Literal["startup", "liveness", "readiness"]) -> k8s.core.v1.ProbeArgs | None:
        probe: Probe | None = self._svc.probe(kind)
        if probe is None:
            return None

        def timing(field_name: str) -> int:
            # Unset timings take seed 002's defaults, so every probe states all five.
            value: int | None = getattr(probe, field_name)
            return value if value is not None else PROBE_DEFAULTS[kind][to_camel(field_name)]

        http_get = tcp_socket = exec_ = None
        if probe.http_get is not None:
            port = self.port_name(probe.http_get.port)
            scheme = probe.http_get.scheme if probe.http_get.scheme != "HTTP" else None
            http_get = k8s.core.v1.HTTPGetActionArgs(path=probe.http_get.path, port=port, scheme=scheme)
        elif probe.tcp_socket is not None:
            tcp_socket = k8s.core.v1.TCPSocketActionArgs(port=self.port_name(probe.tcp_socket.port))
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

    def port_name(self, ref: int | str) -> str:
        port = self._svc.port(ref)
        assert port is not None  # validated on load: probes name declared ports
        return port.name

    def container(self, config_map: k8s.core.v1.ConfigMap | None) -> k8s.core.v1.ContainerArgs:
        svc = self._svc
        pre_stop = svc.shutdown.pre_stop_sleep_seconds
        return k8s.core.v1.ContainerArgs(
            name=svc.name,
            image=svc.image,
            image_pull_policy=self._pull_policy,
            command=svc.command,
            args=svc.args,
            ports=[
                k8s.core.v1.ContainerPortArgs(name=p.name, container_port=p.container_port, protocol=p.protocol)
                for p in svc.ports
            ],
            env=self.env(),
            env_from=self.env_from(config_map),
            volume_mounts=self.volume_mounts(),
            resources=self.resources(),
            startup_probe=self.probe("startup"),
            liveness_probe=self.probe("liveness"),
            readiness_probe=self.probe("readiness"),
            # The native sleep action needs no shell, so it works in distroless images.
            lifecycle=(
                k8s.core.v1.LifecycleArgs(
                    pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=pre_stop))
                )
                if pre_stop > 0
                else None
            ),
            security_context=self.container_security(),
        )

    def pod_annotations(self) -> dict[str, pulumi.Input[str]]:
        # No prometheus.io/* annotations: nothing reads them. The ServiceMonitor scrapes the metrics
        # port; an annotation-driven job as well would scrape every pod twice (docs/observability.md, "One Prometheus").
        annotations: dict[str, pulumi.Input[str]] = {}
        annotations.update(self.checksum_annotations())
        return annotations
