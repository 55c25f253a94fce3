"""Static-IP VMs with their gateway and DNS servers next to DHCP (MAAS-assigned) VMs, through playbooks/control_plane.yml."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import cluster_machines, machines_named, static_ips


def mixed(inventory, **cp1):
    """demo-cp-1 static with a gateway and DNS servers, demo-cp-2 static only, demo-cp-3 without an address (DHCP/AUTO)."""
    built = inventory("demo", {"demo-cp-1": "10.10.0.101", "demo-cp-2": "10.10.0.102", "demo-cp-3": None},
                      provision_zones=["az1", "az2", "az3"], provision_pool="default", provision_cores=2, provision_memory="4G")
    hosts = built["all"]["children"]["control_plane"]["hosts"]
    hosts["demo-cp-1"].update(cp1 or {"lxdcp_gateway": "10.10.0.1", "lxdcp_dns_servers": ["10.10.0.2"]})
    return built


def test_mixed_dhcp_and_static_vms_with_gateway_and_dns(cluster, maas, inventory):
    run = cluster.up(mixed(inventory))
    assert run.ok, (run, run.stdout[-3000:])
    machines = {m["hostname"]: m for m in cluster_machines(maas, "demo")}
    assert sorted(machines) == ["demo-cp-1", "demo-cp-2", "demo-cp-3"]
    assert all(m["status_name"] == "Deployed" for m in machines.values())
    assert static_ips(machines["demo-cp-1"]) == ["10.10.0.101"] and static_ips(machines["demo-cp-2"]) == ["10.10.0.102"]
    assert static_ips(machines["demo-cp-3"]) == []
    # demo-cp-1's default gateway is its static link, chosen explicitly; the others get MAAS's own choice.
    cp1 = machines["demo-cp-1"]
    static_link = next(link["id"] for iface in cp1["interface_set"] for link in iface["links"] if link["mode"] == "static")
    assert cp1["default_gateways"]["ipv4"] == {"gateway_ip": "10.10.0.1", "link_id": static_link}
    assert machines["demo-cp-2"]["default_gateways"]["ipv4"]["link_id"] is None
    links = [w for w in run.writes if w["op"] == "link_subnet"]
    assert len(links) == 2, run.write_summary()  # the two static VMs; the DHCP one keeps MAAS's automatic link

    again = cluster.up(mixed(inventory))
    assert again.ok, again
    assert set(again.changed.values()) == {0}, again
    assert again.writes == [], again.write_summary()

    checked = cluster.up(mixed(inventory), check=True, diff=True)
    assert checked.ok and checked.writes == [] and set(checked.changed.values()) == {0}, checked


def test_gateway_maas_cannot_configure_fails_before_any_write(cluster, maas, inventory):
    run = cluster.up(mixed(inventory, lxdcp_gateway="10.10.0.254", lxdcp_dns_servers=["9.9.9.9"]))
    assert not run.ok
    assert run.writes == [], run.write_summary()
    assert machines_named(maas, ["demo-cp-1", "demo-cp-2", "demo-cp-3"]) == []
    text = run.stdout
    assert "gateway 10.10.0.254 is not the gateway of subnet 10.10.0.0/24 in MAAS (it has 10.10.0.1)" in text
    assert "DNS server 9.9.9.9 is not among the DNS servers of subnet 10.10.0.0/24 in MAAS" in text


def test_gateway_without_static_ip_fails_before_any_request(cluster, maas, inventory):
    built = mixed(inventory)
    built["all"]["children"]["control_plane"]["hosts"]["demo-cp-3"]["lxdcp_gateway"] = "10.10.0.1"
    run = cluster.up(built)
    assert not run.ok and run.writes == []
    assert "provision_gateway and provision_dns_servers (lxdcp_gateway, lxdcp_dns_servers) are only used with provision_ip" in run.stdout
