# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement core: wall time of one `plan()` call and its explanation (`explain.plan_dict`, or `explain.error_dict`
for the impossible request, in the collection's words: validation, filtering, placing, explanations) per strategy.

Hosts are generated with a fixed seed: 8-128 cores and 32-512 GiB memory each, 0-90% used, over-commit
1.0-2.0 (CPU) and 1.0-1.2 (memory), a default storage pool with 100-2000 GB free, 20% in a second resource
pool (rejected: the request wants `default`), 2% unhealthy. Each VM asks for 4 cores, 8192 MiB and 20 GB.
The last case gives every host its own zone, the worst case for the per-zone scan.
Values are the median of 5 runs (min and max in the notes).
"""

from __future__ import annotations

import random
import statistics
import time

from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import Host, PlacementError, Request, plan
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.explain import VM, error_dict, error_reason, plan_dict

GB = 10 ** 9
STRATEGIES = ("least-allocated-cpu", "most-free", "balanced")
REPEAT = 5
# (VMs, hosts, zones)
CASES = (
    (3, 10_000, 3),
    (100, 10_000, 10),
    (100, 1_000, 10),
    (100, 10_000, 10_000),
)


def make_hosts(count, zones, seed=42):
    """``count`` reproducible hosts spread over ``zones`` zones."""
    rng = random.Random(seed)
    hosts = []
    for index in range(count):
        cores = rng.choice((8, 16, 32, 64, 128))
        memory = rng.choice((32, 64, 128, 256, 512)) * 1024
        hosts.append(Host(
            name=f"lxd-{index:05d}",
            total_cores=cores,
            used_cores=int(cores * rng.uniform(0, 0.9)),
            total_memory=memory,
            used_memory=int(memory * rng.uniform(0, 0.9)),
            zone=f"az{index % zones:05d}",
            pool="default" if rng.random() < 0.8 else "batch",
            cpu_over_commit=rng.choice((1.0, 1.5, 2.0)),
            memory_over_commit=rng.choice((1.0, 1.2)),
            storage={"default": rng.randint(100, 2000) * GB},
            default_storage_pool="default",
            healthy=rng.random() >= 0.02,
            health_reason="machine is Broken",
            id=index,
        ))
    return hosts


def measure(hosts, request):
    """Median, min and max seconds of ``plan(hosts, request)`` and its explanation over REPEAT runs, and the last outcome."""
    times = []
    outcome = None
    for _repeat in range(REPEAT):
        start = time.perf_counter()
        try:
            outcome = plan(hosts, request)
            plan_dict(outcome, VM)
        except PlacementError as error:
            outcome = error
            error_dict(error, VM)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), outcome


def row(benchmark, metric, timing, notes):
    median, low, high = timing
    return {
        "benchmark": benchmark,
        "metric": f"{metric} (median of {REPEAT})",
        "value": median * 1000,
        "unit": "ms",
        "notes": f"min {low * 1000:.1f}, max {high * 1000:.1f} ms; {notes}",
    }


def run():
    """One row per case and strategy: median wall time of plan() in milliseconds."""
    rows = []
    for count, host_count, zones in CASES:
        hosts = make_hosts(host_count, zones)
        for strategy in STRATEGIES:
            request = Request(count=count, cores=4, memory=8192, disk=20 * GB, pool="default", strategy=strategy)
            *timing, result = measure(hosts, request)
            rows.append(row(f"plan {count} VMs over {host_count:,} hosts in {zones:,} zones", strategy, timing,
                            f"{len(result.rejected):,} hosts rejected; spread {result.skew}"))
    # The error path: no host has 300 cores (at most 128 x 2.0), so every host is rejected and the
    # tightest constraint is worked out.
    hosts = make_hosts(10_000, 10)
    *timing, error = measure(hosts, Request(count=3, cores=300, memory=8192, pool="default"))
    if not isinstance(error, PlacementError):
        raise RuntimeError("the impossible request was placed: the generated hosts changed")
    rows.append(row("impossible request (3 VMs of 300 cores) over 10,000 hosts", "most-free, PlacementError", timing,
                    f"{len(error.rejected):,} rejections; reason: {error_reason(error)}"))
    return rows


if __name__ == "__main__":
    for item in run():
        print(f"{item['benchmark']:<58} {item['metric']:<36} {item['value']:>9.1f} {item['unit']}  {item['notes']}")
