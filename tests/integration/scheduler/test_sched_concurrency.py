"""Many parallel requests against limited room on real LXD servers: nobody gets the same room twice.

Room is fixed per host through the over-commit ratio: ``cpu_over_commit = ROOM / cpu threads``
gives every daemon exactly ``ROOM`` cores, whatever the machine. Requests ask for 1 core each.
"""

from __future__ import annotations

import collections
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOM = 5  # cores per host
REQUESTS = 40
WORKERS = 16


def limited(lxd, **extra):
    """Scheduler settings that give each daemon exactly ROOM cores."""
    threads = lxd.daemons[0].resources()["cpu"]["total"]
    return {"cache_ttl": 30, "cpu_over_commit": ROOM / threads, "reservation_ttl": 120, **extra}


def storm(schedulers):
    """Send REQUESTS concurrent 1-core requests, spread round-robin over ``schedulers``."""

    def one(index):
        response = schedulers[index % len(schedulers)].schedule(1, 64, instance_name=f"vm-{index}")
        return response.status_code, response.json()

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(one, range(REQUESTS)))


def assert_no_over_commit(results, hosts=2):
    statuses = collections.Counter(status for status, _body in results)
    assert statuses == {200: ROOM * hosts, 409: REQUESTS - ROOM * hosts}, statuses
    per_host = collections.Counter(body["host"] for status, body in results if status == 200)
    assert per_host == {"lxd1": ROOM, "lxd2": ROOM}
    reservation_ids = [body["reservation_id"] for status, body in results if status == 200]
    assert len(set(reservation_ids)) == len(reservation_ids)
    refused = [body for status, body in results if status == 409]
    assert all(body["error"] == "no suitable node found" and {d["code"] for d in body["details"]} == {"cpu"} for body in refused)


def test_in_memory_reservations(lxd, start_scheduler):
    scheduler = start_scheduler(lxd.hosts(), limited(lxd))
    assert_no_over_commit(storm([scheduler]))
    hosts = scheduler.request("GET", "/hosts").json()["hosts"]
    assert [(h["reserved_cores"], h["free_cores"]) for h in hosts] == [(ROOM, 0), (ROOM, 0)]


def test_two_replicas_sharing_redis(lxd, redis_server, start_scheduler):
    config = limited(lxd, redis_prefix=f"test-{uuid.uuid4().hex}")
    env = {"REDIS_URL": redis_server.url}
    first = start_scheduler(lxd.hosts(), config, env, name="replica-a")
    second = start_scheduler(lxd.hosts(), config, env, name="replica-b")
    assert first.request("GET", "/healthz").json()["store"] == "redis"
    results = storm([first, second])
    assert_no_over_commit(results)
    granted = {body["reservation_id"] for status, body in results if status == 200}
    for replica in (first, second):  # both replicas see every reservation
        assert {r["id"] for r in replica.request("GET", "/reservations").json()["reservations"]} == granted
    released = next(iter(granted))
    assert second.request("DELETE", f"/reservations/{released}").status_code == 204
    assert first.schedule(1, 64).status_code == 200  # the released core is free again, on either replica


def test_replicas_without_a_shared_store_do_over_commit(lxd, start_scheduler):
    """Control: the storm test detects over-commitment when replicas do not share reservations."""
    config = limited(lxd)
    first = start_scheduler(lxd.hosts(), config, name="alone-a")
    second = start_scheduler(lxd.hosts(), config, name="alone-b")
    results = storm([first, second])
    granted = sum(status == 200 for status, _body in results)
    assert granted == 2 * 2 * ROOM
    with pytest.raises(AssertionError):
        assert_no_over_commit(results)


def test_redis_unavailable_is_503_not_a_guess(lxd, start_scheduler):
    from lxdharness import free_port  # pylint: disable=import-outside-toplevel

    scheduler = start_scheduler(lxd.hosts(), limited(lxd), {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    response = scheduler.schedule(1, 64)
    assert response.status_code == 503
    assert response.json()["error"].startswith("reservation store unavailable: Redis:")
    health = scheduler.request("GET", "/healthz")
    assert health.status_code == 503 and health.json()["status"] == "error"
    assert scheduler.schedule(1, 64, reserve=False).status_code == 503  # decisions still need the lock
