"""The Redis reservation store against a real redis-server: totals, named reservations, expiry, fencing."""

from __future__ import annotations

import time
import uuid

import pytest

from lxd_multi_scheduler.reservations import RedisStore, Reservation, StoreUnavailable, summarize


@pytest.fixture
def store(redis_server):
    """A store with a prefix of its own."""
    created = RedisStore(redis_server.url, prefix=f"test-{uuid.uuid4().hex}")
    yield created
    created.close()


def test_totals_and_named_reservations_match_the_stored_ones(store):
    with store.locked() as view:
        assert (view.totals, view.named) == ({}, [])
        view.add(Reservation.new("lxd1", 2, 1024, 60))
        view.add(Reservation.new("lxd1", 1, 512, 60, instance_name="web-1"))
        view.add(Reservation.new("lxd2", 4, 4096, 60))
    with store.locked() as view:
        assert view.totals == {"lxd1": (3, 1536), "lxd2": (4, 4096)}
        assert [(r.host, r.instance_name) for r in view.named] == [("lxd1", "web-1")]
        assert summarize(store.active()) == (view.totals, view.named)
        view.release([view.named[0].id])
        assert view.totals["lxd1"] == (2, 1024) and view.named == []
    with store.locked() as view:
        assert view.totals == {"lxd1": (2, 1024), "lxd2": (4, 4096)}


def test_expired_reservations_stop_counting(store):
    with store.locked() as view:
        view.add(Reservation.new("lxd1", 2, 1024, 0.2, instance_name="short"))
        view.add(Reservation.new("lxd1", 1, 1, 60))
    time.sleep(0.3)
    with store.locked() as view:
        assert view.totals == {"lxd1": (1, 1)} and view.named == []
    assert len(store.active()) == 1


def test_release_outside_the_lock(store):
    with store.locked() as view:
        item = Reservation.new("lxd1", 2, 1024, 60)
        view.add(item)
    assert store.release([item.id]) == 1
    assert store.release([item.id]) == 0
    with store.locked() as view:
        assert view.totals == {}


def test_a_replica_that_lost_the_lock_cannot_write(redis_server):
    prefix = f"test-{uuid.uuid4().hex}"
    slow = RedisStore(redis_server.url, prefix=prefix, lock_ttl=0.1)
    other = RedisStore(redis_server.url, prefix=prefix)
    try:
        with pytest.raises(StoreUnavailable, match="lock expired before the reservation was written"):
            with slow.locked() as view:
                time.sleep(0.2)  # paused past the lock's expiry
                with other.locked() as other_view:  # another replica takes the lock and decides
                    other_view.add(Reservation.new("lxd1", 1, 1, 60))
                    view.add(Reservation.new("lxd1", 8, 8, 60))  # the stale decision must not land
        assert [r.cores for r in other.active()] == [1]
    finally:
        slow.close()
        other.close()


def test_a_busy_lock_times_out_clearly(redis_server):
    prefix = f"test-{uuid.uuid4().hex}"
    holder = RedisStore(redis_server.url, prefix=prefix)
    waiter = RedisStore(redis_server.url, prefix=prefix, lock_wait=0.2)
    try:
        with holder.locked():
            with pytest.raises(StoreUnavailable, match="Redis reservation lock was not free within 0.2 s"):
                with waiter.locked():
                    pass
    finally:
        holder.close()
        waiter.close()


def test_summary_does_not_wait_for_the_lock(redis_server):
    prefix = f"test-{uuid.uuid4().hex}"
    holder = RedisStore(redis_server.url, prefix=prefix)
    reader = RedisStore(redis_server.url, prefix=prefix, lock_wait=0.2)
    try:
        with holder.locked() as view:
            view.add(Reservation.new("lxd1", 2, 1024, 60))
            view.add(Reservation.new("lxd1", 1, 512, 60, instance_name="web-1"))
            view.add(Reservation.new("lxd2", 4, 4096, 0.2, instance_name="short"))
            start = time.monotonic()
            totals, named = reader.summary()  # another replica holds the lock: a read-only decision still answers
            assert time.monotonic() - start < 0.2
            assert totals == {"lxd1": (3, 1536), "lxd2": (4, 4096)}
            assert sorted(r.instance_name for r in named) == ["short", "web-1"]
            assert totals == view.totals and sorted(r.id for r in named) == sorted(r.id for r in view.named)
            with pytest.raises(StoreUnavailable, match="not free within 0.2 s"):
                with reader.locked():
                    pass
        time.sleep(0.3)
        totals, named = reader.summary()
        assert totals == {"lxd1": (3, 1536)} and [r.instance_name for r in named] == ["web-1"]
    finally:
        holder.close()
        reader.close()
