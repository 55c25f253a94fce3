"""maas_dns_record through ansible-playbook against maas-sim: create/update/delete, idempotency, check, diff, faults."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_ips, sim_objects

MODULE = "lxdcp.maas.maas_dns_record"
FQDN = "k8s-api.maas"
NODES = ["10.10.0.50", "10.10.0.51", "10.10.0.52"]  # db-01, cache-01, worker-01 of the default scenario


def task(**args):
    """One maas_dns_record task for the API endpoint."""
    args.setdefault("fqdn", FQDN)
    return {"name": "dns %s" % args.get("state", "present"), MODULE: args}


def records(sim):
    """``{name: (sorted addresses, ttl)}`` of the simulator's DNS resources."""
    by_id = dict((r["id"], r["ip"]) for r in sim_objects(sim, "staticip"))
    return dict((r["name"], (sorted(by_id[i] for i in r["ip_ids"]), r.get("address_ttl")))
                for r in sim_objects(sim, "dnsresource"))


def test_create_once_and_the_rerun_sends_no_write(playbook, maas_sim):
    first = playbook.run(task(addresses=NODES, ttl=30), diff=True)
    assert first.ok, first.result.get("msg")
    assert first.result["changed"] is True and first.result["action"] == "create"
    assert [(w["method"], w["path"].rsplit("/", 2)[-2]) for w in first.writes] == [("POST", "dnsresources")]
    assert records(maas_sim)["k8s-api"] == (NODES, 30)
    assert first.result["record"]["addresses"] == NODES and first.result["maas_reserved"] == []
    assert first.result["diff"] == {"before": {}, "after": {"fqdn": FQDN, "addresses": NODES, "ttl": 30}}

    second = playbook.run(task(addresses=list(reversed(NODES)), ttl=30))
    assert second.ok and second.result["changed"] is False
    assert second.writes == [], second.write_summary()
    reads = [r for r in second.requests if "dnsresources" in r["path"]]
    assert len(reads) == 1 and reads[0]["method"] == "GET"  # found with the fqdn filter, no listing


def test_check_mode_writes_nothing(playbook, maas_sim):
    checked = playbook.run(task(addresses=["10.10.0.60"]), check=True, diff=True)
    assert checked.ok and checked.result["changed"] is True and checked.writes == []
    assert "k8s-api" not in records(maas_sim) and not sim_ips(maas_sim, "10.10.0.60")
    assert checked.result["maas_reserved"] == ["10.10.0.60"]
    assert checked.result["diff"]["after"]["addresses"] == ["10.10.0.60"]


def test_update_replaces_addresses_and_leaves_no_orphan(playbook, maas_sim):
    created = playbook.run(task(addresses=["10.10.0.60", "10.10.0.50"]))
    assert created.ok and created.result["maas_reserved"] == ["10.10.0.60"]
    assert [r["alloc_type"] for r in sim_ips(maas_sim, "10.10.0.60")] == [4]  # MAAS's quirk: the record reserved it

    checked = playbook.run(task(addresses=["10.10.0.50", "10.10.0.51"], ttl=60), check=True)
    assert checked.result["released"] == ["10.10.0.60"] and checked.writes == []

    updated = playbook.run(task(addresses=["10.10.0.50", "10.10.0.51"], ttl=60), diff=True)
    assert updated.ok and updated.result["action"] == "update", updated.result.get("msg")
    assert [(w["method"], w.get("op")) for w in updated.writes] == [("PUT", None), ("POST", "release")], updated.write_summary()
    assert updated.result["released"] == ["10.10.0.60"] and sim_ips(maas_sim, "10.10.0.60") == []
    assert records(maas_sim)["k8s-api"] == (["10.10.0.50", "10.10.0.51"], 60)
    assert updated.result["diff"]["before"] == {"fqdn": FQDN, "addresses": ["10.10.0.50", "10.10.0.60"], "ttl": None}
    assert playbook.run(task(addresses=["10.10.0.51", "10.10.0.50"], ttl=60)).writes == []


def test_absent_deletes_and_releases_only_unused_reservations(playbook, maas_sim):
    vip = playbook.run({"lxdcp.maas.maas_static_ip": {"addresses": [{"address": "10.10.0.61", "hostname": "k8s-vip"}]}})
    assert vip.ok, vip.result.get("msg")
    assert playbook.run(task(addresses=["10.10.0.50", "10.10.0.60", "10.10.0.61"])).ok

    gone = playbook.run(task(state="absent"), diff=True)
    assert gone.ok and gone.result["changed"] is True and gone.result["action"] == "delete", gone.result.get("msg")
    assert "k8s-api" not in records(maas_sim)
    # MAAS 3.6.1+ deletes the record's unused reservation itself, older versions leave it for the module to release;
    # either way it is gone, while 10.10.0.61 (still the k8s-vip record's) and 10.10.0.50 (a machine's) stay.
    assert gone.result["released"] in ([], ["10.10.0.60"])
    assert sim_ips(maas_sim, "10.10.0.60") == [] and sim_ips(maas_sim, "10.10.0.61") and sim_ips(maas_sim, "10.10.0.50")
    assert gone.result["diff"]["after"] == {}
    again = playbook.run(task(state="absent"))
    assert again.ok and again.result["changed"] is False and again.writes == []


def test_absent_check_mode(playbook, maas_sim):
    assert playbook.run(task(addresses=["10.10.0.60"])).ok
    checked = playbook.run(task(state="absent"), check=True)
    assert checked.result["changed"] is True and checked.result["released"] == ["10.10.0.60"] and checked.writes == []
    assert "k8s-api" in records(maas_sim)


def test_lost_answer_after_create_is_verified_not_duplicated(playbook, maas_sim):
    maas_sim.faults(drop_response=[{"count": 1, "method": "POST", "path": "dnsresources"}])
    run = playbook.run(task(addresses=NODES), verbosity=3)
    assert run.ok, run.result.get("msg")
    assert run.result["changed"] is True and run.result["record"]["addresses"] == NODES
    assert [w["method"] for w in run.writes] == ["POST"], run.write_summary()
    assert [r["name"] for r in sim_objects(maas_sim, "dnsresource")].count("k8s-api") == 1
    assert any("the earlier attempt took effect (verified)" in line for line in run.result["maas_log"])


def test_503_storm_is_retried_until_it_passes(playbook, maas_sim):
    assert playbook.run(task(addresses=NODES[:1])).ok
    maas_sim.faults(fail_next=[{"count": 4, "status": 503, "method": "PUT", "path": "dnsresources", "retry_after": 0}])
    run = playbook.run(task(addresses=NODES))
    assert run.ok, run.result.get("msg")
    assert [w["status"] for w in run.writes] == [503, 503, 503, 503, 200], run.write_summary()
    assert records(maas_sim)["k8s-api"][0] == NODES


def test_name_and_domain(playbook, maas_sim):
    run = playbook.run({"name": "by name", MODULE: {"name": "k8s-api", "domain": "maas", "addresses": NODES[:2]}})
    assert run.ok and run.result["record"]["fqdn"] == FQDN
    assert playbook.run(task(addresses=NODES[:2])).writes == []


def test_absent_with_a_guard_deletes_only_a_record_of_listed_addresses(playbook, maas_sim):
    assert playbook.run(task(addresses=NODES)).ok
    guarded = task(state="absent", only_if_addresses_within=NODES[:2] + ["10.10.0.99"])
    for check in (True, False):
        kept = playbook.run(guarded, check=check)
        assert kept.ok, kept.result.get("msg")
        assert kept.result["changed"] is False and kept.result["kept"] == ["10.10.0.52"] and kept.writes == []
        assert kept.result["record"] == kept.result["before"] and kept.result["before"]["addresses"] == NODES
        assert kept.result["warnings"] == ["DNS record k8s-api.maas kept: it holds 10.10.0.52, which is not in "
                                           "only_if_addresses_within"]
        assert [(r["method"], r["path"]) for r in kept.requests] == [("GET", "/MAAS/api/2.0/dnsresources/")]
    assert records(maas_sim)["k8s-api"][0] == NODES

    owned = task(state="absent", only_if_addresses_within=list(reversed(NODES)))
    checked = playbook.run(owned, check=True)
    assert checked.ok and checked.result["changed"] is True and checked.writes == []
    gone = playbook.run(owned)
    assert gone.ok and gone.result["changed"] is True and gone.result["action"] == "delete"
    assert gone.result["before"]["addresses"] == NODES and gone.result["record"] is None and gone.result["kept"] == []
    assert [(w["method"], w["path"].rsplit("/", 3)[-3]) for w in gone.writes] == [("DELETE", "dnsresources")], gone.write_summary()
    assert "k8s-api" not in records(maas_sim)
    again = playbook.run(owned)
    assert again.ok and again.result["changed"] is False and again.result["before"] is None and again.writes == []


def test_a_guard_with_state_present_is_refused_before_any_request(playbook):
    run = playbook.run(task(addresses=NODES, only_if_addresses_within=NODES))
    assert not run.ok
    assert run.result["msg"] == "only_if_addresses_within only applies to state=absent (it decides whether a record may be deleted)"
    assert run.requests == []
