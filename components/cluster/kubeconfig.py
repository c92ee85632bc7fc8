"""The GKE kubeconfig the platform's Kubernetes provider is built from, never the ambient one.

Built from the cluster's own outputs (name, endpoint, CA certificate), with a user that runs the
`gke-gcloud-auth-plugin` exec credential, so no token or client key is ever stored in state. It is
returned as a secret because it names and locates the control plane.

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


def render_gke(context: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig (JSON, which is YAML) for one GKE cluster, authenticated by the gcloud plugin."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca_certificate},
            }
        ],
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
) -> pulumi.Output[str]:
    """The GKE kubeconfig as a secret Output, resolved once the cluster exists."""
    rendered = pulumi.Output.all(cluster, endpoint, ca_certificate).apply(
        lambda values: render_gke(context_name(project, location, values[0]), values[1], values[2])
    )
    return pulumi.Output.secret(rendered)
