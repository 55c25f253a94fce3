"""maas_machine_info through ansible-playbook against maas-sim: one filtered read, the machine view, ownership."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_machines, sim_objects

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
