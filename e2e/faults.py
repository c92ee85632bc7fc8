"""Faults on the real engine: an interrupted `up` and its recovery, a replaced data store, a protected destroy.

    python e2e/faults.py --repo R --work W --cache C --kubeconfig K --context e2e --timings T   (e2e/run calls it)

Runs on the control plane that e2e/run started, with its own copy of the program and its own state
(`<work>/faults`), the same `e2e` stack config as e2e/checks.py (existing-cluster mode, offline add-ons off).
Each check prints PASS or FAIL; the process exits non-zero when any failed.

1. Interrupted up, SIGINT. `pulumi up` is interrupted with SIGINT once a quarter of its objects exist. Then
   the recovery docs/operations.md describes ("When an up fails"): the pending creates the state still lists
   are dropped with `pulumi refresh --clear-pending-creates` (the provider's server-side apply re-applies an
   object that exists), the pending revision of any Helm release left mid-operation is deleted (Helm then
   installs it again and adopts what the cut-off install made), then `up` with
   PULUMI_K8S_ENABLE_PATCH_FORCE=true (its retried creates take over what the stopped up made). It converges
   when the recovering up succeeds, a third `up --expect-no-changes` passes, no object is in the state twice
   and no object of the program's kinds in the API server is missing from the state (an orphan). Then every
   object in the state is applied again under a new field manager (a server-side dry run), as a retried
   create would be: by force, the API server must accept each one, whichever a kill happens to catch.
2. Replaced data store. Growing the first data store's volume size changes its StatefulSet's
   volumeClaimTemplates, which the API server cannot update: the StatefulSet is replaced. Its claims must
   keep their UID and their bound volume, and the new pod must mount the same claim and become Ready.
3. Protected destroy. `overrides.namespaces.<ns>.protect: true` protects (and retains) the store's
   Namespace, in existing-cluster mode too. `pulumi destroy` must refuse, name the protected resource's URN
   and delete nothing. After `pulumi state unprotect`, destroy succeeds and the Namespace, with the store's
   claims in it, is retained in the cluster (then removed here by hand, so the control plane is left clean).
4. Interrupted up, SIGKILL of the CLI and its whole process tree (its plugins and the program, as a CI
   runner's cancel does), while an add-on's Helm release is mid-install (the case Helm itself refuses to
   retry). The state is then locked and may hold pending creates: `pulumi cancel` removes the lock,
   the refresh above resolves them, and the same convergence checks follow. Then destroy.

Between stacks, released static volumes are made available again (their claimRef dropped), as an
administrator recycles a static volume.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from checks import CONTROL_PLANE_OBJECTS, STACK, Harness, Report, descendants, main, reveal, tail

# Interrupt once this share of the objects the first up creates exists in the API server.
INTERRUPT_AT = 0.25
# Without add-ons (no Helm release to catch mid-install, the hardest case to recover), SIGKILL comes at this share.
KILL_AT = 0.75
# Kinds whose objects controllers make on their own (not the program's, never in the state).
CONTROLLER_MADE = {"ReplicaSet", "Pod", "PersistentVolumeClaim", "Endpoints", "EndpointSlice", "Event"}
# The statuses Helm gives a release revision while an operation on it runs.
HELM_PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
# The label selector of those revisions (the Secrets Helm keeps a release's revisions in).
HELM_PENDING_SELECTOR = f"owner=helm,status in ({','.join(HELM_PENDING)})"
# The recovering up takes over, by force, the objects a killed up created: its retried creates apply them
# under a new field-manager name, and the API server refuses a plain apply wherever an atomic field (a
# fieldRef, a StatefulSet's volumeClaimTemplates) holds a value it defaulted (docs/operations.md).
RECOVERY_ENV = {"PULUMI_K8S_ENABLE_PATCH_FORCE": "true"}
# The field manager a retried create would apply under (any name but the one the object was created with).
RETRY_MANAGER = "pulumi-kubernetes-retry"


class PendingWatch(threading.Event):
    """Set when the watch prints its first object; `stop` ends the watch."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__()
        self.process = process
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        if self.process.stdout.readline():
            self.set()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def kinds_in_state(state: dict[str, Any]) -> dict[str, str]:
    """kind -> apiVersion of every Kubernetes object the state holds."""
    return {
        r["outputs"]["kind"]: r["outputs"]["apiVersion"]
        for r in state["deployment"].get("resources", [])
        if r["type"].startswith("kubernetes:") and r.get("custom") and "outputs" in r and "kind" in r["outputs"]
    }


def state_objects(state: dict[str, Any]) -> Counter[str]:
    found: Counter[str] = Counter()
    for r in state["deployment"].get("resources", []):
        out = r.get("outputs") or {}
        if r["type"].startswith("kubernetes:") and r.get("custom") and "kind" in out:
            meta = out.get("metadata") or {}
            found[f"{out['kind'].lower()}/{meta.get('namespace', '')}/{meta.get('name')}"] += 1
    return found


class Faults:
    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        work = Path(args.work) / "faults"
        (work / "logs").mkdir(parents=True, exist_ok=True)
        self.h = Harness(argparse.Namespace(**{**vars(args), "work": str(work)}), report)
        self.report = report
        self.expected_objects = 0
        # The stack's overrides as they stand: each check adds to them, as a team's stack file grows.
        self.current: dict[str, Any] = {}
        self.store = (None, "shop")

    # --- the API server ---------------------------------------------------------------------------------

    def live_objects(self, kinds: dict[str, str]) -> set[str]:
        """kind/namespace/name of every object of `kinds` that no controller owns."""
        names = set()
        for kind, api_version in kinds.items():
            if kind in CONTROLLER_MADE:
                continue
            group = api_version.split("/")[0] if "/" in api_version else ""
            target = f"{kind}.{api_version.split('/')[-1]}.{group}" if group else kind
            for item in self.h.kubectl("get", target, "-A", "-o", "json")["items"]:
                meta = item["metadata"]
                made_by_cluster = CONTROL_PLANE_OBJECTS.match(f"{kind.lower()}/{meta['name']}")
                # Owned by a controller, made by the control plane, a Helm release's revision record, or an
                # object of a chart (its hooks too, such as Envoy Gateway's certgen Job, which Helm and the
                # Job's TTL remove): those are in the state as their Release, not one by one.
                labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
                of_a_chart = "meta.helm.sh/release-name" in annotations or "helm.sh/hook" in annotations
                if meta.get("ownerReferences") or made_by_cluster or labels.get("owner") == "helm" or of_a_chart:
                    continue
                names.add(f"{kind.lower()}/{meta.get('namespace', '')}/{meta['name']}")
        return names

    def count_new(self, baseline: set[str]) -> int:
        return len(self.h.inventory() - baseline)

    def recycle_volumes(self) -> None:
        """Released static volumes become Available again: their claim is gone, the data stays on the node."""
        for pv in self.h.kubectl("get", "pv", "-o", "json")["items"]:
            if pv.get("status", {}).get("phase") == "Released":
                patch = json.dumps([{"op": "remove", "path": "/spec/claimRef"}])
                self.h.kubectl("patch", "pv", pv["metadata"]["name"], "--type=json", "-p", patch)

    # --- the engine -------------------------------------------------------------------------------------

    def interrupted_up(self, how: signal.Signals, baseline: set[str], log: str) -> tuple[int, str]:
        """Start `pulumi up` and stop it with `how`: SIGINT once INTERRUPT_AT of its objects exist, SIGKILL once a
        Helm release is mid-install (without add-ons, once KILL_AT share of them exist); (rc, output)."""
        h = self.h
        cmd = ["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--stack", STACK]
        out_path = h.work / "logs" / f"{log}.log"
        with out_path.open("w") as out:
            # Its own session, apart from the harness's: a signal sent here reaches the CLI alone (or, for
            # SIGKILL, the CLI's process tree below).
            cli = subprocess.Popen(
                cmd, cwd=h.program, env=h.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            share = KILL_AT if how == signal.SIGKILL else INTERRUPT_AT
            target = max(3, int(self.expected_objects * share))
            deadline = time.monotonic() + 600
            # With the add-ons on, SIGKILL waits for a Helm release mid-install, however late the up starts
            # one (after most objects: a count would kill first). An install may be pending for a second or
            # two only, so a watch reports the pending revision the moment Helm writes it, and the kill follows
            # at once (the objects are counted after it). Otherwise, and for SIGINT, a share of the objects.
            wait_for_release = how == signal.SIGKILL and self.h.addons_on
            pending = self.watch_pending_releases() if wait_for_release else None
            try:
                while cli.poll() is None and time.monotonic() < deadline:
                    if pending is not None:
                        if pending.wait(0.1):
                            break
                    elif self.count_new(baseline) >= target:
                        break
                    else:
                        time.sleep(0.5)
                if cli.poll() is None and how == signal.SIGKILL:
                    # What a runner's cancel does to the job: the CLI and everything under it die at once. The
                    # plugins run in process groups of their own, so the tree is read first and killed whole.
                    for pid in descendants(cli.pid):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                elif cli.poll() is None:
                    cli.send_signal(how)
            finally:
                if pending is not None:
                    pending.stop()
            created = self.count_new(baseline)
            try:
                rc = cli.wait(timeout=600)
            except subprocess.TimeoutExpired:
                cli.kill()
                rc = cli.wait()
        output = out_path.read_text()
        print(f"  {how.name} after {created} objects existed; the CLI exited {rc}", flush=True)
        return rc, output

    def watch_pending_releases(self) -> PendingWatch:
        """A watch that is set once any Helm release revision is pending (an install or upgrade under way)."""
        cmd = ["kubectl", "--context", self.h.context, "get", "secrets", "-A", "-l", HELM_PENDING_SELECTOR]
        cmd += ["--watch", "-o", "name"]
        return PendingWatch(subprocess.Popen(cmd, env=self.h.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))

    def pending_operations(self) -> list[dict[str, Any]]:
        state = self.h.export()
        return list(state["deployment"].get("pending_operations") or [])

    def unfinished_releases(self) -> list[tuple[str, str, str]]:
        """(namespace, release, status) of every Helm release revision left mid-operation: a killed provider
        never finishes the install or upgrade it started, and Helm refuses the next one while it is pending."""
        found = self.h.kubectl("get", "secrets", "-A", "-l", HELM_PENDING_SELECTOR, "-o", "json")
        return sorted(
            (item["metadata"]["namespace"], item["metadata"]["labels"]["name"], item["metadata"]["labels"]["status"])
            for item in found["items"]
        )

    def resolve_pending(self, label: str) -> tuple[bool, str]:
        """The documented recovery: drop the pending creates with `refresh --clear-pending-creates`, and delete
        the pending revision of each Helm release left mid-operation; the next up then re-applies them."""
        h = self.h
        pending = self.pending_operations()
        releases = self.unfinished_releases()
        for namespace, release, _status in releases:
            h.kubectl(
                "delete",
                "secret",
                "-n",
                namespace,
                "-l",
                f"name={release},{HELM_PENDING_SELECTOR}",
            )
        refresh = h.pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates", log=f"refresh-{label}")
        left = self.pending_operations()
        stuck = self.unfinished_releases()
        detail = (
            f"{len(pending)} pending ({', '.join(sorted({op['type'] for op in pending})) or 'none'}), "
            f"{len(left)} left after refresh; Helm releases left mid-operation: "
            f"{', '.join(f'{ns}/{name} ({status})' for ns, name, status in releases) or 'none'}, "
            f"{len(stuck)} still pending"
        )
        return refresh.returncode == 0 and not left and not stuck, detail + tail(refresh)

    def converges(self, label: str, baseline: set[str]) -> None:
        h = self.h
        up = h.timed(
            f"up (recovery, {label})",
            lambda: h.pulumi("up", "--yes", "--skip-preview", log=f"up-recovery-{label}", env=RECOVERY_ENV),
        )
        h.report.check(f"{label}: the recovering up succeeds", up.returncode == 0, tail(up, 30))
        third = h.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes", log=f"up-third-{label}")
        h.report.check(f"{label}: a third up reports no changes", third.returncode == 0, tail(third))
        state = h.export()
        objects = state_objects(state)
        duplicates = [name for name, n in objects.items() if n > 1]
        h.report.check(
            f"{label}: no object is twice in the state",
            not duplicates,
            f"{duplicates}" if duplicates else f"{len(objects)} objects",
        )
        orphans = sorted(self.live_objects(kinds_in_state(state)) - set(objects) - baseline)
        h.report.check(
            f"{label}: no orphan in the API server (every object of the program's kinds is in the state)",
            not orphans,
            f"orphans: {orphans[:10]}" if orphans else "",
        )

    def retried_creates(self) -> None:
        """Which object a kill catches is chance, so every one is tried: each Kubernetes object in the state is
        applied again, as a retried create would, under a new field manager (a server-side dry run). Plainly,
        the API server refuses those with a defaulted value in an atomic field; by force (the recovery), it
        must accept them all, immutable fields included."""
        h = self.h
        state = h.export(show_secrets=True)
        manifests = [
            {k: v for k, v in reveal(r["inputs"]).items() if not k.startswith("__")}
            for r in state["deployment"].get("resources", [])
            if r["type"].startswith("kubernetes:") and not r["type"].startswith("kubernetes:helm.sh/")
        ]
        # On stdin, never on disk: the Secrets' values are revealed.
        listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})

        def apply(*extra: str) -> subprocess.CompletedProcess[str]:
            cmd = ["kubectl", "--context", h.context, "apply", "--server-side", "--dry-run=server"]
            cmd += [f"--field-manager={RETRY_MANAGER}", *extra, "-f", "-"]
            return subprocess.run(
                cmd, env=h.env, input=listing, text=True, capture_output=True, timeout=300, check=False
            )

        plain = apply()
        # kubectl names each object it applied, and prints each refusal's fields without the object's name.
        refused = len(manifests) - plain.stdout.count("serverside-applied")
        fields = sorted(set(re.findall(r"conflicts?: conflict with \"[^\"]+\": (.*)", plain.stderr)))
        forced = apply("--force-conflicts")
        h.report.check(
            "a retried create of any object the program makes is accepted by force (as the recovery applies it)",
            forced.returncode == 0 and forced.stdout.count("serverside-applied") == len(manifests) > 0,
            f"{len(manifests)} objects; without force the API server refuses {refused}"
            + (f", on {'; '.join(fields)[:800]}" if fields else "")
            + ("" if forced.returncode == 0 else f"; forced: {forced.stderr.strip()[-1500:]}"),
        )

    # --- the checks -------------------------------------------------------------------------------------

    def interrupted(self, how: signal.Signals, baseline: set[str]) -> bool:
        h = self.h
        label = f"interrupted up ({how.name})"
        rc, _output = h.timed(f"up ({how.name})", lambda: self.interrupted_up(how, baseline, f"up-{how.name.lower()}"))
        if not h.report.check(f"{label}: the up was stopped partway", rc != 0, f"exit {rc}"):
            return False
        if how == signal.SIGKILL:
            locked = h.pulumi("up", "--yes", "--skip-preview", log="up-locked")
            h.report.check(
                f"{label}: the next up refuses while the killed update's lock remains",
                locked.returncode != 0 and "locked" in (locked.stdout + locked.stderr),
                tail(locked, 4) if locked.returncode == 0 else "",
            )
            cancel = h.pulumi("cancel", "--yes", log="cancel")
            h.report.check(f"{label}: pulumi cancel removes the lock", cancel.returncode == 0, tail(cancel))
            if h.addons_on:
                caught = self.unfinished_releases()
                h.report.check(
                    f"{label}: the kill caught a Helm release mid-install, so its recovery is exercised",
                    bool(caught),
                    ", ".join(f"{ns}/{name} ({status})" for ns, name, status in caught),
                )
        ok, detail = self.resolve_pending(how.name.lower())
        h.report.check(f"{label}: refresh resolves every pending operation", ok, detail)
        self.converges(label, baseline)
        return True

    def replaced_store(self) -> None:
        h = self.h
        stores = [s for s in h.catalog().get("dataServices", []) if s.get("mode", "in-cluster") == "in-cluster"]
        if not h.report.check("the catalog has an in-cluster data store to replace", bool(stores)):
            return
        store = stores[0]
        name, namespace = store["name"], store["namespace"]
        before_set = h.kubectl("get", "statefulset", name, "-n", namespace, "-o", "json")
        claims = {
            c["metadata"]["name"]: (c["metadata"]["uid"], c["spec"].get("volumeName"))
            for c in h.kubectl("get", "pvc", "-n", namespace, "-o", "json")["items"]
            if c["metadata"]["name"].endswith(f"-{name}-0") or f"-{name}-" in c["metadata"]["name"]
        }
        size = before_set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
        grown = f"{int(size.rstrip('Gi')) * 2}Gi" if size.endswith("Gi") else "2Gi"
        overrides = self.current
        overrides.setdefault("dataServices", {})[name] = {"storage": {"size": grown}}
        h.set_config(overrides)
        up = h.timed("up (store replaced)", lambda: h.pulumi("up", "--yes", "--skip-preview", log="up-store"))
        if not h.report.check(
            f"up with {name}'s volume grown {size} -> {grown} succeeds", up.returncode == 0, tail(up, 30)
        ):
            return
        after_set = h.kubectl("get", "statefulset", name, "-n", namespace, "-o", "json")
        replaced = after_set["metadata"]["uid"] != before_set["metadata"]["uid"]
        h.report.check(
            f"the {name} StatefulSet was replaced", replaced, "same UID: updated in place" if not replaced else ""
        )
        pod: dict[str, Any] = {}
        ready = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pod = (
                h.kubectl("get", "pod", f"{name}-0", "-n", namespace, "-o", "json")
                if self.pod_exists(name, namespace)
                else {}
            )
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions", [])
            )
            if ready:
                break
            time.sleep(2)
        after_claims = {
            c["metadata"]["name"]: (c["metadata"]["uid"], c["spec"].get("volumeName"), c["status"].get("phase"))
            for c in h.kubectl("get", "pvc", "-n", namespace, "-o", "json")["items"]
            if c["metadata"]["name"] in claims
        }
        kept = [
            n
            for n, (uid, volume) in claims.items()
            if after_claims.get(n, (None, None, None))[:2] == (uid, volume) and after_claims[n][2] == "Bound"
        ]
        h.report.check(
            f"{name}'s claims keep their UID and bound volume across the replacement",
            bool(claims) and len(kept) == len(claims),
            f"{len(kept)}/{len(claims)} kept: " + ", ".join(f"{n} -> {claims[n][1]}" for n in sorted(claims)),
        )
        mounted = [
            v["persistentVolumeClaim"]["claimName"]
            for v in (pod.get("spec") or {}).get("volumes", [])
            if "persistentVolumeClaim" in v
        ]
        h.report.check(
            f"the new {name}-0 pod mounts the same claim and is Ready",
            ready and bool(mounted) and set(mounted) <= set(claims) and pod["metadata"]["uid"] != "",
            f"mounts {mounted}, ready {ready}",
        )
        self.store = (name, namespace)

    def pod_exists(self, name: str, namespace: str) -> bool:
        try:
            self.h.kubectl("get", "pod", f"{name}-0", "-n", namespace, "-o", "name")
            return True
        except LookupError:
            return False

    def protected_destroy(self, baseline: set[str]) -> None:
        h = self.h
        _name, namespace = self.store
        overrides = self.current
        overrides.setdefault("namespaces", {})[namespace] = {"protect": True}
        h.set_config(overrides)
        up = h.pulumi("up", "--yes", "--skip-preview", log="up-protect")
        if not h.report.check(f"up with namespaces.{namespace}.protect succeeds", up.returncode == 0, tail(up, 20)):
            return
        before = h.inventory()
        # With its preview (the default), destroy stops before deleting anything: the engine refuses a protected
        # resource's delete step, and the preview runs every step. `--skip-preview` would delete all it can first.
        refused = h.pulumi("destroy", "--yes", log="destroy-protected")
        text = refused.stdout + refused.stderr
        named = sorted(set(re.findall(r'resource "(urn:[^"]+)" cannot be deleted', text)))
        h.report.check(
            "destroy of a stack holding a protected resource refuses and names it",
            refused.returncode != 0 and any(":Namespace::" in urn for urn in named),
            f"named: {named}" if named else tail(refused, 8),
        )
        lost = sorted(before - h.inventory())
        h.report.check(
            "the refused destroy deleted nothing",
            not lost,
            f"deleted: {lost[:10]}" if lost else f"{len(before)} objects kept",
        )
        unprotect = h.pulumi("state", "unprotect", "--all", "--yes", log="unprotect")
        destroy = h.pulumi("destroy", "--yes", "--skip-preview", log="destroy-unprotected")
        h.report.check(
            "after pulumi state unprotect, destroy succeeds",
            unprotect.returncode == 0 and destroy.returncode == 0,
            tail(unprotect) + tail(destroy),
        )
        left = sorted(h.inventory() - baseline)
        claims = [n for n in left if n.startswith(f"persistentvolumeclaim/{namespace}/")]
        h.report.check(
            f"the protected Namespace {namespace} is retained with its claims",
            f"namespace//{namespace}" in left and bool(claims),
            f"left in the cluster: {left[:8]}",
        )
        self.remove_namespace(namespace)

    def remove_namespace(self, namespace: str) -> None:
        h = self.h
        try:
            h.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=120s")
        except LookupError as error:
            print(f"  could not remove the retained namespace {namespace}: {error}")

    def destroy_clean(self, baseline: set[str], label: str) -> None:
        h = self.h
        result = h.timed(
            f"destroy ({label})", lambda: h.pulumi("destroy", "--yes", "--skip-preview", log=f"destroy-{label}")
        )
        left = sorted(h.inventory() - baseline)
        h.report.check(
            f"{label}: destroy succeeds and leaves the control plane as found",
            result.returncode == 0 and not left,
            f"left: {left[:8]}" if left else tail(result),
        )


def run(f: Faults) -> None:
    h = f.h
    stop = threading.Event()
    threading.Thread(target=h.play_controllers, args=(stop,), daemon=True).start()
    try:
        f.recycle_volumes()
        h.timed("faults: stack init", h.prepare)
        f.current = h.job_overrides()
        baseline = h.inventory()
        # How many objects a whole up creates: from the program's own preview.
        preview = h.pulumi("preview", "--json", log="preview-faults")
        steps = json.loads(preview.stdout).get("steps", []) if preview.returncode == 0 else []
        f.expected_objects = sum(
            1
            for s in steps
            # The URN's type part is the parent chain, `...$kubernetes:apps/v1:Deployment`: its last link.
            if s.get("op") == "create" and s["urn"].split("::")[-2].split("$")[-1].startswith("kubernetes:")
        )
        print(f"  the up would create {f.expected_objects} Kubernetes objects", flush=True)
        try:
            if f.interrupted(signal.SIGINT, baseline):
                f.retried_creates()
                f.replaced_store()
                f.protected_destroy(baseline)
        finally:
            f.destroy_clean(baseline, "after the SIGINT case")
        f.recycle_volumes()
        f.current = h.job_overrides()
        h.set_config(f.current)
        try:
            f.interrupted(signal.SIGKILL, baseline)
        finally:
            f.destroy_clean(baseline, "after the SIGKILL case")
        f.recycle_volumes()
    finally:
        stop.set()


if __name__ == "__main__":
    main(__doc__, "faults", Faults, run)
