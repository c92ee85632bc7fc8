"""The GKE kubeconfig the platform's Kubernetes provider is built from, never the ambient one.

Built from the cluster's own outputs, with a user that runs the `gke-gcloud-auth-plugin` exec
credential, so no token or client key is ever stored in state. With the DNS endpoint on, the server
is `https://<dns endpoint>` (what `gcloud container clusters get-credentials --dns-endpoint` writes):
Google's front end presents a publicly trusted certificate, so no cluster CA is pinned, and it lets
in only identities holding `container.clusters.connect`. Otherwise the server is the IP endpoint,
verified against the cluster's CA. It is returned as a secret because it names and locates the
control plane.

Deliberately left out: static tokens, client certificates (disabled on the cluster) and any lookup
of `KUBECONFIG` or the current context. Existing-cluster mode needs no rendering: the provider gets
the configured file and context (cluster.py).
"""

from __future__ import annotations

import json

import pulumi

# The credential plugin GKE documents for kubectl and client-go since Kubernetes 1.26.
AUTH_PLUGIN = "gke-gcloud-auth-plugin"
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
INSTALL_HINT = (
    "Install gke-gcloud-auth-plugin: "
    "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin"
)


def context_name(project: str, location: str, cluster: str) -> str:
    """The context name `gcloud container clusters get-credentials` would write."""
    return f"gke_{project}_{location}_{cluster}"


def render_gke(context: str, endpoint: str, ca_certificate: str | None) -> str:
    """A kubeconfig (JSON, which is YAML) for one GKE cluster, authenticated by the gcloud plugin.

    `ca_certificate` is None for the DNS endpoint, whose certificate the system roots already trust.
    """
    server: dict[str, str] = {"server": f"https://{endpoint}"}
    if ca_certificate is not None:
        server["certificate-authority-data"] = ca_certificate
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": server}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [
            {
                "name": context,
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API_VERSION,
                        "command": AUTH_PLUGIN,
                        "installHint": INSTALL_HINT,
                        # As gcloud writes it: the plugin gets the cluster's details in KUBERNETES_EXEC_INFO.
                        "provideClusterInfo": True,
                        # Pulumi runs unattended; a prompt would hang the deployment.
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True)


def gke_kubeconfig(
    project: str,
    location: str,
    cluster: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    ca_certificate: pulumi.Input[str],
    dns_endpoint: pulumi.Input[str] | None = None,
) -> pulumi.Output[str]:
    """The GKE kubeconfig as a secret Output, resolved once the cluster exists.

    Targets `dns_endpoint` when given (no CA pinned), else the IP `endpoint` with the cluster's CA.
    """
    if dns_endpoint is not None:
        rendered = pulumi.Output.all(cluster, dns_endpoint).apply(
            lambda values: render_gke(context_name(project, location, values[0]), values[1], None)
        )
    else:
        rendered = pulumi.Output.all(cluster, endpoint, ca_certificate).apply(
            lambda values: render_gke(context_name(project, location, values[0]), values[1], values[2])
        )
    return pulumi.Output.secret(rendered)
