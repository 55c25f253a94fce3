"""maas_machine_info through ansible-playbook against maas-sim: one filtered read, the machine view, ownership."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook, sim_machines, sim_objects
from simharness import SimServer  # pylint: disable=import-error

MODULE = "lxdcp.maas.maas_machine_info"
MACHINES_PATH = "/MAAS/api/2.0/machines/"


@pytest.fixture
def two_clusters(playbook):
    """cp-1 (cluster prod, static IP 10.10.0.40) and other-1 (cluster other), Ready LXD VMs."""
    vm = "lxdcp.maas.maas_lxd_vm"
    run = playbook.run([
        {vm: {"hostname": "cp-1", "cluster": "prod", "cores": 1, "memory": "2G", "zone": "az1",
              "interfaces": [{"ip": "10.10.0.40"}]}},
        {vm: {"hostname": "other-1", "cluster": "other", "cores": 1, "memory": "2G", "zone": "az2"}},
    ])
    assert run.ok, run.result.get("msg")
    return {r["machine"]["hostname"]: r["machine"] for r in run.results}


def info(playbook, check=False, **args):
    """Run the module once; return the run (its requests are only the module's)."""
    return playbook.run({"name": "machines", MODULE: args}, check=check)


def test_a_cluster_is_one_filtered_read(playbook, two_clusters):
    run = info(playbook, cluster="prod")
    assert run.ok, run.result.get("msg")
    assert [(r["method"], r["path"]) for r in run.requests] == [("GET", MACHINES_PATH)]
    assert run.writes == [] and run.result["changed"] is False
    [machine] = run.result["machines"]
    created = two_clusters["cp-1"]
    assert machine["system_id"] == created["system_id"] and machine["status"] == "Ready"
    assert machine["provider_id"] == "maas-lxd:///az1/%s" % created["system_id"] == created["provider_id"]
    assert machine["vm_host"] == created["vm_host"] and machine["zone"] == "az1"
    assert (machine["cores"], machine["memory"]) == (1, 2048)
    assert (machine["managed"], machine["cluster"]) == (True, "prod")
    assert {"ip": "10.10.0.40", "mode": "static", "subnet": "10.10.0.0/24", "interface": "eth0"} in machine["addresses"]


def test_host_names_find_machines_of_any_owner(playbook, two_clusters):
    run = info(playbook, hostname=["other-1", "cp-1", "db-01", "nope"])
    assert run.ok, run.result.get("msg")
    assert [(r["method"], r["path"]) for r in run.requests] == [("GET", MACHINES_PATH)]
    found = {m["hostname"]: m for m in run.result["machines"]}
    assert list(found) == ["cp-1", "db-01", "other-1"] and run.result["missing"] == ["nope"]
    assert (found["other-1"]["managed"], found["other-1"]["cluster"]) == (True, "other")
    assert (found["db-01"]["managed"], found["db-01"]["cluster"]) == (False, None)
    assert found["db-01"]["addresses"][0]["ip"] == "10.10.0.50" and found["db-01"]["status"] == "Deployed"
    assert found["other-1"]["provider_id"] == "maas-lxd:///az2/%s" % two_clusters["other-1"]["system_id"]


def test_provider_ids_old_and_new_find_their_machines_in_one_read(playbook, two_clusters):
    cp1, other = two_clusters["cp-1"], two_clusters["other-1"]
    db01 = info(playbook, hostname=["db-01"]).result["machines"][0]  # an LXD VM lxdcp.maas does not manage
    assert db01["lxd_vm"] is True
    wanted = ["maas-lxd://az1/%s" % cp1["system_id"],  # the form before 1.0.0
              "maas-lxd:///az2/%s" % other["system_id"],
              "maas:///%s/%s" % (db01["zone"], db01["system_id"]),  # as CAPMAAS writes a VM's (scheme maas)
              "maas-lxd://az9/%s" % db01["system_id"],  # an old ID of the same machine with a zone it is not in
              "maas-lxd:///az1/nosuch"]
    run = info(playbook, provider_id=wanted)
    assert run.ok, run.result.get("msg")
    assert [(r["method"], r["path"]) for r in run.requests] == [("GET", MACHINES_PATH)]
    assert {m["hostname"]: m["provider_id"] for m in run.result["machines"]} == {
        "cp-1": "maas-lxd:///az1/%s" % cp1["system_id"], "other-1": "maas-lxd:///az2/%s" % other["system_id"],
        "db-01": "maas-lxd:///%s/%s" % (db01["zone"], db01["system_id"])}
    assert run.result["missing"] == ["maas-lxd:///az1/nosuch"]

    # VMs written as CAPMAAS writes them; bare metal is the same either way.
    capmaas = info(playbook, provider_id=wanted, vm_provider_id_scheme="maas")
    assert {m["hostname"]: m["provider_id"] for m in capmaas.result["machines"]} == {
        "cp-1": "maas:///az1/%s" % cp1["system_id"], "other-1": "maas:///az2/%s" % other["system_id"],
        "db-01": "maas:///%s/%s" % (db01["zone"], db01["system_id"])}


def test_a_malformed_provider_id_fails_before_any_request(playbook):
    run = info(playbook, provider_id=["maas-lxd:///az1/abc123", "maas:/az1/abc123"])
    assert not run.ok and run.requests == []
    assert run.result["msg"] == "provider ID 'maas:/az1/abc123' must start with maas:// or maas-lxd://"


def test_zone_status_and_tags_are_maas_s_filters(playbook, maas_sim):
    az1 = next(z["id"] for z in sim_objects(maas_sim, "zone") if z["name"] == "az1")
    deployed_az1 = sorted(m["hostname"] for m in sim_machines(maas_sim) if m["status"] == 6 and m["zone_id"] == az1)
    run = info(playbook, zone=["az1"], status=["deployed"], check=True)
    assert run.ok, run.result.get("msg")
    assert [m["hostname"] for m in run.result["machines"]] == deployed_az1 and "db-01" in deployed_az1
    assert len(run.requests) == 1 and run.writes == []
    tagged = info(playbook, tags=["cache"])
    assert [m["hostname"] for m in tagged.result["machines"]] == ["cache-01"]


def test_several_tags_are_one_maas_filter_matching_all(playbook, two_clusters):
    both = info(playbook, tags=["lxdcp-managed", "lxdcp-cluster-prod"])
    assert both.ok, both.result.get("msg")
    assert [m["hostname"] for m in both.result["machines"]] == ["cp-1"]
    assert [(r["method"], r["path"]) for r in both.requests] == [("GET", MACHINES_PATH)]
    none = info(playbook, cluster="prod", tags=["lxdcp-cluster-other"])
    assert none.ok and none.result["machines"] == [] and len(none.requests) == 1


def test_an_unknown_cluster_has_no_machine_and_an_unknown_zone_is_an_error(playbook):
    nobody = info(playbook, cluster="nobody")
    assert nobody.ok and nobody.result["machines"] == []
    bad = info(playbook, zone=["az9"])
    assert not bad.ok and "az9" in bad.result["msg"] and bad.result["machines"] == []
    assert bad.writes == []


def test_wait_for_polls_the_machines_together_and_names_each_failure(sim_factory, tmp_path):
    maas_sim = sim_factory(timings=dict(SimServer.FAST_TIMINGS, deploying=6.0))  # longer than the three deploy tasks
    playbook = Playbook(maas_sim, tmp_path)
    vm = "lxdcp.maas.maas_lxd_vm"
    names = ["wait-1", "wait-2", "wait-3"]
    run = playbook.run([{vm: {"hostname": name, "cluster": "waits", "cores": 1, "memory": "2G"}} for name in names])
    assert run.ok, run.result.get("msg")
    ids = {r["machine"]["hostname"]: r["machine"]["system_id"] for r in run.results}
    maas_sim.faults(deploy_fail=["wait-3"])
    try:
        deploy = [{vm: {"hostname": name, "cluster": "waits", "state": "deployed", "deploy_wait": False}} for name in names]
        run = playbook.run(deploy + [{"name": "wait", MODULE: {"system_id": [ids[n] for n in names], "wait_for": ["Deployed"]}}])
    finally:
        maas_sim.clear_faults()
    assert [r["machine"]["status"] for r in run.results[:3]] == ["Deploying"] * 3  # deploy_wait: false returns at once
    result = run.task("wait")
    assert result["failed"]
    # One request per interval for all the machines still on their way, never one per machine.
    # (the first is the module's read of the machines by system_id, the others its polls).
    reads = [r for r in run.requests if r["method"] == "GET" and r["path"] == MACHINES_PATH and r["query"].startswith("id=")]
    assert len(reads) == result["polls"] + 1 and result["polls"] >= 2
    asked = [sorted(q.split("=")[1] for q in r["query"].split("&")) for r in reads]
    assert asked[0] == sorted(ids.values()) and all(a and set(a) <= set(ids.values()) for a in asked[1:]), asked
    assert not any(r["path"].startswith(MACHINES_PATH) and r["path"] != MACHINES_PATH for r in run.requests[-len(reads):])
    waits = {w["hostname"]: w for w in result["waits"]}
    assert [(waits[n]["ok"], waits[n]["status"]) for n in names] == [
        (True, "Deployed"), (True, "Deployed"), (False, "Failed deployment")]
    assert result["msg"].startswith("Machine wait-3 (%s) reached 'Failed deployment' while waiting for Deployed" % ids["wait-3"])
    assert "wait-1" not in result["msg"] and waits["wait-3"]["reason"] == result["msg"]
    assert {m["hostname"]: m["status"] for m in result["machines"]} == {
        "wait-1": "Deployed", "wait-2": "Deployed", "wait-3": "Failed deployment"}
    assert result["changed"] is False


def test_wait_for_needs_the_machines(playbook):
    run = info(playbook, wait_for=["Deployed"], zones=["az1"])
    assert not run.ok and run.result["msg"] == "wait_for needs the machines to wait for: system_id, hostname or provider_id"
    assert run.requests == []
