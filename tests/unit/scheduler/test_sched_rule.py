"""The scheduling decision: LXD states and reservations mapped onto the placement core."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from lxd_multi_scheduler.reservations import MemoryStore, Reservation
from lxd_multi_scheduler.scheduler import Ask, NoSuitableHost, Scheduler


@pytest.fixture
def build(lxd, make_settings):
    """``build(**settings) -> Scheduler`` over the scripted servers."""

    def make(**overrides):
        settings = make_settings(names=tuple(sorted(lxd.states)), **overrides)
        return Scheduler(settings, lxd.inventory(settings), MemoryStore())

    return make


def test_fewest_allocated_cores_wins(lxd, build):
    lxd.set("lxd1", used_cores=5)
    lxd.set("lxd2", used_cores=3)
    answer = build().schedule(Ask(cores=2, memory=1024))
    assert answer["host"] == "lxd2"
    assert answer["url"] == "https://lxd2.test:8443"
    assert answer["strategy"] == "least-allocated-cpu"
    assert re.search(r"least-allocated-cpu: 3(\.0)? cores allocated", answer["explanation"])
    assert "runner-up lxd1" in answer["explanation"]


def test_ties_break_on_free_memory_then_name(lxd, build):
    lxd.set("lxd1", used_cores=2, used_memory=4096)
    lxd.set("lxd2", used_cores=2, used_memory=1024)
    assert build().schedule(Ask(cores=1, memory=512, reserve=False))["host"] == "lxd2"
    lxd.set("lxd2", used_cores=2, used_memory=4096)
    scheduler = build()
    assert [scheduler.schedule(Ask(cores=1, memory=512, reserve=False))["host"] for _attempt in range(3)] == ["lxd1"] * 3


def test_hosts_without_room_are_skipped_with_the_reason(lxd, build):
    lxd.set("lxd1", used_cores=0, total_memory=2048, used_memory=1536)  # fewest cores, but no memory
    lxd.set("lxd2", used_cores=6)
    answer = build().schedule(Ask(cores=2, memory=1024))
    assert answer["host"] == "lxd2"
    [rejected] = answer["rejected"]
    assert (rejected["host"], rejected["host_id"], rejected["code"]) == ("lxd1", "https://lxd1.test:8443", "memory")
    assert rejected["reason"].startswith("no room: needs 1024 MiB, has 512 MiB free")


def test_over_commit_global_and_per_host(lxd, build):
    lxd.set("lxd1", total_cores=4, used_cores=4)
    lxd.set("lxd2", total_cores=4, used_cores=6)
    with pytest.raises(NoSuitableHost):
        build().schedule(Ask(cores=1, memory=256))
    assert build(cpu_over_commit=2).schedule(Ask(cores=1, memory=256))["host"] == "lxd1"
    per_host = build(hosts_extra={"lxd2": {"cpu_over_commit": 3}})
    answer = per_host.schedule(Ask(cores=4, memory=256))
    assert answer["host"] == "lxd2"
    assert re.search(r"has 0(\.0)? free \(4 x 1(\.0)? - 4 used\)", answer["rejected"][0]["reason"])


def test_fits_nowhere_names_the_tightest_constraint_per_host(lxd, build):
    with pytest.raises(NoSuitableHost) as caught:
        build().schedule(Ask(cores=16, memory=1024))
    error = caught.value
    assert error.status == 409
    body = error.body()
    assert body["error"] == "no suitable node found"
    assert body["reason"].startswith("cpu") and "16 cores" in body["reason"]  # the tightest constraint
    assert [(d["host"], d["code"]) for d in body["details"]] == [("lxd1", "cpu"), ("lxd2", "cpu")]
    assert re.match(r"no room: needs 16 cores, has 8(\.0)? free", body["details"][0]["reason"])


def test_unreachable_server_is_skipped_and_reported(lxd, build):
    lxd.set("lxd1", used_cores=7)
    lxd.down["lxd2"] = "cannot reach https://lxd2.test:8443: Connection refused"
    answer = build().schedule(Ask(cores=1, memory=1024))
    assert answer["host"] == "lxd1"
    assert answer["rejected"][0]["code"] == "unhealthy"
    assert answer["rejected"][0]["reason"] == "unhealthy: cannot reach https://lxd2.test:8443: Connection refused"


def test_all_servers_unreachable_is_503(lxd, build):
    lxd.down.update(lxd1="refused", lxd2="timed out")
    with pytest.raises(NoSuitableHost) as caught:
        build().schedule(Ask(cores=1, memory=1024))
    assert caught.value.status == 503
    assert [d["reason"] for d in caught.value.details] == ["unhealthy: refused", "unhealthy: timed out"]


def test_reservations_count_until_they_expire(lxd, build):
    lxd.set("lxd1", total_cores=2)
    lxd.set("lxd2", total_cores=2)
    scheduler = build(reservation_ttl=0.3, cache_ttl=0.1)
    first = scheduler.schedule(Ask(cores=2, memory=1024))
    second = scheduler.schedule(Ask(cores=2, memory=1024))
    assert {first["host"], second["host"]} == {"lxd1", "lxd2"}
    with pytest.raises(NoSuitableHost) as caught:
        scheduler.schedule(Ask(cores=2, memory=1024))
    assert re.search(r"2 x 1(\.0)? - 2 used", caught.value.details[0]["reason"])
    time.sleep(0.35)
    assert scheduler.schedule(Ask(cores=2, memory=1024))["host"] == "lxd1"


def test_released_reservation_frees_the_room(lxd, build):
    lxd.set("lxd2", total_cores=0)
    lxd.set("lxd1", total_cores=2)
    scheduler = build()
    answer = scheduler.schedule(Ask(cores=2, memory=1024))
    with pytest.raises(NoSuitableHost):
        scheduler.schedule(Ask(cores=2, memory=1024))
    assert scheduler.store.release([answer["reservation_id"]]) == 1
    assert scheduler.store.release([answer["reservation_id"]]) == 0
    assert scheduler.schedule(Ask(cores=2, memory=1024))["host"] == "lxd1"


def test_reservation_ends_when_its_instance_appears_in_a_later_read(lxd, build):
    lxd.set("lxd2", total_cores=0)
    lxd.set("lxd1", total_cores=4, instances=["web-1"])
    scheduler = build(cache_ttl=0)
    scheduler.schedule(Ask(cores=2, memory=1024, instance_name="web-2"))
    reserved = scheduler.store.active()
    assert [(r.host, r.instance_name, r.cores) for r in reserved] == [("lxd1", "web-2", 2)]

    # The instance exists now, with its limits: LXD counts it, the reservation must stop counting.
    lxd.set("lxd1", total_cores=4, used_cores=2, used_memory=1024, instances=["web-1", "web-2"])
    answer = scheduler.schedule(Ask(cores=2, memory=1024))
    assert answer["host"] == "lxd1"
    # It stays stored until it expires (decisions over older reads still count it), but counts for none over this read.
    assert sorted(r.instance_name or "" for r in scheduler.store.active()) == ["", "web-2"]
    assert [(h["used_cores"], h["reserved_cores"]) for h in scheduler.report()["hosts"] if h["name"] == "lxd1"] == [(2, 2)]


def test_a_named_reservation_counts_for_a_replica_whose_read_predates_the_instance(lxd, make_settings):
    """Audit, issue 5: replica A sees the instance and stops counting its reservation; replica B still
    decides from a read taken before the instance existed, so for B the reservation must still count."""
    lxd.set("lxd1", total_cores=4)
    store = MemoryStore()  # shared by both replicas, as Redis would be
    fresh, cached = make_settings(names=("lxd1",), cache_ttl=0), make_settings(names=("lxd1",), cache_ttl=20)
    first = Scheduler(fresh, lxd.inventory(fresh), store)
    second = Scheduler(cached, lxd.inventory(cached), store)
    second.inventory.snapshot()  # B reads lxd1: nothing allocated, no web-1
    time.sleep(0.01)
    first.schedule(Ask(cores=2, memory=1, instance_name="web-1"))  # 2 of 4 cores reserved
    lxd.set("lxd1", total_cores=4, used_cores=2, instances=["web-1"])  # web-1 is created with 2 cores
    assert first.schedule(Ask(cores=1, memory=1, reserve=False))["host"] == "lxd1"  # A reads web-1 (reservation not counted)
    assert [h["reserved_cores"] for h in first.report()["hosts"]] == [0]

    with pytest.raises(NoSuitableHost) as caught:  # truth: 2 of 4 cores allocated; 3 must not fit
        second.schedule(Ask(cores=3, memory=1))
    assert re.search(r"has 2(\.0)? free \(4 x 1(\.0)? - 2 used\)", caught.value.details[0]["reason"])
    assert second.schedule(Ask(cores=2, memory=1, reserve=False))["host"] == "lxd1"

    second.inventory.invalidate()  # once B's own read shows web-1, LXD counts it and the reservation does not
    assert [(h["used_cores"], h["reserved_cores"]) for h in second.report()["hosts"]] == [(2, 0)]
    with pytest.raises(NoSuitableHost):
        second.schedule(Ask(cores=3, memory=1))


def test_a_read_older_than_the_reservation_does_not_end_it(lxd, build):
    lxd.set("lxd2", total_cores=0)
    lxd.set("lxd1", total_cores=4, instances=["web-2"])  # an older instance of the same name
    scheduler = build(cache_ttl=20)
    scheduler.inventory.snapshot()  # cached before the reservation
    scheduler.schedule(Ask(cores=2, memory=1024, instance_name="web-2"))
    scheduler.schedule(Ask(cores=1, memory=1024))
    assert sorted(r.cores for r in scheduler.store.active()) == [1, 2]


def test_count_places_all_or_nothing(lxd, build):
    lxd.set("lxd1", total_cores=4)
    lxd.set("lxd2", total_cores=2)
    scheduler = build()
    answer = scheduler.schedule(Ask(cores=2, memory=1024, count=3))
    assert sorted(p["host"] for p in answer["placements"]) == ["lxd1", "lxd1", "lxd2"]
    assert len({p["reservation_id"] for p in answer["placements"]}) == 3
    with pytest.raises(NoSuitableHost):
        scheduler.schedule(Ask(cores=2, memory=1024, count=2))
    assert len(scheduler.store.active()) == 3


def test_reserve_false_only_asks(lxd, build):
    scheduler = build()
    answer = scheduler.schedule(Ask(cores=1, memory=1024, reserve=False))
    assert "reservation_id" not in answer and scheduler.store.active() == []
    disabled = build(reservation_ttl=0)
    assert "reservation_id" not in disabled.schedule(Ask(cores=1, memory=1024))


class CountingStore(MemoryStore):
    """A memory store that counts how often its reservation lock is taken, or refuses it (``refuse``)."""

    def __init__(self, refuse=False):
        super().__init__()
        self.refuse = refuse
        self.locks = 0

    def locked(self):
        self.locks += 1
        if self.refuse:
            raise AssertionError("the reservation lock must not be taken")
        return super().locked()


def test_reserve_false_counts_the_reservations_without_the_lock(lxd, make_settings):
    lxd.set("lxd1", total_cores=4)
    lxd.set("lxd2", total_cores=0)
    settings = make_settings()
    store = CountingStore()
    scheduler = Scheduler(settings, lxd.inventory(settings), store)
    scheduler.schedule(Ask(cores=3, memory=1024))
    assert store.locks == 1  # reserving keeps the lock: check and reserve stay atomic
    assert scheduler.schedule(Ask(cores=1, memory=1024, reserve=False))["host"] == "lxd1"
    with pytest.raises(NoSuitableHost) as raised:  # the active reservation counts
        scheduler.schedule(Ask(cores=2, memory=1024, reserve=False))
    assert raised.value.status == 409 and "reservation_id" not in scheduler.schedule(Ask(cores=1, memory=1, reserve=False))
    assert store.locks == 1 and len(store.active()) == 1
    store.refuse = True
    assert scheduler.schedule(Ask(cores=1, memory=1024, reserve=False))["host"] == "lxd1"
    with pytest.raises(AssertionError, match="must not be taken"):
        scheduler.schedule(Ask(cores=1, memory=1024))


def test_reserve_false_ends_a_named_reservation_like_a_reserving_decision(lxd, make_settings):
    lxd.set("lxd1", total_cores=4)
    lxd.set("lxd2", total_cores=0)
    settings = make_settings(cache_ttl=0)
    store = CountingStore()
    scheduler = Scheduler(settings, lxd.inventory(settings), store)
    scheduler.schedule(Ask(cores=3, memory=1024, instance_name="web-1"))
    store.refuse = True
    with pytest.raises(NoSuitableHost):
        scheduler.schedule(Ask(cores=2, memory=1024, reserve=False))
    lxd.set("lxd1", total_cores=4, used_cores=3, instances=["web-1"])  # LXD now counts the instance, the reservation not
    assert scheduler.schedule(Ask(cores=1, memory=1024, reserve=False))["host"] == "lxd1"
    with pytest.raises(NoSuitableHost):
        scheduler.schedule(Ask(cores=2, memory=1024, reserve=False))


def test_disabled_reservations_never_take_the_lock(lxd, make_settings):
    settings = make_settings(reservation_ttl=0)
    store = CountingStore(refuse=True)
    answer = Scheduler(settings, lxd.inventory(settings), store).schedule(Ask(cores=1, memory=1024))
    assert "reservation_id" not in answer and store.active() == []


def test_memory_store_summary_matches_the_locked_view():
    store = MemoryStore()
    with store.locked() as view:
        view.add(Reservation.new("lxd1", 2, 1024, 60))
        view.add(Reservation.new("lxd1", 1, 512, 60, instance_name="web-1"))
        view.add(Reservation.new("lxd2", 4, 4096, 0.05, instance_name="short"))
    time.sleep(0.1)
    totals, named = store.summary()
    assert totals == {"lxd1": (3, 1536)} and [r.instance_name for r in named] == ["web-1"]
    with store.locked() as view:
        assert (view.totals, view.named) == (totals, named)


def test_strategies_are_selectable(lxd, build):
    lxd.set("lxd1", total_cores=8, used_cores=1, total_memory=4096, used_memory=3072)
    lxd.set("lxd2", total_cores=8, used_cores=4, total_memory=65536)
    scheduler = build()
    assert scheduler.schedule(Ask(cores=1, memory=512, reserve=False))["host"] == "lxd1"
    answer = scheduler.schedule(Ask(cores=1, memory=512, reserve=False, strategy="most-free"))
    assert (answer["host"], answer["strategy"]) == ("lxd2", "most-free")
    assert build(strategy="most-free").schedule(Ask(cores=1, memory=512, reserve=False))["host"] == "lxd2"


def test_zone_pool_and_tags_filters(lxd, build):
    scheduler = build(hosts_extra={"lxd1": {"zone": "az1", "tags": ["ssd"]}, "lxd2": {"zone": "az2", "pool": "gpu"}})
    assert scheduler.schedule(Ask(cores=1, memory=1, zones=("az2",), reserve=False))["host"] == "lxd2"
    assert scheduler.schedule(Ask(cores=1, memory=1, tags=("ssd",), reserve=False))["host"] == "lxd1"
    with pytest.raises(NoSuitableHost) as caught:
        scheduler.schedule(Ask(cores=1, memory=1, pool="gpu", tags=("ssd",)))
    assert caught.value.reason.startswith("tags")


def test_servers_are_read_once_per_ttl(lxd, build):
    scheduler = build(cache_ttl=20)
    for _request in range(5):
        scheduler.schedule(Ask(cores=1, memory=1, reserve=False))
    assert lxd.reads == {"lxd1": 1, "lxd2": 1}
    scheduler.inventory.invalidate()
    scheduler.schedule(Ask(cores=1, memory=1, reserve=False))
    assert lxd.reads == {"lxd1": 2, "lxd2": 2}


def test_concurrent_callers_share_one_read(lxd, build):
    release = threading.Event()
    original = lxd.read

    def slow(name):
        release.wait(5)
        return original(name)

    lxd.read = slow
    scheduler = build(cache_ttl=20)
    threads = [threading.Thread(target=scheduler.inventory.snapshot) for _caller in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join()
    assert lxd.reads == {"lxd1": 1, "lxd2": 1}


def test_callers_answer_from_the_previous_state_while_one_refreshes(lxd, build):
    scheduler = build(cache_ttl=2)
    scheduler.inventory.snapshot()
    lxd.set("lxd1", used_cores=6)
    release, reading = threading.Event(), threading.Event()
    original = lxd.read

    def slow(name):
        if name == "lxd1":  # only lxd1's read is held, so the refresher is known to be inside it
            reading.set()
            release.wait(10)
        return original(name)

    lxd.read = slow
    time.sleep(2.1)  # stale, but less than one TTL past its expiry
    refresher = threading.Thread(target=scheduler.inventory.snapshot)
    refresher.start()
    assert reading.wait(10)
    # Had this call waited for the read in progress, it would have returned the new state (6).
    assert {state.name: state.used_cores for state in scheduler.inventory.snapshot()} == {"lxd1": 0, "lxd2": 0}
    release.set()
    refresher.join()
    assert {state.name: state.used_cores for state in scheduler.inventory.snapshot()}["lxd1"] == 6


def test_parallel_requests_never_share_room(lxd, build):
    """40 threads ask for 1 core each where 2 x 5 cores exist: exactly 10 succeed, 5 per host."""
    lxd.set("lxd1", total_cores=5)
    lxd.set("lxd2", total_cores=5)
    scheduler = build()
    results, start = [], threading.Barrier(40)

    def ask():
        start.wait()
        try:
            results.append(scheduler.schedule(Ask(cores=1, memory=64))["host"])
        except NoSuitableHost:
            results.append(None)

    threads = [threading.Thread(target=ask) for _caller in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(filter(None, results)) == ["lxd1"] * 5 + ["lxd2"] * 5
    assert results.count(None) == 30


def test_report_shows_room_and_reservations(lxd, build):
    lxd.set("lxd1", used_cores=2, used_memory=1000)
    lxd.down["lxd2"] = "refused"
    scheduler = build(cpu_over_commit=2)
    scheduler.schedule(Ask(cores=3, memory=24))
    report = scheduler.report()
    first, second = report["hosts"]
    assert (first["name"], first["reserved_cores"], first["free_cores"], first["free_memory"]) == ("lxd1", 3, 11.0, 15360.0)
    assert (second["ok"], second["error"], second["free_cores"]) == (False, "refused", 0)
    assert report["store"] == "memory" and len(report["reservations"]) == 1


def test_answers_speak_of_instances_of_the_request_not_replicas_of_a_cluster(lxd, build):
    lxd.set("lxd1", total_cores=8)
    lxd.set("lxd2", total_cores=2)
    scheduler = build(hosts_extra={"lxd1": {"zone": "az1"}, "lxd2": {"zone": "az2"}})
    single = scheduler.schedule(Ask(cores=1, memory=1, reserve=False))
    assert single["explanation"].startswith("least-allocated-cpu: 0 cores allocated")  # no zone-spread clause for one instance
    several = scheduler.schedule(Ask(cores=2, memory=1, count=4, reserve=False))
    assert [p["host"] for p in several["placements"]] == ["lxd1", "lxd2", "lxd1", "lxd1"]
    assert several["placements"][2]["reason"].startswith("zone az1 had 1 instance of this request (fewest: 1); "
                                                         "host already gets 1 instance of this request; ")
    assert several["warnings"][0] == ("instance 2 shares host lxd1 with 1 other instance of this request: "
                                      "no host without one had room in zone az1")
    with pytest.raises(NoSuitableHost) as caught:
        scheduler.schedule(Ask(cores=3, memory=1, count=4))
    assert caught.value.message.startswith("cannot place 4 instances (3 cores")
    for text in (json.dumps(single), json.dumps(several), json.dumps(caught.value.body())):
        assert not re.search(r"replica|cluster|\bVMs?\b", text), text
