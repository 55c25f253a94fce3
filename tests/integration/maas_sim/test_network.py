"""Subnets, IP ranges, IP address reservations and DNS resources."""

from __future__ import annotations


def test_subnet_read_by_id_cidr_name_and_specifier(api):
    subnet = api.ok("GET", "subnets/1/")
    assert subnet["cidr"] == "10.10.0.0/24" and subnet["gateway_ip"] == "10.10.0.1" and subnet["dns_servers"] == ["10.10.0.2"]
    assert subnet["vlan"]["id"] == 5001 and subnet["space"] == "undefined" and subnet["resource_uri"] == "/MAAS/api/2.0/subnets/1/"
    assert api.ok("GET", "subnets/10.10.0.0/24/") == subnet
    assert api.ok("GET", "subnets/cidr:10.10.0.0/24/") == subnet
    assert api.ok("GET", "subnets/ip:10.10.0.77/") == subnet
    assert api.ok("GET", "subnets/", )[0] == subnet
    response = api.get("subnets/99/")
    assert response.status_code == 404 and response.text == "No Subnet matches the given query."


def test_reserved_and_unreserved_ranges_and_statistics(api):
    reserved = api.ok("GET", "subnets/1/", params={"op": "reserved_ip_ranges"})
    by_start = {r["start"]: r for r in reserved}
    assert by_start["10.10.0.1"] == {"start": "10.10.0.1", "end": "10.10.0.1", "num_addresses": 1, "purpose": ["gateway-ip"]}
    infra = by_start["10.10.0.2"]
    assert infra["end"] == "10.10.0.29" and set(infra["purpose"]) == {"dns-server", "reserved", "assigned-ip"}
    assert by_start["10.10.0.200"] == {"start": "10.10.0.200", "end": "10.10.0.254", "num_addresses": 55, "purpose": ["dynamic"]}
    assert by_start["10.10.0.30"]["purpose"] == ["assigned-ip"] and by_start["10.10.0.30"]["end"] == "10.10.0.31"
    unreserved = api.ok("GET", "subnets/1/", params={"op": "unreserved_ip_ranges"})
    assert unreserved == [
        {"start": "10.10.0.32", "end": "10.10.0.49", "num_addresses": 18},
        {"start": "10.10.0.53", "end": "10.10.0.199", "num_addresses": 147},
    ]
    stats = api.ok("GET", "subnets/1/", params={"op": "statistics", "include_ranges": "1"})
    assert stats["total_addresses"] == 254 and stats["num_available"] == 165 and stats["largest_available"] == 147
    assert stats["first_address"] == "10.10.0.1" and stats["last_address"] == "10.10.0.254" and stats["ip_version"] == 4
    assert stats["usage_string"] == "35%" and stats["available_string"] == "65%"
    assert stats["ranges"][-1]["purpose"] == ["dynamic"]


def test_subnet_ip_addresses(api):
    addresses = api.ok("GET", "subnets/1/", params={"op": "ip_addresses"})
    by_ip = {a["ip"]: a for a in addresses}
    db = by_ip["10.10.0.50"]
    assert db["alloc_type"] == 0 and db["user"] == "lxdcp"
    assert db["node_summary"]["hostname"] == "db-01" and db["node_summary"]["fqdn"] == "db-01.maas" and db["node_summary"]["via"] == "eth0"
    assert db["node_summary"]["is_container"] is True
    assert by_ip["10.10.0.30"]["dns_records"][0]["name"] == "registry"
    plain = api.ok("GET", "subnets/1/", params={"op": "ip_addresses", "with_summary": "0", "with_username": "0"})
    assert set(plain[0]) == {"ip", "alloc_type", "created", "updated"}


def test_ipranges_crud_and_conflicts(api, user_api):
    ranges = api.ok("GET", "ipranges/")
    assert {(r["type"], r["start_ip"], r["end_ip"]) for r in ranges} == {("reserved", "10.10.0.2", "10.10.0.29"), ("dynamic", "10.10.0.200", "10.10.0.254")}
    assert ranges[0]["subnet"]["cidr"] == "10.10.0.0/24" and ranges[0]["user"]["username"] == "lxdcp"
    created = api.ok("POST", "ipranges/", data={"type": "reserved", "start_ip": "10.10.0.100", "end_ip": "10.10.0.110", "comment": "vips"})
    assert created["subnet"]["id"] == 1 and created["comment"] == "vips"
    overlap = api.post("ipranges/", data={"type": "reserved", "start_ip": "10.10.0.105", "end_ip": "10.10.0.120"})
    assert overlap.status_code == 400
    assert overlap.json() == {"start_ip": ["Requested reserved range conflicts with an existing range."],
                              "end_ip": ["Requested reserved range conflicts with an existing range."]}
    dynamic = api.post("ipranges/", data={"type": "dynamic", "start_ip": "10.10.0.45", "end_ip": "10.10.0.60"})
    assert dynamic.json()["start_ip"] == ["Requested dynamic range conflicts with an existing IP address or range."]
    backwards = api.post("ipranges/", data={"type": "reserved", "start_ip": "10.10.0.130", "end_ip": "10.10.0.120"})
    assert backwards.json() == {"end_ip": ["End IP address must not be less than Start IP address."]}
    outside = api.post("ipranges/", data={"type": "reserved", "start_ip": "10.10.0.130", "end_ip": "10.10.1.5", "subnet": "1"})
    assert outside.json() == {"end_ip": ["End IP address must be within subnet: 10.10.0.0/24."]}
    assert api.post("ipranges/", data={"type": "weird", "start_ip": "10.10.0.130", "end_ip": "10.10.0.131"}).json() == {
        "type": ["Select a valid choice. weird is not one of the available choices."]}
    denied = user_api.post("ipranges/", data={"type": "dynamic", "start_ip": "10.10.0.130", "end_ip": "10.10.0.140"})
    assert denied.status_code == 403 and denied.text == "Unable to create dynamic IP range. You don't have sufficient privileges."
    assert user_api.delete(f"ipranges/{created['id']}/").text == "Unable to modify IP range. You don't own the IP range."
    mine = user_api.ok("POST", "ipranges/", data={"type": "reserved", "start_ip": "10.10.0.150", "end_ip": "10.10.0.151"})
    assert user_api.ok("PUT", f"ipranges/{mine['id']}/", data={"end_ip": "10.10.0.152"})["end_ip"] == "10.10.0.152"
    assert user_api.delete(f"ipranges/{mine['id']}/").status_code == 204
    assert api.delete(f"ipranges/{created['id']}/").status_code == 204
    assert api.get(f"ipranges/{created['id']}/").text == "No IPRange matches the given query."


def test_reserve_and_release_addresses(api, user_api):
    by_subnet = api.ok("POST", "ipaddresses/", params={"op": "reserve"}, data={"subnet": "10.10.0.0/24"})
    assert by_subnet["ip"] == "10.10.0.32"  # first address of the smallest free range
    assert by_subnet["alloc_type"] == 4 and by_subnet["alloc_type_name"] == "User reserved"
    assert by_subnet["owner"]["username"] == "lxdcp" and by_subnet["resource_uri"] == "/MAAS/api/2.0/ipaddresses/"
    exact = api.ok("POST", "ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.120", "hostname": "vip.maas"})
    assert exact["ip"] == "10.10.0.120"
    records = api.ok("GET", "dnsresources/", params={"fqdn": "vip.maas"})
    assert [r["ip_addresses"][0]["ip"] for r in records] == ["10.10.0.120"]
    assert api.post("ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.120"}).text == "The IP address 10.10.0.120 is already in use."
    assert api.post("ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.120"}).status_code == 404
    in_reserved = api.post("ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.5"})
    assert in_reserved.status_code == 404 and in_reserved.text == "10.10.0.5 is within the reserved range from 10.10.0.2 to 10.10.0.29"
    dynamic = api.post("ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.210"})
    assert dynamic.status_code == 403
    assert dynamic.text.startswith("IP address 10.10.0.210 belongs to an existing dynamic range.")
    assert api.post("ipaddresses/", params={"op": "reserve"}, data={}).text == "Must supply either the 'subnet' or the 'ip' parameter."
    assert api.post("ipaddresses/", params={"op": "reserve"}, data={"ip": "192.0.2.1"}).text == "No known subnet for IP address: 192.0.2.1."
    assert api.post("ipaddresses/", params={"op": "reserve"}, data={"subnet": "nope"}).text == "Unable to identify subnet: nope."
    with_mac = api.ok("POST", "ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.121", "mac": "52:54:00:12:34:56"})
    assert with_mac["interface_set"][0]["mac_address"] == "52:54:00:12:34:56" and with_mac["interface_set"][0]["type"] == "unknown"
    machine_mac = api.ok("GET", "machines/", params={"hostname": "db-01"})[0]["interface_set"][0]["mac_address"]
    taken = api.post("ipaddresses/", params={"op": "reserve"}, data={"subnet": "1", "mac": machine_mac})
    assert taken.status_code == 400 and taken.text.startswith(f"MAC address {machine_mac} already belongs to db-01.")

    mine = api.ok("GET", "ipaddresses/")
    assert {a["ip"] for a in mine} == {"10.10.0.30", "10.10.0.32", "10.10.0.120", "10.10.0.121"}
    everything = api.ok("GET", "ipaddresses/", params={"all": "true"})
    assert {"10.10.0.31", "10.10.0.50", "10.10.0.11"} <= {a["ip"] for a in everything}
    assert [a["ip"] for a in api.ok("GET", "ipaddresses/", params={"owner": "user"})] == ["10.10.0.31"]
    assert user_api.get("ipaddresses/", params={"all": "true"}).text == "Listing all IP addresses requires admin privileges."
    assert [a["ip"] for a in user_api.ok("GET", "ipaddresses/")] == ["10.10.0.31"]

    refused = user_api.post("ipaddresses/", params={"op": "release"}, data={"ip": "10.10.0.120"})
    assert refused.status_code == 400 and refused.text.startswith("IP address 10.10.0.120 does not exist, is not the correct type of address")
    assert user_api.post("ipaddresses/", params={"op": "release"}, data={"ip": "10.10.0.120", "force": "true"}).status_code == 403
    assert api.post("ipaddresses/", params={"op": "release"}, data={"ip": "10.10.0.120"}).status_code == 204
    # MAAS deletes a DNS record that loses its last address (post_delete_clean_up_dns).
    assert api.ok("GET", "dnsresources/", params={"fqdn": "vip.maas"}) == []
    assert api.post("ipaddresses/", params={"op": "release"}, data={}).text == "No provided ip!"
    assert api.post("ipaddresses/", params={"op": "release"}, data={"ip": "10.10.0.50", "force": "true"}).status_code == 204


def test_dnsresources(api, user_api):
    created = api.ok("POST", "dnsresources/", data={"fqdn": "www.maas", "ip_addresses": "10.10.0.140 10.10.0.50", "address_ttl": "300"})
    assert created["fqdn"] == "www.maas" and created["address_ttl"] == 300
    ips = {a["ip"]: a for a in created["ip_addresses"]}
    assert ips["10.10.0.140"]["alloc_type"] == 4 and ips["10.10.0.140"]["owner"]["username"] == "lxdcp"
    assert ips["10.10.0.50"]["alloc_type"] == 0  # the machine's address is linked, not copied
    assert api.post("dnsresources/", data={"fqdn": "www.maas"}).json() == {"__all__": ["Labels must be unique within their zone."]}
    assert user_api.post("dnsresources/", data={"fqdn": "x.maas"}).text == "This method is reserved for admin users."
    assert [r["fqdn"] for r in api.ok("GET", "dnsresources/", params={"name": "www"})] == ["www.maas"]
    assert [r["id"] for r in api.ok("GET", "dnsresources/", params={"domain": "maas"})] == sorted(
        [r["id"] for r in api.ok("GET", "dnsresources/")], key=lambda i: i)
    assert api.ok("GET", "dnsresources/", params={"fqdn": "www.maas", "rrtype": "A"}) == []
    updated = api.ok("PUT", f"dnsresources/{created['id']}/", data={"ip_addresses": "10.10.0.141"})
    assert [a["ip"] for a in updated["ip_addresses"]] == ["10.10.0.141"]
    in_use = api.post("ipaddresses/", params={"op": "reserve"}, data={"ip": "10.10.0.141"})
    assert in_use.status_code == 404
    assert api.delete(f"dnsresources/{created['id']}/").status_code == 204
    assert api.get(f"dnsresources/{created['id']}/").text == "No DNSResource matches the given query."
    assert api.get("dnsresources/", params={"domain": "nope"}).text == "No Domain matches the given query."


def test_deleting_a_dns_record_deletes_the_reservations_only_it_used(api):
    """DNSResource.delete (MAAS 3.6.1+): unlinked USER_RESERVED addresses named by no other record go with it."""
    alone = api.ok("POST", "dnsresources/", data={"fqdn": "alone.maas", "ip_addresses": "10.10.0.150 10.10.0.50"})
    api.ok("POST", "dnsresources/", data={"fqdn": "first.maas", "ip_addresses": "10.10.0.151"})
    shared = api.ok("POST", "dnsresources/", data={"fqdn": "second.maas", "ip_addresses": "10.10.0.151"})
    held = {a["ip"] for a in api.ok("GET", "ipaddresses/", params={"all": "true"})}
    assert {"10.10.0.150", "10.10.0.151", "10.10.0.50"} <= held

    assert api.delete(f"dnsresources/{alone['id']}/").status_code == 204
    assert api.delete(f"dnsresources/{shared['id']}/").status_code == 204
    left = {a["ip"] for a in api.ok("GET", "ipaddresses/", params={"all": "true"})}
    assert "10.10.0.150" not in left  # reserved for the record and used by nothing else
    assert "10.10.0.50" in left  # a machine's address is never deleted with a record
    assert "10.10.0.151" in left  # still named by first.maas
    assert [a["ip"] for a in api.ok("GET", "dnsresources/", params={"fqdn": "first.maas"})[0]["ip_addresses"]] == ["10.10.0.151"]
