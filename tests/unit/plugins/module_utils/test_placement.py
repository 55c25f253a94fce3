# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the placement core: filters, strategies, spread, anti-affinity, explanations, errors."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import (
    STRATEGIES,
    Host,
    PlacementError,
    Request,
    free_cores,
    free_memory,
    free_storage,
    plan,
    register_strategy,
    storage_pool_for,
    zone_spread,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.explain import (
    VM,
    error_dict,
    error_message,
    error_reason,
    format_bytes,
    placement_reason,
    plan_dict,
    plan_lines,
    rejection_reason,
    warning_text,
)

GB = 10 ** 9
GIB = 1 << 30


def host(name, zone="az1", cores=16, used=0, memory=65536, used_memory=0, **fields):
    """A host with plenty of room unless told otherwise."""
    return Host(name=name, total_cores=cores, used_cores=used, total_memory=memory, used_memory=used_memory,
                zone=zone, **fields)


def three_zones(per_zone=2, **fields):
    """``per_zone`` identical hosts in each of az1, az2, az3."""
    return [host(f"{zone}-h{i}", zone=zone, **fields) for zone in ("az1", "az2", "az3") for i in range(per_zone)]


def request(count=1, cores=4, memory=8192, **fields):
    return Request(count=count, cores=cores, memory=memory, **fields)


def zones_of(result):
    return [item.zone for item in result.placements]


def rejection(result, name):
    return next(item for item in result.rejected if item.host == name)


def rejected_because(result, name):
    """The reason the host ``name`` was rejected, in words."""
    return rejection_reason(rejection(result, name))


def reason(placement):
    """A placement's reason in the collection's words."""
    return placement_reason(placement, VM)


def warnings_of(result):
    return [warning_text(warning, VM) for warning in result.warnings]


def failure(hosts, req):
    """The PlacementError of an impossible request."""
    with pytest.raises(PlacementError) as caught:
        plan(hosts, req)
    return caught.value


# --------------------------------------------------------------------------- capacity maths


def test_free_cores_and_memory_apply_the_over_commit_ratio():
    item = host("a", cores=16, used=20, memory=32768, used_memory=30000, cpu_over_commit=2.0, memory_over_commit=1.5)
    assert free_cores(item) == 12.0
    assert free_memory(item) == 19152.0


def test_capacity_is_rounded_so_that_float_noise_does_not_lose_a_core():
    # 100 * 0.29 is 28.999999999999996 in binary floating point.
    assert free_cores(host("a", cores=100, used=25, cpu_over_commit=0.29)) == 4.0
    assert plan([host("a", cores=100, used=25, cpu_over_commit=0.29)], request(cores=4)).hosts == ["a"]


def test_free_storage_uses_requested_then_default_then_roomiest_pool():
    item = host("a", storage={"default": 5 * GB, "fast": 50 * GB, "slow": 80 * GB}, default_storage_pool="default")
    assert storage_pool_for(item, request(storage_pool="fast")) == "fast"
    assert storage_pool_for(item, request()) == "default"
    assert free_storage(item, request()) == 5 * GB
    no_default = host("b", storage={"fast": 50 * GB, "slow": 80 * GB, "tie": 80 * GB})
    assert storage_pool_for(no_default, request()) == "slow"
    assert storage_pool_for(host("c"), request(storage_pool="fast")) is None
    assert free_storage(host("c"), request()) is None


@pytest.mark.parametrize("size, text", [
    (20 * GB, "20 GB"),
    (20 * GIB, "20 GiB"),
    (5 * GB + 123456789, "5.12 GB"),
    (512 * (1 << 20), "512 MiB"),
    (999, "999 bytes"),
])
def test_format_bytes(size, text):
    assert format_bytes(size) == text


# --------------------------------------------------------------------------- filters


def test_pool_filter():
    result = plan([host("a", pool="x"), host("b", pool="y")], request(pool="y"))
    assert result.hosts == ["b"]
    assert rejection(result, "a").code == "pool"
    assert rejected_because(result, "a") == "wrong pool: in 'x', wants 'y'"


def test_no_pool_in_request_accepts_every_pool():
    assert plan([host("a", pool="x")], request()).hosts == ["a"]


def test_tags_filter_needs_every_requested_tag():
    hosts = [host("a", tags=("ssd",)), host("b", tags=("gpu", "ssd", "extra")), host("c")]
    result = plan(hosts, request(tags=("gpu", "ssd")))
    assert result.hosts == ["b"]
    assert rejected_because(result, "a") == "missing tags: gpu"
    assert rejected_because(result, "c") == "missing tags: gpu, ssd"
    assert {item.code for item in result.rejected} == {"tags"}


def test_zone_filter():
    result = plan([host("a", zone="az4"), host("b", zone="az1")], request(zones=["az1", "az2"]))
    assert result.hosts == ["b"]
    assert rejection(result, "a").code == "zone"
    assert rejected_because(result, "a") == "zone az4 not requested (wants az1, az2)"


def test_unhealthy_hosts_are_rejected_with_their_reason():
    hosts = [host("a", healthy=False, health_reason="machine is Broken"), host("b", healthy=False), host("c")]
    result = plan(hosts, request())
    assert result.hosts == ["c"]
    assert rejection(result, "a").code == "unhealthy"
    assert rejected_because(result, "a") == "unhealthy: machine is Broken"
    assert rejected_because(result, "b") == "unhealthy: no reason given"


def test_cpu_filter_explains_the_over_commit_maths():
    result = plan([host("a", cores=16, used=14), host("b")], request(cores=4))
    assert rejection(result, "a").code == "cpu"
    assert rejected_because(result, "a") == "no room: needs 4 cores, has 2.0 free (16 x 1.0 - 14 used)"


def test_over_commit_makes_room():
    busy = host("a", cores=16, used=30, cpu_over_commit=2.0)
    assert rejected_because(plan([busy, host("b")], request(cores=4)), "a") == (
        "no room: needs 4 cores, has 2.0 free (16 x 2.0 - 30 used)")
    assert plan([dataclasses.replace(busy, cpu_over_commit=2.5)], request(cores=4)).hosts == ["a"]


def test_memory_filter():
    result = plan([host("a", memory=32768, used_memory=28672, memory_over_commit=1.0), host("b")], request(memory=8192))
    assert rejection(result, "a").code == "memory"
    assert rejected_because(result, "a") == "no room: needs 8192 MiB, has 4096 MiB free (32768 x 1.0 - 28672 used)"


def test_every_missing_resource_is_named_and_the_first_gives_the_code():
    result = plan([host("a", used=16, used_memory=65536), host("b")], request())
    assert rejection(result, "a").code == "cpu"
    assert "needs 4 cores" in rejected_because(result, "a")
    assert "needs 8192 MiB" in rejected_because(result, "a")


def test_storage_filter_on_requested_pool():
    hosts = [
        host("a", storage={"fast": 5 * GB, "default": 100 * GB}, default_storage_pool="default"),
        host("b", storage={"default": 100 * GB}, default_storage_pool="default"),
        host("c", storage={"fast": 50 * GB}),
    ]
    result = plan(hosts, request(disk=20 * GB, storage_pool="fast"))
    assert result.hosts == ["c"]
    assert rejection(result, "a").code == "storage"
    assert rejected_because(result, "a") == "storage pool 'fast': needs 20 GB, has 5 GB"
    assert rejected_because(result, "b") == "storage pool 'fast' not on this host (has: default)"


def test_storage_filter_on_default_pool():
    hosts = [
        host("a", storage={"default": 5 * GB, "big": 500 * GB}, default_storage_pool="default"),
        host("b", storage={"default": 500 * GB}, default_storage_pool="default"),
    ]
    result = plan(hosts, request(disk=20 * GB))
    assert result.hosts == ["b"]
    assert rejected_because(result, "a") == "storage pool 'default': needs 20 GB, has 5 GB"


def test_hosts_without_storage_information_and_requests_without_disk_are_not_storage_checked():
    assert plan([host("a")], request(disk=20 * GB, storage_pool="fast")).hosts == ["a"]
    assert plan([host("a", storage={"default": 0}, default_storage_pool="default")], request()).hosts == ["a"]


def test_host_reporting_no_storage_pools_is_rejected_when_a_disk_is_asked():
    result = plan([host("a", storage={}), host("b")], request(disk=GB))
    assert rejected_because(result, "a") == "no storage pool: the host reports none"


def test_filters_run_in_order_and_report_the_first_failure():
    result = plan([host("a", pool="x", tags=(), healthy=False, used=16), host("b", pool="y")], request(pool="y", tags=()))
    assert rejection(result, "a").code == "pool"
    result = plan([host("a", zone="az9", healthy=False), host("b")], request(zones=["az1"]))
    assert rejection(result, "a").code == "zone"
    result = plan([host("a", healthy=False, used=16), host("b")], request())
    assert rejection(result, "a").code == "unhealthy"


def test_rejections_carry_host_id_and_zone_and_are_sorted_by_name():
    hosts = [host("z", pool="x", id=7, zone="az2"), host("m", pool="x", id="lxd://m"), host("ok")]
    result = plan(hosts, request(pool="default"))
    assert [(item.host, item.host_id, item.zone) for item in result.rejected] == [("m", "lxd://m", "az1"), ("z", 7, "az2")]


# --------------------------------------------------------------------------- strategies


def test_least_allocated_cpu_picks_fewest_allocated_cores():
    hosts = [host("a", used=6), host("b", used=2, cores=4), host("c", used=4, cores=64)]
    assert plan(hosts, request(cores=1, strategy="least-allocated-cpu")).hosts == ["b"]


def test_least_allocated_cpu_ties_break_on_free_memory_then_name():
    hosts = [host("c", used=2), host("a", used=2, used_memory=1024), host("b", used=2)]
    result = plan(hosts, request(strategy="least-allocated-cpu"))
    assert result.hosts == ["b"]  # b and c have more free memory than a; b < c by name
    assert result.placements[0].runner_up == "c"


def test_most_free_picks_the_highest_free_ratio_sum():
    # free cores / 4 + free MiB / 8192: a = 2 + 8 = 10, b = 8 + 2 = 10, c = 7.5 + 4 = 11.5
    hosts = [host("a", cores=8), host("b", cores=32, memory=16384), host("c", cores=30, memory=32768)]
    result = plan(hosts, request(strategy="most-free"))
    assert result.hosts == ["c"]
    assert result.placements[0].score == -11.5
    assert "free ratio 11.50 = 30.0 free cores / 4 + 32768 MiB free / 8192" in reason(result.placements[0])


def test_most_free_ties_break_on_free_memory_then_name():
    # Both ratios are 10: b has more free memory.
    hosts = [host("a", cores=32, memory=16384), host("b", cores=8, memory=65536)]
    assert plan(hosts, request(strategy="most-free")).hosts == ["b"]
    same = [host("b"), host("a")]
    assert plan(same, request(strategy="most-free")).hosts == ["a"]


def test_balanced_picks_the_smallest_gap_between_cpu_and_memory_use():
    hosts = [
        host("cpu-heavy", cores=8, used=4, memory=65536),  # after: cpu 1.0, mem 0.125
        host("even", cores=16, used=4, memory=32768, used_memory=8192),  # after: cpu 0.5, mem 0.5
        host("idle", cores=64, memory=65536),  # after: cpu 0.0625, mem 0.125
    ]
    result = plan(hosts, request(strategy="balanced"))
    assert result.hosts == ["even"]
    assert result.placements[0].score == 0.0
    assert "CPU 50% and memory 50% used" in reason(result.placements[0])


def test_balanced_ties_break_on_lower_use_then_free_memory():
    hosts = [
        host("busy", cores=16, used=4, memory=65536, used_memory=16384),  # after: cpu 0.5, mem 0.375
        host("quiet", cores=16, memory=65536),  # after: cpu 0.25, mem 0.125: same gap, lower use
    ]
    assert plan(hosts, request(strategy="balanced")).hosts == ["quiet"]
    twins = [
        host("a", cores=16, memory=65536),  # after: cpu 0.25, mem 0.125
        host("b", cores=32, used=4, memory=131072, used_memory=8192),  # same fractions, more free memory
    ]
    assert plan(twins, request(strategy="balanced")).hosts == ["b"]
    assert plan([host("d"), host("c")], request(strategy="balanced")).hosts == ["c"]


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown strategy 'fastest'; known strategies: .*balanced.*least-allocated-cpu.*most-free"):
        plan([host("a")], request(strategy="fastest"))


def test_registered_strategy_is_used_and_sees_planned_usage():
    seen = []

    def most_memory_used(item, _request):
        seen.append((item.name, item.used_cores, item.replicas))
        return (-item.used_memory,)

    register_strategy("test-most-memory-used", most_memory_used)
    try:
        hosts = [host("a", used_memory=1024), host("b", used_memory=2048)]
        result = plan(hosts, request(count=2, strategy="test-most-memory-used"))
        assert result.hosts == ["b", "a"]
        assert ("b", 4, 1) in seen  # re-keyed after the first placement: the reserved 4 cores count
        assert "test-most-memory-used: key [-2048]" in reason(result.placements[0])
        with pytest.raises(ValueError, match="already registered"):
            register_strategy("test-most-memory-used", most_memory_used)
        register_strategy("test-most-memory-used", most_memory_used, describe=lambda item, req: "custom words", replace=True)
        assert "custom words" in reason(plan(hosts, request(strategy="test-most-memory-used")).placements[0])
    finally:
        STRATEGIES.pop("test-most-memory-used")


@pytest.mark.parametrize("name, func, message", [
    ("", lambda h, r: 0, "non-empty string"),
    ("x", "not callable", "must be callable"),
])
def test_register_strategy_rejects_bad_input(name, func, message):
    with pytest.raises(ValueError, match=message):
        register_strategy(name, func)


# --------------------------------------------------------------------------- zone spread


def test_three_replicas_over_three_zones_land_one_per_zone():
    result = plan(three_zones(), request(count=3))
    assert sorted(zones_of(result)) == ["az1", "az2", "az3"]
    assert result.zone_counts == {"az1": 1, "az2": 1, "az3": 1}
    assert result.skew == 0
    assert not result.warnings


def test_five_replicas_over_two_zones_split_three_and_two():
    hosts = [host(f"{zone}-h{i}", zone=zone) for zone in ("az1", "az2") for i in range(3)]
    result = plan(hosts, request(count=5))
    assert sorted(result.zone_counts.values()) == [2, 3]
    assert len(set(result.hosts)) == 5
    assert not result.warnings


def test_zones_fewer_than_replicas_spread_evenly():
    result = plan(three_zones(per_zone=3), request(count=7))
    assert sorted(result.zone_counts.values()) == [2, 2, 3]
    assert result.skew == 1


def test_existing_replicas_outside_the_candidates_make_new_ones_fill_the_emptiest_zones():
    result = plan(three_zones(), request(count=2, existing_zones={"az1": 1}))
    assert sorted(zones_of(result)) == ["az2", "az3"]
    assert result.zone_counts == {"az1": 1, "az2": 1, "az3": 1}


def test_replicas_already_on_candidate_hosts_count_for_their_zone():
    hosts = three_zones()
    hosts[0] = dataclasses.replace(hosts[0], replicas=1)  # az1-h0
    hosts[2] = dataclasses.replace(hosts[2], replicas=1)  # az2-h0
    result = plan(hosts, request(count=4))
    assert zones_of(result)[0] == "az3"
    assert result.zone_counts == {"az1": 2, "az2": 2, "az3": 2}
    assert "az1-h0" not in result.hosts[:3] and "az2-h0" not in result.hosts[:3]


def test_existing_replicas_in_a_zone_without_candidates_count_for_the_spread():
    result = plan(three_zones(), request(count=3, existing_zones={"az9": 2}))
    assert result.zone_counts == {"az1": 1, "az2": 1, "az3": 1, "az9": 2}
    assert not result.warnings


def test_capacity_forced_skew_still_places_and_warns_what_ran_out():
    hosts = three_zones(per_zone=3)
    hosts = [item if item.zone != "az3" else dataclasses.replace(item, used_memory=65536 - 8192 if item.name == "az3-h0" else 65536)
             for item in hosts]
    result = plan(hosts, request(count=6))
    assert result.zone_counts == {"az1": 3, "az2": 2, "az3": 1} or result.zone_counts == {"az1": 2, "az2": 3, "az3": 1}
    assert result.skew == 2
    assert len(result.warnings) == 1
    warning = warnings_of(result)[0]
    assert warning.startswith("zone spread is 2 (az1: ")
    assert "asked for at most 1" in warning
    assert "zone az3 ran out of room after 1 new VM: 3 hosts lack 8192 MiB free" in warning


def test_skew_forced_by_unhealthy_zone_says_so():
    hosts = [host(f"{zone}-h{i}", zone=zone, healthy=zone != "az3", health_reason="down")
             for zone in ("az1", "az2", "az3") for i in range(2)]
    result = plan(hosts, request(count=4))
    assert result.zone_counts == {"az1": 2, "az2": 2, "az3": 0}
    assert "zone az3 has no healthy host: 2 hosts are unhealthy" in warnings_of(result)[0]


def test_requested_zone_without_hosts_forces_skew_with_a_warning():
    result = plan(three_zones(), request(count=3, zones=["az1", "az4"]))
    assert result.zone_counts == {"az1": 3, "az4": 0}
    assert result.skew == 3
    assert [item.shared_replicas for item in result.placements] == [0, 0, 1]
    assert any("zone az4 has no host matching the request" in warning for warning in warnings_of(result))


def test_existing_imbalance_that_new_vms_cannot_even_out_is_explained():
    result = plan(three_zones(), request(count=1, existing_zones={"az1": 3}))
    assert result.zone_counts["az1"] == 3
    warning = warnings_of(result)[0]
    assert warning.startswith("zone spread is 3")
    assert "still has room, but the replicas that already exist are too uneven for 1 new VM to even out" in warning


def test_max_skew_two_lets_anti_affinity_win_over_evenness():
    hosts = [host("az1-h0", zone="az1"), host("az2-h0", zone="az2"), host("az2-h1", zone="az2")]
    strict = plan(hosts, request(count=3))
    assert strict.zone_counts == {"az1": 2, "az2": 1} or strict.zone_counts == {"az1": 1, "az2": 2}
    loose = plan(hosts, request(count=3, max_skew=2))
    assert sorted(loose.hosts) == ["az1-h0", "az2-h0", "az2-h1"]
    assert not loose.warnings


def test_default_skew_prefers_spread_over_anti_affinity_and_says_why():
    hosts = [host("az1-h0", zone="az1"), host("az2-h0", zone="az2"), host("az2-h1", zone="az2"), host("az2-h2", zone="az2")]
    result = plan(hosts, request(count=4))
    assert result.zone_counts == {"az1": 2, "az2": 2}
    shared = [item for item in result.placements if item.shared_replicas]
    assert [item.host for item in shared] == ["az1-h0"]
    warning = next(text for text in warnings_of(result) if "shares host" in text)
    assert "shares host az1-h0 with 1 other replica of this cluster: no host without one had room in zone az1" in warning
    assert "hosts without one in az2 were not used: that would make the zone spread 2, above max_skew 1" in warning


# --------------------------------------------------------------------------- anti-affinity and reservations


def test_anti_affinity_prefers_hosts_without_a_replica():
    hosts = [host("a", replicas=1), host("b", cores=8)]
    result = plan(hosts, request(count=1, strategy="most-free"))
    assert result.hosts == ["b"]  # a has more room, but already runs a replica
    assert not result.warnings


def test_anti_affinity_falls_back_to_sharing_with_a_warning():
    result = plan([host("a"), host("b")], request(count=3, names=["cp-1", "cp-2", "cp-3"]))
    assert sorted(result.hosts[:2]) == ["a", "b"]
    assert result.placements[2].shared_replicas == 1
    assert warnings_of(result) == [
        f"VM 2 (cp-3) shares host {result.hosts[2]} with 1 other replica of this cluster: no host without one had room in zone az1"
    ]


def test_reserving_as_it_goes_never_puts_two_vms_in_one_hosts_last_room():
    hosts = [host("a", cores=16, used=12), host("b", cores=16, used=12, replicas=1)]
    result = plan(hosts, request(count=2))
    assert sorted(result.hosts) == ["a", "b"]
    with pytest.raises(PlacementError):
        plan(hosts, request(count=3))


def test_reservations_change_the_strategy_choice():
    # least-allocated-cpu with every host already sharing: after a takes a VM (4 cores), b is less allocated.
    hosts = [host("a", used=0, replicas=1), host("b", used=2, replicas=1)]
    result = plan(hosts, request(count=3, strategy="least-allocated-cpu"))
    assert result.hosts == ["a", "b", "a"]


def test_storage_is_reserved_too():
    hosts = [host("a", storage={"default": 30 * GB}, default_storage_pool="default")]
    assert plan(hosts, request(count=1, disk=20 * GB)).hosts == ["a"]
    assert "storage — 1 of 1 host lacks 20 GB in the default storage pool" in error_message(failure(hosts, request(count=2, disk=20 * GB)), VM)


def test_a_big_host_takes_several_vms_when_needed():
    result = plan([host("big", cores=64, memory=262144)], request(count=4))
    assert result.hosts == ["big"] * 4
    assert [item.shared_replicas for item in result.placements] == [0, 1, 2, 3]
    assert len(result.warnings) == 3


# --------------------------------------------------------------------------- explanations and output


def test_placement_reason_names_zone_host_strategy_score_and_runner_up():
    hosts = [host("a", cores=32), host("b", cores=16), host("c", zone="az2", cores=8)]
    result = plan(hosts, request(count=1, names=["cp-1"]))
    item = result.placements[0]
    assert (item.index, item.name, item.host, item.zone) == (0, "cp-1", "a", "az1")
    assert item.score == -16.0
    assert item.runner_up == "b" and item.runner_up_score == -12.0
    assert reason(item) == (
        "zone az1 had 0 replicas of this cluster (fewest: 0); no replica of it on the host; "
        "most-free: free ratio 16.00 = 32.0 free cores / 4 + 65536 MiB free / 8192; runner-up b in az1 (score -12)"
    )


def test_runner_up_says_why_it_lost_when_not_on_score():
    hosts = [host("a", zone="az1", cores=32), host("b", zone="az2", cores=8)]
    first, second = plan(hosts, request(count=2)).placements
    assert (first.host, first.runner_up) == ("a", "b")
    assert reason(first).endswith("runner-up b in az2 (score -10)")
    assert (second.host, second.runner_up) == ("b", "a")
    assert reason(second).endswith("runner-up a in az1 (score -14; zone az1 would push the spread above max_skew 1)")
    loose = plan(hosts, request(count=2, max_skew=2)).placements[1]
    assert reason(loose).endswith("runner-up a in az1 (score -14; its host already runs 1 replica)")
    hosts.append(host("c", zone="az1", cores=32))
    loose = plan(hosts, request(count=2, max_skew=2)).placements[1]
    assert reason(loose).endswith("runner-up c in az1 (score -16; zone az1 had 1 replica)")


def test_placements_are_readable_as_attributes_and_keys():
    item = plan([host("a", id=42)], request()).placements[0]
    assert item["host"] == item.host == "a"
    assert item["host_id"] == 42
    with pytest.raises(KeyError):
        item["nope"]  # pylint: disable=pointless-statement


def test_as_dict_is_json_safe_and_complete():
    hosts = [host("a", id=object()), host("b", pool="x", id=("lxd", 2))]
    result = plan(hosts, request(pool="default", names=["cp-1"]))
    data = json.loads(json.dumps(plan_dict(result, VM)))
    assert list(data) == ["strategy", "placements", "rejected", "warnings", "zone_counts", "skew", "max_skew", "considered"]
    assert data["placements"][0]["host"] == "a"
    assert isinstance(data["placements"][0]["host_id"], str)
    assert data["rejected"] == [{"host": "b", "host_id": ["lxd", 2], "zone": "az1", "code": "pool",
                                 "reason": "wrong pool: in 'x', wants 'default'"}]
    assert data["considered"] == 2


def test_plan_is_identical_for_any_host_order():
    hosts = three_zones(per_zone=4) + [host("bad", pool="x"), host("sick", healthy=False)]
    expected = plan_dict(plan(hosts, request(count=5, pool="default")), VM)
    rng = random.Random(7)
    for _attempt in range(5):
        shuffled = hosts[:]
        rng.shuffle(shuffled)
        assert plan_dict(plan(shuffled, request(count=5, pool="default")), VM) == expected


def test_explain_lists_placements_rejections_warnings_and_zones():
    hosts = [host("a"), host("b", pool="x")]
    lines = plan_lines(plan(hosts, request(count=2, pool="default", names=["cp-1", "cp-2"])), VM)
    assert lines[0] == "strategy most-free: 2 VMs placed; 2 hosts considered, 1 rejected"
    assert lines[1].startswith("VM 0 (cp-1) -> a in az1: zone az1 had 0 replicas")
    assert lines[2].startswith("VM 1 (cp-2) -> a in az1: zone az1 had 1 replica")
    assert lines[3] == "rejected b (az1): wrong pool: in 'x', wants 'default'"
    assert lines[4].startswith("warning: VM 1 (cp-2) shares host a")
    assert lines[5] == "zones: az1=2 (spread 0, max_skew 1)"


def test_inputs_are_not_modified():
    hosts = three_zones()
    req = request(count=4, tags=["x"], zones=["az1", "az2"], existing_zones={"az1": 1})
    hosts_before, req_before = copy.deepcopy(hosts), copy.deepcopy(req)
    with pytest.raises(PlacementError):
        plan(hosts, req)
    assert hosts == hosts_before and req == req_before


def test_dicts_are_accepted_for_hosts_and_request():
    result = plan([{"name": "a", "total_cores": 8, "used_cores": 0, "total_memory": 16384, "used_memory": 0}],
                  {"count": 1, "cores": 2, "memory": 1024})
    assert result.hosts == ["a"]


# --------------------------------------------------------------------------- errors


def test_impossible_request_names_the_tightest_constraint():
    hosts = [host(f"h{i}", memory=16384, used_memory=12288) for i in range(5)] + [host("roomy", memory=16384)]
    hosts.append(host("elsewhere", pool="other"))
    with pytest.raises(PlacementError) as caught:
        plan(hosts, request(count=3, disk=20 * GB, pool="default"))
    error = caught.value
    assert error_message(error, VM) == (
        "cannot place 3 VMs (4 cores, 8192 MiB, 20 GB): only 1 host has room, for 2 of the 3 VMs; "
        "tightest constraint (after placing 2): memory — 6 of 6 hosts in pool 'default' lack 8192 MiB free"
    )
    assert error_reason(error) == "memory — 6 of 6 hosts in pool 'default' lack 8192 MiB free"
    assert sorted(item.host for item in error.rejected) == ["elsewhere", "h0", "h1", "h2", "h3", "h4"]
    assert [item.host for item in error.placements] == ["roomy", "roomy"]
    assert json.loads(json.dumps(error_dict(error, VM)))["reason"] == error_reason(error)


def test_tightest_constraint_before_any_placement_and_runner_up_constraints():
    hosts = [host(f"h{i}", used=14) for i in range(4)] + [host("sick", healthy=False, health_reason="x")]
    with pytest.raises(PlacementError) as caught:
        plan(hosts, request(count=1))
    assert error_message(caught.value, VM) == (
        "cannot place 1 VM (4 cores, 8192 MiB): no host has room; "
        "tightest constraint: cpu — 4 of 5 hosts lack 4 cores free (also unhealthy 1 of 5)"
    )


def test_error_when_no_host_is_in_the_pool():
    error = failure([host("a"), host("b", pool="x")], request(pool="gpu"))
    assert re.search(r"tightest constraint: pool — no host is in pool 'gpu' \(pools: default, x\)", error_message(error, VM))


def test_error_when_no_host_has_the_tags():
    error = failure([host("a"), host("b"), host("c", pool="x", tags=("gpu",))], request(pool="default", tags=["gpu"]))
    assert re.search(r"tags — none of the 2 hosts in pool 'default' have tags gpu", error_message(error, VM))


def test_error_when_no_host_is_in_the_zones():
    error = failure([host("a"), host("b", zone="az2")], request(zones=["az9"]))
    assert re.search(r"zones — none of the 2 hosts is in zone az9 \(their zones: az1, az2\)", error_message(error, VM))


def test_error_without_hosts():
    error = failure([], request())
    assert "no hosts to choose from" in error_message(error, VM)
    assert error.rejected == []


def test_error_when_every_host_is_unhealthy():
    error = failure([host("a", healthy=False), host("b", healthy=False)], request())
    assert re.search(r"unhealthy — 2 of 2 hosts are unhealthy", error_message(error, VM))


# --------------------------------------------------------------------------- input validation


@pytest.mark.parametrize("fields, message", [
    ({"count": 0}, r"Request.count must be an integer >= 1, got 0"),
    ({"count": True}, r"Request.count must be an integer >= 1, got True"),
    ({"cores": 0}, r"Request.cores must be an integer >= 1"),
    ({"memory": 0}, r"Request.memory \(MiB\) must be an integer >= 1"),
    ({"memory": 1.5}, r"Request.memory \(MiB\) must be an integer"),
    ({"disk": -1}, r"Request.disk \(bytes\) must be an integer >= 0"),
    ({"max_skew": 0}, r"Request.max_skew must be an integer >= 1"),
    ({"zones": []}, r"Request.zones must not be empty; use None for any zone"),
    ({"zones": "az1"}, r"Request.zones must be a list of strings"),
    ({"tags": "gpu"}, r"Request.tags must be a list of strings"),
    ({"pool": ""}, r"Request.pool must be a non-empty string"),
    ({"names": ["a"], "count": 2}, r"Request.names has 1 names for count 2"),
    ({"names": ["a", "a"], "count": 2}, r"Request.names must be unique; repeated: a"),
    ({"existing_zones": {"az1": -1}}, r"Request.existing_zones\['az1'\] must be an integer >= 0"),
    ({"existing_zones": ["az1"]}, r"Request.existing_zones must be a dict"),
])
def test_bad_request_is_a_value_error(fields, message):
    values = {"count": 1, "cores": 1, "memory": 1}
    values.update(fields)
    with pytest.raises(ValueError, match=message):
        plan([host("a")], Request(**values))


@pytest.mark.parametrize("fields, message", [
    ({"cpu_over_commit": 0}, r"host 'a': cpu_over_commit must be a number > 0, got 0"),
    ({"memory_over_commit": -1.0}, r"host 'a': memory_over_commit must be a number > 0"),
    ({"cpu_over_commit": float("nan")}, r"cpu_over_commit must be a number > 0"),
    ({"used_cores": -1}, r"host 'a': used_cores must be a number >= 0"),
    ({"total_memory": 1.5}, r"host 'a': total_memory \(MiB\) must be an integer >= 0"),
    ({"replicas": -1}, r"host 'a': replicas must be an integer >= 0"),
    ({"storage": {"default": "lots"}}, r"host 'a': storage\['default'\] \(available bytes\) must be an integer >= 0"),
    ({"storage": ["default"]}, r"host 'a': storage must be a dict"),
    ({"healthy": "yes"}, r"host 'a': healthy must be true or false"),
    ({"zone": ""}, r"host 'a': zone must be a non-empty string"),
    ({"tags": "gpu"}, r"host 'a': tags must be a list of strings"),
])
def test_bad_host_is_a_value_error(fields, message):
    values = {"name": "a", "total_cores": 8, "used_cores": 0, "total_memory": 8192, "used_memory": 0}
    values.update(fields)
    with pytest.raises(ValueError, match=message):
        plan([Host(**values)], request(cores=1, memory=1))


def test_duplicate_host_names_are_a_value_error():
    with pytest.raises(ValueError, match="host names must be unique; repeated: a"):
        plan([host("a"), host("b"), host("a")], request())


def test_unknown_or_missing_dict_fields_are_value_errors():
    with pytest.raises(ValueError, match=r"unknown Request field\(s\): colour"):
        plan([host("a")], {"count": 1, "cores": 1, "memory": 1, "colour": "red"})
    with pytest.raises(ValueError, match=r"Host is missing required field\(s\): used_cores, total_memory, used_memory"):
        plan([{"name": "a", "total_cores": 1}], request())
    with pytest.raises(ValueError, match="Host must be a Host or a dict, got str"):
        plan(["a"], request())
    with pytest.raises(ValueError, match="hosts must be a list"):
        plan("a", request())


def test_bad_input_is_reported_before_anything_else():
    # An unknown strategy is reported even though no host could take the VM anyway.
    with pytest.raises(ValueError, match="unknown strategy"):
        plan([host("a", used=16)], request(strategy="nope"))


def test_zone_spread_counts_only_the_zones_the_cluster_spreads_over():
    # Three replicas left in az3, outside the requested zones, do not make the spread over az1/az2 uneven.
    hosts = [host("a", zone="az1"), host("b", zone="az2"), host("c", zone="az3", replicas=3)]
    counts, skew = zone_spread(hosts, request(count=2, zones=["az1", "az2"]), ["az1", "az2"])
    assert counts == {"az1": 1, "az2": 1, "az3": 3} and skew == 0
    assert zone_spread(hosts, request(count=2, zones=["az1", "az2"]), ["az1"]) == ({"az1": 1, "az2": 0, "az3": 3}, 1)
    assert zone_spread(hosts, request(count=1, existing_zones={"az4": 2}), []) == (
        {"az1": 0, "az2": 0, "az3": 3, "az4": 2}, 3)
