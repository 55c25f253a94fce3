# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests of the placement core (hypothesis).

The oracle below restates the documented capacity rules independently (``room_for``) so that the
planner is checked against the rules, not against itself.
"""

from __future__ import annotations

import collections
import json
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import Host, PlacementError, Request, plan, zone_spread
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.explain import VM, error_dict, error_message, error_reason, plan_dict

GB = 10 ** 9
ZONES = ("az1", "az2", "az3", "az4")
STRATEGY_NAMES = ("least-allocated-cpu", "most-free", "balanced")
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


def room_for(host, request, limit):
    """How many VMs of ``request`` fit on ``host`` (at most ``limit``), by the rules of docs/placement.md."""
    if request.pool is not None and host.pool != request.pool:
        return 0
    if any(tag not in host.tags for tag in request.tags):
        return 0
    if request.zones is not None and host.zone not in request.zones:
        return 0
    if not host.healthy:
        return 0
    cpu = round(host.total_cores * host.cpu_over_commit, 6)
    memory = round(host.total_memory * host.memory_over_commit, 6)
    disk_room = None
    if request.disk and host.storage is not None:
        pool = request.storage_pool or host.default_storage_pool
        if pool is None and host.storage:
            pool = sorted(host.storage, key=lambda name: (-host.storage[name], name))[0]
        disk_room = host.storage.get(pool, 0) if pool else 0
    fits = 0
    while fits < limit:
        wanted = fits + 1
        if host.used_cores + wanted * request.cores > cpu or host.used_memory + wanted * request.memory > memory:
            break
        if disk_room is not None and wanted * request.disk > disk_room:
            break
        fits = wanted
    return fits


# (pool, tags, healthy) and (cpu ratio, memory ratio) combinations, drawn as one choice each to keep generation cheap.
KINDS = [("default", (), True), ("default", ("ssd",), True), ("default", ("gpu", "ssd"), True), ("other", ("ssd",), True),
         ("default", ("ssd",), False)]
RATIOS = [(1.0, 1.0), (1.0, 1.0), (0.29, 0.7), (0.5, 1.5), (1.5, 1.0), (3.3, 1.5)]
STORAGE = [None, None, {}, {"default": 30 * GB}, {"default": 200 * GB, "fast": 15 * GB}, {"fast": 100 * GB}]


@st.composite
def hosts_lists(draw, zones=ZONES, max_size=12, replicas=True):
    """Hosts of every kind: full, over-committed, unhealthy, in other pools, with and without storage."""
    hosts = []
    for index in range(draw(st.integers(0, max_size))):
        total_cores = draw(st.integers(0, 48))
        total_memory = draw(st.sampled_from([0, 4096, 16384, 65536, 131072, 131072]))
        pool, tags, healthy = draw(st.sampled_from(KINDS))
        cpu_ratio, memory_ratio = draw(st.sampled_from(RATIOS))
        hosts.append(Host(
            name=f"h{index:02d}",
            total_cores=total_cores,
            used_cores=draw(st.integers(0, 2 * total_cores + 2)) // draw(st.sampled_from([1, 2, 4])),
            total_memory=total_memory,
            used_memory=draw(st.integers(0, 2 * total_memory + 1024)) // draw(st.sampled_from([1, 2, 4])),
            zone=draw(st.sampled_from(zones)),
            pool=pool,
            tags=tags,
            cpu_over_commit=cpu_ratio,
            memory_over_commit=memory_ratio,
            storage=draw(st.sampled_from(STORAGE)),
            default_storage_pool=draw(st.sampled_from([None, "default", "fast"])),
            healthy=healthy,
            health_reason="" if healthy else "probe failed",
            replicas=draw(st.integers(0, 2)) if replicas else 0,
            id=index,
        ))
    return hosts


@st.composite
def requests(draw, zones=ZONES):
    """Requests of every kind: any zone subset, pools, tags, disks, strategies and skews."""
    count = draw(st.integers(1, 8))
    return Request(
        count=count,
        cores=draw(st.integers(1, 12)),
        memory=draw(st.sampled_from([512, 1024, 4096, 8192, 16384])),
        disk=draw(st.sampled_from([0, 0, 10 * GB, 40 * GB])),
        storage_pool=draw(st.sampled_from([None, None, "default", "fast"])),
        zones=draw(st.one_of(st.none(), st.lists(st.sampled_from(zones), min_size=1, unique=True))),
        pool=draw(st.sampled_from([None, "default"])),
        tags=tuple(draw(st.sampled_from([[], [], [], ["ssd"], ["ssd", "gpu"]]))),
        strategy=draw(st.sampled_from(STRATEGY_NAMES)),
        existing_zones=draw(st.dictionaries(st.sampled_from(zones), st.integers(0, 3), max_size=2)),
        names=[f"cp-{index}" for index in range(count)] if draw(st.booleans()) else None,
        max_skew=draw(st.integers(1, 2)),
    )


def attempt(hosts, request):
    try:
        return plan(hosts, request)
    except PlacementError as error:
        return error


def fresh_hosts(zones, per_zone, request):
    """``per_zone`` healthy hosts in each zone, each with room for exactly one VM of ``request``."""
    return [Host(name=f"fresh-{zone}-{index}", total_cores=request.cores, used_cores=0, total_memory=request.memory,
                 used_memory=0, zone=zone) for zone in zones for index in range(per_zone)]


@PROPERTY_SETTINGS
@given(hosts=hosts_lists(), request=requests())
def test_never_over_commits_and_only_uses_hosts_that_pass_the_filters(hosts, request):
    result = attempt(hosts, request)
    if isinstance(result, PlacementError):
        return
    by_name = {host.name: host for host in hosts}
    for name, placed in collections.Counter(result.hosts).items():
        host = by_name[name]
        assert room_for(host, request, placed) == placed, f"{name} got {placed} VMs but has room for fewer"
        assert host.used_cores + placed * request.cores <= host.total_cores * host.cpu_over_commit + 1e-6
        assert host.used_memory + placed * request.memory <= host.total_memory * host.memory_over_commit + 1e-6


@PROPERTY_SETTINGS
@given(hosts=hosts_lists(), request=requests())
def test_fails_exactly_when_the_hosts_cannot_hold_the_request(hosts, request):
    capacity = sum(room_for(host, request, request.count) for host in hosts)
    result = attempt(hosts, request)
    if capacity >= request.count:
        assert not isinstance(result, PlacementError), error_message(result, VM)
        assert len(result.placements) == request.count
    else:
        assert isinstance(result, PlacementError)
        assert len(result.placements) == capacity
        assert error_reason(result) and error_reason(result) in error_message(result, VM)


@PROPERTY_SETTINGS
@given(hosts=hosts_lists(), request=requests())
def test_zone_spread_of_the_placed_zones_is_what_the_plan_reports(hosts, request):
    # The lookup measures plans made elsewhere (the scheduler) with zone_spread: it must agree with plan().
    result = attempt(hosts, request)
    if isinstance(result, PlacementError):
        return
    assert zone_spread(hosts, request, [item.zone for item in result.placements]) == (result.zone_counts, result.skew)


@PROPERTY_SETTINGS
@given(hosts=hosts_lists(), request=requests(), seed=st.integers(0, 2 ** 32))
def test_same_input_in_any_host_order_gives_the_same_plan(hosts, request, seed):
    shuffled = hosts[:]
    random.Random(seed).shuffle(shuffled)
    first, second = attempt(hosts, request), attempt(shuffled, request)
    assert type(first) is type(second)
    if isinstance(first, PlacementError):
        assert error_message(first, VM) == error_message(second, VM)
        assert error_dict(first, VM) == error_dict(second, VM)
    else:
        assert json.dumps(plan_dict(first, VM)) == json.dumps(plan_dict(second, VM))


@st.composite
def roomy_cases(draw):
    """Random hosts plus, in every zone, ceil(N / zones) fresh hosts with room for one VM each."""
    zones = ZONES[:draw(st.integers(1, len(ZONES)))]
    request = Request(count=draw(st.integers(1, 10)), cores=draw(st.integers(1, 12)), memory=draw(st.sampled_from([512, 8192])),
                      zones=draw(st.sampled_from([None, list(zones)])), strategy=draw(st.sampled_from(STRATEGY_NAMES)),
                      max_skew=draw(st.integers(1, 2)))
    hosts = draw(hosts_lists(zones=zones, replicas=False)) + fresh_hosts(zones, math.ceil(request.count / len(zones)), request)
    return hosts, request, zones


@PROPERTY_SETTINGS
@given(case=roomy_cases())
def test_spread_is_the_smallest_possible_when_every_zone_has_room(case):
    hosts, request, zones = case
    result = plan(hosts, request)
    counts = [result.zone_counts.get(zone, 0) for zone in zones]
    assert max(counts) - min(counts) <= request.max_skew
    assert result.skew <= request.max_skew
    # Every zone has room for its share, so the spread is the best there is, whatever max_skew allows.
    best = 0 if request.count % len(zones) == 0 else 1
    assert result.skew == best and max(counts) - min(counts) == best, f"{request.count} VMs over {len(zones)} zones: {counts}"
    assert all(item.shared_replicas == 0 for item in result.placements)
    assert len(set(result.hosts)) == request.count
    assert not result.warnings


@st.composite
def cases_with_existing_replicas(draw):
    """Replicas already exist (on candidate hosts and elsewhere); every zone has room for all N."""
    zones = ZONES[:draw(st.integers(1, len(ZONES)))]
    request = Request(count=draw(st.integers(1, 8)), cores=draw(st.integers(1, 8)), memory=1024,
                      existing_zones=draw(st.dictionaries(st.sampled_from(zones), st.integers(0, 4), max_size=len(zones))),
                      strategy=draw(st.sampled_from(STRATEGY_NAMES)))
    hosts = draw(hosts_lists(zones=zones)) + fresh_hosts(zones, request.count, request)
    return hosts, request, zones


@PROPERTY_SETTINGS
@given(case=cases_with_existing_replicas())
def test_existing_replicas_count_and_new_ones_fill_the_emptiest_zones(case):
    hosts, request, zones = case
    result = plan(hosts, request)
    counts = collections.Counter(request.existing_zones)
    for host in hosts:
        counts[host.zone] += host.replicas
    for item in result.placements:
        assert counts[item.zone] == min(counts[zone] for zone in zones), f"VM {item.index} went to a fuller zone"
        assert item.shared_replicas == 0
        counts[item.zone] += 1
    assert result.zone_counts == {zone: counts[zone] for zone in sorted(set(zones) | set(counts))}
    replicas = {host.name: host.replicas for host in hosts}
    assert all(replicas[name] == 0 for name in result.hosts), "a host with a replica was chosen while fresh hosts had room"
