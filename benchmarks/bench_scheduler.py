"""lxd-multi-scheduler under a bounded load on loopback.

Two real LXD daemons (the integration tests' harness; 20 limited containers between them), the
scheduler started with its console script, and client threads with keep-alive sessions sending
``POST /schedule`` as fast as answers come. Each scenario stops after its request count or 60 s,
whichever comes first. Every replica answers one question before the clock starts, so measured
requests find its LXD cache warm (the cold read is reported on its own row). Latency is measured
by the client (request sent to answer read), so it includes HTTP on loopback; clients, schedulers,
redis-server and the LXD daemons share the machine's CPUs. An error is any answer other than the
expected 200 (or a transport error); one error fails the run, which then writes no numbers. The
same load, with room for only part of it, is a test (``tests/integration/scheduler/test_sched_load.py``:
no error, no over-commit). The cache TTL is 5 s, so long scenarios include re-reads.

Scenarios: decisions only (``reserve: false``, cache hits), decisions with in-memory reservations,
the same with shoes-lxd-multi's flat body (``{"cpu", "memory" in bytes, "target_hosts"}``, answered
with the address; its throughput is also given as a ratio to the nested body's, taken in the same
run), and two replicas sharing reservations in a local redis-server, the clients alternating between them.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration", "scheduler"))

from lxdharness import LxdCluster, RedisServer, Unavailable  # noqa: E402  pylint: disable=wrong-import-position
from schedharness import LoadResult, SchedulerProcess, load  # noqa: E402  pylint: disable=wrong-import-position

CLIENTS = 4
MAX_SECONDS = 60.0
BODY = {"instance_requirements": {"cpu": 1, "memory": 64}}


def warm(processes):
    """One answered question per replica, so that no measured request pays the first LXD read."""
    for process in processes:
        process.schedule(1, 64, reserve=False).raise_for_status()


class LoadErrors(RuntimeError):
    """A scenario had answers other than 200: its numbers would measure something else than the service working."""


def measure(name, urls, total, body, notes):
    """Benchmark rows of one scenario; raise :class:`LoadErrors` when any request failed."""
    result: LoadResult = load(urls, total, body, CLIENTS, MAX_SECONDS)
    errors = result.errors()
    if errors:
        raise LoadErrors(f"{name}: {errors} of {len(result.latencies)} requests failed: {dict(result.statuses)}; "
                         f"first: {result.unexpected[:3] or result.refusals[:1]}")
    latencies = result.latencies
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [latencies[0]] * 99
    return [
        {"benchmark": name, "metric": "requests", "value": len(latencies), "unit": "", "notes": notes},
        {"benchmark": name, "metric": "errors", "value": errors, "unit": "", "notes": "answers other than 200 (any fails the run)"},
        {"benchmark": name, "metric": "throughput", "value": len(latencies) / result.seconds, "unit": "req/s", "notes": f"{CLIENTS} clients"},
        {"benchmark": name, "metric": "latency p50", "value": cuts[49] * 1000, "unit": "ms", "notes": ""},
        {"benchmark": name, "metric": "latency p95", "value": cuts[94] * 1000, "unit": "ms", "notes": ""},
        {"benchmark": name, "metric": "latency p99", "value": cuts[98] * 1000, "unit": "ms", "notes": ""},
    ]


def _throughput(rows):
    return next(row["value"] for row in rows if row["metric"] == "throughput")


def run():
    """Start LXD, redis and schedulers; measure three scenarios."""
    try:
        cluster = LxdCluster(f"bench-{os.getpid()}")
    except Unavailable as exc:
        return [{"benchmark": "scheduler", "metric": "skipped", "value": 0, "unit": "", "notes": f"no LXD: {exc}"}]
    workdir = tempfile.mkdtemp(prefix="bench-scheduler-")
    started = []
    redis = None
    try:
        for index in range(20):
            cluster.daemons[index % 2].create(f"c{index}", cpu=1 + index % 3, memory=f"{256 * (1 + index % 4)}MiB")
        threads = cluster.daemons[0].resources()["cpu"]["total"]
        # Room for every reserving request of a scenario: 200 cores per host (the 20 containers hold about 40).
        config = {"cache_ttl": 5, "cpu_over_commit": 200 / threads, "reservation_ttl": 300, "log_level": "warning"}

        def scheduler(name, prefix=None, **env):
            process = SchedulerProcess(workdir, cluster.hosts(), {**config, "redis_prefix": prefix or f"bench-{uuid.uuid4().hex}"}, env, name)
            started.append(process)
            return process

        single = scheduler("single")
        read = single.request("GET", "/hosts").json()["hosts"]
        rows = [{"benchmark": "machine", "metric": "load average (1 min)", "value": os.getloadavg()[0], "unit": "",
                 "notes": "before the runs; other work on the machine skews the numbers"},
                {"benchmark": "LXD read (cold cache)", "metric": "duration", "value": max(h["duration"] for h in read) * 1000,
                 "unit": "ms", "notes": "slowest of 2 servers; /1.0, /1.0/resources, /1.0/instances?all-projects"}]
        warm([single])
        rows += measure("decide only (reserve=false)", [single.url], 3000, dict(BODY, reserve=False), "1 replica, cached LXD state")
        nested = measure("decide + reserve (memory)", [single.url], 300, dict(BODY, reserve=True), "1 replica, 300 reservations")
        # A replica of its own (same settings, empty reservations): the room is sized for one scenario's reservations.
        flat_replica = scheduler("flat")
        warm([flat_replica])
        flat_body = {"cpu": 1, "memory": 64 * 1024 * 1024, "target_hosts": [d.url for d in cluster.daemons]}
        flat = measure("decide + reserve (memory), flat body", [flat_replica.url], 300, flat_body,
                       "shoes-lxd-multi's body (target_hosts = both servers), 1 replica, 300 reservations")
        rows += nested + flat + [{
            "benchmark": "flat body / nested body", "metric": "throughput ratio", "value": _throughput(flat) / _throughput(nested),
            "unit": "x", "notes": "decide + reserve (memory), two replicas alike, same run, one after the other"}]
        redis = RedisServer(os.path.join(workdir, "redis"))
        shared = f"bench-{uuid.uuid4().hex}"  # one prefix: the replicas share the reservations, not only the server
        replicas = [scheduler("replica-a", shared, REDIS_URL=redis.url), scheduler("replica-b", shared, REDIS_URL=redis.url)]
        warm(replicas)
        rows += measure("decide + reserve (redis)", [r.url for r in replicas], 300, dict(BODY, reserve=True),
                        "2 replicas sharing redis-server, 300 reservations")
        return rows
    finally:
        for process in started:
            process.stop()
        if redis:
            redis.stop()
        cluster.close()


if __name__ == "__main__":
    for result in run():
        print(result)
