"""What this stack last deployed of its data services: read back from its own outputs.

A change the engine cannot make in place (a PostgreSQL major upgrade) or a volume that would
shrink must be refused before anything is registered, so the previous version and size are needed
while the config is checked. The platform exports `dataServices` ({name: {type, version, storage, mode}});
the next run reads it back with the engine's built-in `pulumi:pulumi:readStackOutputs` invoke (what a
StackReference to this same stack reads, but synchronous, so the check happens first and
registers nothing).

On the first deploy the stack has no outputs yet, so the checks that need the previous deploy have
nothing to compare. A backend that cannot read the stack's outputs stops the run (fail closed):
skipping the checks could let a major upgrade or a shrink through. A read can meet the checkpoint while
the CLI rewrites it ("failed to load checkpoint: EOF", seen once on a loaded machine by e2e/run), so a
failed read is tried again a few times, a second apart, before the run stops.
"""

from __future__ import annotations

import time
from typing import Any

import pulumi

from components.errors import config_error

READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"
OUTPUT = "dataServices"
READ_ATTEMPTS = 4
READ_RETRY_SECONDS = 1.0


def own_stack_name() -> str:
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"


def deployed_data_services() -> dict[str, Any]:
    """{store name: {type, version, storage, mode}} as this stack last exported it; {} on a first deploy."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            result = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": own_stack_name()})
            failures = getattr(result, "failures", None)
            if failures:
                raise RuntimeError("; ".join(str(failure) for failure in failures))
            break
        except Exception as exc:  # a backend without the stack or the built-in provider, or a read mid-write
            if attempt < READ_ATTEMPTS:
                time.sleep(READ_RETRY_SECONDS)
                continue
            problem = f"cannot read this stack's previous outputs to check data services' versions and volumes ({exc})"
            raise config_error(pulumi.get_stack(), [("dataServices", problem)]) from None
    value = result.value if isinstance(result.value, dict) else {}
    outputs = value.get("outputs")
    deployed = outputs.get(OUTPUT) if isinstance(outputs, dict) else None
    return deployed if isinstance(deployed, dict) else {}
