"""Benchmark the program under the test mocks: per stack, and for synthetic catalogs of 10, 100 and 500 services.

Run: venv/bin/python benchmarks/run.py   (add --profile to print where the 500-service run spends its time)

Cases: the fixture stacks (dev, staging, production), every example's stacks (`<example>/<stack>`)
and the synthetic catalogs. Beside each case's evaluation times the report shows the timing model's
figures from the run's `timing` output (components/planning/timing.py): the slowest service's
rollout, rollback and scale-up, the critical path from scratch, the slowest route against the
unavoidable chain, and an image-tag change. Those are modeled seconds, not measurements.

Each case runs in its own subprocess, so peak RSS is per case. A case runs the real `__main__.py`
through `tests/harness.py` `run_program` (the tests' mocks), then registers the very same resources
again as the floor: one `CustomResource` (or `ProviderResource` / `ComponentResource`) per recorded
registration, with its recorded type, name and inputs, flat under the stack, under the same mocks,
with no components and no validation. The program's overhead is its wall time over the floor's.
Each case starts with an untimed warm-up run of the production stack; every case but the 500-service
one then runs three times and keeps its best program and floor times.
`run_program` also checks URN uniqueness after the run; that harness cost is timed and shown on its
own and left out of the overhead ratio, since the floor does not pay it.

Imports are timed in a fresh subprocess of their own; every case imports the same modules before
its clock starts, so case times exclude imports. pulumi_gcp loads its submodules lazily: only the
ones the program touches (found by running the production stack once) are imported.

Synthetic catalogs clone the production stack's `checkout` service (routes, a migration Job, a
secret mount, its own ConfigMap, an HPA and a PDB) under new names with unique route paths, with
the production overrides of `checkout` applied to each clone and the node pools' maxNodes raised
so the capacity check admits them.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import datetime
import gc
import importlib
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT_DIR), str(ROOT_DIR / "tests")]

STACKS = ("dev", "staging", "production")
SYNTHETIC_SIZES = (10, 100, 500)
CLONED_SERVICE = "checkout"
SYNTHETIC_MAX_NODES = 1000
REPEATS = 3
TARGET_OVERHEAD = 1.3
TARGET_SCALING = 1.5
TARGET_RSS_BYTES = 10**9
# Imported (and timed) even though the program reaches them only through other modules.
BASE_MODULES = ("pulumi", "pydantic", "yaml", "pulumi_random", "pulumi_kubernetes", "pulumi_gcp")


# --------------------------------------------------------------------------- configs


def synthetic_config(services: int) -> dict[str, Any]:
    """The production stack's config with its catalog grown to `services` by cloning CLONED_SERVICE."""
    from harness import stack_config

    config: dict[str, Any] = copy.deepcopy(stack_config("production"))
    catalog = config["platform:services"]
    template = next(s for s in catalog if s["name"] == CLONED_SERVICE)
    overrides = config["platform:overrides"]["services"]
    for index in range(services - len(catalog)):
        clone = copy.deepcopy(template)
        clone["name"] = f"{CLONED_SERVICE}-{index:03d}"
        clone["routes"] = [{**route, "path": f"{route['path']}-{index:03d}"} for route in template["routes"]]
        catalog.append(clone)
        overrides[clone["name"]] = copy.deepcopy(overrides[CLONED_SERVICE])
    for pool in config["platform:nodePools"]:
        pool["maxNodes"] = SYNTHETIC_MAX_NODES
    return config


def example_cases() -> list[str]:
    """`<example>/<stack>` for every example's stack file."""
    return [
        f"{directory.name}/{path.name.split('.')[1]}"
        for directory in sorted(p for p in (ROOT_DIR / "examples").iterdir() if p.is_dir())
        for path in sorted(directory.glob("Pulumi.*.yaml"))
    ]


def case_run(case: str) -> Any:
    """Run the program for a case: a fixture stack, an example's stack, or a synthetic catalog."""
    from harness import run_program, stack_config, stand_in_secrets

    if case in STACKS:
        return run_program(case)
    if case.startswith("synthetic-"):
        return run_program("production", synthetic_config(int(case.removeprefix("synthetic-"))))
    example, stack = case.split("/")
    directory = ROOT_DIR / "examples" / example
    values = stack_config(stack, directory)
    supplied = stand_in_secrets(values)
    return run_program(stack, {**values, **supplied}, secret_keys=list(supplied), config_dir=directory)


def modeled_timing(timing: dict[str, Any]) -> dict[str, Any]:
    """The timing model's headline figures: the slowest service's rollout, rollback and scale-up, and the paths."""
    services = timing["services"].values()
    scale_ups = [s["scaleUp"]["seconds"] for s in services if s["scaleUp"] and s["scaleUp"]["seconds"] is not None]
    critical = timing["criticalPath"]
    return {
        "rollout": max((s["rolloutSeconds"]["max"] for s in services), default=0),
        "rollback": max((s["rollbackSeconds"]["max"] for s in services), default=0),
        "scale_up": max(scale_ups, default=None),
        "from_scratch": critical["fromScratch"]["seconds"],
        "slowest_route": critical["slowestRoute"]["seconds"] if critical["slowestRoute"] else None,
        "chain": critical["unavoidableChainSeconds"],
        "image_change": critical["imageTagChange"]["seconds"],
    }


# --------------------------------------------------------------------------- the floor


def register_floor(registrations: list[Any], stack: str) -> int:
    """Register the recorded resources directly, flat, under the harness's mocks; returns how many."""
    import asyncio
    import logging

    import pulumi
    from harness import PROJECT, PlatformMocks, RecordingMonitor
    from pulumi.runtime import settings
    from pulumi.runtime.stack import wait_for_rpcs

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    settings.ROOT.set(None)
    mocks = PlatformMocks()
    monitor = RecordingMonitor(mocks)
    logger = logging.getLogger("benchmark-floor")
    logger.propagate = False
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, logger=logger, monitor=monitor)
    # As the harness does: the program run's tracked outputs must not be awaited again here.
    settings.SETTINGS.outputs.clear()
    seen: Counter[tuple[str, str]] = Counter()
    for recorded in registrations:
        key = (recorded.type, recorded.name)
        seen[key] += 1
        # Flat under the stack, names that were unique only under different parents get a suffix.
        name = recorded.name if seen[key] == 1 else f"{recorded.name}-{seen[key]}"
        if recorded.type.startswith("pulumi:providers:"):
            pulumi.ProviderResource(recorded.type.split(":")[2], name, dict(recorded.inputs))
        elif recorded.custom:
            pulumi.CustomResource(recorded.type, name, dict(recorded.inputs))
        else:
            pulumi.ComponentResource(recorded.type, name)
    loop.run_until_complete(wait_for_rpcs())
    loop.close()
    asyncio.set_event_loop(None)
    return len(monitor.registrations)


# --------------------------------------------------------------------------- children


def import_modules(modules: list[str]) -> dict[str, float]:
    """Import each module (in order) and return the seconds each took, itself and what it pulled in."""
    timings = {}
    for module in modules:
        start = time.perf_counter()
        # Any ordinary attribute access makes a lazily imported package (pulumi's lazy_import) load.
        hasattr(importlib.import_module(module), "__all__")
        timings[module] = time.perf_counter() - start
    return timings


def child_discover() -> dict[str, Any]:
    from harness import run_program

    run_program("production")
    # Loaded packages only: the SDKs register every subpackage lazily (a _LazyModule until first use), and
    # each package imports its own modules; importing one of those by name would rebind the package's
    # attribute (pulumi_kubernetes.apiextensions.CustomResource) from the class to the module.
    used = sorted(
        name
        for name, module in list(sys.modules.items())
        if name.startswith(("pulumi_gcp.", "pulumi_kubernetes.", "pulumi_random."))
        and type(module).__name__ != "_LazyModule"
        and hasattr(module, "__path__")
    )
    return {"modules": [*BASE_MODULES, *used, "components.platform"]}


def child_imports(modules: list[str]) -> dict[str, Any]:
    return {"imports": import_modules(modules)}


def child_case(case: str, modules: list[str], profile: bool) -> dict[str, Any]:
    import_modules(modules)
    from harness import run_program

    # A first run pays one-off costs (type hints resolved and cached by the SDK) that are no part of scaling.
    run_program("production")
    # The best of a few runs steadies the small cases; the largest runs once.
    repeats = 1 if profile or case == f"synthetic-{SYNTHETIC_SIZES[-1]}" else REPEATS
    profiler = cProfile.Profile() if profile else None
    walls, floors, peak_rss = [], [], 0
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        run = case_run(case)
        if profiler:
            profiler.disable()
        walls.append(time.perf_counter() - start)
        # Peak RSS after the first timed run, before any floor or repeat.
        peak_rss = peak_rss or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        registrations = run.resources
        stack = run.stack
        timing = modeled_timing(run.outputs["timing"])
        del run
        gc.collect()
        start = time.perf_counter()
        assert register_floor(registrations, stack) == len(registrations)
        floors.append(time.perf_counter() - start)
    urns = [r.urn for r in registrations]
    start = time.perf_counter()
    # The same uniqueness check run_program ends with, timed on its own.
    sorted(urn for urn, count in Counter(urns).items() if count > 1)
    harness_check = time.perf_counter() - start
    result = {
        "case": case,
        "resources": len(registrations),
        "wall": min(walls),
        "harness_check": harness_check,
        "floor": min(floors),
        "peak_rss": peak_rss,
        "timing": timing,
    }
    if profiler:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as out:
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            result["profile"] = out.name
    return result


def spawn(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True, cwd=ROOT_DIR
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- report


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, {memory:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {datetime.date.today().isoformat()}"
    )


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def _seconds(value: int | None) -> str:
    return "-" if value is None else str(value)


def print_modeled(results: list[dict[str, Any]]) -> None:
    """The timing model's figures per case (seconds, modeled, not measured): beside the evaluation times above."""
    print(
        f"\nmodeled times, s (slowest service; critical paths):\n{'case':<26}{'rollout':>9}{'rollback':>10}"
        f"{'scale-up':>10}{'scratch':>9}{'route':>7}{'chain':>7}{'route/chain':>13}{'tag change':>12}"
    )
    for r in results:
        t = r["timing"]
        ratio = f"{t['slowest_route'] / t['chain']:.3f}" if t["slowest_route"] and t["chain"] else "-"
        print(
            f"{r['case']:<26}{t['rollout']:>9}{t['rollback']:>10}{_seconds(t['scale_up']):>10}{t['from_scratch']:>9}"
            f"{_seconds(t['slowest_route']):>7}{_seconds(t['chain']):>7}{ratio:>13}{t['image_change']:>12}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--modules", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="profile the 500-service case")
    args = parser.parse_args()
    if args.child:
        modules = json.loads(Path(args.modules).read_text()) if args.modules else []
        if args.child == "discover":
            result = child_discover()
        elif args.child == "imports":
            result = child_imports(modules)
        else:
            result = child_case(args.child, modules, args.profile)
        print(json.dumps(result))
        return

    print(f"machine: {machine()}")
    modules = spawn(["--child", "discover"])["modules"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(modules, handle)
    module_args = ["--modules", handle.name]

    imports = spawn(["--child", "imports", *module_args])["imports"]
    print(f"\nimport time (fresh interpreter, {len(modules)} modules): {sum(imports.values()):.2f} s")
    for module, seconds in sorted(imports.items(), key=lambda item: -item[1])[:8]:
        print(f"  {module:<45} {seconds:6.3f} s")

    cases = [*STACKS, *example_cases(), *(f"synthetic-{n}" for n in SYNTHETIC_SIZES)]
    results = []
    for case in cases:
        profile = ["--profile"] if args.profile and case == "synthetic-500" else []
        results.append(spawn(["--child", case, *module_args, *profile]))
    Path(handle.name).unlink()

    header = (
        f"\n{'case':<26}{'resources':>10}{'wall s':>9}{'harness s':>11}{'floor s':>9}{'overhead':>10}"
        f"{'ms/resource':>13}{'peak RSS MiB':>14}"
    )
    print(header)
    for r in results:
        program = r["wall"] - r["harness_check"]
        overhead = program / r["floor"]
        r["overhead"] = overhead
        r["per_resource"] = program / r["resources"]
        print(
            f"{r['case']:<26}{r['resources']:>10}{r['wall']:>9.2f}{r['harness_check']:>11.2f}{r['floor']:>9.2f}"
            f"{overhead:>9.2f}x{r['per_resource'] * 1000:>13.2f}{r['peak_rss'] / 2**20:>14.0f}"
        )
    print_modeled(results)
    by_case = {r["case"]: r for r in results}
    small, large = by_case["synthetic-10"], by_case["synthetic-500"]
    scaling = large["per_resource"] / small["per_resource"]
    worst = max(results, key=lambda r: r["overhead"])
    print("\ntargets:")
    print(
        f"  overhead <= {TARGET_OVERHEAD}x the floor: worst {worst['overhead']:.2f}x ({worst['case']}) "
        f"-> {verdict(worst['overhead'] <= TARGET_OVERHEAD)}"
    )
    print(
        f"  time per resource at 500 services within {TARGET_SCALING}x of 10: {scaling:.2f}x "
        f"-> {verdict(scaling <= TARGET_SCALING)}"
    )
    print(
        f"  peak RSS at 500 services <= 1 GB: {large['peak_rss'] / 10**9:.2f} GB "
        f"-> {verdict(large['peak_rss'] <= TARGET_RSS_BYTES)}"
    )
    if "profile" in large:
        profile_file = Path(large["profile"])
        print(f"\nprofile of synthetic-500 (cumulative):\n{profile_file.read_text()}")
        profile_file.unlink()


if __name__ == "__main__":
    main()
