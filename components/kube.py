"""Small Kubernetes helpers every domain shares: namespace selectors and content checksums."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import pulumi_kubernetes as k8s

# Set by the API server on every namespace (Kubernetes >= 1.22), so it cannot be spoofed by a label edit.
NAME_LABEL = "kubernetes.io/metadata.name"


def namespaces_named(*names: str) -> k8s.meta.v1.LabelSelectorArgs:
    """A selector of exactly the namespaces `names`, by the label the API server sets."""
    return k8s.meta.v1.LabelSelectorArgs(
        match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(key=NAME_LABEL, operator="In", values=sorted(names))
        ]
    )


def content_checksum(data: Mapping[str, str]) -> str:
    """sha256 (hex) of a Secret's or ConfigMap's data, as canonical JSON so key order never matters."""
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True, separators=(",", ":")).encode()).hexdigest()
