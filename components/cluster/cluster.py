"""The cluster the platform runs on, and the explicit Kubernetes provider every object goes through.

Three modes, from `cluster.mode`:
- `gke` (staging, production): the network (network.py), the node identity and node pools
  (node_pool.py) and a hardened, private, VPC-native GKE Standard cluster in the spirit of
  terraform-google-kubernetes-engine's `safer-cluster`: default pool removed, Workload Identity,
  Dataplane V2, shielded nodes, no legacy ABAC or client certificate, Binary Authorization on
  request. The control plane is reached through its IAM-gated DNS endpoint (container.clusters.connect)
  while its IP endpoint stays private, or public behind masterAuthorizedNetworks, as
  `cluster.controlPlane` says. GKE's current guard rails come from config with safe defaults: the
  standard security posture, FQDN network policies, the Secret Manager add-on and, on every pool,
  the kubelet read-only port closed. Pools that name a `computeClass` get a GKE ComputeClass
  over them (compute_class.py): Spot first, on-demand when Spot runs out, back to Spot when it
  returns. The provider's kubeconfig is built from the cluster's outputs
  and targets the DNS endpoint when it is on (kubeconfig.py).
  Production's cluster has deletion protection and is `protect`ed in Pulumi; dev and staging's
  are not, so those environments can be torn down.
- `autopilot`: the same network, private cluster, DNS endpoint, Workload Identity, release channel,
  maintenance window, Binary Authorization, security posture and Secret Manager add-on, on a GKE
  Autopilot cluster (`enable_autopilot`): no node pools (Google creates nodes per pod, as the
  platform's node account), and the node-level settings Autopilot fixes itself left unset (Dataplane
  V2, shielded nodes, the kubelet read-only port, legacy ABAC, client certificates).
- `existing` (dev): no GCP resource at all; the provider targets the kubeconfig file and context
  named in config (a kind or minikube cluster), never the ambient current context.

`.ready` holds the node pools: every Kubernetes object waits for them, so nothing is created into a
cluster without nodes.

Deliberately left out: application-layer Secrets encryption with Cloud KMS, a
private-endpoint bastion, fleet registration, node auto-provisioning, and workload vulnerability
scanning: GKE shut down its standard tier on 2025-07-31 and its advanced tier on 2026-06-16, so
`vulnerabilityMode` is written as VULNERABILITY_DISABLED (scan images in Artifact Registry instead).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.cluster.compute_class import ComputeClasses
from components.cluster.config import ClusterConfig, NetworkConfig, NodePoolConfig, compute_classes
from components.cluster.kubeconfig import gke_kubeconfig
from components.cluster.network import PODS_RANGE, SERVICES_RANGE, Network
from components.cluster.node_pool import (
    KUBELET_READ_ONLY_PORT,
    NODE_SCOPES,
    NodePool,
    NodePoolArgs,
    NodeServiceAccount,
    default_pool_node_config,
)
from components.context import Context
from components.kube import workload_pool

# Logs from system components and workloads. (Workload *metrics* come through Managed Service for
# Prometheus: the monitoring WORKLOADS component was removed in GKE 1.24.)
LOGGING_COMPONENTS = ["SYSTEM_COMPONENTS", "WORKLOADS"]
MONITORING_COMPONENTS = ["SYSTEM_COMPONENTS"]
# Both tiers of GKE's workload vulnerability scanning are shut down; enabling either is refused.
VULNERABILITY_MODE = "VULNERABILITY_DISABLED"
# The provider's enablePatchForce input, always given: left out, the SDK fills it in from the environment's
# PULUMI_K8S_ENABLE_PATCH_FORCE, so the forced recovering up (docs/operations.md) would record it and the
# next up would report a provider change. The provider itself forces by that variable alone
# (pkg/await/await.go patchForce reads it from its environment, not this input), so the recovery still forces.
PATCH_FORCE_INPUT = False


@dataclass(frozen=True)
class ClusterArgs:
    cluster: ClusterConfig
    network: NetworkConfig
    node_pools: Sequence[NodePoolConfig]
    context: Context
    # Enable the Backup for GKE agent add-on (a BackupPlan protects the data namespaces).
    backup_agent: bool = False
    # A regional Gateway class's Envoy proxies need the region's proxy-only subnet (traffic domain).
    proxy_only_subnet: bool = False


def _addons_config(dataplane_v2: bool, backup_agent: bool) -> gcp.container.ClusterAddonsConfigArgs | None:
    """Calico's network policy add-on without Dataplane V2; the Backup for GKE agent when data is backed up."""
    if dataplane_v2 and not backup_agent:
        return None
    return gcp.container.ClusterAddonsConfigArgs(
        network_policy_config=None
        if dataplane_v2
        else gcp.container.ClusterAddonsConfigNetworkPolicyConfigArgs(disabled=False),
        gke_backup_agent_config=gcp.container.ClusterAddonsConfigGkeBackupAgentConfigArgs(enabled=True)
        if backup_agent
        else None,
    )


def _autopilot_node_identity(email: pulumi.Input[str]) -> gcp.container.ClusterClusterAutoscalingArgs:
    """The nodes Autopilot creates run as the platform's least-privilege node account, not the default one."""
    return gcp.container.ClusterClusterAutoscalingArgs(
        auto_provisioning_defaults=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsArgs(
            service_account=email, oauth_scopes=NODE_SCOPES
        )
    )


class Cluster(pulumi.ComponentResource):
    # The VPC and subnets (gke mode): a regional internal Gateway takes its address from the subnet;
    # managed data services attach to the VPC and the node subnet privately.
    network: Network | None = None
    provider: k8s.Provider
    cluster_id: pulumi.Output[str] | None = None
    ready: list[pulumi.Resource]
    outputs: dict[str, Any]
    # Config pool name -> GKE's name for it (gke mode).
    pool_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:Cluster", name, None, opts)
        if args.context.creates_cluster:
            self._build_gke(name, args)
        else:
            self._build_existing(name, args.cluster, args.node_pools, args.context.labels)
        self.register_outputs(self.outputs)

    def _build_existing(
        self, name: str, cluster: ClusterConfig, node_pools: Sequence[NodePoolConfig], labels: dict[str, str]
    ) -> None:
        self.provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(
                # Both explicit: the ambient KUBECONFIG or current context must never pick the target.
                kubeconfig=os.path.expanduser(cluster.kubeconfig),
                context=cluster.context,
                enable_patch_force=PATCH_FORCE_INPUT,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready = []
        # Pools a stack describes on an existing cluster keep their own names (the e2e harness's kwok pools).
        self.pool_names = {pool.name: pulumi.Output.from_input(pool.name) for pool in node_pools}
        self.outputs = {"clusterContext": cluster.context}
        classes = compute_classes(list(node_pools))
        if classes:
            # nodePools here describe the existing cluster's pools, by their own names (already labelled and tainted).
            compute = ComputeClasses(
                f"{name}-compute-classes",
                classes,
                {pool.name: pool.name for pool in node_pools},
                labels,
                self.provider,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.ready = list(compute.objects.values())

    def _build_gke(self, name: str, args: ClusterArgs) -> None:
        project = args.context.project
        assert project is not None, "config validation requires gcp:project in gke mode"
        child = pulumi.ResourceOptions(parent=self)

        network = Network(
            f"{name}-network", args.network, args.cluster, args.context, args.proxy_only_subnet, opts=child
        )
        self.network = network
        node_identity = NodeServiceAccount(f"{name}-nodes", args.cluster.name, project, opts=child)
        cluster = self._build_cluster(name, args, project, network, node_identity)
        pools = [
            NodePool(
                f"{name}-{pool.name}",
                NodePoolArgs(
                    pool=pool,
                    project=project,
                    location=args.cluster.location,
                    cluster=cluster.name,
                    service_account=node_identity.account.email,
                    depends_on=[*node_identity.bindings, network.nat],
                ),
                opts=child,
            )
            for pool in args.node_pools
        ]

        dns_endpoint = self._dns_endpoint(cluster) if args.cluster.control_plane.dns_endpoint else None
        kubeconfig = gke_kubeconfig(
            project,
            args.cluster.location,
            cluster.name,
            cluster.endpoint,
            cluster.master_auth.cluster_ca_certificate,
            dns_endpoint=dns_endpoint,
        )
        self.provider = k8s.Provider(
            f"{name}-k8s", k8s.ProviderArgs(kubeconfig=kubeconfig, enable_patch_force=PATCH_FORCE_INPUT), opts=child
        )
        self.ready = [pool.node_pool for pool in pools]
        # GKE's pool names carry a generated suffix: a ComputeClass and the headroom placeholders name them.
        self.pool_names = {
            config.name: pool.node_pool.name for config, pool in zip(args.node_pools, pools, strict=True)
        }
        classes = compute_classes(list(args.node_pools))
        if classes:
            compute = ComputeClasses(
                f"{name}-compute-classes", classes, self.pool_names, args.context.labels, self.provider, opts=child
            )
            # A pod that selects a class must find it: everything scheduled waits for the classes too.
            self.ready += list(compute.objects.values())
        # projects/<p>/locations/<l>/clusters/<name>: what a Backup for GKE plan names.
        self.cluster_id = cluster.id
        self.outputs = {
            "clusterName": cluster.name,
            "clusterLocation": cluster.location,
            "clusterEndpoint": cluster.endpoint,
            **({"clusterDnsEndpoint": dns_endpoint} if dns_endpoint is not None else {}),
            "kubeconfig": kubeconfig,
            "nodePoolNames": pulumi.Output.all(*[pool.node_pool.name for pool in pools]),
            "nodeServiceAccountEmail": node_identity.account.email,
        }

    @staticmethod
    def _dns_endpoint(cluster: gcp.container.Cluster) -> pulumi.Output[str]:
        """The cluster's DNS name (`gke-<id>.<region>.gke.goog`), known once GKE created it."""

        def endpoint(config: Any) -> str:
            dns = config.dns_endpoint_config if config is not None else None
            if dns is None or not dns.endpoint:
                # GKE reports one for every cluster; its absence means stale state, and the IP endpoint may be private.
                raise ValueError(
                    "GKE reported no DNS endpoint although cluster.controlPlane.dnsEndpoint is on; "
                    "run `pulumi refresh` and try again"
                )
            return str(dns.endpoint)

        return cluster.control_plane_endpoints_config.apply(endpoint)

    def _build_cluster(
        self,
        name: str,
        args: ClusterArgs,
        project: str,
        network: Network,
        node_identity: NodeServiceAccount,
    ) -> gcp.container.Cluster:
        settings, context = args.cluster, args.context
        window, access = settings.maintenance_window, settings.control_plane
        standard = not settings.autopilot
        return gcp.container.Cluster(
            f"{name}-gke",
            gcp.container.ClusterArgs(
                project=project,
                name=settings.name,
                location=settings.location,
                description=f"{context.app} platform, {context.environment}",
                resource_labels={"environment": context.environment, "managed-by": "pulumi"},
                deletion_protection=context.is_production,
                # Pools are separate NodePool resources; GKE still needs a first pool, deleted at once.
                # Autopilot has no pools: Google creates nodes per pod, as the node identity below.
                remove_default_node_pool=True if standard else None,
                initial_node_count=1 if standard else None,
                node_config=default_pool_node_config(node_identity.account.email) if standard else None,
                enable_autopilot=True if not standard else None,
                cluster_autoscaling=None if standard else _autopilot_node_identity(node_identity.account.email),
                network=network.vpc.self_link,
                subnetwork=network.subnet.self_link,
                networking_mode="VPC_NATIVE",
                ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                    cluster_secondary_range_name=PODS_RANGE,
                    services_secondary_range_name=SERVICES_RANGE,
                ),
                private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                    enable_private_nodes=True,
                    enable_private_endpoint=access.ip_endpoint == "private",
                    master_ipv4_cidr_block=settings.master_ipv4_cidr,
                ),
                control_plane_endpoints_config=gcp.container.ClusterControlPlaneEndpointsConfigArgs(
                    dns_endpoint_config=gcp.container.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                        # On: any network may resolve and call it; IAM (container.clusters.connect) decides who gets in.
                        allow_external_traffic=access.dns_endpoint,
                        # Only Google identities pass the DNS endpoint, never Kubernetes tokens or certificates.
                        enable_k8s_tokens_via_dns=False,
                        enable_k8s_certs_via_dns=False,
                    ),
                    # The IP endpoint stays for nodes and in-VPC callers; ipEndpoint decides whether it is also public.
                    ip_endpoints_config=gcp.container.ClusterControlPlaneEndpointsConfigIpEndpointsConfigArgs(
                        enabled=True
                    ),
                ),
                # Always on: an empty list lets no outside network reach the control plane.
                master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                    cidr_blocks=[
                        gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                            cidr_block=authorized.cidr_block, display_name=authorized.display_name
                        )
                        for authorized in settings.master_authorized_networks
                    ],
                    gcp_public_cidrs_access_enabled=False,
                ),
                workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                    workload_pool=workload_pool(project)
                ),
                release_channel=gcp.container.ClusterReleaseChannelArgs(channel=settings.release_channel),
                # GKE's managed Gateway controller and the Gateway API CRDs at their standard channel.
                gateway_api_config=gcp.container.ClusterGatewayApiConfigArgs(channel="CHANNEL_STANDARD"),
                maintenance_policy=gcp.container.ClusterMaintenancePolicyArgs(
                    recurring_window=gcp.container.ClusterMaintenancePolicyRecurringWindowArgs(
                        start_time=window.start_time, end_time=window.end_time, recurrence=window.recurrence
                    )
                ),
                # Dataplane V2 (eBPF) enforces NetworkPolicy itself; without it Calico must, or policies do nothing.
                # (Autopilot always runs Dataplane V2 and sets it itself.)
                datapath_provider=None
                if not standard
                else ("ADVANCED_DATAPATH" if settings.dataplane_v2 else "LEGACY_DATAPATH"),
                network_policy=None
                if settings.dataplane_v2 or not standard
                else gcp.container.ClusterNetworkPolicyArgs(enabled=True, provider="CALICO"),
                enable_fqdn_network_policy=settings.fqdn_network_policy,
                addons_config=_addons_config(settings.dataplane_v2 or not standard, args.backup_agent),
                security_posture_config=gcp.container.ClusterSecurityPostureConfigArgs(
                    mode=settings.security_posture, vulnerability_mode=VULNERABILITY_MODE
                ),
                # Explicitly false when off, so switching it off later really removes the add-on.
                secret_manager_config=gcp.container.ClusterSecretManagerConfigArgs(enabled=settings.secret_manager),
                # Pools created outside this program (or by GKE) start with the read-only port closed too.
                # (Autopilot manages its nodes' kubelet, shielded boot, ABAC and certificates itself: left unset.)
                node_pool_defaults=gcp.container.ClusterNodePoolDefaultsArgs(
                    node_config_defaults=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsArgs(
                        insecure_kubelet_readonly_port_enabled=KUBELET_READ_ONLY_PORT[False]
                    )
                )
                if standard
                else None,
                enable_shielded_nodes=True if standard else None,
                enable_legacy_abac=False if standard else None,
                master_auth=gcp.container.ClusterMasterAuthArgs(
                    client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                        issue_client_certificate=False
                    )
                )
                if standard
                else None,
                logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=LOGGING_COMPONENTS),
                monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                    enable_components=MONITORING_COMPONENTS,
                    # One Prometheus: kube-prometheus-stack (observability/monitoring.py) collects; managed collection
                    # would scrape the same targets again and bill per sample (docs/observability.md, "One Prometheus").
                    managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=False),
                ),
                # Explicitly DISABLED when off, so switching it off later really turns enforcement off.
                binary_authorization=gcp.container.ClusterBinaryAuthorizationArgs(
                    evaluation_mode="PROJECT_SINGLETON_POLICY_ENFORCE" if settings.binary_authorization else "DISABLED"
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=context.is_production,
                depends_on=node_identity.bindings,
                # nodeConfig shapes only the deleted default pool; GKE later reports a real pool's here.
                ignore_changes=["nodeConfig"],
            ),
        )
