"""Every chart and image version the platform pins, each with where its release was verified.

An upgrade is a one-line change here. Each pin is one `NAME = "version"` line under two comments:
where the release was verified (a release tag, a chart index entry, a registry's tag list) and a
`renovate:` line that tells Renovate (renovate.json, a regex manager) where to look for newer
releases. docs/versions.md lists every pin with its source and the version the end-to-end harness
installs from its vendored charts; tests/test_versions.py keeps this module, renovate.json and that
table in step.

The charts' own images (controllers, exporters, the collector) follow each chart's appVersion and
are not pinned separately.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- Helm charts

# Verified: release tag v1.9.0 of envoyproxy/gateway (charts/gateway-helm, commit 39763b1c), the e2e vendored chart.
# renovate: datasource=docker depName=docker.io/envoyproxy/gateway-helm
ENVOY_GATEWAY_CHART = "v1.9.0"

# Verified: release tag helm-chart-4.15.1 of kubernetes/ingress-nginx (commit 0a5901f3), its last chart (archived).
# renovate: datasource=helm depName=ingress-nginx registryUrl=https://kubernetes.github.io/ingress-nginx
INGRESS_NGINX_CHART = "4.15.1"

# Verified: release notes of cert-manager v1.21.2 (Renovate update v1.21.1 -> v1.21.2, sylva-projects/sylva-core MR 9292).
# renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io
CERT_MANAGER_CHART = "v1.21.2"

# Verified: release tag kube-prometheus-stack-92.3.0 of prometheus-community/helm-charts (newreleases.io release page).
# renovate: datasource=helm depName=kube-prometheus-stack registryUrl=https://prometheus-community.github.io/helm-charts
KUBE_PROMETHEUS_STACK_CHART = "92.3.0"

# Verified: release tag prometheus-operator-crds-32.0.0 of prometheus-community/helm-charts (operator v0.94.0).
# renovate: datasource=helm depName=prometheus-operator-crds registryUrl=https://prometheus-community.github.io/helm-charts
PROMETHEUS_OPERATOR_CRDS_CHART = "32.0.0"

# Verified: release tag prometheus-adapter-5.3.0 of prometheus-community/helm-charts (commit e6e041b6), the e2e vendored chart.
# renovate: datasource=helm depName=prometheus-adapter registryUrl=https://prometheus-community.github.io/helm-charts
PROMETHEUS_ADAPTER_CHART = "5.3.0"

# Verified: release tag opentelemetry-collector-0.170.0 of open-telemetry/opentelemetry-helm-charts (commit f5178cb9,
# collector 0.158.0), the e2e vendored chart; 0.158.3 was never released.
# renovate: datasource=helm depName=opentelemetry-collector registryUrl=https://open-telemetry.github.io/opentelemetry-helm-charts
OPENTELEMETRY_COLLECTOR_CHART = "0.170.0"

# --------------------------------------------------------------------------- data store images (official images)

# Verified: docker.io/library/postgres:17.6 (hibernate/hibernate-reactive PR 2454 moves its tests to it).
# renovate: datasource=docker depName=postgres
POSTGRES_IMAGE = "17.6"

# Verified: docker.io/library/redis:7.4.5 (Chainguard advisory CGA-7f59-gp53-m43v: redis-7.4 fixed in 7.4.5; public pulls of the tag).
# renovate: datasource=docker depName=redis
REDIS_IMAGE = "7.4.5"

# Verified: docker.io/library/mongo:8.0.13 (docker-library/official-images PR 19741, "Update 8.0 to 8.0.13").
# renovate: datasource=docker depName=mongo
MONGODB_IMAGE = "8.0.13"

# Verified: docker.io/apache/kafka:3.9.1 (kafka.apache.org/39/getting-started/docker).
# renovate: datasource=docker depName=apache/kafka
KAFKA_IMAGE = "3.9.1"

# Verified: upstream release tag 4.47 of seaweedfs/seaweedfs (github.com/seaweedfs/seaweedfs/releases/tag/4.47), pushed to
# Docker Hub as chrislusf/seaweedfs:4.47 by its container_release workflows (a Renovate registry lookup in
# shaman007/home-k3s#769, 2026-09-15, digest sha256:ce9e796f1fe6...bf882). Replaces the archived MinIO.
# renovate: datasource=docker depName=chrislusf/seaweedfs
SEAWEEDFS_IMAGE = "4.47"

# Verified: docker.io/library/neo4j:5.26.10 (5.26 LTS; docker-library/official-images carries 5.26.x, 5.26.11 on 2025-08-27).
# renovate: datasource=docker depName=neo4j
NEO4J_IMAGE = "5.26.10"

# --------------------------------------------------------------------------- platform images

# Verified: 3.10.1 is the pause version kubeadm pins for Kubernetes 1.35 (kubernetes/kubernetes
# cmd/kubeadm/app/constants PauseVersion); registry.k8s.io/pause:3.10.1 is pinned at digest
# sha256:278fb9dbcca9518083ad1e11276933a2e96f23de604a3a08cc3c80002767d24c by several public repositories (the
# digest is kept beside its use, components/cluster/headroom.py, and moves with this tag).
# renovate: datasource=docker depName=registry.k8s.io/pause
PAUSE_IMAGE = "3.10.1"
