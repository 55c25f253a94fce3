"""ipaddr.py: every rule of the static IP validator, IPv4 and IPv6, and the reads from MAAS."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr, names
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import FakeMaas

SUBNETS = [
    {"id": 1, "name": "10.10.0.0/24", "cidr": "10.10.0.0/24", "gateway_ip": "10.10.0.1", "dns_servers": ["10.10.0.2"],
     "vlan": {"id": 5001, "vid": 0, "name": "untagged", "fabric": "fabric-0"}, "space": "undefined", "managed": True},
    {"id": 2, "name": "lab-v6", "cidr": "2001:db8:42::/64", "gateway_ip": "2001:db8:42::1", "dns_servers": [],
     "vlan": {"id": 5002, "vid": 42, "name": "42", "fabric": "fabric-0"}, "space": "undefined", "managed": True},
    {"id": 3, "name": "p2p", "cidr": "10.30.0.0/31", "gateway_ip": None, "dns_servers": []},
]
ADMIN = {"username": "admin"}
RANGES = [
    {"id": 1, "type": "dynamic", "start_ip": "10.10.0.100", "end_ip": "10.10.0.200", "comment": "", "user": ADMIN,
     "subnet": {"id": 1}},
    {"id": 2, "type": "reserved", "start_ip": "10.10.0.230", "end_ip": "10.10.0.250", "comment": "VIPs", "user": ADMIN,
     "subnet": {"id": 1}},
    {"id": 3, "type": "dynamic", "start_ip": "2001:db8:42::1000", "end_ip": "2001:db8:42::1fff", "comment": "",
     "user": ADMIN, "subnet": {"id": 2}},
]
ADDRESSES_V4 = [
    {"ip": "10.10.0.10", "alloc_type": 1, "user": "bob",
     "node_summary": {"system_id": "abc123", "node_type": 0, "hostname": "db1", "fqdn": "db1.maas", "via": "eth0"}},
    {"ip": "10.10.0.11", "alloc_type": 4, "user": "admin", "dns_records": [{"id": 3, "name": "cp-1", "domain": "maas"}]},
    {"ip": "10.10.0.12", "alloc_type": 4, "user": "carol"},
    {"ip": "10.10.0.13", "alloc_type": 4, "user": "admin"},
    {"ip": "10.10.0.14", "alloc_type": 0, "user": "admin",
     "node_summary": {"system_id": "cp2sid", "node_type": 0, "hostname": "cp-2", "fqdn": "cp-2.maas", "via": "eth0"}},
    {"ip": "10.10.0.15", "alloc_type": 1,
     "node_summary": {"system_id": "dev001", "node_type": 1, "hostname": "switch1", "fqdn": "switch1.maas"}},
    {"ip": "10.10.0.16", "alloc_type": 6},
    {"ip": "10.10.0.17", "alloc_type": 1, "bmcs": [{"id": 9, "power_type": "ipmi",
                                                    "nodes": [{"system_id": "abc123", "hostname": "db1"}]}]},
]
ADDRESSES_V6 = [
    {"ip": "2001:db8:42::10", "alloc_type": 1, "user": "bob",
     "node_summary": {"system_id": "v6node", "node_type": 0, "hostname": "web6", "fqdn": "web6.maas"}},
]


def make_index(user="admin"):
    index = ipaddr.NetworkIndex(SUBNETS, RANGES, user=user)
    index.add_addresses(ADDRESSES_V4)
    index.add_addresses(ADDRESSES_V6)
    return index


def validate(entries, rules=ipaddr.RESERVE, user="admin"):
    return ipaddr.validate_plan(ipaddr.check_request(entries, rules), make_index(user))


def only_problem(result):
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


# -- single values --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["10.10.0.20", "2001:db8::20", "::ffff:10.0.0.1", "2001:DB8::1"])
def test_parse_address_accepts_plain_forms(text):
    assert str(ipaddr.parse_address(text)) == text.lower()


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("10.10.0.300", "not a valid IPv4 address"),
        ("10.10.0", "not a valid IPv4 address"),
        ("010.10.0.1", "without leading zeros"),
        ("2001:db8::zz", "not a valid IPv6 address"),
        ("2001:db8:::1", "not a valid IPv6 address"),
        ("cp-1.maas", "not a valid IP address"),
        ("10.10.0.5/24", "has a prefix length; give the address alone (10.10.0.5)"),
        ("fe80::1%eth0", "zone index"),
        (" 10.10.0.5", "surrounding whitespace"),
        ("", "is not an IP address"),
        (None, "is not an IP address"),
        (167772161, "is not an IP address"),
    ],
)
def test_parse_address_rejects_with_reason(value, fragment):
    with pytest.raises(ipaddr.AddressError) as caught:
        ipaddr.parse_address(value)
    assert caught.value.rule == ipaddr.MALFORMED
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("10.10.0.5/24", "has host bits set; the network is 10.10.0.0/24"),
        ("10.10.0.0", "is not a CIDR"),
        ("10.10.0.0/33", "is not a valid CIDR"),
        ("2001:db8::1/64", "the network is 2001:db8::/64"),
    ],
)
def test_parse_network(value, fragment):
    with pytest.raises(ipaddr.AddressError) as caught:
        ipaddr.parse_network(value)
    assert caught.value.rule == ipaddr.BAD_SUBNET and fragment in caught.value.message


@pytest.mark.parametrize(
    "text, reason",
    [
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "limited broadcast"),
        ("127.0.0.1", "loopback"),
        ("224.0.0.5", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("ff02::1", "multicast"),
        ("10.10.0.5", None),
        ("2001:db8::5", None),
    ],
)
def test_special_addresses(text, reason):
    found = ipaddr.special_address_reason(ipaddr.parse_address(text))
    assert (found is None) if reason is None else (reason in found)


@pytest.mark.parametrize(
    "address, cidr, rule",
    [
        ("10.10.0.0", "10.10.0.0/24", ipaddr.NETWORK_ADDRESS),
        ("10.10.0.255", "10.10.0.0/24", ipaddr.BROADCAST_ADDRESS),
        ("10.10.0.1", "10.10.0.0/24", None),
        ("10.30.0.0", "10.30.0.0/31", None),   # RFC 3021: both addresses of a /31 are hosts
        ("10.30.0.1", "10.30.0.0/31", None),
        ("10.40.0.7", "10.40.0.7/32", None),
        ("2001:db8:42::", "2001:db8:42::/64", ipaddr.ANYCAST_ADDRESS),
        ("2001:db8:42:0:ffff:ffff:ffff:ffff", "2001:db8:42::/64", None),  # IPv6 has no broadcast
        ("2001:db8::", "2001:db8::/127", None),  # RFC 6164
    ],
)
def test_network_role(address, cidr, rule):
    role = ipaddr.network_role(ipaddr.parse_address(address), ipaddr.parse_network(cidr))
    assert (role is None) if rule is None else role[0] == rule


def test_gateway_and_dns_server_checks():
    net = ipaddr.parse_network("10.10.0.0/24")
    assert str(ipaddr.check_gateway("10.10.0.1", net)) == "10.10.0.1"
    for value, fragment in [("10.20.0.1", "outside subnet 10.10.0.0/24 (usable 10.10.0.1 - 10.10.0.254)"),
                            ("10.10.0.255", "broadcast address"), ("10.10.0.0", "network address"),
                            ("nope", "not a valid IP address"), ("127.0.0.1", "loopback"),
                            ("2001:db8::1", "is IPv6 but subnet 10.10.0.0/24 is IPv4")]:
        with pytest.raises(ipaddr.AddressError) as caught:
            ipaddr.check_gateway(value, net)
        assert caught.value.rule == ipaddr.BAD_GATEWAY and fragment in caught.value.message, caught.value.message
    assert str(ipaddr.check_dns_server("127.0.0.53")) == "127.0.0.53"  # a local resolver is fine
    assert str(ipaddr.check_dns_server("2001:4860:4860::8888")) == "2001:4860:4860::8888"
    for value in ("8.8.8", "0.0.0.0", "224.0.0.1", "ff02::1"):
        with pytest.raises(ipaddr.AddressError) as caught:
            ipaddr.check_dns_server(value)
        assert caught.value.rule == ipaddr.BAD_DNS_SERVER


@pytest.mark.parametrize("name, valid", [
    ("cp-1", True), ("cp-1.maas", True), ("k8s-api.lab.example.com.", True), ("a" * 63, True),
    ("a" * 64, False), ("-cp", False), ("cp-", False), ("cp_1", False), ("cp..maas", False), ("", False),
    (".maas", False), (None, False), ("x." * 127 + "xy", False),
])
def test_valid_dns_name(name, valid):
    assert names.valid_dns_name(name) is valid


def test_split_hostname():
    assert names.split_hostname("cp-1") == ("cp-1", None)
    assert names.split_hostname("cp-1.lab.maas.") == ("cp-1", "lab.maas")


# -- the request (no MAAS) ------------------------------------------------------------------


def test_check_request_collects_every_problem_with_its_entry():
    request = ipaddr.check_request([
        {"address": "10.10.0.0", "subnet": "10.10.0.0/24"},
        {"address": "10.10.0.300"},
        {"address": "10.10.0.20"},
        {"address": "10.10.0.20"},
        {"address": "10.10.0.21", "subnet": "10.10.0.0/24", "gateway": "10.20.0.1"},
        {"address": "10.10.0.22", "dns_servers": ["10.10.0.2", "dns.example"]},
        {"address": "127.0.0.1"},
        {"address": "10.10.0.23", "hostname": "cp_3"},
        {"address": "10.10.0.24", "subnet": "10.10.0.0/24", "gateway": "10.10.0.24"},
        {"address": "10.10.0.25", "subnet": "10.10.0.7/24"},
        {"address": "10.99.0.1", "subnet": "10.10.0.0/24"},
        {"address": "2001:db8:42::5", "subnet": "10.10.0.0/24"},
        {"address": "10.10.0.26", "subnet": ["10.10.0.0/24"]},
    ])
    rules = [(p.index, p.rule) for p in request.problems]
    assert rules == [
        (0, ipaddr.NETWORK_ADDRESS), (1, ipaddr.MALFORMED), (3, ipaddr.DUPLICATE), (4, ipaddr.BAD_GATEWAY),
        (5, ipaddr.BAD_DNS_SERVER), (6, ipaddr.SPECIAL_ADDRESS), (7, ipaddr.BAD_HOSTNAME), (8, ipaddr.BAD_GATEWAY),
        (9, ipaddr.BAD_SUBNET), (10, ipaddr.OUTSIDE_SUBNET), (11, ipaddr.OUTSIDE_SUBNET), (12, ipaddr.BAD_SUBNET),
    ]
    messages = [p.message for p in request.problems]
    assert messages[2] == "addresses[3]: address 10.10.0.20 is requested more than once (also addresses[2])"
    assert "dns_servers[1] 'dns.example' is not a valid IP address" in messages[4]
    assert "gateway 10.10.0.24 is the address itself" in messages[7]
    assert "is IPv6 but subnet 10.10.0.0/24 is IPv4" in messages[10]
    assert all(m.startswith("addresses[") for m in messages)


def test_duplicates_are_found_across_spellings_and_versions():
    request = ipaddr.check_request(["2001:db8::1", "2001:DB8:0::1", "10.0.0.1", "::ffff:10.0.0.1"])
    assert [(p.index, p.rule) for p in request.problems] == [(1, ipaddr.DUPLICATE)]
    assert "also addresses[0] as 2001:db8::1" in request.problems[0].message


def test_subnet_references():
    assert ipaddr.cidr_reference("10.10.0.0/24") == "10.10.0.0/24"
    assert ipaddr.cidr_reference("cidr:10.10.0.0/24") == "10.10.0.0/24"
    assert ipaddr.cidr_reference("name:a/b") is None and ipaddr.cidr_reference("lab") is None
    assert ipaddr.cidr_reference(1) is None
    request = ipaddr.check_request([{"address": "10.10.0.5", "subnet": "cidr:10.10.0.0/24"},
                                    {"address": "10.20.0.5", "subnet": "cidr:10.10.0.0/24"}])
    assert [(p.index, p.rule) for p in request.problems] == [(1, ipaddr.OUTSIDE_SUBNET)]
    assert str(request.planned[0].network) == "10.10.0.0/24"


def test_check_request_label_names_the_option():
    request = ipaddr.check_request(["nope"], ipaddr.DNS_TARGET, what="addresses_of_record")
    assert request.problems[0].message.startswith("addresses_of_record[0]: ")


# -- the index ------------------------------------------------------------------------------


def test_find_subnet_by_every_reference():
    index = make_index()
    for spec in (1, "1", "id:1", "10.10.0.0/24", "cidr:10.10.0.0/24", "10.10.0.0/24"):
        assert index.find_subnet(spec).id == 1, spec
    assert index.find_subnet("lab-v6").id == 2
    assert index.find_subnet("name:lab-v6").id == 2
    assert index.find_subnet("2001:DB8:42:0::/64").id == 2
    for spec in (99, "99", "10.99.0.0/24", "nope", "10.10.0.0/zz", None, ["x"]):
        assert index.find_subnet(spec) is None, spec


def test_subnet_for_uses_the_longest_prefix():
    nested = SUBNETS + [{"id": 9, "name": "inner", "cidr": "10.10.0.128/25"}, {"id": 8, "cidr": "10.0.0.0/8"}]
    index = ipaddr.NetworkIndex(nested)
    assert index.subnet_for(ipaddr.parse_address("10.10.0.200")).id == 9
    assert index.subnet_for(ipaddr.parse_address("10.10.0.20")).id == 1
    assert index.subnet_for(ipaddr.parse_address("10.99.1.1")).id == 8
    assert index.subnet_for(ipaddr.parse_address("2001:db8:42::99")).id == 2
    assert index.subnet_for(ipaddr.parse_address("192.0.2.1")) is None


def test_range_for_finds_the_containing_range_even_when_ranges_overlap():
    ranges = [{"id": 1, "type": "reserved", "start_ip": "10.0.0.10", "end_ip": "10.0.0.90"},
              {"id": 2, "type": "dynamic", "start_ip": "10.0.0.20", "end_ip": "10.0.0.30"},
              {"id": 3, "type": "reserved", "start_ip": "10.0.0.50", "end_ip": "10.0.0.50"},
              {"id": 4, "type": "reserved", "start_ip": "bogus", "end_ip": "10.0.0.50"}]
    index = ipaddr.NetworkIndex([], ranges)

    def found(text):
        hit = index.range_for(ipaddr.parse_address(text))
        return hit.raw["id"] if hit else None

    assert [found(t) for t in ("10.0.0.9", "10.0.0.10", "10.0.0.25", "10.0.0.31", "10.0.0.50", "10.0.0.90",
                               "10.0.0.91", "2001:db8::1")] == [None, 1, 2, 1, 3, 1, None, None]


def test_holders_are_matched_by_value_not_spelling():
    index = ipaddr.NetworkIndex(SUBNETS)
    index.add_addresses([{"ip": "2001:0db8:0042:0000::0010", "alloc_type": 4, "user": "x"}, {"ip": None}, {"ip": "junk"}])
    assert index.holder(ipaddr.parse_address("2001:db8:42::10")).user == "x"


@pytest.mark.parametrize(
    "record, text",
    [
        (ADDRESSES_V4[0], "machine db1 (system_id abc123, owner bob) on eth0 as a sticky (static) address"),
        (ADDRESSES_V4[1], "a reservation of user admin for DNS name cp-1.maas"),
        (ADDRESSES_V4[2], "a reservation of user carol (no DNS name)"),
        (ADDRESSES_V4[5], "device switch1 (system_id dev001) as a sticky (static) address"),
        (ADDRESSES_V4[6], "a host MAAS discovered on the network"),
        (ADDRESSES_V4[7], "the BMC (power type ipmi) of db1 (abc123)"),
        ({"ip": "10.0.0.1", "alloc_type": 0, "user": "z"}, "an automatic address of user z"),
        ({"ip": "10.0.0.1", "alloc_type": 2, "node_summary": {"system_id": "r1", "node_type": 2, "hostname": "rack"}},
         "rack controller rack (system_id r1) as an alloc_type 2 address"),
    ],
)
def test_holder_descriptions(record, text):
    assert text in ipaddr.Holder(record).describe()


@pytest.mark.parametrize("alloc_type, phrase", [
    (0, "an automatic address"), (1, "a sticky (static) address"), (4, "a user reserved address"), (5, "a DHCP address"),
    (6, "a discovered address"), (2, "an alloc_type 2 address"), (3, "an alloc_type 3 address"),
])
def test_every_alloc_type_name_gets_its_article(alloc_type, phrase):
    on_node = {"ip": "10.0.0.1", "alloc_type": alloc_type, "node_summary": {"system_id": "m1", "node_type": 0, "hostname": "m"}}
    assert ipaddr.Holder(on_node).describe().endswith(" as " + phrase)
    if alloc_type not in (ipaddr.USER_RESERVED, ipaddr.DISCOVERED):  # those two are worded otherwise without a node
        assert ipaddr.Holder({"ip": "10.0.0.1", "alloc_type": alloc_type}).describe() == phrase


def test_the_article_table_covers_every_alloc_type_name():
    # A new name in ALLOC_TYPE_NAMES must be added here with the article it takes.
    expected = {"automatic": "an", "sticky (static)": "a", "user reserved": "a", "DHCP": "a", "discovered": "a"}
    assert set(expected) == set(ipaddr.ALLOC_TYPE_NAMES.values())
    for name, article in expected.items():
        assert ipaddr.with_article(name) == "%s %s" % (article, name)


# -- validation against MAAS ----------------------------------------------------------------


def test_free_addresses_resolve_with_subnet_gateway_and_dns():
    result = validate([{"address": "10.10.0.50", "hostname": "cp-3"}, {"address": "2001:db8:42::50"},
                       {"address": "10.10.0.51", "dns_servers": ["10.10.0.2"], "gateway": "10.10.0.1"},
                       {"address": "10.30.0.0"}])
    assert result.ok and result.warnings == []
    first, second, third, fourth = result.addresses
    assert first == {
        "address": "10.10.0.50", "version": 4, "hostname": "cp-3", "status": ipaddr.FREE,
        "subnet": {"id": 1, "name": "10.10.0.0/24", "cidr": "10.10.0.0/24", "gateway_ip": "10.10.0.1",
                   "dns_servers": ["10.10.0.2"], "vlan": {"id": 5001, "vid": 0, "name": "untagged", "fabric": "fabric-0"},
                   "space": "undefined", "managed": True},
        "prefixlen": 24, "address_cidr": "10.10.0.50/24", "gateway": "10.10.0.1", "dns_servers": ["10.10.0.2"],
        "holder": None, "range": None,
    }
    assert second["address_cidr"] == "2001:db8:42::50/64" and second["gateway"] == "2001:db8:42::1"
    assert third["dns_servers"] == ["10.10.0.2"] and third["gateway"] == "10.10.0.1"
    assert fourth["subnet"]["id"] == 3 and fourth["gateway"] is None


@pytest.mark.parametrize(
    "entry, rule, fragment",
    [
        ({"address": "10.10.0.150"}, ipaddr.DYNAMIC_RANGE,
         "inside the dynamic (DHCP) range 10.10.0.100-10.10.0.200 (id 1, owner admin) of subnet 10.10.0.0/24"),
        ({"address": "2001:db8:42::1abc"}, ipaddr.DYNAMIC_RANGE, "range 2001:db8:42::1000-2001:db8:42::1fff"),
        ({"address": "10.10.0.240"}, ipaddr.RESERVED_RANGE,
         "inside the reserved range 10.10.0.230-10.10.0.250 (id 2, owner admin, comment 'VIPs')"),
        ({"address": "10.10.0.1"}, ipaddr.GATEWAY_ADDRESS, "10.10.0.1 is the gateway of subnet 10.10.0.0/24"),
        ({"address": "2001:db8:42::1"}, ipaddr.GATEWAY_ADDRESS, "the gateway of subnet 2001:db8:42::/64"),
        ({"address": "10.10.0.2"}, ipaddr.DNS_SERVER_ADDRESS, "is a DNS server of subnet 10.10.0.0/24"),
        ({"address": "10.10.0.255"}, ipaddr.BROADCAST_ADDRESS, "broadcast address of 10.10.0.0/24"),
        ({"address": "10.10.0.0"}, ipaddr.NETWORK_ADDRESS, "network address of 10.10.0.0/24"),
        ({"address": "2001:db8:42::"}, ipaddr.ANYCAST_ADDRESS, "subnet-router anycast address of 2001:db8:42::/64"),
        ({"address": "10.99.0.5"}, ipaddr.NO_SUBNET, "10.99.0.5 is in no subnet MAAS knows"),
        ({"address": "2001:db8:99::5"}, ipaddr.NO_SUBNET, "in no subnet MAAS knows"),
        ({"address": "10.77.0.5", "subnet": "10.77.0.0/24"}, ipaddr.UNKNOWN_SUBNET,
         "subnet '10.77.0.0/24' is not known to MAAS (MAAS subnets: 10.10.0.0/24 (id 1), 2001:db8:42::/64 (name 'lab-v6', id 2)"),
        ({"address": "10.10.0.50", "subnet": "nosuch"}, ipaddr.UNKNOWN_SUBNET, "subnet 'nosuch' is not known to MAAS"),
        ({"address": "10.10.0.50", "subnet": "lab-v6"}, ipaddr.OUTSIDE_SUBNET, "is IPv4 but subnet 2001:db8:42::/64 is IPv6"),
        ({"address": "2001:db8:43::5", "subnet": "2"}, ipaddr.OUTSIDE_SUBNET, "outside subnet 2001:db8:42::/64"),
        ({"address": "10.10.0.50", "subnet": "1", "gateway": "10.20.0.1"}, ipaddr.BAD_GATEWAY,
         "gateway 10.20.0.1 is outside subnet 10.10.0.0/24"),
        ({"address": "10.10.0.50", "subnet": "1", "gateway": "10.10.0.255"}, ipaddr.BAD_GATEWAY, "broadcast address"),
        ({"address": "10.10.0.10"}, ipaddr.IN_USE,
         "10.10.0.10 is already in use by machine db1 (system_id abc123, owner bob) on eth0 as a sticky (static) address"),
        ({"address": "2001:db8:42::10"}, ipaddr.IN_USE, "in use by machine web6 (system_id v6node, owner bob)"),
        ({"address": "10.10.0.12"}, ipaddr.IN_USE, "in use by a reservation of user carol (no DNS name)"),
        ({"address": "10.10.0.11", "hostname": "cp-9"}, ipaddr.IN_USE,
         "in use by a reservation of user admin for DNS name cp-1.maas"),
        ({"address": "10.10.0.14", "hostname": "cp-3"}, ipaddr.IN_USE, "machine cp-2 (system_id cp2sid, owner admin)"),
        ({"address": "10.10.0.15"}, ipaddr.IN_USE, "device switch1"),
        ({"address": "10.10.0.16"}, ipaddr.IN_USE, "a host MAAS discovered on the network"),
        ({"address": "10.10.0.17"}, ipaddr.IN_USE, "the BMC (power type ipmi) of db1 (abc123)"),
    ],
)
def test_every_maas_rule_has_a_specific_message(entry, rule, fragment):
    problem = only_problem(validate([entry]))
    assert problem.rule == rule
    assert fragment in problem.message, problem.message
    assert problem.message.startswith("addresses[0]: ")
    assert problem.as_dict() == {"index": 0, "address": entry["address"], "rule": rule, "message": problem.message}


@pytest.mark.parametrize(
    "entry",
    [
        {"address": "10.10.0.11", "hostname": "cp-1"},            # our reservation, same DNS name
        {"address": "10.10.0.11", "hostname": "cp-1.maas"},
        {"address": "10.10.0.11"},                                 # our reservation, no host given
        {"address": "10.10.0.13", "hostname": "cp-7"},             # our reservation without DNS name
        {"address": "10.10.0.14", "hostname": "cp-2"},             # held by the machine of that name
        {"address": "10.10.0.14", "hostname": "cp-2.maas"},
        {"address": "10.10.0.14", "system_id": "cp2sid"},
        {"address": "10.10.0.14", "hostname": "renamed", "system_id": "cp2sid"},
    ],
)
def test_ours_is_not_a_conflict(entry):
    result = validate([entry])
    assert result.ok, result.problems
    assert result.addresses[0]["status"] == ipaddr.OURS
    assert result.addresses[0]["holder"]["ip"] == entry["address"]


def test_a_reservation_is_not_ours_for_another_user_or_another_domain():
    assert only_problem(validate([{"address": "10.10.0.13"}], user="someone")).rule == ipaddr.IN_USE
    assert only_problem(validate([{"address": "10.10.0.13"}], user=None)).rule == ipaddr.IN_USE
    assert only_problem(validate([{"address": "10.10.0.11", "hostname": "cp-1.other"}])).rule == ipaddr.IN_USE


def test_ours_inside_a_range_is_still_ours():
    index = make_index()
    index.add_addresses([{"ip": "10.10.0.150", "alloc_type": 4, "user": "admin"}])
    result = ipaddr.validate_plan(ipaddr.check_request(["10.10.0.150"]), index)
    assert result.ok and result.addresses[0]["status"] == ipaddr.OURS


def test_dns_targets_accept_used_reserved_and_outside_addresses_but_not_dynamic_ones():
    result = validate(["10.10.0.10", "10.10.0.240", "192.0.2.10", "10.10.0.150", "10.10.0.1"], ipaddr.DNS_TARGET)
    assert [(p.index, p.rule) for p in result.problems] == [(3, ipaddr.DYNAMIC_RANGE), (4, ipaddr.GATEWAY_ADDRESS)]
    statuses = {a["address"]: (a["status"], a["subnet"] and a["subnet"]["id"]) for a in result.addresses}
    assert statuses == {"10.10.0.10": (ipaddr.IN_USE_OK, 1), "10.10.0.240": (ipaddr.FREE, 1), "192.0.2.10": (ipaddr.FREE, None)}
    assert result.addresses[1]["range"]["type"] == "reserved"


def test_gateway_and_dns_servers_must_be_what_maas_configures_from_the_subnet():
    """MAAS takes a machine's gateway and resolvers from its subnets: other values cannot be applied, so they are problems."""
    result = validate([{"address": "10.10.0.50", "gateway": "10.10.0.254"},
                       {"address": "10.10.0.51", "dns_servers": ["10.10.0.2", "1.1.1.1", "9.9.9.9"]},
                       {"address": "10.30.0.0", "gateway": "10.30.0.1"},
                       {"address": "10.10.0.52", "gateway": "10.10.0.1", "dns_servers": ["10.10.0.2"]}])
    assert [(p.index, p.rule) for p in result.problems] == [(0, ipaddr.GATEWAY_NOT_SUBNETS), (1, ipaddr.DNS_SERVER_NOT_SUBNETS),
                                                            (2, ipaddr.GATEWAY_NOT_SUBNETS)]
    first, second, third = (p.message for p in result.problems)
    assert first.startswith("addresses[0]: gateway 10.10.0.254 is not the gateway of subnet 10.10.0.0/24 in MAAS (it has "
                            "10.10.0.1): MAAS writes a machine's default gateway from the gateway_ip of one of its subnets")
    assert first.endswith("leave gateway out, use 10.10.0.1, or change the subnet's gateway_ip for every machine on it")
    assert second.startswith("addresses[1]: DNS servers 1.1.1.1, 9.9.9.9 are not among the DNS servers of subnet "
                             "10.10.0.0/24 in MAAS (10.10.0.2): ")
    assert "cloud-init does not take network settings from user data" in second
    assert "(it has none)" in third and "use a subnet that has one" in third
    assert [a["address"] for a in result.addresses] == ["10.10.0.52"] and result.warnings == []


def test_local_problems_are_kept_and_other_entries_still_validated():
    result = validate(["10.10.0.999", "10.10.0.10", "10.10.0.50"])
    assert [(p.index, p.rule) for p in result.problems] == [(0, ipaddr.MALFORMED), (1, ipaddr.IN_USE)]
    assert [a["address"] for a in result.addresses] == ["10.10.0.50"]
    assert result.message().startswith("2 problems with the requested addresses: addresses[0]: ")
    assert len(result.problems) == 2
    assert result.as_dict()["problems"][1]["rule"] == ipaddr.IN_USE


def test_summaries():
    assert ipaddr.summarize([]) == "no problems"
    one = ipaddr.Problem(0, "addresses[0]", "x", ipaddr.MALFORMED, "addresses[0]: bad")
    assert ipaddr.summarize([one]) == "1 problem with the requested addresses: addresses[0]: bad"
    assert ipaddr.PlanResult([], [], []).ok


# -- reading MAAS ---------------------------------------------------------------------------


def scripted_maas(**extra):
    fake = FakeMaas()
    fake.add("GET", "subnets/", json=SUBNETS)
    fake.add("GET", "ipranges/", json=RANGES)
    fake.add("GET", "subnets/1/", op="ip_addresses", json=ADDRESSES_V4)
    fake.add("GET", "subnets/2/", op="ip_addresses", json=ADDRESSES_V6)
    fake.add("GET", "users/", op="whoami", json=extra.get("whoami", {"username": "admin", "is_superuser": True}))
    return fake


def test_fetch_reads_only_the_subnets_the_plan_touches():
    fake = scripted_maas()
    result = ipaddr.check_with_maas(fake.client(), ["10.10.0.50", "10.10.0.51"])
    assert result.ok
    assert [(c.method, c.path, c.op) for c in fake.calls] == [
        ("GET", "subnets/", None), ("GET", "ipranges/", None), ("GET", "subnets/1/", "ip_addresses")]
    assert fake.calls[2].query["with_username"] == ["1"] and fake.calls[2].query["with_summary"] == ["1"]
    assert not fake.writes()


def test_fetch_asks_whoami_only_for_reservations():
    fake = scripted_maas()
    result = ipaddr.check_with_maas(fake.client(), [{"address": "10.10.0.11", "hostname": "cp-1"}, "2001:db8:42::50"])
    assert result.ok and result.addresses[0]["status"] == ipaddr.OURS
    assert [(c.path, c.op) for c in fake.calls] == [
        ("subnets/", None), ("ipranges/", None), ("subnets/1/", "ip_addresses"), ("subnets/2/", "ip_addresses"),
        ("users/", "whoami")]


def test_fetch_with_another_user_reports_the_reservation_as_in_use():
    fake = scripted_maas(whoami={"username": "operator"})
    result = ipaddr.check_with_maas(fake.client(), ["10.10.0.13"])
    assert only_problem(result).rule == ipaddr.IN_USE


def test_local_problems_send_no_request():
    fake = scripted_maas()
    result = ipaddr.check_with_maas(fake.client(), ["10.10.0.50", "10.10.0.50", "bad"])
    assert [p.rule for p in result.problems] == [ipaddr.DUPLICATE, ipaddr.MALFORMED]
    assert fake.calls == []


def test_unknown_subnet_reads_no_addresses():
    fake = scripted_maas()
    result = ipaddr.check_with_maas(fake.client(), [{"address": "10.55.0.5", "subnet": "10.55.0.0/24"}])
    assert only_problem(result).rule == ipaddr.UNKNOWN_SUBNET
    assert [c.path for c in fake.calls] == ["subnets/", "ipranges/"]
