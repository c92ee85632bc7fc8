"""Scale on the real engine: preview, up from scratch, a no-op up and destroy on kwok, per catalog size.

    PLATFORM_E2E_ONLY=scale e2e/run                  # the dev sample, 100 and 300 services
    PLATFORM_E2E_SCALE="dev 100" PLATFORM_E2E_ONLY=scale e2e/run
    PLATFORM_E2E_PARALLEL=32 PLATFORM_E2E_SCALE=100 PLATFORM_E2E_ONLY=scale e2e/run   # with --parallel 32
    PLATFORM_E2E_SCALE_STEPS="up noop destroy" PLATFORM_E2E_SCALE=300 PLATFORM_E2E_ONLY=scale e2e/run   # no preview

A benchmark, not a check: it is never part of .ci/run and prints figures, not PASS/FAIL (it fails only when
an engine step fails). For each catalog it copies the program (as e2e/checks.py does, the same `e2e` stack
config: existing-cluster mode, offline add-ons off), replaces the project's service catalog in the copy's
Pulumi.yaml, and measures:

- the program alone under the tests' mocks (tests/harness.py `run_program`, the repository's venv), the time
  benchmarks/run.py reports for a catalog, without imports;
- `pulumi preview`, `pulumi up` from scratch, `pulumi up --expect-no-changes`, `pulumi destroy`: wall time,
  resources in the state, ms per resource, and the peak resident memory (VmHWM) of the CLI, the program
  (the Python process the language host starts), the language host and the kubernetes provider, read from
  /proc every half second.

Synthetic catalogs are benchmarks/run.py's clones (`checkout` cloned under new names with unique route
paths), on the project catalog rather than the production stack's, since kwok runs the dev environment.
The clones go into a `catalogFiles` file beside the sample's own services: in Pulumi config, 300 of them
overflow the one environment variable the language host passes the config in ("argument list too long").
The namespace quota is raised and fake nodes are added so that every pod is admitted and scheduled
(otherwise `up` measures quota refusals); both are removed afterwards.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checks import STACK, Harness, Report, descendants, tail

CLONED_SERVICE = "checkout"
SIZES = os.environ.get("PLATFORM_E2E_SCALE", "dev 100 300").split()
# Which steps to measure, in this order: any of `preview up noop destroy` (the default, all four).
STEPS = os.environ.get("PLATFORM_E2E_SCALE_STEPS", "preview up noop destroy").split()
# `--parallel` for every engine step, as a team would pass it; unset: the CLI's default (4 per CPU).
PARALLEL = os.environ.get("PLATFORM_E2E_PARALLEL", "")
# Enough for 300 clones of checkout (250m CPU, 256Mi and 320Mi of ephemeral storage requested each, one
# replica in dev) and their Jobs. The ephemeral storage was missing: the default 64Gi admits about 200 pods,
# and the 300-service up then waited on Deployments whose pods the quota refused until they timed out.
QUOTA = {
    "requestsCpu": "400",
    "requestsMemory": "400Gi",
    "limitsCpu": "800",
    "limitsMemory": "800Gi",
    "requestsEphemeralStorage": "400Gi",
    "limitsEphemeralStorage": "400Gi",
    "pods": 2000,
}
EXTRA_NODES = 40
SAMPLE_SECONDS = 0.5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The CLI saves the whole state after every step unless PULUMI_SKIP_CHECKPOINTS is set (then only at the end);
# the harness passes the variable through, and the report says which was measured.
CHECKPOINTS = "final only (PULUMI_SKIP_CHECKPOINTS)" if os.environ.get("PULUMI_SKIP_CHECKPOINTS") else "every step"
# Run under the repository's venv: the program under the tests' mocks, timed without its imports.
MOCK_RUN = """
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
from pathlib import Path
from harness import run_program, stack_config, stand_in_secrets
directory = Path(sys.argv[2])
values = stack_config(sys.argv[3], directory)
supplied = stand_in_secrets(values)
run_program(sys.argv[3], {**values, **supplied}, secret_keys=list(supplied), config_dir=directory)  # warm-up
start = time.perf_counter()
run = run_program(sys.argv[3], {**values, **supplied}, secret_keys=list(supplied), config_dir=directory)
print(json.dumps({"seconds": time.perf_counter() - start, "resources": len(run.resources)}))
"""


def role(cmdline: str, pid: int, cli: int) -> str | None:
    if pid == cli:
        return "cli"
    if "pulumi-language-python-exec" in cmdline or "__main__" in cmdline:
        return "program"
    if "pulumi-resource-kubernetes" in cmdline:
        return "provider"
    if "language" in cmdline:
        return "language host"
    return None


class ProcessUsage:
    """Peak RSS (VmHWM) and CPU seconds (user + system) per role among the CLI and its descendants, sampled
    from /proc. The CPU figure is the last sample before each process ends, so it can miss up to half a second."""

    def __init__(self, cli: int) -> None:
        self.cli = cli
        self.peaks: dict[str, int] = {}
        self.cpu: dict[int, tuple[str, float]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            for pid in descendants(self.cli):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    status = Path(f"/proc/{pid}/status").read_text()
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                name = role(cmdline, pid, self.cli)
                hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
                if name is not None:
                    self.peaks[name] = max(self.peaks.get(name, 0), hwm * 1024)
                    # utime and stime, the 12th and 13th fields after the command name, in clock ticks.
                    self.cpu[pid] = (name, (int(stat[11]) + int(stat[12])) / CLOCK_TICKS)

    def done(self) -> tuple[dict[str, int], dict[str, float]]:
        self.stop.set()
        self.thread.join()
        cpu: dict[str, float] = {}
        for name, seconds in self.cpu.values():
            cpu[name] = round(cpu.get(name, 0.0) + seconds, 1)
        return self.peaks, cpu


@dataclass
class Step:
    name: str
    seconds: float
    ok: bool
    peaks: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    output: str = ""


def measured(h: Harness, name: str, *args: str) -> Step:
    cmd = ["pulumi", *args, "--non-interactive", "--stack", STACK, *(["--parallel", PARALLEL] if PARALLEL else [])]
    start = time.monotonic()
    # PULUMI_DEBUG_COMMANDS: the CLI offers --event-log only with it.
    env = {**h.env, "PULUMI_DEBUG_COMMANDS": "true"}
    cli = subprocess.Popen(cmd, cwd=h.program, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    usage = ProcessUsage(cli.pid)
    output, _ = cli.communicate(timeout=3 * 3600)
    seconds = time.monotonic() - start
    peaks, cpu = usage.done()
    (h.work / "logs" / f"{name}.log").write_text(f"$ {' '.join(cmd)}\n{output}")
    return Step(name, seconds, cli.returncode == 0, peaks, cpu, output)


def analyse_events(path: Path) -> dict[str, Any]:
    """Where an engine run spent its time, from its `--event-log`: per resource type the steps' summed
    seconds (resourcePre to resOutputs: the provider's call, its await included) and their mean, the mean
    number of steps in flight, and when the first and the last step started (relative to the first event)."""
    starts: dict[str, tuple[str, float]] = {}
    per_type: dict[str, list[float]] = {}
    first = last_start = end = None
    for line in path.read_text().splitlines() if path.exists() else []:
        event = json.loads(line)
        stamp = float(event.get("timestamp", 0))
        first = stamp if first is None else first
        end = stamp
        if "resourcePreEvent" in event:
            meta = event["resourcePreEvent"]["metadata"]
            if meta.get("op") != "same":
                starts[meta["urn"]] = (meta["type"], stamp)
                last_start = stamp
        elif "resOutputsEvent" in event:
            urn = event["resOutputsEvent"]["metadata"]["urn"]
            if urn in starts:
                typ, began = starts.pop(urn)
                per_type.setdefault(typ, []).append(stamp - began)
    if first is None or end is None:
        return {}
    total = sum(sum(v) for v in per_type.values())
    wall = max(end - first, 1e-9)
    top = sorted(per_type.items(), key=lambda item: -sum(item[1]))[:6]
    return {
        "wall": wall,
        "steps": sum(len(v) for v in per_type.values()),
        "inFlight": total / wall,
        "lastStepStart": (last_start - first) if last_start is not None else None,
        "top": [
            {"type": typ.split(":")[-1] if typ.count(":") else typ, "n": len(v), "sum": sum(v), "mean": sum(v) / len(v)}
            for typ, v in top
        ],
    }


def clones(size: str, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The services a catalog of `size` adds to the sample's: none for `dev`."""
    if size == "dev":
        return []
    template = next(s for s in services if s["name"] == CLONED_SERVICE)
    added = []
    for index in range(int(size) - len(services)):
        clone = copy.deepcopy(template)
        clone["name"] = f"{CLONED_SERVICE}-{index:03d}"
        clone["routes"] = [{**route, "path": f"{route['path']}-{index:03d}"} for route in template.get("routes", [])]
        added.append(clone)
    return added


def nodes(apply: bool, h: Harness) -> None:
    """EXTRA_NODES more fake `base` nodes across the three zones, or their removal."""
    names = [f"gke-e2e-scale-{i:03d}" for i in range(EXTRA_NODES)]
    if not apply:
        h.kubectl("delete", "node", *names, "--ignore-not-found")
        return
    documents = []
    for i, name in enumerate(names):
        zone = "bcd"[i % 3]
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "node.kubernetes.io/instance-type": "e2-standard-4",
                        "topology.kubernetes.io/region": "europe-west1",
                        "topology.kubernetes.io/zone": f"europe-west1-{zone}",
                        "cloud.google.com/gke-nodepool": "base",
                    },
                },
                "spec": {"taints": []},
                "status": {
                    "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                    "allocatable": {"cpu": "3920m", "memory": "13Gi", "pods": "110", "ephemeral-storage": "90Gi"},
                },
            }
        )
    h.kubectl("apply", "-f", "-", stdin="\n---\n".join(yaml.safe_dump(d) for d in documents))


def mock_time(h: Harness) -> dict[str, Any]:
    python = h.repo / "venv" / "bin" / "python"
    result = subprocess.run(
        [str(python), "-c", MOCK_RUN, str(h.repo), str(h.program), STACK],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if result.returncode != 0:
        return {"seconds": None, "resources": None, "error": result.stderr[-500:]}
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def resources_in_state(h: Harness) -> int:
    return len(h.export()["deployment"].get("resources", []))


def run_size(args: argparse.Namespace, size: str, report: Report) -> dict[str, Any]:
    work = Path(args.work) / f"scale-{size}"
    (work / "logs").mkdir(parents=True, exist_ok=True)
    h = Harness(argparse.Namespace(**{**vars(args), "work": str(work)}), report)
    h.prepare()
    project_file = h.program / "Pulumi.yaml"
    project = yaml.safe_load(project_file.read_text())
    sample = project["config"]["services"]["value"]
    added = clones(size, sample)
    if added:
        # In a catalog file, as a team with this many services must: the config passes through one
        # environment variable, which Linux caps at 128 KiB (docs/configuration.md, "Large catalogs").
        (h.program / "catalog").mkdir()
        (h.program / "catalog" / "scale.yaml").write_text(yaml.safe_dump({"services": added}, sort_keys=False))
        project["config"]["catalogFiles"] = {"value": ["catalog/*.yaml"]}
        project_file.write_text(yaml.safe_dump(project, sort_keys=False))
    services = [*sample, *added]
    overrides = h.job_overrides()
    overrides["namespaces"] = {ns["name"]: {"quota": QUOTA} for ns in project["config"]["namespaces"]["value"]}
    h.set_config(overrides)

    row: dict[str, Any] = {"catalog": size, "services": len(services), "mock": mock_time(h)}
    for key, name, args_ in (
        ("preview", "preview", ("preview",)),
        ("up", "up", ("up", "--yes", "--skip-preview")),
        ("noop", "no-op up", ("up", "--yes", "--skip-preview", "--expect-no-changes")),
        ("destroy", "destroy", ("destroy", "--yes", "--skip-preview")),
    ):
        if key not in STEPS:
            continue
        events = work / "logs" / f"events-{name.replace(' ', '-')}.jsonl"
        step = measured(h, f"{name.replace(' ', '-')}-{size}", *args_, "--event-log", str(events))
        if name == "up":
            row["resources"] = resources_in_state(h) if step.ok else None
            # The machine's load over the up's last minute: the figures are only comparable at similar load.
            row["load"] = round(os.getloadavg()[0], 1)
        row[name] = {"seconds": round(step.seconds, 1), "ok": step.ok, "peaks": step.peaks, "cpu": step.cpu}
        row[name]["events"] = analyse_events(events)
        print(f"    where the time went: {json.dumps(row[name]['events'])}", flush=True)
        print(
            f"  {size}: {name} {'ok' if step.ok else 'FAILED'} in {step.seconds:.0f} s; peaks {fmt_peaks(step.peaks)}; "
            f"CPU seconds {json.dumps(step.cpu)}"
        )
        if not step.ok:
            report.check(
                f"scale {size}: {name} succeeds", False, tail(subprocess.CompletedProcess([], 1, step.output, ""), 20)
            )
            if name != "destroy":
                measured(h, f"destroy-after-failure-{size}", "destroy", "--yes", "--skip-preview")
            break
    return row


def fmt_peaks(peaks: dict[str, int]) -> str:
    return ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(peaks.items()))


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {platform.node()} ({os.cpu_count()} CPUs, "
        f"{platform.machine()}, shared with other work), kwok control plane, "
        + (f"`--parallel {PARALLEL}`" if PARALLEL else f"`--parallel` default ({4 * (os.cpu_count() or 1)})")
        + f", state saved {CHECKPOINTS}:",
        "",
        "| catalog | services | resources | mock eval | preview | up | no-op up | destroy | up ms/resource | "
        "up / mock | peak RSS (up): CLI / program / provider / language host | CPU s (up): CLI / program / provider | "
        "load (1 min, end of up) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        resources = row.get("resources")
        mock = row["mock"].get("seconds")

        def secs(step: str, row: dict[str, Any] = row) -> str:
            entry = row.get(step)
            return "-" if not entry else f"{entry['seconds']:.0f} s" + ("" if entry["ok"] else " (failed)")

        up = (row.get("up") or {}).get("seconds")
        peaks = (row.get("up") or {}).get("peaks", {})
        rss = " / ".join(
            f"{peaks[r] / 2**20:.0f} MiB" if r in peaks else "-"
            for r in ("cli", "program", "provider", "language host")
        )
        cpu = (row.get("up") or {}).get("cpu", {})
        cpus = " / ".join(f"{cpu[r]:.0f}" if r in cpu else "-" for r in ("cli", "program", "provider"))
        lines.append(
            f"| {row['catalog']} | {row['services']} | {resources or '-'} | "
            f"{f'{mock:.1f} s' if mock is not None else '-'} | {secs('preview')} | {secs('up')} | "
            f"{secs('no-op up')} | {secs('destroy')} | "
            f"{f'{up * 1000 / resources:.0f}' if up and resources else '-'} | "
            f"{f'{up / mock:.0f}x' if up and mock else '-'} | {rss} | {cpus} | {row.get('load', '-')} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag in ("--repo", "--work", "--cache", "--kubeconfig", "--context", "--timings"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    report = Report()
    rows = []
    helper = Harness(args, report)
    nodes(True, helper)
    stop = threading.Event()
    threading.Thread(target=helper.play_controllers, args=(stop,), daemon=True).start()
    try:
        for size in SIZES:
            rows.append(run_size(args, size, report))
            Path(args.work, "scale.json").write_text(json.dumps(rows, indent=1))
    finally:
        stop.set()
        nodes(False, helper)
    print("\n" + table(rows))
    Path(args.work, "scale.md").write_text(table(rows) + "\n")
    print(f"\n(raw figures: {Path(args.work, 'scale.json')}; keep them with PLATFORM_E2E_KEEP=1)")
    return 1 if any(not ok for _, ok, _ in report.checks) else 0


if __name__ == "__main__":
    sys.exit(main())
