# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The main job: `playbooks/control_plane.yml` and `playbooks/teardown.yml` with `playbooks/inventory/demo.yml`.

maas-sim runs its default scenario with its default timings (commissioning 2 s, deploying 3 s,
releasing 1 s), so wall times include waiting for MAAS. The inventory is the demo's: 3 control-plane
VMs of 4 cores, 16 GiB and 40 GiB with static IPs over zones az1-az3 (pool `default`). Each run is
one `ansible-playbook` process (3 inventory hosts, default forks, pipelining on), timed from start to
exit; API requests and writes come from maas-sim's request log for exactly that run ("reads" are
GETs). The full run provisions (IP plan check, placement lookup, parallel compose, waiting for
Ready), deploys (waiting for Deployed) and creates the DNS record; the re-runs must send no write.
The lookup row is the `maas_placement` planner in-process (no ansible-playbook), median of 20 runs. The
"no task" row is the fixed cost of an ansible-playbook run over the same 3 hosts, for scale: most of an
idempotent run is Ansible's own work per task and host, and it grows with the machine's load.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.lxdcp.maas.plugins.module_utils.cluster_plan import Planner  # noqa: E402
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient  # noqa: E402
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import Request  # noqa: E402
from ansible_collections.lxdcp.maas.tests.integration.roles.runner import ClusterRunner  # noqa: E402
from simharness import SimServer  # noqa: E402  pylint: disable=import-error

INVENTORY = "demo.yml"
LOOKUP_RUNS = 20


def measure(label, action, inventory, expect_writes):
    """Run one playbook; return its rows. ``expect_writes`` False: a write is an error (idempotency)."""
    start = time.perf_counter()
    result = action(inventory)
    seconds = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError("%s failed: %s" % (label, result.failures()))
    if not expect_writes and (result.writes or any(result.changed.values())):
        raise RuntimeError("%s was not idempotent: changed=%s, writes=%s" % (label, result.changed, result.write_summary()))
    changed = sum(result.changed.values())
    reads = len(result.requests) - len(result.writes)
    kinds = sorted(set(w.get("op") or w["method"] for w in result.writes))
    return [
        dict(benchmark=label, metric="wall time", value=round(seconds, 2), unit="s",
             notes="%d changed task results over %d hosts" % (changed, len(result.changed)) if result.tasks else "no task ran"),
        dict(benchmark=label, metric="API requests", value=len(result.requests), unit="requests",
             notes="%d reads, %d writes" % (reads, len(result.writes))),
        dict(benchmark=label, metric="writes", value=len(result.writes), unit="requests", notes=", ".join(kinds) or "none"),
    ]


def lookup_rows(sim):
    """The placement lookup's planner in-process against the deployed cluster (all 3 VMs exist) and for 3 new VMs."""
    client = MaasClient(sim.url, sim.api_key)
    request = Request(count=3, cores=4, memory=16384, disk=40 * 1024 ** 3, zones=["az1", "az2", "az3"], pool="default")
    rows = []
    for label, names in (("maas_placement, 3 existing VMs", ["demo-cp-1", "demo-cp-2", "demo-cp-3"]),
                         ("maas_placement, 3 new VMs", ["new-1", "new-2", "new-3"])):
        times = []
        sent = 0
        for _run in range(LOOKUP_RUNS):
            before = client.requests_sent
            start = time.perf_counter()
            Planner(client, request, names, "demo", {}).run()
            times.append(time.perf_counter() - start)
            sent = client.requests_sent - before
        rows.append(dict(benchmark=label, metric="wall time", value=round(statistics.median(times) * 1000, 1), unit="ms",
                         notes="median of %d; min %.1f, max %.1f ms" % (LOOKUP_RUNS, min(times) * 1000, max(times) * 1000)))
        rows.append(dict(benchmark=label, metric="API requests", value=sent, unit="requests", notes="all reads"))
    return rows


def no_task_playbook(workdir):
    """A play over the control-plane hosts without tasks: the fixed cost of ansible-playbook."""
    path = os.path.join(workdir, "no-task.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("- name: No task\n  hosts: control_plane\n  gather_facts: false\n  tasks: []\n")
    return path


def run():
    """Benchmark rows (see the module docstring)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-control-plane-") as workdir, SimServer() as sim:
        cluster = ClusterRunner(sim, workdir)
        empty = no_task_playbook(workdir)
        rows += measure("ansible-playbook, 3 hosts, no task", lambda inventory: cluster.run(empty, inventory), INVENTORY, False)[:1]
        rows += measure("control_plane.yml, 3 nodes", cluster.up, INVENTORY, True)
        rows += measure("control_plane.yml again (idempotent)", cluster.up, INVENTORY, False)
        rows += lookup_rows(sim)
        rows += measure("teardown.yml, 3 nodes", cluster.down, INVENTORY, True)
        rows += measure("teardown.yml again (idempotent)", cluster.down, INVENTORY, False)
    return rows


if __name__ == "__main__":
    for row in run():
        print("%-40s %-14s %10s %-9s %s" % (row["benchmark"], row["metric"], row["value"], row["unit"], row["notes"]))
