# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Modules end to end: one `ansible-playbook` run of `maas_lxd_vm` against maas-sim over HTTP.

maas-sim runs its default scenario with its default timings (commissioning 2 s, deploying 3 s,
releasing 1 s), so wall times include waiting for MAAS. The play composes and deploys a 3-node
control plane (3 tasks: cluster `bench`, 2 cores, 4 GiB, 20 GiB, a sticky static IP each,
zones az1-az3 of pool `control-plane`, Ubuntu jammy with user data), after a check-mode run of the
same play on the empty cluster, then runs again (idempotent: no write expected), and finally with
`state: absent`. API requests
and writes come from maas-sim's request log (`/_sim/requests`) for exactly that run; "reads" are
GETs. The empty-play row is the fixed cost of starting ansible-playbook, for scale.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook  # noqa: E402  pylint: disable=wrong-import-position
from simharness import SimServer  # noqa: E402  pylint: disable=wrong-import-position,import-error

NODES = 3


def control_plane(state="deployed"):
    """The 3 tasks of the play."""
    tasks = []
    for index in range(1, NODES + 1):
        args = {"hostname": "bench-cp-%d" % index, "cluster": "bench", "state": state}
        if state != "absent":
            args.update(
                cores=2, memory="4G", disks=[{"size": "20G"}], pool="control-plane", zone=["az1", "az2", "az3"],
                interfaces=[{"ip": "10.10.0.%d" % (100 + index)}], distro_series="jammy",
                user_data="#cloud-config\nhostname: bench-cp-%d\n" % index,
            )
        tasks.append({"name": "bench-cp-%d" % index, "lxdcp.maas.maas_lxd_vm": args})
    return tasks


def measure(playbook, label, tasks, **options):
    """Run one playbook; return its rows."""
    start = time.perf_counter()
    result = playbook.run(tasks, **options)
    seconds = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError("%s failed: %s" % (label, [r.get("msg") for r in result.results]))
    changed = sum(1 for r in result.results if r.get("changed"))
    reads = len(result.requests) - len(result.writes)
    notes = "%d of %d tasks changed" % (changed, len(result.results)) if result.results else "no task"
    return [
        dict(benchmark=label, metric="wall time", value=round(seconds, 2), unit="s", notes=notes),
        dict(benchmark=label, metric="API requests", value=len(result.requests), unit="requests",
             notes="%d reads, %d writes" % (reads, len(result.writes))),
        dict(benchmark=label, metric="writes", value=len(result.writes), unit="requests", notes=kinds(result.writes)),
    ]


def kinds(writes):
    """``compose x3, deploy x3, POST tags/ x1``: the writes by operation."""
    counts = {}
    for write in writes:
        name = write.get("op") or "%s %s" % (write["method"], write["path"].split("/api/2.0/", 1)[-1].split("/", 1)[0] + "/")
        counts[name] = counts.get(name, 0) + 1
    return ", ".join("%s x%d" % (name, counts[name]) for name in sorted(counts)) or "none"


def run():
    """Benchmark rows (see the module docstring)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-modules-") as workdir, SimServer() as sim:
        playbook = Playbook(sim, workdir)
        rows += measure(playbook, "empty play (ansible-playbook start)", [])[:1]
        rows += measure(playbook, "check mode before creation, 3 VMs", control_plane(), check=True)
        rows += measure(playbook, "compose + deploy 3 VMs", control_plane())
        rows += measure(playbook, "idempotent re-run, 3 VMs", control_plane())
        rows += measure(playbook, "state absent, 3 VMs", control_plane("absent"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
