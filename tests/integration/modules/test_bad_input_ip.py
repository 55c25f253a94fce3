"""Bad input for maas_static_ip and maas_dns_record: a specific message each, no write, maas-sim unchanged.

All cases run as tasks of one playbook (``ignore_errors``) against one maas-sim; each test then
checks one case. The default scenario has subnet 10.10.0.0/24 (gateway 10.10.0.1, DNS server
10.10.0.2, reserved range 10.10.0.2-29, dynamic range 10.10.0.200-254), machine db-01 on
10.10.0.50 and a reservation of user ``user`` on 10.10.0.31.
"""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook

STATIC = "lxdcp.maas.maas_static_ip"
DNS = "lxdcp.maas.maas_dns_record"

# (case id, module, arguments, rule or None, message fragment)
CASES = [
    ("malformed-ipv4", STATIC, {"addresses": [{"address": "10.10.0.300"}]},
     "malformed", "addresses[0]: address '10.10.0.300' is not a valid IPv4 address"),
    ("malformed-ipv6", STATIC, {"addresses": [{"address": "2001:db8::g1"}]},
     "malformed", "address '2001:db8::g1' is not a valid IPv6 address"),
    ("prefix-length", STATIC, {"addresses": [{"address": "10.10.0.40/24"}]},
     "malformed", "has a prefix length; give the address alone (10.10.0.40)"),
    ("out-of-subnet", STATIC, {"addresses": [{"address": "10.20.0.5", "subnet": "10.10.0.0/24"}]},
     "outside-subnet", "address 10.20.0.5 is outside subnet 10.10.0.0/24 (usable 10.10.0.1 - 10.10.0.254)"),
    ("out-of-named-subnet", STATIC, {"addresses": [{"address": "10.20.0.5", "subnet": "1"}]},
     "outside-subnet", "address 10.20.0.5 is outside subnet 10.10.0.0/24"),
    ("network-address", STATIC, {"addresses": [{"address": "10.10.0.0"}]},
     "network-address", "address 10.10.0.0 is the network address of 10.10.0.0/24, which no host may use"),
    ("broadcast-address", STATIC, {"addresses": [{"address": "10.10.0.255"}]},
     "broadcast-address", "address 10.10.0.255 is the broadcast address of 10.10.0.0/24"),
    ("dynamic-range", STATIC, {"addresses": [{"address": "10.10.0.210"}]},
     "dynamic-range", "inside the dynamic (DHCP) range 10.10.0.200-10.10.0.254"),
    ("reserved-range", STATIC, {"addresses": [{"address": "10.10.0.20"}]},
     "reserved-range", "inside the reserved range 10.10.0.2-10.10.0.29"),
    ("in-use-by-machine", STATIC, {"addresses": [{"address": "10.10.0.50", "hostname": "cp-1"}]},
     "in-use", "address 10.10.0.50 is already in use by machine db-01 (system_id "),
    ("in-use-by-another-user", STATIC, {"addresses": [{"address": "10.10.0.31"}]},
     "in-use", "address 10.10.0.31 is already in use by a reservation of user user (no DNS name)"),
    ("duplicate", STATIC, {"addresses": [{"address": "10.10.0.40"}, {"address": "10.10.0.40"}]},
     "duplicate", "addresses[1]: address 10.10.0.40 is requested more than once (also addresses[0])"),
    ("gateway-outside-subnet", STATIC, {"addresses": [{"address": "10.10.0.40", "gateway": "10.20.0.1", "subnet": "10.10.0.0/24"}]},
     "bad-gateway", "gateway 10.20.0.1 is outside subnet 10.10.0.0/24"),
    ("gateway-outside-maas-subnet", STATIC, {"addresses": [{"address": "10.10.0.40", "gateway": "10.20.0.1"}]},
     "bad-gateway", "gateway 10.20.0.1 is outside subnet 10.10.0.0/24"),
    ("bad-dns-server", STATIC, {"addresses": [{"address": "10.10.0.40", "dns_servers": ["10.10.0.2", "8.8.8"]}]},
     "bad-dns-server", "dns_servers[1] '8.8.8' is not a valid IPv4 address"),
    ("unknown-subnet", STATIC, {"addresses": [{"address": "10.99.0.5", "subnet": "10.99.0.0/24"}]},
     "unknown-subnet", "subnet '10.99.0.0/24' is not known to MAAS (MAAS subnets: 10.10.0.0/24 (id "),
    ("in-no-subnet", STATIC, {"addresses": [{"address": "192.168.77.5"}]},
     "no-subnet", "address 192.168.77.5 is in no subnet MAAS knows"),
    ("subnet-gateway", STATIC, {"addresses": [{"address": "10.10.0.1"}]},
     "gateway-address", "address 10.10.0.1 is the gateway of subnet 10.10.0.0/24"),
    ("gateway-not-the-subnets", STATIC, {"addresses": [{"address": "10.10.0.40", "gateway": "10.10.0.254"}]},
     "gateway-not-subnets", "gateway 10.10.0.254 is not the gateway of subnet 10.10.0.0/24 in MAAS (it has 10.10.0.1)"),
    ("dns-server-not-the-subnets", STATIC, {"state": "validated", "addresses": [{"address": "10.10.0.40", "dns_servers": ["10.10.0.2", "1.1.1.1"]}]},
     "dns-server-not-subnets", "DNS server 1.1.1.1 is not among the DNS servers of subnet 10.10.0.0/24 in MAAS (10.10.0.2)"),
    ("loopback", STATIC, {"addresses": [{"address": "127.0.0.1"}]},
     "special-address", "is a loopback address (127.0.0.0/8)"),
    ("bad-hostname", STATIC, {"addresses": [{"address": "10.10.0.40", "hostname": "cp_1"}]},
     "bad-hostname", "hostname 'cp_1' is not a valid DNS name"),
    ("bad-mac", STATIC, {"addresses": [{"address": "10.10.0.40", "mac": "52:54:00:zz:00:01"}]},
     "bad-mac", "mac '52:54:00:zz:00:01' is not a MAC address"),
    ("unknown-domain", STATIC, {"addresses": [{"address": "10.10.0.40", "hostname": "cp-1.nowhere"}]},
     "unknown-domain", "hostname cp-1.nowhere is in DNS domain 'nowhere', which MAAS does not have (domains: maas)"),
    ("validated-in-use", STATIC, {"state": "validated", "addresses": [{"address": "10.10.0.40"}, {"address": "10.10.0.50"}]},
     "in-use", "addresses[1]: address 10.10.0.50 is already in use by machine db-01"),
    ("absent-malformed", STATIC, {"state": "absent", "addresses": [{"address": "10.10.0"}]},
     "malformed", "address '10.10.0' is not a valid IPv4 address"),
    ("dns-invalid-fqdn", DNS, {"fqdn": "k8s_api.maas", "addresses": ["10.10.0.50"]},
     None, "fqdn 'k8s_api.maas' is not a valid DNS name"),
    ("dns-fqdn-without-domain", DNS, {"fqdn": "k8s-api", "addresses": ["10.10.0.50"]},
     None, "it needs a name and a domain (for example k8s-api.maas)"),
    ("dns-ttl-negative", DNS, {"fqdn": "k8s-api.maas", "addresses": ["10.10.0.50"], "ttl": -1},
     None, "ttl -1 is out of range: MAAS accepts 0 to 2147483647 seconds"),
    ("dns-no-addresses", DNS, {"fqdn": "k8s-api.maas", "addresses": []},
     None, "addresses must list at least one IP address for state=present"),
    ("dns-malformed-ipv6", DNS, {"fqdn": "k8s-api.maas", "addresses": ["10.10.0.50", "2001:db8::1::2"]},
     "malformed", "addresses[1]: address '2001:db8::1::2' is not a valid IPv6 address"),
    ("dns-leading-zero", DNS, {"fqdn": "k8s-api.maas", "addresses": ["10.10.0.50", "10.10.0.050"]},
     "malformed", "address '10.10.0.050' is not a valid IPv4 address (four numbers 0-255 without leading zeros"),
    ("dns-duplicate", DNS, {"fqdn": "k8s-api.maas", "addresses": ["2001:db8::5", "10.10.0.50", "2001:DB8:0::5"]},
     "duplicate", "addresses[2]: address 2001:db8::5 is requested more than once (also addresses[0] as 2001:db8::5)"),
    ("dns-dynamic-range", DNS, {"fqdn": "k8s-api.maas", "addresses": ["10.10.0.50", "10.10.0.220"]},
     "dynamic-range", "addresses[1]: address 10.10.0.220 is inside the dynamic (DHCP) range 10.10.0.200-10.10.0.254"),
    ("dns-broadcast", DNS, {"fqdn": "k8s-api.maas", "addresses": ["10.10.0.255"]},
     "broadcast-address", "broadcast address of 10.10.0.0/24"),
    ("dns-unknown-domain", DNS, {"fqdn": "k8s-api.nowhere", "addresses": ["10.10.0.50"]},
     None, "DNS domain 'nowhere' of k8s-api.nowhere does not exist in MAAS"),
]


@pytest.fixture(scope="module")
def matrix(maas_sim, tmp_path_factory):
    """Run every case once; return (results by case id, writes, state before, state after)."""
    maas_sim.reset()
    maas_sim.clear_faults()
    playbook = Playbook(maas_sim, tmp_path_factory.mktemp("bad-input"))
    tasks = [{"name": case[0], case[1]: case[2], "ignore_errors": True} for case in CASES]
    before = maas_sim.state()["objects"]
    run = playbook.run(tasks)
    after = maas_sim.state()["objects"]
    return dict((case[0], run.task(case[0])) for case in CASES), run.writes, before, after


def test_there_are_enough_cases():
    assert len(CASES) >= 12 and len(set(case[0] for case in CASES)) == len(CASES)


def test_no_case_wrote_anything_and_the_state_is_unchanged(matrix):
    results, writes, before, after = matrix
    assert writes == []
    assert before == after
    assert len(results) == len(CASES)


@pytest.mark.parametrize("case, module, args, rule, fragment", CASES, ids=[c[0] for c in CASES])
def test_each_case_fails_with_a_specific_message(matrix, case, module, args, rule, fragment):
    result = matrix[0][case]
    assert result.get("failed") is True, (module, args, result)
    assert result.get("changed") is False
    assert fragment in result["msg"], result["msg"]
    if rule is not None:
        assert [p["rule"] for p in result["problems"]] == [rule], result["problems"]
