# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IP validator: wall time to validate a plan of static addresses against what MAAS knows.

Data are generated with a fixed seed in the shapes MAAS answers: 200 subnets (`GET /subnets/`), one
dynamic and 20 reserved ranges in the big subnet (`GET /ipranges/`) and 100,000 allocated addresses
in it (`op=ip_addresses` records with node summary, user and DNS records). The plan mixes free
addresses, addresses used by machines (conflicts), addresses inside ranges and our own reservations,
with a host name per entry. "Index" is building `NetworkIndex` (subnets, ranges, used addresses);
"validate" is `check_request` + `validate_plan`; "total" both. The JSON row is decoding the
`op=ip_addresses` answer, for scale. Values are the median of 5 runs (min and max in the notes).
Repeated addresses are dropped from the generated plan, so it has slightly fewer entries than its name says.
The cost per address grows with the plan because Python's cyclic garbage collector, triggered by the
allocations of a large validation, walks the 100,000 decoded records each time it runs.
The machine the numbers come from may be busy with other jobs.
"""

from __future__ import annotations

import functools
import json
import random
import statistics
import time

from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr
from netaddr import IPAddress, IPNetwork

REPEAT = 5
# (name, CIDR of the big subnet, used addresses, requested addresses)
CASES = (
    ("IPv4 1,000 vs 100,000", "10.64.0.0/14", 100_000, 1_000),
    ("IPv4 10,000 vs 100,000", "10.64.0.0/14", 100_000, 10_000),
    ("IPv6 1,000 vs 100,000", "2001:db8:64::/64", 100_000, 1_000),
)


def make_maas(cidr, used_count, seed=7):
    """Subnets, ranges and one subnet's allocated addresses, as MAAS renders them."""
    rng = random.Random(seed)
    big = IPNetwork(cidr)
    subnets = [{"id": 1, "name": "big", "cidr": cidr, "gateway_ip": str(IPAddress(big.first + 1, big.version)),
                "dns_servers": [], "vlan": {"id": 5001, "vid": 0, "name": "untagged", "fabric": "fabric-0"}}]
    for number in range(2, 201):
        subnets.append({"id": number, "name": "s%d" % number, "cidr": "172.%d.%d.0/24" % (16 + number // 256, number % 256),
                        "gateway_ip": None, "dns_servers": []})
    span = min(big.size, 4 * used_count)

    def address(offset):
        return str(IPAddress(big.first + offset, big.version))

    ranges = [{"id": 1, "type": "dynamic", "start_ip": address(span - 2000), "end_ip": address(span - 1001), "comment": "",
               "user": {"username": "admin"}, "subnet": {"id": 1}}]
    for number in range(20):
        start = span - 1000 + number * 50
        ranges.append({"id": number + 2, "type": "reserved", "start_ip": address(start), "end_ip": address(start + 9),
                       "comment": "r%d" % number, "user": {"username": "admin"}, "subnet": {"id": 1}})
    offsets = rng.sample(range(10, span - 2000), used_count)
    records = []
    for number, offset in enumerate(offsets):
        record = {"ip": address(offset), "alloc_type": 1 if number % 10 else 4, "created": "Tue, 27 Nov. 2018 18:06:19",
                  "updated": "Tue, 27 Nov. 2018 18:06:19", "user": "admin" if number % 10 == 0 else "user%d" % (number % 7)}
        if number % 10:
            record["node_summary"] = {"system_id": "n%05d" % number, "node_type": 0, "fqdn": "host-%d.maas" % number,
                                      "hostname": "host-%d" % number, "is_container": False, "via": "eth0"}
        else:
            record["dns_records"] = [{"id": number, "name": "res-%d" % number, "domain": "maas"}]
        records.append(record)
    return subnets, ranges, records, offsets, span, address


def make_plan(count, offsets, span, address, seed=11):
    """Requested entries: 70% free, 10% used by machines, 10% ours, 10% inside ranges."""
    rng = random.Random(seed)
    used = set(offsets)
    entries = []
    for number in range(count):
        kind = number % 10
        if kind == 0:
            offset = rng.choice(offsets)
            while offset in (entry.get("_offset") for entry in entries[-3:]):
                offset = rng.choice(offsets)
        elif kind == 1:
            record = rng.randrange(0, len(offsets) // 10) * 10  # a reservation of ours (user admin), for its DNS name
            offset = offsets[record]
            entries.append({"_offset": offset, "address": address(offset), "hostname": "res-%d" % record})
            continue
        elif kind == 2:
            offset = span - 1500 + number % 400
        else:
            offset = rng.randrange(10, span - 2000)
            while offset in used:
                offset = rng.randrange(10, span - 2000)
        entries.append({"_offset": offset, "address": address(offset), "hostname": "cp-%d" % number})
    seen = set()
    plan = []
    for entry in entries:
        if entry["_offset"] in seen:
            continue
        seen.add(entry["_offset"])
        plan.append({"address": entry["address"], "hostname": entry["hostname"]})
    return plan


def timed(func, repeat=REPEAT):
    """Median, min, max seconds of ``func()`` over ``repeat`` runs, and its last result."""
    times, result = [], None
    while len(times) < repeat:
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), result


def build_index(subnets, ranges, records):
    """The validator's index of what MAAS knows."""
    index = ipaddr.NetworkIndex(subnets, ranges, user="admin")
    index.add_addresses(records)
    return index


def validate(plan, index):
    """Request checks and plan validation against a built index."""
    return ipaddr.validate_plan(ipaddr.check_request(plan), index)


def validate_from_scratch(plan, subnets, ranges, records):
    """Index build, request checks and plan validation."""
    return validate(plan, build_index(subnets, ranges, records))


def outcome(plan, result):
    """``1000 addresses: 700 ok (100 ours), problems dynamic-range 50, ...`` for the notes."""
    counts = {}
    for problem in result.problems:
        counts[problem.rule] = counts.get(problem.rule, 0) + 1
    return "%d addresses: %d ok (%d ours), problems %s" % (
        len(plan), len(result.addresses), sum(1 for a in result.addresses if a["status"] == ipaddr.OURS),
        ", ".join("%s %d" % item for item in sorted(counts.items())))


def run():
    """Rows for docs/benchmarks.md."""
    rows = []
    for name, cidr, used_count, requested in CASES:
        subnets, ranges, records, offsets, span, address = make_maas(cidr, used_count)
        plan = make_plan(requested, offsets, span, address)
        index = build_index(subnets, ranges, records)
        measured = (
            ("index build", timed(functools.partial(build_index, subnets, ranges, records))),
            ("validate", timed(functools.partial(validate, plan, index))),
            ("total", timed(functools.partial(validate_from_scratch, plan, subnets, ranges, records))),
            ("decode JSON answer", timed(functools.partial(json.loads, json.dumps(records)))),
        )
        for metric, (median, low, high, result) in measured:
            rows.append({"benchmark": name, "metric": metric, "value": median * 1000, "unit": "ms",
                         "notes": "min %.1f, max %.1f" % (low * 1000, high * 1000)})
        validated = measured[1][1]
        rows.append({"benchmark": name, "metric": "validate per address", "value": validated[0] / len(plan) * 1e6,
                     "unit": "us", "notes": outcome(plan, validated[3])})
    return rows
