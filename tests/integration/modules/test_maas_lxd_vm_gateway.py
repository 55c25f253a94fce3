"""maas_lxd_vm's per-VM gateway and DNS servers against maas-sim: applied as MAAS allows, idempotent, check/diff, refused before any write."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.tests.integration.modules.vm_tasks import vm_task
from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import sim_ips, sim_machines


def test_gateway_and_dns_servers_are_applied_once_and_predicted_in_check_mode(playbook, maas_sim):
    interfaces = [{"ip": "10.10.0.43", "gateway": "10.10.0.1", "dns_servers": ["10.10.0.2"]}]
    checked = playbook.run(vm_task(interfaces=interfaces), check=True, diff=True)
    assert checked.ok, checked.result.get("msg")
    assert checked.writes == [], checked.write_summary()
    assert checked.result["diff"]["after"]["default_gateways"] == {"ipv4": "10.10.0.1", "ipv6": None}
    assert "would make eth0 10.10.0.43 a static address with default gateway 10.10.0.1" in checked.result["actions"]

    first = playbook.run(vm_task(interfaces=interfaces), diff=True)
    assert first.ok, first.result.get("msg")
    machine = first.result["machine"]
    assert machine["gateway"] == "10.10.0.1" and machine["dns_servers"] == ["10.10.0.2"]
    # The static link carries the default gateway: MAAS's gateway_link_ipv4 is that link (link_subnet default_gateway).
    links = [w for w in first.writes if w["op"] == "link_subnet"]
    assert len(links) == 1
    static = [record for record in sim_ips(maas_sim, "10.10.0.43") if record["alloc_type"] == 1]
    assert len(static) == 1
    assert sim_machines(maas_sim, "cp-1")[0]["gateway_link_ipv4"] == static[0]["id"]
    assert first.result["diff"]["after"]["default_gateways"] == {"ipv4": "10.10.0.1", "ipv6": None}

    again = playbook.run(vm_task(interfaces=interfaces))
    assert again.ok and again.result["changed"] is False
    assert again.writes == [], again.write_summary()

    deployed = playbook.run(vm_task(interfaces=interfaces, state="deployed"))
    assert deployed.ok, deployed.result.get("msg")
    assert deployed.result["machine"]["gateway"] == "10.10.0.1"
    assert sim_machines(maas_sim, "cp-1")[0]["gateway_link_ipv4"] == static[0]["id"]
    rerun = playbook.run(vm_task(interfaces=interfaces, state="deployed"))
    assert rerun.ok and rerun.result["changed"] is False and rerun.writes == [], rerun.write_summary()


def test_gateway_or_dns_server_maas_cannot_apply_is_refused_before_any_write(playbook, maas_sim):
    bad = playbook.run(vm_task(interfaces=[{"ip": "10.10.0.44", "gateway": "10.10.0.254", "dns_servers": ["8.8.8.8"]}]))
    assert not bad.ok
    assert bad.writes == [], bad.write_summary()
    assert sim_machines(maas_sim, "cp-1") == []
    message = bad.result["msg"]
    assert "gateway 10.10.0.254 is not the gateway of subnet 10.10.0.0/24 in MAAS (it has 10.10.0.1)" in message
    assert "DNS server 8.8.8.8 is not among the DNS servers of subnet 10.10.0.0/24 in MAAS (10.10.0.2)" in message

    # The same for a machine that exists: the new values are checked before anything is changed.
    made = playbook.run(vm_task(interfaces=[{"ip": "10.10.0.44"}]))
    assert made.ok, made.result.get("msg")
    later = playbook.run(vm_task(interfaces=[{"ip": "10.10.0.44", "gateway": "10.10.0.254"}], tags=["extra"]))
    assert not later.ok and later.writes == [], later.write_summary()
    assert "MAAS writes a machine's default gateway from the gateway_ip of one of its subnets" in later.result["msg"]
    assert "extra" not in sim_machines(maas_sim, "cp-1")[0].get("tags", [])
