"""Custom resources against their CRDs' OpenAPI schemas, strictly: the gate for what kubernetes-validate
has no schema for (ClusterIssuer, ServiceMonitor, Gateway API objects, GKE policies, ...).

- ``crd_failures(manifests)``: one line per problem, "Kind/name: field: message", empty when clean. A
  manifest whose apiVersion and kind have no CRD schema here is a problem too, so a new custom resource
  cannot go unvalidated.
- ``covered_kinds()``: every (apiVersion, kind) with a schema here.

The schemas and their validators are the npm packages pinned in tests/crd/package.json (the
@kubernetes-models family); tests/crd/validate.mjs runs them, once per call for all the manifests
given, and adds the strictness they lack: an unknown field is an error, as for kubectl's strict field
validation. Node.js and npm come with the machine; the packages are installed with `npm ci` from the
lockfile on first use if .ci/run has not done so already.
"""

from __future__ import annotations

import fcntl
import functools
import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CRD_DIR = Path(__file__).resolve().parent / "crd"
VALIDATOR = CRD_DIR / "validate.mjs"


def _node_modules() -> Path:
    """The pinned packages, installed from the lockfile if missing."""
    installed = CRD_DIR / "node_modules"
    if installed.is_dir():
        return installed
    # Parallel test workers (pytest-xdist) install once: the first takes the lock, the others wait.
    with open(CRD_DIR / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.is_dir():
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("npm is not on PATH; the CRD schema gate needs Node.js and npm")
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CRD_DIR, check=True, timeout=600)
    return installed


def _run_validator(arguments: Sequence[str], stdin: str) -> Any:
    _node_modules()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH; the CRD schema gate needs Node.js")
    completed = subprocess.run(
        [node, str(VALIDATOR), *arguments],
        cwd=CRD_DIR,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"validate.mjs exited {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    return json.loads(completed.stdout)


def validate(manifests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """validate.mjs's result for each manifest, in order: apiVersion, kind, name, ok, unknown, errors."""
    if not manifests:
        return []
    results: list[dict[str, Any]] = _run_validator([], json.dumps(list(manifests)))
    if len(results) != len(manifests):
        raise RuntimeError(f"validate.mjs answered {len(results)} results for {len(manifests)} manifests")
    return results


def crd_failures(manifests: Sequence[dict[str, Any]]) -> list[str]:
    """One line per problem, "Kind/name: error"; an apiVersion/kind with no CRD schema is a problem."""
    problems = []
    for result in validate(manifests):
        label = f"{result['kind']}/{result['name'] or '<unnamed>'}"
        problems += [f"{label}: {error}" for error in result["errors"]]
        if not result["ok"] and not result["errors"]:
            problems.append(f"{label}: invalid")
    return problems


@functools.cache
def _covered_kinds() -> frozenset[tuple[str, str]]:
    return frozenset((api_version, kind) for api_version, kind in _run_validator(["--kinds"], ""))


def covered_kinds() -> set[tuple[str, str]]:
    """Every (apiVersion, kind) that has a CRD schema here."""
    return set(_covered_kinds())
