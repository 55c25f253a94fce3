"""A bounded load on real LXD servers: no request fails and no room is promised twice.

The benchmark (``benchmarks/bench_scheduler.py``) measures this load; this test is where errors
fail. Each run sends ``REQUESTS`` reserving 1-core requests from ``CLIENTS`` keep-alive clients
(the benchmark's :func:`schedharness.load`), stopping after ``MAX_SECONDS`` at the latest, against
room for only part of them, so that the run crosses from "fits" to "full" under load. Every answer
must be a 200 or a 409 naming CPU, and the 200s must fill the room exactly.
"""

from __future__ import annotations

import uuid

import pytest

from schedharness import load

REQUESTS = 500
CLIENTS = 4
MAX_SECONDS = 60.0
ROOM = 150  # cores per host (through the over-commit ratio); the containers below use part of it
CONTAINERS = {"lxd1": [2, 2, 2], "lxd2": [4]}  # limits.cpu of the containers on each daemon


@pytest.mark.parametrize("replicas", [1, 2], ids=["memory", "redis-2-replicas"])
def test_bounded_load_has_no_errors_and_no_over_commit(request, lxd, start_scheduler, replicas):
    daemons = {daemon.name: daemon for daemon in lxd.daemons}
    for name, limits in CONTAINERS.items():
        for index, cpu in enumerate(limits):
            daemons[name].create(f"busy-{index}", cpu=cpu, memory="128MiB")
    threads = lxd.daemons[0].resources()["cpu"]["total"]
    config = {"cache_ttl": 5, "cpu_over_commit": ROOM / threads, "reservation_ttl": 300, "log_level": "warning",
              "redis_prefix": f"load-{uuid.uuid4().hex}"}
    env = {"REDIS_URL": request.getfixturevalue("redis_server").url} if replicas > 1 else {}
    schedulers = [start_scheduler(lxd.hosts(), config, env, name=f"load-{index}") for index in range(replicas)]
    room = {name: ROOM - sum(limits) for name, limits in CONTAINERS.items()}

    result = load([s.url for s in schedulers], REQUESTS, {"instance_requirements": {"cpu": 1, "memory": 64}}, CLIENTS, MAX_SECONDS)

    assert not result.timed_out, f"the run hit its {MAX_SECONDS:g} s bound after {len(result.latencies)} requests"
    assert result.errors(expected=(200, 409)) == 0, (dict(result.statuses), result.unexpected)
    assert dict(result.statuses) == {200: sum(room.values()), 409: REQUESTS - sum(room.values())}
    assert dict(result.granted) == room  # every core of room granted once, none twice
    assert all(body["error"] == "no suitable node found" and {d["code"] for d in body["details"]} == {"cpu"}
               for body in result.refusals)
    for scheduler in schedulers:
        hosts = {h["name"]: h for h in scheduler.request("GET", "/hosts").json()["hosts"]}
        assert {name: (h["reserved_cores"], h["free_cores"]) for name, h in hosts.items()} == {
            name: (free, 0) for name, free in room.items()}
