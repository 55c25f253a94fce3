"""maas_machine_info: filters sent to MAAS, the machine view, addresses, ownership, errors (scripted MAAS)."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.modules import maas_machine_info
from ansible_collections.lxdcp.maas.tests.unit.plugins import maasdata as data
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import SECRET, FakeMaas, run_module

HOST = data.vm_host(1, "lxd-a")
SUBNET = data.subnet()
CP1 = data.machine("vm1", "cp-1", status="Deployed", host=HOST, tags=["lxdcp-managed", "lxdcp-cluster-prod", "virtual"],
                   interfaces=[data.interface(1, links=[data.link(11, "static", "10.10.0.21", SUBNET)], system_id="vm1")])
CP2 = data.machine("vm2", "cp-2", status="Deployed", host=HOST, zone_name="az2", zone_id=2,
                   tags=["lxdcp-managed", "lxdcp-cluster-prod"],
                   interfaces=[data.interface(2, links=[data.link(12, "static", "10.10.0.22", SUBNET)], system_id="vm2"),
                               data.interface(3, name="eth1", links=[data.link(13, "auto")], system_id="vm2")])
METAL = data.machine("bm1", "cp-3", status="Deployed", zone_name="az3", zone_id=3, owner="admin",
                     tags=["lxdcp-managed", "lxdcp-cluster-test"],
                     interfaces=[data.interface(4, links=[data.link(14, "auto", "10.10.0.23", SUBNET),
                                                          data.link(15, "dhcp", "10.10.0.150", SUBNET)], system_id="bm1")])
PLAIN = data.machine("bm2", "db-1")


def scripted(machines, status=200):
    """A fake answering ``GET /machines/`` with ``machines`` (the test checks the query it got)."""
    fake = FakeMaas()
    fake.add("GET", "machines/", json=machines, status=status)
    return fake


def run(fake, monkeypatch, **args):
    return run_module(maas_machine_info.main, args, fake, monkeypatch)


def machine_queries(fake):
    return [call.query for call in fake.find("GET", "machines/")]


def test_hostnames_are_one_filtered_read_with_the_machine_view(monkeypatch):
    fake = scripted([CP2, CP1])
    result = run(fake, monkeypatch, hostname=["cp-1", "cp-2", "cp-9"])
    assert not result.get("failed"), result
    assert result["changed"] is False and fake.writes() == []
    assert machine_queries(fake) == [{"hostname": ["cp-1", "cp-2", "cp-9"]}]
    assert [m["hostname"] for m in result["machines"]] == ["cp-1", "cp-2"]  # sorted by host name
    assert result["missing"] == ["cp-9"]
    cp1, cp2 = result["machines"]
    assert cp1["provider_id"] == "maas-lxd:///az1/vm1" and cp2["provider_id"] == "maas-lxd:///az2/vm2"
    assert cp1["vm_host"] == {"id": 1, "name": "lxd-a"} and cp1["status"] == "Deployed"
    assert (cp1["cores"], cp1["memory"], cp1["zone"], cp1["pool"]) == (2, 4096, "az1", "default")
    assert cp1["addresses"] == [{"ip": "10.10.0.21", "mode": "static", "subnet": "10.10.0.0/24", "interface": "eth0"}]
    assert cp2["addresses"] == [{"ip": "10.10.0.22", "mode": "static", "subnet": "10.10.0.0/24", "interface": "eth0"}]
    assert (cp1["managed"], cp1["cluster"]) == (True, "prod")


def test_bare_metal_provider_id_and_every_address_mode(monkeypatch):
    result = run(scripted([METAL]), monkeypatch, hostname=["cp-3"])
    machine = result["machines"][0]
    assert machine["provider_id"] == "maas:///az3/bm1" and machine["vm_host"] is None and machine["owner"] == "admin"
    assert [(a["ip"], a["mode"]) for a in machine["addresses"]] == [("10.10.0.23", "auto"), ("10.10.0.150", "dhcp")]
    assert (machine["managed"], machine["cluster"]) == (True, "test")
    assert "missing" in result and result["missing"] == []


def test_provider_ids_old_and_new_are_one_read_by_system_id(monkeypatch):
    fake = scripted([METAL, CP1])
    wanted = ["maas-lxd://az1/vm1", "maas:///az3/bm1", "maas-lxd:///az1/gone9", "maas://az2/vm1"]
    result = run(fake, monkeypatch, provider_id=wanted)
    assert not result.get("failed"), result
    assert machine_queries(fake) == [{"id": ["vm1", "bm1", "gone9"]}]
    assert [m["provider_id"] for m in result["machines"]] == ["maas-lxd:///az1/vm1", "maas:///az3/bm1"]
    # Matched by system id: the zone of an ID written before a machine moved does not hide it.
    assert result["missing"] == ["maas-lxd:///az1/gone9"]


def test_vm_provider_id_scheme_maas_writes_vms_as_capmaas_does(monkeypatch):
    result = run(scripted([CP1, METAL]), monkeypatch, vm_provider_id_scheme="maas")
    assert [m["provider_id"] for m in result["machines"]] == ["maas:///az1/vm1", "maas:///az3/bm1"]


@pytest.mark.parametrize("bad", ["aws:///az1/vm1", "maas:///vm1", "maas-lxd:///az1/", "maas:///az1/vm1/x", "vm1"])
def test_a_malformed_provider_id_fails_before_any_request(monkeypatch, bad):
    fake = scripted([CP1])
    result = run(fake, monkeypatch, provider_id=["maas:///az1/vm1", bad])
    assert result["failed"] is True and fake.calls == []
    assert result["msg"].startswith("provider ID %r must " % bad)
    assert ":///<zone>/<system_id>" in result["msg"] or "must start with maas:// or maas-lxd://" in result["msg"]


def test_a_machine_without_lxdcp_tags_is_neither_managed_nor_in_a_cluster(monkeypatch):
    machine = run(scripted([PLAIN]), monkeypatch, hostname=["db-1"])["machines"][0]
    assert (machine["managed"], machine["cluster"], machine["addresses"]) == (False, None, [])


def test_several_cluster_tags_report_the_first_in_alphabetical_order(monkeypatch):
    twice = data.machine("bm3", "x-1", tags=["lxdcp-cluster-zeta", "lxdcp-cluster-alpha"])
    machine = run(scripted([twice]), monkeypatch)["machines"][0]
    assert (machine["managed"], machine["cluster"]) == (False, "alpha")


def test_cluster_filters_on_its_ownership_tag_with_the_other_filters(monkeypatch):
    fake = scripted([CP1])
    result = run(fake, monkeypatch, cluster="prod", zone=["az1"], pool=["default"], status=["deployed", "ready"])
    assert [m["hostname"] for m in result["machines"]] == ["cp-1"]
    assert machine_queries(fake) == [{"tags": ["lxdcp-cluster-prod"], "zone": ["az1"], "pool": ["default"],
                                      "status": ["deployed", "ready"]}]
    assert "missing" not in result


def test_a_cluster_whose_tag_does_not_exist_has_no_machine(monkeypatch):
    fake = scripted({"tags": ["No such tag(s): 'lxdcp-cluster-gone'."]}, status=400)
    result = run(fake, monkeypatch, cluster="gone", hostname=["cp-1"])
    assert not result.get("failed"), result
    assert result["machines"] == [] and result["missing"] == ["cp-1"]


def test_every_tag_is_filtered_by_maas(monkeypatch):
    fake = scripted([CP1])  # MAAS answers the machines carrying all the tags
    result = run(fake, monkeypatch, tags=["lxdcp-managed", "virtual"])
    assert machine_queries(fake) == [{"tags": ["lxdcp-managed", "virtual"]}]
    assert [m["hostname"] for m in result["machines"]] == ["cp-1"]


def test_cluster_and_tags_together(monkeypatch):
    fake = scripted([CP1])
    result = run(fake, monkeypatch, cluster="prod", tags=["virtual"])
    assert machine_queries(fake) == [{"tags": ["lxdcp-cluster-prod", "virtual"]}]
    assert [m["hostname"] for m in result["machines"]] == ["cp-1"]


def test_no_filter_reads_every_machine_once(monkeypatch):
    fake = scripted([PLAIN, CP1])
    result = run(fake, monkeypatch)
    assert machine_queries(fake) == [{}]
    assert [m["hostname"] for m in result["machines"]] == ["cp-1", "db-1"]


def test_an_unknown_zone_is_maas_s_error(monkeypatch):
    fake = scripted({"zone": ["No such zone(s): az9."]}, status=400)
    result = run(fake, monkeypatch, zone=["az9"])
    assert result["failed"] and result["machines"] == []
    assert "No such zone(s): az9." in result["msg"] and result["error"]["status"] == 400


@pytest.mark.parametrize(
    "args, message",
    [
        ({"hostname": ["cp-1.maas"]}, "hostname 'cp-1.maas' is not a valid MAAS hostname"),
        ({"hostname": ["cp_1"]}, "hostname 'cp_1' is not a valid MAAS hostname"),
        ({"cluster": "prod cluster"}, "cluster 'prod cluster' may only contain letters, digits, '_' and '-'"),
        ({"tags": ["ok", "no way"]}, "tag 'no way' is not a valid MAAS tag name"),
        ({"status": ["Deployed"]}, "value of status must be one or more of"),
    ],
)
def test_bad_filters_fail_before_any_request(monkeypatch, args, message):
    fake = scripted([CP1])
    result = run(fake, monkeypatch, **args)
    assert result["failed"] and message in result["msg"]
    assert fake.calls == []


def test_check_mode_reads_the_same(monkeypatch):
    fake = scripted([CP1])
    result = run_module(maas_machine_info.main, {"cluster": "prod"}, fake, monkeypatch, check_mode=True)
    assert [m["hostname"] for m in result["machines"]] == ["cp-1"] and fake.writes() == []


def test_log_and_no_secret(monkeypatch):
    fake = scripted([CP1])
    result = run_module(maas_machine_info.main, {"hostname": ["cp-1"]}, fake, monkeypatch, verbosity=3)
    assert any("1 machine(s) match hostname=cp-1" in line for line in result["maas_log"])
    assert SECRET not in repr(result) and SECRET not in repr(fake.calls[0].query)
