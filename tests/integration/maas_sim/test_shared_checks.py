"""Answers of checks shared between handlers: machine lookups, constraint forms, requested addresses, VM host deletion."""

from __future__ import annotations


def _machine(api, hostname):
    return api.ok("GET", "machines/", params={"hostname": hostname})[0]


def test_unlock_and_locked_machines(api, user_api):
    missing = api.post("machines/nosuch/", op="unlock")
    assert (missing.status_code, missing.text) == (404, "No Machine matches the given query.")
    sid = _machine(api, "db-01")["system_id"]
    assert api.ok("POST", f"machines/{sid}/", params={"op": "lock"})["locked"] is True
    refused = api.post(f"machines/{sid}/", op="power_off")
    assert (refused.status_code, refused.text) == (403, "")
    again = api.post(f"machines/{sid}/", op="lock")
    assert (again.status_code, again.text) == (403, "")
    not_admin = user_api.post(f"machines/{sid}/", op="unlock")
    assert (not_admin.status_code, not_admin.text) == (403, "")
    assert api.ok("POST", f"machines/{sid}/", params={"op": "unlock"})["locked"] is False
    assert api.ok("POST", f"machines/{sid}/", params={"op": "unlock"})["locked"] is False


def test_interfaces_of_a_missing_or_hidden_node(api, user_api):
    missing = api.get("nodes/nosuch/interfaces/")
    assert (missing.status_code, missing.text) == (404, "No Node matches the given query.")
    sid = _machine(api, "db-01")["system_id"]
    hidden = user_api.get(f"nodes/{sid}/interfaces/")
    assert (hidden.status_code, hidden.text) == (403, "")


def test_vm_host_form_choices(api):
    bad = api.post("vm-hosts/", data={"type": "weird", "power_address": "10.10.0.99:8443"})
    assert bad.status_code == 400
    assert bad.json() == {"type": ["Select a valid choice. weird is not one of the available choices."]}
    mode = api.request("PUT", "vm-hosts/1/", data={"default_macvlan_mode": "odd"})
    assert mode.status_code == 400
    assert mode.json() == {"default_macvlan_mode": ["Select a valid choice. odd is not one of the available choices."]}


def test_interfaces_and_storage_constraints_in_compose_and_allocate(api):
    for path, op in (("vm-hosts/1/", "compose"), ("machines/", "allocate")):
        unknown = api.post(path, op=op, data={"interfaces": "eth0:subnet=10.10.0.0/24,colour=red"})
        assert unknown.status_code == 400 and unknown.json() == {"interfaces": ["Unknown interfaces constraint: 'colour"]}
        malformed = api.post(path, op=op, data={"interfaces": "eth0"})
        assert malformed.status_code == 400 and malformed.json() == {"interfaces": ["Invalid constraint: 'eth0'"]}
        storage = api.post(path, op=op, data={"storage": "root:x"})
        assert storage.status_code == 400 and storage.json() == {"storage": ['Malformed storage constraint, "root:x".']}
    composed = api.ok("POST", "vm-hosts/1/", params={"op": "compose"},
                      data={"interfaces": "eth0:subnet=10.10.0.0/24,mode=unconfigured", "skip_commissioning": "1"})
    assert composed["system_id"]


def test_requested_address_in_a_dynamic_range(api):
    dynamic = api.post("vm-hosts/1/", op="compose", data={"interfaces": "eth0:ip=10.10.0.210"})
    assert (dynamic.status_code, dynamic.text) == (404, "10.10.0.210 is within the dynamic range from 10.10.0.200 to 10.10.0.254")
    nowhere = api.post("vm-hosts/1/", op="compose", data={"interfaces": "eth0:ip=192.168.7.7"})
    assert nowhere.status_code == 400


def test_ip_addresses_lists_every_dns_record_of_an_address(api):
    api.ok("POST", "dnsresources/", data={"fqdn": "pair.maas", "ip_addresses": "10.10.0.40 10.10.0.41"})
    api.ok("POST", "dnsresources/", data={"fqdn": "alias.maas", "ip_addresses": "10.10.0.41"})
    listed = {item["ip"]: item for item in api.ok("GET", "subnets/1/", params={"op": "ip_addresses"})}
    assert [r["name"] for r in listed["10.10.0.40"]["dns_records"]] == ["pair"]
    assert [r["name"] for r in listed["10.10.0.41"]["dns_records"]] == ["pair", "alias"]
    assert listed["10.10.0.41"]["dns_records"][0]["domain"] == "maas"
    assert "dns_records" not in listed["10.10.0.50"]
    plain = {item["ip"]: item for item in api.ok("GET", "subnets/1/", params={"op": "ip_addresses", "with_summary": "0"})}
    assert "dns_records" not in plain["10.10.0.41"]


def test_deleting_a_vm_host_frees_its_machines_and_addresses(api):
    assert api.request("DELETE", "vm-hosts/3/").status_code == 204
    assert api.ok("GET", "machines/", params={"hostname": "worker-01"}) == []
    assert api.get("vm-hosts/3/").status_code == 404
    reserved = api.ok("POST", "ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.52"})
    assert reserved["ip"] == "10.10.0.52"
    host = _machine(api, "lxd-az1-a")
    refused = api.request("DELETE", f"machines/{host['system_id']}/")
    assert (refused.status_code, refused.text) == (400, "The following VM hosts must be removed first: lxd-az1-a")
    db = _machine(api, "db-01")
    assert db["virtualmachine_id"] is not None
    assert api.request("DELETE", f"machines/{host['system_id']}/", params={"force": "1"}).status_code == 204
    assert api.ok("GET", "machines/", params={"hostname": "db-01"}) == []
    assert [h["name"] for h in api.ok("GET", "vm-hosts/")] == ["lxd-az1-b", "lxd-az2-b", "lxd-az3-a", "lxd-az3-b"]
    assert api.ok("POST", "ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.50"})["ip"] == "10.10.0.50"
