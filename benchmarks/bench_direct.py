# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The main job in direct mode (MAAS 4.0, no VM hosts) against compose mode (MAAS 3.6 VM hosts), in one run.

Both run `playbooks/control_plane.yml` with `playbooks/inventory/demo-lxd.yml` (3 control-plane VMs of 2 cores,
4 GiB and 20 GB with static IPs over zones az1-az3), then again (idempotent: a write is an error). Compose mode:
maas-sim's default scenario (MAAS 3.6, two LXD VM hosts per zone that maas-sim simulates: no LXD daemon, so no
LXD rows). Direct mode: maas-sim's 4.0 scenario whose LXD-host machines lxd-az1-a..az3-a are three real
VM-capable LXD daemons (`make demo-lxd`'s, `tests/integration/lxdvm.py`): the collection creates the instances
on LXD, registers them in MAAS and trusts MAAS's certificate; maas-sim's `lxd` power driver reads the daemons as
MAAS would (the boot itself is simulated: these daemons cannot start VMs). maas-sim keeps its default timings in
both (commissioning 2 s, deploying 3 s), so wall times include waiting for MAAS; each run is one `ansible-playbook`
process timed from start to exit. MAAS requests come from maas-sim's request log for exactly that run ("reads"
are GETs), LXD requests from the daemons' debug logs (HTTPS API requests, told apart by client certificate: the
collection's or MAAS's). The daemons report the resources of the machine they run on, hence the small VMs.
The machine the numbers come from may be busy with other jobs.
"""

from __future__ import annotations

import collections
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# pylint: disable=wrong-import-position
from bench_control_plane import ClusterRunner, SimServer, measure  # noqa: E402
from directsite import WRITE_METHODS, DirectSite  # noqa: E402  pylint: disable=import-error
from lxdprocs import Unavailable  # noqa: E402  pylint: disable=import-error
from lxdvm import LxdVmCluster  # noqa: E402  pylint: disable=import-error

INVENTORY = "demo-lxd.yml"
MAAS_METRICS = {"API requests": "MAAS requests", "writes": "MAAS writes"}
INSTANCE = re.compile(r"^(/1\.0/instances/)[^/]+")  # an instance's name in a URL path


def maas_rows(label, action, expect_writes):
    """``measure`` of bench_control_plane (wall time, MAAS requests and writes), its metrics named after MAAS."""
    return [dict(row, metric=MAAS_METRICS.get(row["metric"], row["metric"])) for row in measure(label, action, INVENTORY, expect_writes)]


def lxd_rows(label, site, mark, expect_writes):
    """The LXD requests the daemons of ``site`` handled since ``mark``, by client, and their writes by kind."""
    requests = site.lxd_requests(mark)
    writes = [r for r in requests if r["method"] in WRITE_METHODS]
    if writes and not expect_writes:
        raise RuntimeError("%s wrote to LXD: %s" % (label, site.lxd_writes(mark)))
    by = collections.Counter(r["by"] for r in requests)
    kinds = collections.Counter("%s %s" % (r["method"], INSTANCE.sub(r"\1<name>", r["url"].split("?")[0])) for r in writes)
    return [
        dict(benchmark=label, metric="LXD requests", value=len(requests), unit="requests",
             notes="%d reads, %d writes; %d by the collection, %d by MAAS" % (
                 len(requests) - len(writes), len(writes), by["collection"], by["maas"])),
        dict(benchmark=label, metric="LXD writes", value=len(writes), unit="requests",
             notes=", ".join("%s x%d" % kind for kind in sorted(kinds.items())) or "none"),
    ]


def compose_rows(workdir):
    """Compose mode on maas-sim's default scenario (MAAS 3.6)."""
    with SimServer() as sim:
        runner = ClusterRunner(sim, os.path.join(workdir, "compose"))
        os.makedirs(runner.workdir)
        return (maas_rows("compose (MAAS 3.6), control_plane.yml", runner.up, True)
                + maas_rows("compose (MAAS 3.6), again (idempotent)", runner.up, False))


def direct_rows(workdir):
    """Direct mode on maas-sim 4.0 and three LXD daemons; a "skipped" row where they cannot run."""
    try:
        cluster = LxdVmCluster("bench", count=3)
    except Unavailable as exc:
        return [dict(benchmark="direct (MAAS 4.0 + LXD)", metric="skipped", value=0, unit="", notes=str(exc))]
    try:
        site = DirectSite(cluster, workdir, timings={})
        try:
            runner = ClusterRunner(site.sim, os.path.join(workdir, "direct"))
            os.makedirs(runner.workdir)
            rows = []
            for label, expect_writes in (("direct (MAAS 4.0 + LXD), control_plane.yml", True),
                                         ("direct (MAAS 4.0 + LXD), again (idempotent)", False)):
                mark = site.mark()
                rows += maas_rows(label, lambda inventory: runner.up(inventory, extra_vars={"lxdcp_lxd_hosts": site.entries}),
                                  expect_writes)
                rows += lxd_rows(label, site, mark, expect_writes)
            return rows
        finally:
            site.close()
    finally:
        cluster.close()


def run():
    """Benchmark rows (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="bench-direct-") as workdir:
        return compose_rows(workdir) + direct_rows(workdir)


if __name__ == "__main__":
    for row in run():
        print("%-45s %-14s %10s %-9s %s" % (row["benchmark"], row["metric"], row["value"], row["unit"], row["notes"]))
