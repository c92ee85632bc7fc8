"""Compute on the real engine: a ComputeClass-selecting service and headroom placeholders preempted first.

    python e2e/compute.py --repo R --work W --cache C --kubeconfig K --context e2e --timings T   (e2e/run calls it)

Runs on the control plane that e2e/run started, with its own copy of the program and its own state
(`<work>/compute`), in existing-cluster mode with the offline add-ons (no chart: this part is about where
pods run, not what the charts install).

1. The ComputeClass CRD is installed from tests/crd/fixtures/computeclass.cloud.google.com.yaml, the schema
   fixture written from GKE's CRD reference (GKE installs the real one itself), so the API server judges
   each ComputeClass the program declares against it.
2. Two kwok nodes join as the pools of one class, `spot-fallback`: `cc-spot` (Spot) and `cc-on-demand`, one
   node each in its own zone, with the node labels and taints components/cluster/node_pool.py gives GKE's
   pools of a class (the class's label and NoSchedule taint; Spot's too on the spot pool). The stack
   describes them in `nodePools` (an existing cluster's pools, by their own names), each with an explicit
   headroom of one placeholder that leaves room for two of the service's pods, and runs `checkout` with
   `placement: spot-fallback` at two replicas.
3. Checks: the ComputeClass the program declared exists with the Spot pool first and the on-demand pool
   second; every checkout pod selects the class, and runs on the class's nodes; one placeholder per pool runs
   there at the `platform-headroom` PriorityClass, below the service pods' priority. Then checkout is scaled
   to six replicas, more than the free room: the scheduler preempts placeholders (never a service pod), every
   checkout pod runs, and the preempted placeholders wait Pending (they never preempt anything themselves).
4. Destroy leaves the control plane as found; the nodes and the CRD are removed.

kwok's scheduler part is the real kube-scheduler, so the preemption is real; what GKE's autoscaler would add
(a node for the waiting placeholder) does not happen here, as no node group scales under kwok.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checks import Harness, Report, main, tail

CLASS = "spot-fallback"
SERVICE = "checkout"
CRD = "computeclasses.cloud.google.com"
CRD_FIXTURE = Path("tests/crd/fixtures/computeclass.cloud.google.com.yaml")
# name -> (spot, zone). e2-standard-2's allocatable on GKE is about 1930m CPU: the placeholder takes 1400m,
# leaving room for two checkout pods (250m each) per node, four in all.
POOLS = {"cc-spot": (True, "b"), "cc-on-demand": (False, "c")}
ALLOCATABLE = {"cpu": "1930m", "memory": "5Gi", "pods": "110", "ephemeral-storage": "90Gi"}
HEADROOM = {"cpu": "1400m", "memory": "1Gi", "replicas": 1}
REPLICAS, SCALED = 2, 6
TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule", "NO_EXECUTE": "NoExecute"}


class Compute:
    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        work = Path(args.work) / "compute"
        (work / "logs").mkdir(parents=True, exist_ok=True)
        self.h = Harness(argparse.Namespace(**{**vars(args), "work": str(work)}), report)
        self.h.addons_on = False
        self.report = report

    def node_pools(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "spot": spot,
                "machineType": "e2-standard-2",
                "minNodes": 1,
                "maxNodes": 1,
                "nodeLocations": [f"europe-west1-{zone}"],
                "computeClass": CLASS,
                "headroom": HEADROOM,
            }
            for name, (spot, zone) in POOLS.items()
        ]

    def nodes(self) -> str:
        """The class's kwok nodes, labelled and tainted by the program's own rules for a pool of a class."""
        sys.path.insert(0, str(self.h.program))
        from components.cluster.config import NodePoolConfig
        from components.cluster.node_pool import pool_labels, pool_taints

        docs = []
        for config in self.node_pools():
            pool = NodePoolConfig.model_validate(config)
            spot, zone = POOLS[pool.name]
            name = f"gke-e2e-{pool.name}-europe-west1-{zone}"
            labels = {
                **pool_labels(pool),
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": pool.machine_type,
                "topology.kubernetes.io/region": "europe-west1",
                "topology.kubernetes.io/zone": f"europe-west1-{zone}",
                "cloud.google.com/gke-nodepool": pool.name,
                **({"cloud.google.com/gke-spot": "true"} if spot else {}),
            }
            taints = [{"key": t.key, "value": t.value, "effect": TAINT_EFFECTS[t.effect]} for t in pool_taints(pool)]
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"}, "labels": labels},
                    "spec": {"taints": taints},
                    "status": {"capacity": {**ALLOCATABLE, "cpu": "2"}, "allocatable": ALLOCATABLE},
                }
            )
        return yaml.safe_dump_all(docs)

    def overrides(self, replicas: int) -> dict[str, Any]:
        jobs = self.h.job_overrides()
        scaling = {"minReplicas": replicas, "maxReplicas": replicas}
        service = {"placement": "spot-fallback", "computeClass": CLASS, "autoscaling": scaling}
        return {**jobs, "services": {**jobs.get("services", {}), SERVICE: service}}

    def configure(self, replicas: int) -> None:
        self.h.set_config(self.overrides(replicas), extra={"nodePools": self.node_pools()})

    # --- what the API server holds --------------------------------------------------------------------

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.h.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json")[
            "items"
        ]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def service_pods(self) -> list[dict[str, Any]]:
        return self.pods("shop", f"app.kubernetes.io/name={SERVICE}")

    def placeholders(self) -> list[dict[str, Any]]:
        return self.pods("platform-headroom", "app.kubernetes.io/component=headroom")

    def wait(self, what: str, ready: Any, seconds: int = 120) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready():
                return True
            time.sleep(2)
        print(f"  gave up waiting for {what} after {seconds}s", flush=True)
        return False

    # --- the checks -------------------------------------------------------------------------------------

    def check_class(self) -> None:
        found = self.h.kubectl("get", "computeclasses.cloud.google.com", CLASS, "-o", "json")
        priorities = [rule.get("nodepools") for rule in found["spec"].get("priorities", [])]
        self.report.check(
            f"the ComputeClass {CLASS} exists with the Spot pool first, then the on-demand pool",
            priorities == [["cc-spot"], ["cc-on-demand"]],
            f"priorities {priorities}, whenUnsatisfiable {found['spec'].get('whenUnsatisfiable')}",
        )

    def class_nodes(self) -> set[str]:
        nodes = self.h.kubectl("get", "nodes", "-l", f"cloud.google.com/compute-class={CLASS}", "-o", "json")
        return {n["metadata"]["name"] for n in nodes["items"]}

    def check_placement(self, replicas: int) -> None:
        # No `replicas` in a Deployment its HPA owns: the HPA controller raises it to minReplicas (every 15 s).
        self.wait(
            f"{replicas} running {SERVICE} pods",
            lambda: sum(p["status"].get("phase") == "Running" for p in self.service_pods()) == replicas,
        )
        pods = self.service_pods()
        selectors = {p["metadata"]["name"]: (p["spec"].get("nodeSelector") or {}) for p in pods}
        self.report.check(
            f"every {SERVICE} pod selects the ComputeClass {CLASS} ({replicas} replicas)",
            len(pods) == replicas and all(s.get("cloud.google.com/compute-class") == CLASS for s in selectors.values()),
            f"{len(pods)} pods, node selectors {sorted({json.dumps(s, sort_keys=True) for s in selectors.values()})}",
        )
        on = sorted({p["spec"].get("nodeName", "") for p in pods})
        self.report.check(
            f"every {SERVICE} pod runs on the class's nodes",
            all(p["status"].get("phase") == "Running" for p in pods) and set(on) <= self.class_nodes(),
            f"phases {sorted({p['status'].get('phase') for p in pods})}, nodes {on}",
        )

    def check_placeholders(self) -> None:
        pods = self.placeholders()
        service_priority = {p["spec"].get("priority", 0) for p in self.service_pods()}
        running = {p["spec"].get("nodeName") for p in pods if p["status"].get("phase") == "Running"}
        self.report.check(
            "a headroom placeholder runs on each pool of the class, at the platform-headroom PriorityClass",
            running == self.class_nodes()
            and all(p["spec"].get("priorityClassName") == "platform-headroom" for p in pods),
            f"running on {sorted(n or '' for n in running)}, "
            f"priority classes {sorted({p['spec'].get('priorityClassName') for p in pods})}",
        )
        priorities = {p["spec"].get("priority") for p in pods}
        self.report.check(
            "the placeholders' priority is below every service pod's",
            bool(priorities) and max(priorities) < min(service_priority, default=0),
            f"placeholders {sorted(priorities)}, {SERVICE} {sorted(service_priority)}",
        )

    def check_preemption(self) -> None:
        h = self.h
        self.configure(SCALED)
        up = h.timed("compute: up (scaled)", lambda: h.pulumi("up", "--yes", "--skip-preview", log="up-compute-scaled"))
        h.report.check(f"up with {SERVICE} scaled to {SCALED} replicas succeeds", up.returncode == 0, tail(up, 20))
        self.check_placement(SCALED)
        pods = self.placeholders()
        pending = [p for p in pods if p["status"].get("phase") == "Pending"]
        events = h.kubectl("get", "events", "-n", "platform-headroom", "-o", "json")["items"]
        preempted = sorted({e["involvedObject"]["name"] for e in events if e.get("reason") == "Preempted"})
        h.report.check(
            "the scale-up preempted placeholders, which now wait Pending, and no service pod",
            bool(preempted) and bool(pending),
            f"preempted {preempted}; placeholders pending {len(pending)} of {len(pods)}",
        )


def run(c: Compute) -> None:
    h = c.h
    stop = threading.Event()
    threading.Thread(target=h.play_controllers, args=(stop,), daemon=True).start()
    crd = str(Path(h.repo, CRD_FIXTURE))
    try:
        h.timed("compute: stack init", h.prepare)
        h.kubectl("apply", "-f", crd)
        h.kubectl("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=60s")
        h.kubectl("apply", "-f", "-", stdin=c.nodes())
        c.wait("the class's nodes Ready", lambda: len(c.class_nodes()) == len(POOLS))
        h.kubectl("wait", "--for=condition=Ready", "node", *sorted(c.class_nodes()), "--timeout=60s")
        baseline = h.inventory()
        c.configure(REPLICAS)
        up = h.timed("compute: up", lambda: h.pulumi("up", "--yes", "--skip-preview", log="up-compute"))
        if h.report.check("up of a stack with a ComputeClass and headroom succeeds", up.returncode == 0, tail(up, 30)):
            try:
                c.check_class()
                c.wait("placeholders running", lambda: len(c.placeholders()) == len(POOLS))
                c.check_placement(REPLICAS)
                c.check_placeholders()
                c.check_preemption()
            finally:
                result = h.timed(
                    "compute: destroy", lambda: h.pulumi("destroy", "--yes", "--skip-preview", log="destroy-compute")
                )
                left = sorted(h.inventory() - baseline)
                h.report.check(
                    "compute: destroy succeeds and leaves the control plane as found",
                    result.returncode == 0 and not left,
                    f"left: {left[:8]}" if left else tail(result),
                )
    finally:
        stop.set()
        for node in sorted(c.class_nodes()):
            h.kubectl("delete", "node", node, "--wait=false")
        h.kubectl("delete", "-f", crd, "--ignore-not-found")


if __name__ == "__main__":
    main(__doc__, "compute", Compute, run)
