"""The GKE cluster, the explicit Kubernetes provider and the cluster outputs, per stack."""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from typing import Any

import pytest
from harness import ProgramRun, Registration, assert_rejected, is_secret_value, rejected, run_program, stack_config

CLUSTER = "gcp:container/cluster:Cluster"
PROVIDER = "pulumi:providers:kubernetes"
MOCK_ENDPOINT = "203.0.113.10"
MOCK_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMOCK\n").decode()
EXPECTED = {
    "staging": {
        "project": "acme-shop-staging",
        "name": "shop-staging",
        "location": "europe-west1-b",
        "masterCidr": "172.16.0.16/28",
        "channel": "REGULAR",
    },
    "production": {
        "project": "acme-shop-prod",
        "name": "shop-production",
        "location": "europe-west1",
        "masterCidr": "172.16.0.32/28",
        "channel": "STABLE",
    },
}


def cluster(run: ProgramRun) -> Registration:
    return run.one(CLUSTER)


def provider(run: ProgramRun) -> Registration:
    return run.one(PROVIDER, "shop-cluster-k8s")


def kubeconfig(run: ProgramRun) -> dict[str, Any]:
    value = provider(run).inputs["kubeconfig"]
    assert is_secret_value(value)
    parsed: dict[str, Any] = json.loads(value["value"])
    return parsed


OFFICE_VPN = {"cidrBlock": "198.51.100.0/24", "displayName": "office-vpn"}
# What GKE reports for every cluster's DNS endpoint; the mock derives the id from the resource.
DNS_ENDPOINT = re.compile(r"gke-[0-9a-f]{32}\.europe-west1\.gke\.goog")


def staging_with(**cluster: Any) -> dict[str, Any]:
    """Staging's config with `cluster` keys replaced."""
    config = stack_config("staging")
    config["platform:cluster"] = {**config["platform:cluster"], **cluster}
    return config


@functools.cache
def default_channel_run() -> ProgramRun:
    """Staging with the release channel left to default."""
    config = staging_with()
    del config["platform:cluster"]["releaseChannel"]
    return run_program("staging", config)


@functools.cache
def public_ip_run() -> ProgramRun:
    """Staging whose IP endpoint is also public, behind the office network; the DNS endpoint stays on."""
    return run_program(
        "staging", staging_with(controlPlane={"ipEndpoint": "public"}, masterAuthorizedNetworks=[OFFICE_VPN])
    )


@functools.cache
def ip_only_run() -> ProgramRun:
    """Staging reached only over its public IP endpoint, from the office network: no DNS endpoint."""
    return run_program(
        "staging",
        staging_with(
            controlPlane={"dnsEndpoint": False, "ipEndpoint": "public"}, masterAuthorizedNetworks=[OFFICE_VPN]
        ),
    )


@functools.cache
def relaxed_run() -> ProgramRun:
    """Staging with every switchable guard rail switched off, and Calico instead of Dataplane V2."""
    return run_program(
        "staging",
        staging_with(securityPosture="DISABLED", dataplaneV2=False, fqdnNetworkPolicy=False, secretManager=False),
    )


# --------------------------------------------------------------------------- the cluster


def test_the_cluster_is_named_and_placed_from_config(gke_run: ProgramRun) -> None:
    expected = EXPECTED[gke_run.stack]
    inputs = cluster(gke_run).inputs
    assert inputs["name"] == expected["name"]
    assert inputs["location"] == expected["location"]
    assert inputs["project"] == expected["project"]


def test_the_default_node_pool_is_removed(gke_run: ProgramRun) -> None:
    registered = cluster(gke_run)
    assert registered.inputs["removeDefaultNodePool"] is True
    assert registered.inputs["initialNodeCount"] == 1.0
    assert "nodePools" not in registered.inputs
    # The short-lived default pool GKE creates first never runs as the default compute account...
    account = f"{EXPECTED[gke_run.stack]['name']}-nodes@{EXPECTED[gke_run.stack]['project']}.iam.gserviceaccount.com"
    assert registered.inputs["nodeConfig"] == {
        "serviceAccount": account,
        "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
        "imageType": "COS_CONTAINERD",
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        "kubeletConfig": {"insecureKubeletReadonlyPortEnabled": "FALSE"},
    }
    # ...and GKE's later report of a real pool there must not replace the cluster.
    assert registered.ignore_changes == ("nodeConfig",)


def test_the_cluster_is_vpc_native_on_the_subnet_ranges(gke_run: ProgramRun) -> None:
    inputs = cluster(gke_run).inputs
    subnet = gke_run.one("gcp:compute/subnetwork:Subnetwork")
    vpc = gke_run.one("gcp:compute/network:Network")
    assert inputs["networkingMode"] == "VPC_NATIVE"
    assert inputs["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "services",
    }
    assert [r["rangeName"] for r in subnet.inputs["secondaryIpRanges"]] == ["pods", "services"]
    assert inputs["network"].endswith(f"/{vpc.name}")
    assert inputs["subnetwork"].endswith(f"/{subnet.name}")
    assert {vpc.urn, subnet.urn} <= set(cluster(gke_run).dependencies)


def test_nodes_are_private_and_the_ip_endpoint_is_private_by_default(gke_run: ProgramRun) -> None:
    assert cluster(gke_run).inputs["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterIpv4CidrBlock": EXPECTED[gke_run.stack]["masterCidr"],
    }


def test_the_dns_endpoint_is_on_and_admits_only_google_identities(gke_run: ProgramRun) -> None:
    assert cluster(gke_run).inputs["controlPlaneEndpointsConfig"] == {
        "dnsEndpointConfig": {
            "allowExternalTraffic": True,
            "enableK8sTokensViaDns": False,
            "enableK8sCertsViaDns": False,
        },
        "ipEndpointsConfig": {"enabled": True},
    }


def test_no_authorized_networks_means_no_outside_network_reaches_the_ip_endpoint(gke_run: ProgramRun) -> None:
    assert cluster(gke_run).inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [],
        "gcpPublicCidrsAccessEnabled": False,
    }


def test_the_ip_endpoint_can_also_be_public_behind_the_authorized_networks() -> None:
    inputs = cluster(public_ip_run()).inputs
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "198.51.100.0/24", "displayName": "office-vpn"}],
        "gcpPublicCidrsAccessEnabled": False,
    }
    assert inputs["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is True


def test_the_dns_endpoint_can_be_switched_off() -> None:
    inputs = cluster(ip_only_run()).inputs
    assert inputs["controlPlaneEndpointsConfig"]["dnsEndpointConfig"] == {
        "allowExternalTraffic": False,
        "enableK8sTokensViaDns": False,
        "enableK8sCertsViaDns": False,
    }
    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False


def test_workload_identity_uses_the_project_pool(gke_run: ProgramRun) -> None:
    assert cluster(gke_run).inputs["workloadIdentityConfig"] == {
        "workloadPool": f"{EXPECTED[gke_run.stack]['project']}.svc.id.goog"
    }


def test_the_release_channel_comes_from_config(gke_run: ProgramRun) -> None:
    assert cluster(gke_run).inputs["releaseChannel"] == {"channel": EXPECTED[gke_run.stack]["channel"]}


def test_the_release_channel_defaults_to_regular() -> None:
    assert cluster(default_channel_run()).inputs["releaseChannel"] == {"channel": "REGULAR"}


def test_maintenance_happens_in_the_default_weekend_window(gke_run: ProgramRun) -> None:
    assert cluster(gke_run).inputs["maintenancePolicy"] == {
        "recurringWindow": {
            "startTime": "2025-01-04T02:00:00Z",
            "endTime": "2025-01-04T08:00:00Z",
            "recurrence": "FREQ=WEEKLY;BYDAY=SA,SU",
        }
    }


def test_dataplane_v2_shielded_nodes_no_legacy_abac_no_client_certificate(gke_run: ProgramRun) -> None:
    inputs = cluster(gke_run).inputs
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert inputs["enableShieldedNodes"] is True
    assert inputs["enableLegacyAbac"] is False
    assert inputs["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    # Dataplane V2 enforces NetworkPolicy itself; the Calico add-on must not be switched on too.
    assert "networkPolicy" not in inputs


def test_the_guard_rails_are_on(gke_run: ProgramRun) -> None:
    inputs = cluster(gke_run).inputs
    # GKE's standard posture tier; both tiers of workload vulnerability scanning are shut down.
    assert inputs["securityPostureConfig"] == {"mode": "BASIC", "vulnerabilityMode": "VULNERABILITY_DISABLED"}
    assert inputs["enableFqdnNetworkPolicy"] is True
    assert inputs["secretManagerConfig"] == {"enabled": True}
    assert inputs["nodePoolDefaults"] == {"nodeConfigDefaults": {"insecureKubeletReadonlyPortEnabled": "FALSE"}}
    assert "addonsConfig" not in inputs


def test_the_guard_rails_can_be_switched_off_and_calico_then_enforces_network_policy() -> None:
    inputs = cluster(relaxed_run()).inputs
    assert inputs["securityPostureConfig"] == {"mode": "DISABLED", "vulnerabilityMode": "VULNERABILITY_DISABLED"}
    assert inputs["enableFqdnNetworkPolicy"] is False
    # Written as disabled, so switching it off on a live cluster really removes the add-on.
    assert inputs["secretManagerConfig"] == {"enabled": False}
    assert inputs["datapathProvider"] == "LEGACY_DATAPATH"
    assert inputs["networkPolicy"] == {"enabled": True, "provider": "CALICO"}
    assert inputs["addonsConfig"] == {"networkPolicyConfig": {"disabled": False}}


def test_system_and_workload_logs_and_system_metrics_are_collected(gke_run: ProgramRun) -> None:
    inputs = cluster(gke_run).inputs
    assert inputs["loggingConfig"] == {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]}
    # One Prometheus: kube-prometheus-stack collects, so GKE's managed collection is off.
    assert inputs["monitoringConfig"] == {
        "enableComponents": ["SYSTEM_COMPONENTS"],
        "managedPrometheus": {"enabled": False},
    }


def test_the_cluster_is_labelled_with_environment_and_manager(gke_run: ProgramRun) -> None:
    assert cluster(gke_run).inputs["resourceLabels"] == {"environment": gke_run.stack, "managed-by": "pulumi"}


def test_binary_authorization_is_enforced_only_where_config_asks(staging: ProgramRun, production: ProgramRun) -> None:
    assert cluster(production).inputs["binaryAuthorization"] == {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}
    assert cluster(staging).inputs["binaryAuthorization"] == {"evaluationMode": "DISABLED"}


def test_the_production_cluster_is_protected_twice(production: ProgramRun) -> None:
    registered = cluster(production)
    assert registered.protect is True
    assert registered.inputs["deletionProtection"] is True


def test_the_staging_cluster_can_be_torn_down(staging: ProgramRun) -> None:
    registered = cluster(staging)
    assert registered.protect is False
    assert registered.inputs["deletionProtection"] is False


# --------------------------------------------------------------------------- the Kubernetes provider


def test_the_provider_kubeconfig_is_a_secret_that_targets_the_dns_endpoint(gke_run: ProgramRun) -> None:
    expected = EXPECTED[gke_run.stack]
    context = f"gke_{expected['project']}_{expected['location']}_{expected['name']}"
    dns_endpoint = gke_run.outputs["clusterDnsEndpoint"]
    assert DNS_ENDPOINT.fullmatch(dns_endpoint)
    config = kubeconfig(gke_run)
    assert config["current-context"] == context
    # Google's front end serves a publicly trusted certificate: no cluster CA is pinned.
    assert config["clusters"] == [{"name": context, "cluster": {"server": f"https://{dns_endpoint}"}}]
    assert config["contexts"] == [{"name": context, "context": {"cluster": context, "user": context}}]
    assert cluster(gke_run).urn in provider(gke_run).dependencies


def test_without_the_dns_endpoint_the_kubeconfig_targets_the_ip_endpoint_and_pins_the_ca() -> None:
    run = ip_only_run()
    context = "gke_acme-shop-staging_europe-west1-b_shop-staging"
    assert kubeconfig(run)["clusters"] == [
        {"name": context, "cluster": {"server": f"https://{MOCK_ENDPOINT}", "certificate-authority-data": MOCK_CA}}
    ]
    assert "clusterDnsEndpoint" not in run.outputs


def test_the_provider_authenticates_with_the_gcloud_plugin(gke_run: ProgramRun) -> None:
    (user,) = kubeconfig(gke_run)["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "gke-gcloud-auth-plugin"
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["provideClusterInfo"] is True
    assert exec_["interactiveMode"] == "Never"
    assert set(user["user"]) == {"exec"}


def test_the_gke_provider_never_names_an_ambient_context(gke_run: ProgramRun) -> None:
    assert set(provider(gke_run).inputs) == {"kubeconfig", "enablePatchForce"}


def test_the_dev_provider_targets_the_configured_file_and_context(dev: ProgramRun) -> None:
    inputs = provider(dev).inputs
    assert inputs == {
        "kubeconfig": os.path.expanduser("~/.kube/config"),
        "context": "kind-platform",
        # A provider's inputs reach the engine as strings.
        "enablePatchForce": "false",
    }
    assert not inputs["kubeconfig"].startswith("~")


def test_the_forced_recovering_up_leaves_the_provider_inputs_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    # docs/operations.md's recovery runs one up with PULUMI_K8S_ENABLE_PATCH_FORCE=true. The SDK would record it
    # as the provider's input (a provider change on the next up) unless the program gives the input itself.
    monkeypatch.setenv("PULUMI_K8S_ENABLE_PATCH_FORCE", "true")
    for stack in ("dev", "production"):
        assert provider(run_program(stack)).inputs["enablePatchForce"] == "false", stack


def test_every_kubernetes_object_goes_through_the_cluster_provider(run: ProgramRun) -> None:
    urn = provider(run).urn
    kubernetes = [r for r in run.resources if r.type.startswith("kubernetes:")]
    assert kubernetes
    assert [r.name for r in kubernetes if r.provider.rsplit("::", 1)[0] != urn] == []


def test_namespaces_and_releases_wait_for_every_node_pool(gke_run: ProgramRun) -> None:
    pools = {r.urn for r in gke_run.of_type("gcp:container/nodePool:NodePool")}
    assert len(pools) == 2
    waiting = [*gke_run.k8s("Namespace"), *(r for r in gke_run.resources if r.type.startswith("kubernetes:helm"))]
    assert waiting
    assert [r.name for r in waiting if not pools <= set(r.dependencies)] == []


# --------------------------------------------------------------------------- outputs


def test_gke_stacks_export_the_cluster_outputs(gke_run: ProgramRun) -> None:
    expected = EXPECTED[gke_run.stack]
    outputs = gke_run.outputs
    assert outputs["clusterName"] == expected["name"]
    assert outputs["clusterLocation"] == expected["location"]
    assert outputs["clusterEndpoint"] == MOCK_ENDPOINT
    assert DNS_ENDPOINT.fullmatch(outputs["clusterDnsEndpoint"])
    assert outputs["nodeServiceAccountEmail"] == (
        f"{expected['name']}-nodes@{expected['project']}.iam.gserviceaccount.com"
    )
    assert len(outputs["nodePoolNames"]) == 2
    assert "clusterContext" not in outputs


def test_the_kubeconfig_output_is_secret_and_is_the_provider_kubeconfig(gke_run: ProgramRun) -> None:
    assert "kubeconfig" in gke_run.secret_outputs
    assert gke_run.outputs["kubeconfig"] == provider(gke_run).inputs["kubeconfig"]["value"]


def test_dev_exports_its_context_and_no_secret(dev: ProgramRun) -> None:
    assert dev.outputs["clusterContext"] == "kind-platform"
    for key in (
        "kubeconfig",
        "clusterName",
        "clusterEndpoint",
        "clusterDnsEndpoint",
        "nodePoolNames",
        "nodeServiceAccountEmail",
    ):
        assert key not in dev.outputs
    assert "clusterContext" not in dev.secret_outputs


# --------------------------------------------------------------------------- rejected cluster configs


def test_a_zonal_production_cluster_is_rejected() -> None:
    config = stack_config("production")
    config["platform:cluster"] = {**config["platform:cluster"], "location": "europe-west1-b"}
    error, registered = rejected("production", config)
    assert error == (
        "stack 'production': platform:cluster.location: production clusters must be regional "
        "(a region such as 'europe-west1'), got zone 'europe-west1-b'"
    )
    assert registered == 0


def test_a_cluster_name_longer_than_gke_allows_is_rejected() -> None:
    config = stack_config("staging")
    name = "shop-staging-" + "x" * 28
    config["platform:cluster"] = {**config["platform:cluster"], "name": name}
    error, registered = rejected("staging", config)
    assert (
        error
        == f"stack 'staging': platform:cluster.name: '{name}' has 41 characters; GKE cluster names have at most 40"
    )
    assert registered == 0


def test_a_public_ip_endpoint_without_the_dns_endpoint_or_authorized_networks_is_rejected() -> None:
    assert_rejected(
        "staging",
        staging_with(controlPlane={"dnsEndpoint": False, "ipEndpoint": "public"}, masterAuthorizedNetworks=[]),
        "stack 'staging': platform:cluster.controlPlane.dnsEndpoint: with the DNS endpoint off, a public IP "
        "endpoint needs masterAuthorizedNetworks to say who may reach it: keep dnsEndpoint true, list the "
        "networks, or set ipEndpoint to private",
    )


def test_fqdn_network_policies_without_dataplane_v2_are_rejected() -> None:
    assert_rejected(
        "staging",
        staging_with(dataplaneV2=False),
        "stack 'staging': platform:cluster.fqdnNetworkPolicy: FQDN network policies need Dataplane V2: "
        "set dataplaneV2 to true, or fqdnNetworkPolicy to false",
    )


def test_the_replaced_private_endpoint_key_says_where_it_went() -> None:
    assert_rejected(
        "production",
        {
            **stack_config("production"),
            "platform:cluster": {**stack_config("production")["platform:cluster"], "privateEndpoint": True},
        },
        "stack 'production': platform:cluster: privateEndpoint was replaced by controlPlane.ipEndpoint: write "
        "'controlPlane: {ipEndpoint: private}' (privateEndpoint: true) or "
        "'controlPlane: {ipEndpoint: public}' (privateEndpoint: false)",
    )
