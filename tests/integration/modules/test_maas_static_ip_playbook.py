"""maas_static_ip through ansible-playbook against maas-sim: validated/present/absent, idempotency, check, diff, faults."""

from __future__ import annotations

import copy

import yaml

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_ips, sim_objects
from ansible_collections.lxdcp.maas.tests.integration.simharness import SimServer, default_scenario_path

MODULE = "lxdcp.maas.maas_static_ip"
PLAN = [{"address": "10.10.0.40", "hostname": "cp-1"}, {"address": "10.10.0.41", "hostname": "cp-2"},
        {"address": "10.10.0.42", "hostname": "cp-3"}]


def task(**args):
    """One maas_static_ip task."""
    args.setdefault("addresses", copy.deepcopy(PLAN))
    return {"name": "static ip %s" % args.get("state", "present"), MODULE: args}


def reservations(sim):
    """``{ip: (alloc_type, owner id, DNS names)}`` of the simulator's static addresses in 10.10.0.40-49."""
    names = {}
    for resource in sim_objects(sim, "dnsresource"):
        for ip_id in resource["ip_ids"]:
            names.setdefault(ip_id, []).append(resource["name"])
    return dict((r["ip"], (r["alloc_type"], sorted(names.get(r["id"], []))))
                for r in sim_objects(sim, "staticip") if (r.get("ip") or "").startswith("10.10.0.4"))


def test_validated_returns_the_plan_and_writes_nothing(playbook):
    run = playbook.run(task(state="validated", addresses=PLAN + [{"address": "10.10.0.50", "hostname": "db-01"}]))
    assert run.ok, run.result.get("msg")
    assert run.result["changed"] is False and run.writes == [], run.write_summary()
    first, db = run.result["addresses"][0], run.result["addresses"][3]
    assert (first["state"], first["address_cidr"], first["gateway"], first["dns_servers"]) == (
        "free", "10.10.0.40/24", "10.10.0.1", ["10.10.0.2"])
    assert first["subnet"]["cidr"] == "10.10.0.0/24" and first["subnet"]["vlan"]["vid"] == 0
    assert db["state"] == "assigned" and db["holder"]["hostname"] == "db-01"  # the machine of that name holds it


def test_present_reserves_once_and_the_rerun_sends_no_write(playbook, maas_sim):
    first = playbook.run(task())
    assert first.ok, first.result.get("msg")
    assert first.result["changed"] is True
    assert [(w["method"], w["op"]) for w in first.writes] == [("POST", "reserve")] * 3, first.write_summary()
    assert reservations(maas_sim) == {"10.10.0.40": (4, ["cp-1"]), "10.10.0.41": (4, ["cp-2"]), "10.10.0.42": (4, ["cp-3"])}
    assert [a["reservation"]["owner"]["username"] for a in first.result["addresses"]] == ["lxdcp"] * 3

    second = playbook.run(task())
    assert second.ok and second.result["changed"] is False
    assert second.writes == [], second.write_summary()
    assert [a["state"] for a in second.result["addresses"]] == ["reserved"] * 3


def test_check_mode_writes_nothing_then_diff_shows_the_change(playbook, maas_sim):
    checked = playbook.run(task(), check=True, diff=True)
    assert checked.ok and checked.result["changed"] is True
    assert checked.writes == [], checked.write_summary()
    assert reservations(maas_sim) == {}
    real = playbook.run(task(), diff=True)
    assert real.ok
    assert real.result["diff"] == checked.result["diff"] == {
        "before": {"addresses": {"10.10.0.40": "free", "10.10.0.41": "free", "10.10.0.42": "free"}},
        "after": {"addresses": {"10.10.0.40": "reserved by you for cp-1", "10.10.0.41": "reserved by you for cp-2",
                                "10.10.0.42": "reserved by you for cp-3"}},
    }


def test_a_host_name_added_later_re_reserves(playbook, maas_sim):
    assert playbook.run(task(addresses=[{"address": "10.10.0.43"}])).ok
    assert reservations(maas_sim) == {"10.10.0.43": (4, [])}
    named = playbook.run(task(addresses=[{"address": "10.10.0.43", "hostname": "lb-1"}]))
    assert named.ok and named.result["addresses"][0]["action"] == "re-reserve"
    assert [w["op"] for w in named.writes] == ["release", "reserve"], named.write_summary()
    assert reservations(maas_sim) == {"10.10.0.43": (4, ["lb-1"])}


def test_absent_releases_and_the_rerun_sends_no_write(playbook, maas_sim):
    assert playbook.run(task()).ok
    checked = playbook.run(task(state="absent"), check=True)
    assert checked.result["changed"] is True and checked.writes == []
    gone = playbook.run(task(state="absent"), diff=True)
    assert gone.ok and gone.result["changed"] is True
    assert [w["op"] for w in gone.writes] == ["release"] * 3, gone.write_summary()
    assert reservations(maas_sim) == {}
    assert gone.result["diff"]["after"]["addresses"] == {"10.10.0.40": "free", "10.10.0.41": "free", "10.10.0.42": "free"}
    again = playbook.run(task(state="absent"))
    assert again.ok and again.result["changed"] is False and again.writes == []


def test_absent_leaves_other_users_reservations_alone(playbook, maas_sim):
    run = playbook.run(task(state="absent", addresses=[{"address": "10.10.0.31"}]))
    assert run.ok and run.result["changed"] is False and run.writes == []
    assert run.result["addresses"][0]["state"] == "absent"
    assert sim_ips(maas_sim, "10.10.0.31")


def test_lost_answer_after_reserve_is_verified_not_duplicated(playbook, maas_sim):
    maas_sim.faults(drop_response=[{"count": 1, "method": "POST", "path": "ipaddresses", "op": "reserve"}])
    run = playbook.run(task(addresses=[{"address": "10.10.0.44", "hostname": "cp-4"}]), verbosity=3)
    assert run.ok, run.result.get("msg")
    assert run.result["changed"] is True and run.result["addresses"][0]["reservation"]["ip"] == "10.10.0.44"
    assert [w["op"] for w in run.writes] == ["reserve"], run.write_summary()
    assert len(sim_ips(maas_sim, "10.10.0.44")) == 1
    assert any("the earlier attempt took effect (verified)" in line for line in run.result["maas_log"])
    again = playbook.run(task(addresses=[{"address": "10.10.0.44", "hostname": "cp-4"}]))
    assert again.result["changed"] is False and again.writes == []


def test_503_storm_is_retried_until_it_passes(playbook, maas_sim):
    maas_sim.faults(fail_next=[{"count": 3, "status": 503, "method": "POST", "path": "ipaddresses", "op": "reserve",
                                "retry_after": 0}])
    run = playbook.run(task(addresses=[{"address": "10.10.0.45"}]), verbosity=3)
    assert run.ok, run.result.get("msg")
    statuses = [w["status"] for w in run.writes]
    assert statuses == [503, 503, 503, 200], run.write_summary()
    assert sum("retry" in line and "op=reserve" in line for line in run.result["maas_log"]) == 3
    assert reservations(maas_sim) == {"10.10.0.45": (4, [])}


def test_ipv6_subnet(sim_factory, sim_playbook):
    with open(default_scenario_path(), encoding="utf-8") as handle:
        scenario = yaml.safe_load(handle)
    scenario["subnets"].append({"cidr": "2001:db8:42::/64", "name": "v6", "fabric": "fabric-0", "vid": 0,
                                "gateway_ip": "2001:db8:42::1", "dns_servers": ["2001:db8:42::53"],
                                "ip_ranges": [{"type": "dynamic", "start": "2001:db8:42::1000", "end": "2001:db8:42::1fff"}]})
    sim = sim_factory(scenario=scenario, timings=SimServer.FAST_TIMINGS)
    playbook = sim_playbook(sim)
    wanted = [{"address": "2001:db8:42::21", "hostname": "cp-1"}]
    run = playbook.run(task(addresses=wanted))
    assert run.ok, run.result.get("msg")
    address = run.result["addresses"][0]
    assert (address["address_cidr"], address["gateway"], address["dns_servers"]) == (
        "2001:db8:42::21/64", "2001:db8:42::1", ["2001:db8:42::53"])
    assert playbook.run(task(addresses=wanted)).writes == []
    bad = playbook.run(task(state="validated", addresses=[{"address": "2001:db8:42::"}, {"address": "2001:db8:42::1a00"}]))
    assert not bad.ok and [p["rule"] for p in bad.result["problems"]] == ["subnet-router-anycast", "dynamic-range"]


def test_absent_with_a_host_name_releases_only_what_was_reserved_for_it(playbook, maas_sim):
    mine = [{"address": "10.10.0.40", "hostname": "cp-1"}, {"address": "10.10.0.41", "hostname": "vip"}, {"address": "10.10.0.42"}]
    reserved = playbook.run(task(addresses=mine))
    assert reserved.ok, reserved.result.get("msg")
    plan = [{"address": "10.10.0.40", "hostname": "cp-1"}, {"address": "10.10.0.41", "hostname": "cp-2"},
            {"address": "10.10.0.42", "hostname": "cp-3"}, {"address": "10.10.0.31", "hostname": "cp-4"},
            {"address": "10.10.0.50", "hostname": "db-01"}, {"address": "10.10.0.43", "hostname": "cp-5"}]

    checked = playbook.run(task(state="absent", addresses=plan), check=True)
    assert checked.ok and checked.result["changed"] is True and checked.writes == [], checked.write_summary()

    run = playbook.run(task(state="absent", addresses=plan))
    assert run.ok, run.result.get("msg")
    assert run.result["changed"] is True
    assert run.write_summary() == ["POST /MAAS/api/2.0/ipaddresses/ op=release"]
    assert reservations(maas_sim) == {"10.10.0.41": (4, ["vip"]), "10.10.0.42": (4, [])}
    states = {a["address"]: (a["state"], a["reason"]) for a in run.result["addresses"]}
    assert states["10.10.0.40"] == ("released", "a reservation of user lxdcp for DNS name cp-1.maas")
    assert states["10.10.0.41"] == ("kept", "a reservation of user lxdcp for DNS name vip.maas, not for cp-2")
    assert states["10.10.0.42"] == ("kept", "a reservation of user lxdcp (no DNS name), so it is not known to be cp-3's")
    assert states["10.10.0.31"][0] == "kept" and states["10.10.0.31"][1].startswith("a reservation of user user")
    assert states["10.10.0.50"][0] == "assigned"  # db-01's own address
    assert states["10.10.0.43"] == ("absent", "free (nothing in MAAS holds it)")
    assert sim_ips(maas_sim, "10.10.0.31") and sim_ips(maas_sim, "10.10.0.50")

    again = playbook.run(task(state="absent", addresses=plan))
    assert again.ok and again.result["changed"] is False and again.writes == []


def test_absent_for_one_host_reads_only_its_subnet(playbook, maas_sim):
    assert playbook.run(task(addresses=[{"address": "10.10.0.44", "hostname": "cp-4"}])).ok
    run = playbook.run(task(state="absent", hostname="cp-4", addresses=[{"address": "10.10.0.44"}]))
    assert run.ok and run.result["addresses"][0]["state"] == "released", run.result.get("msg")
    reads = [(r["path"], r.get("op")) for r in run.requests if r["method"] == "GET"]
    assert reads == [("/MAAS/api/2.0/subnets/ip:10.10.0.44/", "ip_addresses"), ("/MAAS/api/2.0/users/", "whoami")]
    assert reservations(maas_sim) == {}
