"""The cluster's network: a custom-mode VPC, one regional subnet and Cloud NAT for private nodes.

Manages:
- the VPC, with no auto-created subnets, so every range in it comes from config;
- the subnet in the cluster's region, with secondary ranges for pods and services (VPC-native
  GKE), Private Google Access (private nodes reach Google APIs without NAT) and flow logs;
- a Cloud Router with Cloud NAT (auto-allocated addresses, errors logged) so private nodes can
  pull images and reach the internet without external IPs.

Deliberately left out: firewall rules (GKE creates the control-plane-to-node rules it needs and the
VPC denies all other ingress), Shared VPC, IPv6, reserved NAT addresses and peering. CIDR overlaps
are rejected by config validation, before anything is registered.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.cluster.config import ClusterConfig, NetworkConfig
from components.context import Context

# Secondary range names on the subnet; the cluster's ip_allocation_policy refers to them.
PODS_RANGE = "pods"
SERVICES_RANGE = "services"


class Network(pulumi.ComponentResource):
    vpc: gcp.compute.Network
    subnet: gcp.compute.Subnetwork
    router: gcp.compute.Router
    nat: gcp.compute.RouterNat

    def __init__(
        self,
        name: str,
        ranges: NetworkConfig,
        cluster: ClusterConfig,
        context: Context,
        proxy_only_subnet: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = context.project
        region = cluster.region
        # Named after the cluster: readable in the console, and unique per project like the cluster.
        prefix = cluster.name

        self.vpc = gcp.compute.Network(
            f"{name}-vpc",
            gcp.compute.NetworkArgs(
                project=project,
                name=f"{prefix}-vpc",
                description=f"VPC of GKE cluster {cluster.name} ({context.environment})",
                # Custom mode: no subnet in every region with ranges nobody chose.
                auto_create_subnetworks=False,
                routing_mode="REGIONAL",
            ),
            opts=child,
        )
        self.subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            gcp.compute.SubnetworkArgs(
                project=project,
                name=f"{prefix}-nodes",
                region=region,
                network=self.vpc.id,
                ip_cidr_range=ranges.subnet_cidr,
                secondary_ip_ranges=[
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE, ip_cidr_range=ranges.pods_cidr),
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(
                        range_name=SERVICES_RANGE, ip_cidr_range=ranges.services_cidr
                    ),
                ],
                # Private nodes reach Google APIs (Artifact Registry, logging) on internal addresses.
                private_ip_google_access=True,
                log_config=gcp.compute.SubnetworkLogConfigArgs(
                    aggregation_interval="INTERVAL_5_SEC",
                    flow_sampling=ranges.flow_log_sampling,
                    metadata="INCLUDE_ALL_METADATA",
                ),
            ),
            opts=child,
        )
        self.proxy_subnet: gcp.compute.Subnetwork | None = None
        if proxy_only_subnet:
            # Regional Envoy-based load balancers (regional Gateway classes) run their proxies here.
            self.proxy_subnet = gcp.compute.Subnetwork(
                f"{name}-proxy-only-subnet",
                gcp.compute.SubnetworkArgs(
                    project=project,
                    name=f"{prefix}-proxy-only",
                    region=region,
                    network=self.vpc.id,
                    ip_cidr_range=ranges.proxy_only_cidr,
                    purpose="REGIONAL_MANAGED_PROXY",
                    role="ACTIVE",
                ),
                opts=child,
            )
        self.router = gcp.compute.Router(
            f"{name}-router",
            gcp.compute.RouterArgs(project=project, name=f"{prefix}-router", region=region, network=self.vpc.id),
            opts=child,
        )
        self.nat = gcp.compute.RouterNat(
            f"{name}-nat",
            gcp.compute.RouterNatArgs(
                project=project,
                name=f"{prefix}-nat",
                region=region,
                router=self.router.name,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            ),
            opts=child,
        )
        self.register_outputs(
            {"network": self.vpc.self_link, "subnetwork": self.subnet.self_link, "router": self.router.name}
        )
