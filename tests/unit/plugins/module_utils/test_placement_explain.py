# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement core records codes and numbers; explain words them with a vocabulary.

test_placement.py pins the collection's words (explain.VM); this file pins the records behind them and
the scheduler's words (explain.INSTANCE) for every kind of sentence.
"""

from __future__ import annotations

import ast
import dataclasses
import os

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.placement import core, explain
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import (
    HostTally,
    PlacementError,
    Problem,
    SharedHostWarning,
    SpreadWarning,
    ZoneShortfall,
    plan,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.explain import INSTANCE, VM

GB = 10 ** 9
PACKAGE = os.path.dirname(core.__file__)


def host(name, zone="az1", cores=16, used=0, memory=65536, used_memory=0, **fields):
    return core.Host(name=name, total_cores=cores, used_cores=used, total_memory=memory, used_memory=used_memory,
                     zone=zone, **fields)


def request(count=1, cores=4, memory=8192, **fields):
    return core.Request(count=count, cores=cores, memory=memory, **fields)


def failure(hosts, req):
    with pytest.raises(PlacementError) as caught:
        plan(hosts, req)
    return caught.value


def three_zones_with_a_full_one():
    hosts = [host(f"{zone}-h{i}", zone=zone) for zone in ("az1", "az2", "az3") for i in range(3)]
    return [item if item.zone != "az3" else dataclasses.replace(item, used_memory=65536 - 8192 if item.name == "az3-h0" else 65536)
            for item in hosts]


# --------------------------------------------------------------------------- the package


def imports(name):
    """Top-level modules (or ``.relative`` ones) a module of the package imports."""
    with open(os.path.join(PACKAGE, name), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_core_decides_with_the_standard_library_alone_and_explain_words_it():
    assert sorted(name for name in os.listdir(PACKAGE) if name.endswith(".py")) == ["__init__.py", "core.py", "explain.py"]
    assert imports("core.py") == {"__future__", "collections", "dataclasses", "heapq", "math"}
    assert imports("explain.py") == {"__future__", "dataclasses", ".core"}
    assert imports("__init__.py") == set()


# --------------------------------------------------------------------------- records


def test_rejections_carry_the_numbers_behind_their_reasons():
    hosts = [host("full", cores=16, used=14, memory=32768, used_memory=45000, memory_over_commit=1.5),
             host("sick", healthy=False, health_reason="machine is Broken"), host("elsewhere", pool="x"),
             host("small-disk", storage={"default": 5 * GB}, default_storage_pool="default"),
             host("no-pool", storage={"slow": 5 * GB}, default_storage_pool="fast")]
    result = plan(hosts + [host("ok")], request(disk=20 * GB, pool="default"))
    by_host = {item.host: item for item in result.rejected}
    full = by_host["full"]
    assert full.code == "cpu"
    assert full.problems == [
        Problem("cpu", needed=4, free=2.0, total=16, ratio=1.0, used=14, planned=0),
        Problem("memory", needed=8192, free=4152.0, total=32768, ratio=1.5, used=45000, planned=0),
    ]
    assert by_host["sick"].problems == [Problem("unhealthy", found="machine is Broken")]
    assert by_host["elsewhere"].problems == [Problem("pool", needed="default", found="x")]
    assert by_host["small-disk"].problems == [Problem("storage", needed=20 * GB, free=5 * GB, storage_pool="default")]
    assert by_host["no-pool"].problems == [Problem("storage", needed=20 * GB, found=["slow"], storage_pool="fast")]
    assert explain.rejection_reason(full) == ("no room: needs 4 cores, has 2.0 free (16 x 1.0 - 14 used); "
                                              "no room: needs 8192 MiB, has 4152 MiB free (32768 x 1.5 - 45000 used)")
    assert explain.rejection_reason(by_host["no-pool"]) == "storage pool 'fast' not on this host (has: slow)"


def test_placements_carry_the_zone_counts_the_strategy_figures_and_why_the_runner_up_lost():
    hosts = [host("a", zone="az1", cores=32), host("b", zone="az2", cores=8)]
    first, second = plan(hosts, request(count=2)).placements
    assert (first.zone_replicas, first.fewest, first.fewer_full, first.shared_replicas) == (0, 0, None, 0)
    assert first.strategy == "most-free"
    assert first.figures == {"free_ratio": 16.0, "free_cores": 32.0, "cores": 4, "free_memory": 65536.0, "memory": 8192}
    assert (first.runner_up, first.runner_up_zone, first.runner_up_score, first.runner_up_lost) == ("b", "az2", -10.0, None)
    assert (second.runner_up, second.runner_up_zone, second.runner_up_lost, second.max_skew) == ("a", "az1", "max_skew", 1)
    loose = plan(hosts, request(count=2, max_skew=2)).placements[1]
    assert (loose.runner_up_lost, loose.runner_up_replicas) == ("host_replicas", 1)
    third = plan(hosts + [host("c", zone="az1", cores=32)], request(count=2, max_skew=2)).placements[1]
    assert (third.runner_up, third.runner_up_lost, third.runner_up_replicas) == ("c", "zone_replicas", 1)


def test_a_zone_above_max_skew_records_how_many_zones_with_fewer_had_no_room():
    placements = plan(three_zones_with_a_full_one(), request(count=6)).placements
    over = [item for item in placements if item.fewer_full is not None]
    assert [(item.zone_replicas, item.fewest, item.fewer_full) for item in over] == [(2, 1, 1)]
    assert "; the 1 zone with fewer had no room; " in explain.placement_reason(over[0], VM)


def test_warnings_are_records_with_a_code_and_their_numbers():
    hosts = [host("az1-h0", zone="az1"), host("az2-h0", zone="az2"), host("az2-h1", zone="az2"), host("az2-h2", zone="az2")]
    [shared] = plan(hosts, request(count=4)).warnings
    assert shared == SharedHostWarning(index=3, name=None, host="az1-h0", zone="az1", replicas=1, unused_zones=("az2",), spread=2,
                                       max_skew=1)
    assert shared.code == "shared_host"
    [spread] = plan(three_zones_with_a_full_one(), request(count=6)).warnings
    assert spread.code == "spread"
    assert spread == SpreadWarning(skew=2, max_skew=1, zone_counts={"az1": 3, "az2": 2, "az3": 1},
                                   short=[ZoneShortfall("az3", "no_room", new=1, hosts=[HostTally("memory", 3, needed=8192)])])
    [uneven] = plan(hosts[:2], request(count=1, existing_zones={"az1": 3})).warnings
    assert uneven.short == [ZoneShortfall("az2", "uneven", new=1)]


def test_an_impossible_request_records_the_tightest_constraint_and_its_counts():
    hosts = [host(f"h{i}", used=14) for i in range(4)] + [host("sick", healthy=False)]
    error = failure(hosts, request(count=1))
    assert (error.code, error.hosts, error.with_room, error.placements) == ("cpu", 5, 0, [])
    assert error.tally == [HostTally("cpu", 4, needed=4), HostTally("unhealthy", 1)]
    assert error.request.count == 1 and len(error.rejected) == 5
    pools = failure([host("a"), host("b", pool="x")], request(pool="gpu"))
    assert (pools.code, pools.hosts, pools.names, pools.tally) == ("pool", 2, ["default", "x"], [])
    zones = failure([host("a"), host("b", zone="az2")], request(zones=["az9"]))
    assert (zones.code, zones.hosts, zones.names) == ("zones", 2, ["az1", "az2"])
    assert failure([], request()).code == "hosts"


def test_registered_strategies_without_figures_are_explained_by_their_key():
    core.register_strategy("test-fewest-used", lambda item, _request: (item.used_cores,))
    try:
        item = plan([host("a", used=3)], request(strategy="test-fewest-used")).placements[0]
        assert (item.figures, item.key) == (None, (3,))
        assert explain.placement_reason(item, VM).endswith("; test-fewest-used: key [3]")
    finally:
        core.STRATEGIES.pop("test-fewest-used")


# --------------------------------------------------------------------------- the scheduler's words


def test_instance_words_for_zones_hosts_and_runners_up():
    hosts = [host("a", zone="az1", cores=32), host("b", zone="az2", cores=8)]
    first, second = plan(hosts, request(count=2)).placements
    assert explain.placement_reason(first, INSTANCE) == (
        "zone az1 had 0 instances of this request (fewest: 0); no instance of this request on the host; "
        "most-free: free ratio 16.00 = 32.0 free cores / 4 + 65536 MiB free / 8192; runner-up b in az2 (score -10)")
    assert explain.placement_reason(second, INSTANCE).endswith(
        "runner-up a in az1 (score -14; zone az1 would push the spread above max_skew 1)")
    loose = plan(hosts, request(count=2, max_skew=2)).placements[1]
    assert explain.placement_reason(loose, INSTANCE).endswith("runner-up a in az1 (score -14; its host already gets 1 instance of this request)")
    third = plan(hosts + [host("c", zone="az1", cores=32)], request(count=2, max_skew=2)).placements[1]
    assert explain.placement_reason(third, INSTANCE).endswith("runner-up c in az1 (score -16; zone az1 had 1 instance of this request)")
    over = [item for item in plan(three_zones_with_a_full_one(), request(count=6)).placements if item.fewer_full is not None]
    assert explain.placement_reason(over[0], INSTANCE).startswith(
        "zone az1 had 2 instances of this request; the 1 zone with fewer had no room; no instance of this request on the host; ")


def test_instance_words_leave_out_what_says_nothing_for_one_instance():
    hosts = [host("a", zone="az1", cores=32), host("b", zone="az2", cores=8)]
    [item] = plan(hosts, request(count=1)).placements
    assert explain.placement_reason(item, INSTANCE, single=True) == (
        "most-free: free ratio 16.00 = 32.0 free cores / 4 + 65536 MiB free / 8192; runner-up b in az2 (score -10)")
    assert explain.plan_dict(plan(hosts, request(count=1)), INSTANCE)["placements"][0]["reason"] == explain.placement_reason(item, INSTANCE, single=True)
    # The collection says it all, for one VM too.
    assert explain.placement_reason(item, VM, single=True).startswith("zone az1 had 0 replicas of this cluster (fewest: 0); ")
    # A zone or host clause that says something stays.
    [existing] = plan(hosts, request(count=1, existing_zones={"az1": 1, "az2": 1})).placements
    assert explain.placement_reason(existing, INSTANCE, single=True).startswith("zone az1 had 1 instance of this request (fewest: 1); ")


def test_instance_words_for_warnings():
    hosts = [host("az1-h0", zone="az1"), host("az2-h0", zone="az2"), host("az2-h1", zone="az2"), host("az2-h2", zone="az2")]
    [shared] = plan(hosts, request(count=4)).warnings
    assert explain.warning_text(shared, INSTANCE) == (
        "instance 3 shares host az1-h0 with 1 other instance of this request: no host without one had room in zone az1; "
        "hosts without one in az2 were not used: that would make the zone spread 2, above max_skew 1")
    [spread] = plan(three_zones_with_a_full_one(), request(count=6)).warnings
    assert explain.warning_text(spread, INSTANCE) == (
        "zone spread is 2 (az1: 3, az2: 2, az3: 1), asked for at most 1: zone az3 ran out of room after 1 new instance: "
        "3 hosts lack 8192 MiB free")
    [uneven] = plan(hosts[:2], request(count=1, existing_zones={"az1": 3})).warnings
    assert explain.warning_text(uneven, INSTANCE) == (
        "zone spread is 2 (az1: 3, az2: 1), asked for at most 1: zone az2 still has room, but the replicas that already "
        "exist are too uneven for 1 new instance to even out")


def test_instance_words_for_errors_and_plans():
    hosts = [host(f"h{i}", memory=16384, used_memory=12288) for i in range(5)] + [host("roomy", memory=16384)]
    error = failure(hosts, request(count=3, pool="default"))
    assert explain.error_message(error, INSTANCE) == (
        "cannot place 3 instances (4 cores, 8192 MiB): only 1 host has room, for 2 of the 3 instances; "
        "tightest constraint (after placing 2): memory — 6 of 6 hosts in pool 'default' lack 8192 MiB free")
    assert explain.error_dict(error, INSTANCE)["reason"] == explain.error_reason(error)
    lines = explain.plan_lines(plan([host("a"), host("b", pool="x")], request(count=2, pool="default")), INSTANCE)
    assert lines[0] == "strategy most-free: 2 instances placed; 2 hosts considered, 1 rejected"
    assert lines[2].startswith("instance 1 -> a in az1: zone az1 had 1 instance of this request (fewest: 1); "
                               "host already gets 1 instance of this request; ")
    assert lines[4] == "warning: instance 1 shares host a with 1 other instance of this request: no host without one had room in zone az1"
