"""Dump what every stack registers under the mocks, to compare two revisions of the program.

For each stack file at the root and in examples/, this runs `__main__.py` under the test harness's
mocks and writes one JSON document: every registered resource (URN, type, inputs with secret markers,
parent, provider and options; dependencies sorted), the stack outputs and which of them are secret.
Registration order depends on threads, so resources are sorted by URN. A refactor that must not change
behaviour is proven by identical dumps before and after:

    venv/bin/python tools/dump_registrations.py /tmp/before   # on the old revision
    venv/bin/python tools/dump_registrations.py /tmp/after    # on the new one
    diff -r /tmp/before /tmp/after

`type: config` secret keys get a fixed stand-in value (as secrets), as an operator would supply them.
It reads the stack files themselves (root and examples), not the tests' fixture catalog.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from harness import run_program, stack_config, stand_in_secrets  # noqa: E402


def stack_files() -> list[tuple[Path, str]]:
    """(config dir, stack) for every Pulumi.<stack>.yaml, plus dev (the project default) everywhere."""
    found = []
    for directory in [ROOT, *sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir())]:
        found.append((directory, "dev"))
        for path in sorted(directory.glob("Pulumi.*.yaml")):
            found.append((directory, path.name.split(".")[1]))
    return sorted(set(found))


def dump(directory: Path, stack: str) -> dict[str, Any]:
    values = stack_config(stack, directory)
    supplied = stand_in_secrets(values)
    run = run_program(stack, {**values, **supplied}, secret_keys=list(supplied), config_dir=directory)
    resources = []
    for registration in sorted(run.resources, key=lambda r: r.urn):
        record = dataclasses.asdict(registration)
        record["dependencies"] = sorted(record["dependencies"])
        resources.append(record)
    return {
        "resources": resources,
        "outputs": run.outputs,
        "secretOutputs": sorted(run.secret_outputs),
    }


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for directory, stack in stack_files():
        label = "root" if directory == ROOT else directory.name
        try:
            document = dump(directory, stack)
        except Exception as exc:  # a refused stack is part of the behaviour too
            document = {"error": str(exc)}
        target = out / f"{label}.{stack}.json"
        target.write_text(json.dumps(document, indent=1, sort_keys=True, default=str) + "\n")
        print(f"{target}: {len(document.get('resources', []))} resources {document.get('error', '')}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tools/dump_registrations.py OUT_DIR")
    main(Path(sys.argv[1]))
