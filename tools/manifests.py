"""How `tools.plan --out` writes Kubernetes objects: one YAML file per object, no secret value in any.

An object goes to `<namespace>/<kind>-<name>.yaml` (`_cluster/` for a cluster-scoped one), apiVersion,
kind and metadata first. A value the program keeps secret is replaced by `REDACTED`, and so is every
value of a Secret's `data` and `stringData`, whoever made it: a stand-in the tests supplied, a mock's
generated password or a chart's generated key would otherwise look like a real credential in a review
or a GitOps repository. The keys stay, so a reader still sees what each Secret holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from gates import integral_floats_to_ints, is_kubernetes_object
from harness import ProgramRun, is_secret_value

REDACTED = "<secret: set by pulumi up, never written here>"
SECRET_FIELDS = ("data", "stringData")


# libyaml's parser and emitter where PyYAML has them: a chart's CRDs run to megabytes (15 times faster).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class ManifestLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """PyYAML's safe loader without YAML 1.1's `=` value tag, which a CRD's enum of operators trips over."""


ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def redact(value: Any) -> Any:
    """The value with every secret replaced by a marker, recursively."""
    if is_secret_value(value):
        inner = value["value"]
        return {key: REDACTED for key in inner} if isinstance(inner, dict) else REDACTED
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def scrub_secret(body: dict[str, Any]) -> dict[str, Any]:
    """A Secret with every `data` and `stringData` value replaced by `REDACTED`; any other object as it is."""
    if body.get("kind") != "Secret" or body.get("apiVersion") != "v1":
        return body
    scrubbed = dict(body)
    for field in SECRET_FIELDS:
        if isinstance(body.get(field), dict):
            scrubbed[field] = dict.fromkeys(body[field], REDACTED)
    return scrubbed


def write_object(out: Path, body: dict[str, Any], fallback_name: str) -> Path:
    """`body` as YAML at `<out>/<namespace or _cluster>/<kind>-<name>.yaml`, secrets scrubbed first."""
    body = scrub_secret(body)
    # The order a reader expects: apiVersion, kind, metadata, then the rest.
    body = {key: body[key] for key in ("apiVersion", "kind", "metadata") if key in body} | body
    meta = body.get("metadata") or {}
    folder = out / (meta.get("namespace") or "_cluster")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{body['kind'].lower()}-{meta.get('name') or fallback_name}.yaml"
    path.write_text(yaml.dump(body, Dumper=_SafeDumper, sort_keys=False))
    return path


def write_manifests(run: ProgramRun, out: Path) -> int:
    """Every Kubernetes object of the run as YAML, secrets redacted: `<namespace>/<kind>-<name>.yaml`."""
    count = 0
    for resource in run.resources:
        if is_kubernetes_object(resource):
            write_object(out, integral_floats_to_ints(redact(resource.inputs)), resource.name)
            count += 1
    return count
