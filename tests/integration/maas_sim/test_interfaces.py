"""Interfaces: list/read, link_subnet modes and errors, unlink, sticky vs automatic addresses."""

from __future__ import annotations


def ready_machine(api):
    machine = api.compose_ready()
    return machine["system_id"], machine["interface_set"][0]


def link(api, sid, iface_id, **data):
    return api.post(f"nodes/{sid}/interfaces/{iface_id}/", params={"op": "link_subnet"}, data=data)


def test_list_and_read(api):
    sid, iface = ready_machine(api)
    listed = api.ok("GET", f"nodes/{sid}/interfaces/")
    assert listed == [iface]
    assert api.ok("GET", f"nodes/{sid}/interfaces/{iface['id']}/") == iface
    assert api.ok("GET", f"nodes/{sid}/interfaces/eth0/") == iface
    assert set(iface) >= {"system_id", "id", "name", "type", "vlan", "mac_address", "parents", "children", "tags", "enabled", "links",
                          "params", "discovered", "effective_mtu", "vendor", "product", "firmware_version", "link_connected",
                          "interface_speed", "link_speed", "numa_node", "sriov_max_vf", "resource_uri"}
    assert api.get(f"nodes/{sid}/interfaces/999/").text == "No Interface matches the given query."


def test_static_link_is_sticky_across_release(api):
    sid, iface = ready_machine(api)
    auto_link = iface["links"][0]
    api.ok("POST", f"nodes/{sid}/interfaces/{iface['id']}/", params={"op": "unlink_subnet"}, data={"id": str(auto_link["id"])})
    linked = link(api, sid, iface["id"], mode="STATIC", subnet="10.10.0.0/24", ip_address="10.10.0.180", default_gateway="true")
    assert linked.status_code == 200, linked.text
    static = [entry for entry in linked.json()["links"] if entry["mode"] == "static"]
    assert [(entry["ip_address"], entry["subnet"]["id"]) for entry in static] == [("10.10.0.180", 1)]
    machine = api.ok("GET", f"machines/{sid}/")
    assert machine["ip_addresses"] == ["10.10.0.180"]
    assert machine["default_gateways"]["ipv4"] == {"gateway_ip": "10.10.0.1", "link_id": static[0]["id"]}
    api.ok("POST", f"machines/{sid}/", params={"op": "deploy"})
    api.ok("POST", f"machines/{sid}/", params={"op": "release"})
    api.wait_status(sid, "Ready")
    assert api.ok("GET", f"machines/{sid}/")["ip_addresses"] == ["10.10.0.180"]


def test_auto_link_gets_address_at_deploy_and_loses_it_at_release(api):
    sid, iface = ready_machine(api)
    assert iface["links"][0]["mode"] == "auto" and "ip_address" not in iface["links"][0]
    deploying = api.ok("POST", f"machines/{sid}/", params={"op": "deploy"})
    address = deploying["interface_set"][0]["links"][0]["ip_address"]
    api.ok("POST", f"machines/{sid}/", params={"op": "release"})
    api.wait_status(sid, "Ready")
    released = api.ok("GET", f"machines/{sid}/")
    assert released["ip_addresses"] == [] and "ip_address" not in released["interface_set"][0]["links"][0]
    assert address not in [a["ip"] for a in api.ok("GET", "subnets/1/", params={"op": "ip_addresses"})]


def test_link_modes_and_errors(api):
    sid, iface = ready_machine(api)
    path = f"nodes/{sid}/interfaces/{iface['id']}/"
    assert link(api, sid, iface["id"]).json() == {"mode": ["This field is required."]}
    assert link(api, sid, iface["id"], mode="bogus").json() == {
        "mode": ["'bogus' is not a valid mode.  It should be one of: 'auto', 'dhcp', 'static', 'link_up'."]}
    assert link(api, sid, iface["id"], mode="AUTO").json() == {"subnet": ["This field is required."]}
    assert link(api, sid, iface["id"], mode="static", subnet="1", ip_address="192.168.1.5").json() == {
        "ip_address": ["IP address is not in the given subnet '10.10.0.0/24:10.10.0.0/24(vid=0)'."]}
    assert link(api, sid, iface["id"], mode="static", subnet="1", ip_address="10.10.0.220").json() == {
        "ip_address": ["IP address is inside a dynamic range 10.10.0.200 to 10.10.0.254."]}
    in_use = link(api, sid, iface["id"], mode="static", subnet="1", ip_address="10.10.0.50")
    assert in_use.status_code == 404 and in_use.text == "IP address is already in use."
    reserved = link(api, sid, iface["id"], mode="static", subnet="1", ip_address="10.10.0.30")
    assert reserved.status_code == 404 and reserved.text == "IP address is already in use."  # a reservation makes the IP "in use"
    assert link(api, sid, iface["id"], mode="link_up").json()["mode"][0].startswith("Cannot configure interface to link up")
    assert link(api, sid, iface["id"], mode="dhcp", default_gateway="true").json() == {"default_gateway": ["Cannot use in mode 'dhcp'."]}
    dhcp = link(api, sid, iface["id"], mode="dhcp", subnet="1")
    assert [entry["mode"] for entry in dhcp.json()["links"]] == ["auto", "dhcp"]
    assert link(api, sid, iface["id"], mode="dhcp", subnet="1").json() == {
        "mode": ["Interface is already set to DHCP from '10.10.0.0/24:10.10.0.0/24(vid=0)'."]}
    assert link(api, sid, iface["id"], mode="static", subnet="99").json() == {
        "subnet": ["Select a valid choice. That choice is not one of the available choices."]}
    picked = link(api, sid, iface["id"], mode="static", subnet="1")
    assert picked.status_code == 200 and [e.get("ip_address") for e in picked.json()["links"] if e["mode"] == "static"] == ["10.10.0.32"]
    forced = link(api, sid, iface["id"], mode="link_up", force="true")
    assert [entry["mode"] for entry in forced.json()["links"]] == ["link_up"]
    bad_unlink = api.post(path, params={"op": "unlink_subnet"}, data={"id": "999"})
    only = forced.json()["links"][0]["id"]
    assert bad_unlink.json() == {"id": [f"'999' is not a valid id.  It should be one of: '{only}'."]}
    assert api.post(path, params={"op": "unlink_subnet"}).json() == {"id": ["This field is required."]}


def test_link_state_rule_and_permissions(api, user_api):
    db = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]
    iface = db["interface_set"][0]
    response = link(api, db["system_id"], iface["id"], mode="auto", subnet="1")
    assert response.status_code == 409
    assert response.text == "Cannot link subnet interface because the machine is not New, Ready, Allocated, or Broken."
    sid, ready_iface = ready_machine(api)
    assert link(user_api, sid, ready_iface["id"], mode="auto", subnet="1").status_code == 403
    unlinked = api.ok("POST", f"nodes/{sid}/interfaces/{ready_iface['id']}/", params={"op": "unlink_subnet"},
                      data={"id": str(ready_iface["links"][0]["id"])})
    # An enabled interface left without links gets a LINK_UP link.
    assert [entry["mode"] for entry in unlinked["links"]] == ["link_up"]
