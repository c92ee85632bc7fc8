"""The cluster domain: VPC and NAT, node identity and pools, the GKE cluster and the Kubernetes provider."""
