"""maas_static_ip: validated/present/absent, idempotency, check mode, diff, lost answers and retries (scripted MAAS)."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.modules import maas_static_ip
from ansible_collections.lxdcp.maas.tests.unit.plugins import maasdata as data
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import SECRET, FakeMaas, dropped, run_module

ADMIN = {"username": "admin", "email": "", "is_local": True, "is_superuser": True}
MACHINE = {"ip": "10.10.0.30", "alloc_type": 1, "user": "bob",
           "node_summary": {"system_id": "kx7fqa", "node_type": 0, "hostname": "db1", "fqdn": "db1.maas", "via": "eth0"}}
CP2 = {"ip": "10.10.0.22", "alloc_type": 0, "user": "admin",
       "node_summary": {"system_id": "cp2sid", "node_type": 0, "hostname": "cp-2", "fqdn": "cp-2.maas", "via": "eth0"}}
RANGES = [{"id": 1, "type": "dynamic", "start_ip": "10.10.0.100", "end_ip": "10.10.0.200", "comment": "", "user": ADMIN,
           "subnet": {"id": 1}}]


class Net(object):
    """Scripted answers for the endpoints the module uses, over a list of reservations the test controls.

    ``reservations`` maps an address to ``{"names": [...], "mac": ...}`` (reservations of user admin).
    """

    def __init__(self, reservations=None, others=(MACHINE, CP2)):
        self.reservations = dict(reservations or {})
        self.others = list(others)
        self.fake = FakeMaas()
        fake = self.fake
        fake.add("GET", "subnets/", json=[data.subnet(dns=["10.10.0.2"]), data.subnet("2001:db8:42::/64", 2, None)])
        fake.add("GET", "ipranges/", json=RANGES)
        fake.add("GET", "subnets/1/", op="ip_addresses", handler=lambda call: (200, self.subnet_addresses("10.10.0.")))
        fake.add("GET", "subnets/2/", op="ip_addresses", handler=lambda call: (200, self.subnet_addresses("2001:")))
        fake.add("GET", "users/", op="whoami", json=ADMIN)
        fake.add("GET", "domains/", json=[{"id": 0, "name": "maas", "is_default": True}])
        fake.add("GET", "ipaddresses/", handler=self.mine)

    def reserve_handler(self, call):
        ip = call.form["ip"][0]
        names = [call.form["hostname"][0].split(".")[0]] if "hostname" in call.form else []
        mac = call.form["mac"][0] if "mac" in call.form else None
        self.reservations[ip] = {"names": names, "mac": mac}
        return 200, self.ip_object(ip)

    def release_handler(self, call):
        self.reservations.pop(call.form["ip"][0])
        return 204, None

    def script_writes(self, *first):
        """Reserve and release; ``first`` are routes (FakeMaas.add arguments) matched before them."""
        for route in first:
            self.fake.add(**route)
        self.fake.add("POST", "ipaddresses/", op="reserve", handler=self.reserve_handler)
        self.fake.add("POST", "ipaddresses/", op="release", handler=self.release_handler)
        return self

    def ip_object(self, ip):
        mac = self.reservations[ip]["mac"]
        return {"ip": ip, "alloc_type": 4, "alloc_type_name": "User reserved", "owner": ADMIN,
                "subnet": data.subnet() if ip.startswith("10.") else data.subnet("2001:db8:42::/64", 2, None),
                "interface_set": [{"id": 7, "type": "unknown", "mac_address": mac}] if mac else [],
                "resource_uri": "/MAAS/api/2.0/ipaddresses/"}

    def subnet_addresses(self, prefix):
        records = [dict(r) for r in self.others if r["ip"].startswith(prefix)]
        for ip, info in sorted(self.reservations.items()):
            if ip.startswith(prefix):
                records.append({"ip": ip, "alloc_type": 4, "user": "admin",
                                "dns_records": [{"id": 1, "name": n, "domain": "maas"} for n in info["names"]]})
        return records

    def mine(self, call):
        wanted = call.query.get("ip", [None])[0]
        return 200, [self.ip_object(ip) for ip in sorted(self.reservations) if wanted in (None, ip)]


def run(net, monkeypatch, check_mode=False, diff=False, **args):
    return run_module(maas_static_ip.main, args, net.fake, monkeypatch, check_mode=check_mode, diff=diff)


def writes(net):
    return [(c.method, c.path, c.op) for c in net.fake.writes()]


# -- validated -----------------------------------------------------------------------------------


def test_validated_returns_subnet_gateway_and_dns_without_writing(monkeypatch):
    net = Net(reservations={"10.10.0.21": {"names": ["cp-1"], "mac": None}})
    result = run(net, monkeypatch, state="validated", addresses=[
        {"address": "10.10.0.21", "hostname": "cp-1"}, {"address": "10.10.0.22", "hostname": "cp-2"},
        {"address": "10.10.0.23", "hostname": "cp-3", "dns_servers": ["10.10.0.2"], "gateway": "10.10.0.1"},
        {"address": "2001:db8:42::23"}])
    assert not result.get("failed"), result
    assert result["changed"] is False and writes(net) == []
    states = [(a["address"], a["state"], a["action"]) for a in result["addresses"]]
    assert states == [("10.10.0.21", "reserved", "none"), ("10.10.0.22", "assigned", "none"),
                      ("10.10.0.23", "free", "none"), ("2001:db8:42::23", "free", "none")]
    third = result["addresses"][2]
    assert third["address_cidr"] == "10.10.0.23/24" and third["gateway"] == "10.10.0.1"
    assert third["dns_servers"] == ["10.10.0.2"] and result["addresses"][0]["dns_servers"] == ["10.10.0.2"]
    assert third["subnet"]["cidr"] == "10.10.0.0/24" and result["addresses"][3]["gateway"] is None
    assert result["addresses"][1]["holder"]["system_id"] == "cp2sid"


def test_validated_fails_listing_every_problem(monkeypatch):
    net = Net()
    result = run(net, monkeypatch, state="validated", subnet="10.10.0.0/24", addresses=[
        {"address": "10.10.0.30"}, {"address": "10.10.0.150"}, {"address": "10.10.0.40"}, {"address": "10.10.0.1"}])
    assert result["failed"] and result["changed"] is False
    assert [(p["index"], p["rule"]) for p in result["problems"]] == [(0, "in-use"), (1, "dynamic-range"), (3, "gateway-address")]
    assert result["msg"].startswith("3 problems with the requested addresses: addresses[0]: address 10.10.0.30 is already "
                                    "in use by machine db1 (system_id kx7fqa, owner bob)")
    assert writes(net) == []


def test_top_level_defaults_apply_to_every_entry(monkeypatch):
    net = Net()
    result = run(net, monkeypatch, state="validated", subnet="1", gateway="10.10.0.1", dns_servers=["10.10.0.2"],
                 addresses=[{"address": "10.10.0.41"}, {"address": "10.10.0.42", "dns_servers": []}])
    assert [(a["gateway"], a["dns_servers"]) for a in result["addresses"]] == [
        ("10.10.0.1", ["10.10.0.2"]), ("10.10.0.1", ["10.10.0.2"])]


def test_gateway_or_dns_server_maas_cannot_configure_fails_before_any_write(monkeypatch):
    net = Net()
    result = run(net, monkeypatch, state="present", addresses=[{"address": "10.10.0.41", "gateway": "10.10.0.254"},
                                                               {"address": "10.10.0.42", "dns_servers": ["8.8.8.8"]}])
    assert result["failed"] and writes(net) == []
    assert [(p["index"], p["rule"]) for p in result["problems"]] == [(0, "gateway-not-subnets"), (1, "dns-server-not-subnets")]
    assert "MAAS writes a machine's default gateway from the gateway_ip of one of its subnets" in result["msg"]


@pytest.mark.parametrize(
    "entry, rule",
    [
        ({"address": "10.10.0.300"}, "malformed"),
        ({"address": "10.10.0.41", "mac": "52:54:00:zz:00:01"}, "bad-mac"),
        ({"address": "10.10.0.41", "hostname": "cp_1"}, "bad-hostname"),
        ({"address": "10.10.0.41", "gateway": "10.20.0.1", "subnet": "10.10.0.0/24"}, "bad-gateway"),
    ],
)
def test_request_problems_send_no_request_at_all(monkeypatch, entry, rule):
    net = Net()
    result = run(net, monkeypatch, addresses=[entry])
    assert result["failed"] and [p["rule"] for p in result["problems"]] == [rule]
    assert net.fake.calls == []


# -- present -------------------------------------------------------------------------------------


def test_present_reserves_then_second_run_changes_nothing(monkeypatch):
    net = Net().script_writes()
    args = dict(addresses=[{"address": "10.10.0.21", "hostname": "cp-1"}, {"address": "2001:db8:42::21"}])
    first = run(net, monkeypatch, **args)
    assert first["changed"] is True, first
    assert writes(net) == [("POST", "ipaddresses/", "reserve")] * 2
    reserve = net.fake.find("POST", "ipaddresses/", "reserve")[0]
    assert reserve.form == {"ip": ["10.10.0.21"], "hostname": ["cp-1"]}
    assert [(a["state"], a["action"]) for a in first["addresses"]] == [("reserved", "reserve")] * 2
    assert first["addresses"][0]["reservation"]["alloc_type_name"] == "User reserved"
    assert first["addresses"][0]["address_cidr"] == "10.10.0.21/24"

    net.fake.calls.clear()
    second = run(net, monkeypatch, **args)
    assert second["changed"] is False and writes(net) == []
    assert [(a["state"], a["action"]) for a in second["addresses"]] == [("reserved", "none")] * 2
    assert second["addresses"][0]["holder"]["dns_names"] == ["cp-1.maas"]


def test_present_check_mode_and_diff_send_no_write(monkeypatch):
    net = Net(reservations={"10.10.0.21": {"names": ["cp-1"], "mac": None}}).script_writes()
    result = run(net, monkeypatch, check_mode=True, diff=True, addresses=[
        {"address": "10.10.0.21", "hostname": "cp-1"}, {"address": "10.10.0.22", "hostname": "cp-2"},
        {"address": "10.10.0.23", "hostname": "cp-3"}])
    assert result["changed"] is True and writes(net) == []
    assert result["diff"] == {
        "before": {"addresses": {"10.10.0.21": "reserved by admin for cp-1.maas",
                                 "10.10.0.22": "held by machine cp-2 (cp2sid)", "10.10.0.23": "free"}},
        "after": {"addresses": {"10.10.0.21": "reserved by admin for cp-1.maas",
                                "10.10.0.22": "held by machine cp-2 (cp2sid)", "10.10.0.23": "reserved by you for cp-3"}},
    }
    assert [a["action"] for a in result["addresses"]] == ["none", "none", "reserve"]
    assert "reservation" not in result["addresses"][2]


def test_present_adds_a_missing_host_name_by_reserving_again(monkeypatch):
    net = Net(reservations={"10.10.0.21": {"names": [], "mac": None}}).script_writes()
    result = run(net, monkeypatch, addresses=[{"address": "10.10.0.21", "hostname": "cp-1"}])
    assert result["changed"] is True and result["addresses"][0]["action"] == "re-reserve"
    assert writes(net) == [("POST", "ipaddresses/", "release"), ("POST", "ipaddresses/", "reserve")]
    assert net.reservations == {"10.10.0.21": {"names": ["cp-1"], "mac": None}}


def test_present_fixes_the_mac_of_our_reservation(monkeypatch):
    net = Net(reservations={"10.10.0.21": {"names": ["lb-1"], "mac": "52:54:00:00:00:01"}}).script_writes()
    same = run(net, monkeypatch, addresses=[{"address": "10.10.0.21", "hostname": "lb-1", "mac": "52-54-00-00-00-01"}])
    assert same["changed"] is False and writes(net) == []
    moved = run(net, monkeypatch, addresses=[{"address": "10.10.0.21", "hostname": "lb-1", "mac": "525400000002"}])
    assert moved["changed"] is True
    assert net.fake.find("POST", "ipaddresses/", "reserve")[0].form["mac"] == ["52:54:00:00:00:02"]


def test_present_with_an_unknown_domain_fails_before_writing(monkeypatch):
    net = Net().script_writes()
    result = run(net, monkeypatch, addresses=[{"address": "10.10.0.21", "hostname": "cp-1.maas"},
                                              {"address": "10.10.0.23", "hostname": "cp-3.nowhere"}])
    assert result["failed"] and writes(net) == []
    assert result["msg"] == ("1 problem with the requested addresses: addresses[1]: hostname cp-3.nowhere is in DNS "
                             "domain 'nowhere', which MAAS does not have (domains: maas)")


def test_present_conflicts_name_the_holder_and_change_nothing(monkeypatch):
    net = Net(reservations={"10.10.0.25": {"names": ["cp-5"], "mac": None}}).script_writes()
    result = run(net, monkeypatch, addresses=[{"address": "10.10.0.21"}, {"address": "10.10.0.30", "hostname": "cp-2"},
                                              {"address": "10.10.0.25", "hostname": "cp-6"}])
    assert result["failed"] and writes(net) == []
    messages = [p["message"] for p in result["problems"]]
    assert messages == [
        "addresses[1]: address 10.10.0.30 is already in use by machine db1 (system_id kx7fqa, owner bob) on eth0 as a "
        "sticky (static) address",
        "addresses[2]: address 10.10.0.25 is already in use by a reservation of user admin for DNS name cp-5.maas",
    ]


def test_lost_answer_after_reserve_is_verified_not_resent(monkeypatch):
    net = Net()

    def commit_then_drop(call):
        net.reserve_handler(call)
        raise dropped()

    net.script_writes(dict(method="POST", path="ipaddresses/", op="reserve", handler=commit_then_drop, times=1))
    result = run(net, monkeypatch, addresses=[{"address": "10.10.0.21", "hostname": "cp-1"}])
    assert result["changed"] is True, result
    assert writes(net) == [("POST", "ipaddresses/", "reserve")]
    assert net.fake.find("GET", "ipaddresses/")[-1].query["ip"] == ["10.10.0.21"]
    assert result["addresses"][0]["reservation"]["ip"] == "10.10.0.21"
    assert list(net.reservations) == ["10.10.0.21"]


def test_lost_answer_of_a_reserve_that_did_not_happen_is_sent_again(monkeypatch):
    net = Net().script_writes(dict(method="POST", path="ipaddresses/", op="reserve", exc=dropped, times=1))
    result = run(net, monkeypatch, addresses=[{"address": "10.10.0.21"}])
    assert result["changed"] is True, result
    assert writes(net) == [("POST", "ipaddresses/", "reserve")] * 2
    assert list(net.reservations) == ["10.10.0.21"]


def test_503_storm_is_retried(monkeypatch):
    net = Net().script_writes(dict(method="POST", path="ipaddresses/", op="reserve", status=503, text="busy",
                                   headers={"Retry-After": "1"}, times=3))
    result = run(net, monkeypatch, addresses=[{"address": "10.10.0.21"}])
    assert result["changed"] is True, result
    assert len(net.fake.find("POST", "ipaddresses/", "reserve")) == 4
    assert len(net.fake.sleeps) == 3 and all(s >= 1 for s in net.fake.sleeps)
    assert list(net.reservations) == ["10.10.0.21"]


def test_failure_midway_says_what_was_done(monkeypatch):
    net = Net()
    net.script_writes(dict(method="POST", path="ipaddresses/", op="reserve", handler=net.reserve_handler, times=1),
                      dict(method="POST", path="ipaddresses/", op="reserve", status=404,
                           text="The IP address 10.10.0.23 is already in use."))
    result = run(net, monkeypatch, addresses=[{"address": "10.10.0.21"}, {"address": "10.10.0.23"}])
    assert result["failed"] and result["changed"] is True
    assert result["msg"].startswith("Reserving 10.10.0.23 failed: MAAS refused POST /ipaddresses/?op=reserve: 404")
    assert result["msg"].endswith("(reserved by this run before: 10.10.0.21)")
    assert result["error"]["status"] == 404


def test_secret_never_in_results(monkeypatch):
    net = Net()
    result = run(net, monkeypatch, state="validated", addresses=[{"address": "10.10.0.30"}])
    assert SECRET not in repr(result)


# -- absent --------------------------------------------------------------------------------------


def test_absent_releases_ours_only_and_is_idempotent(monkeypatch):
    net = Net(reservations={"10.10.0.21": {"names": ["cp-1"], "mac": None}}).script_writes()
    args = dict(state="absent", addresses=[{"address": "10.10.0.21"}, {"address": "10.10.0.30"}])
    checked = run(net, monkeypatch, check_mode=True, diff=True, **args)
    assert checked["changed"] is True and writes(net) == []
    assert checked["diff"]["before"]["addresses"] == {"10.10.0.21": "reserved by admin", "10.10.0.30": "not reserved by you"}
    assert checked["diff"]["after"]["addresses"]["10.10.0.21"] == "free"

    first = run(net, monkeypatch, **args)
    assert first["changed"] is True
    assert [(a["address"], a["state"], a["action"]) for a in first["addresses"]] == [
        ("10.10.0.21", "released", "release"), ("10.10.0.30", "absent", "none")]
    assert writes(net) == [("POST", "ipaddresses/", "release")]
    assert net.fake.find("POST", "ipaddresses/", "release")[0].form == {"ip": ["10.10.0.21"]}

    net.fake.calls.clear()
    second = run(net, monkeypatch, **args)
    assert second["changed"] is False and writes(net) == []
    assert [c.path for c in net.fake.calls] == ["ipaddresses/"]


def test_absent_matches_ipv6_spelling(monkeypatch):
    net = Net(reservations={"2001:db8:42::21": {"names": [], "mac": None}}).script_writes()
    result = run(net, monkeypatch, state="absent", addresses=[{"address": "2001:DB8:42:0::21"}])
    assert result["changed"] is True and net.reservations == {}


# -- absent with a host name: only the reservation made for it ---------------------------------------


def found_by_ip(net):
    """Answer ``GET /subnets/ip:<address>/?op=ip_addresses`` (MAAS finds the subnet holding the address)."""

    def answer(call):
        ip = call.path[len("subnets/ip:"):].rstrip("/") if call.path.startswith("subnets/ip:") else ""
        if call.op == "ip_addresses" and ip.startswith("10.10.0."):
            return 200, net.subnet_addresses("10.10.0.")
        if call.op == "ip_addresses" and ip.startswith("2001:db8:42:"):
            return 200, net.subnet_addresses("2001:")
        return 404, "No Subnet matches the given query."

    net.fake.fallback = answer
    return net


def paths(net):
    return [(c.method, c.path, c.op) for c in net.fake.calls]


def test_scoped_absent_releases_the_reservation_made_for_the_host(monkeypatch):
    net = found_by_ip(Net(reservations={"10.10.0.21": {"names": ["cp-1"], "mac": None}}).script_writes())
    args = dict(state="absent", hostname="cp-1", addresses=[{"address": "10.10.0.21"}])
    checked = run(net, monkeypatch, check_mode=True, diff=True, **args)
    assert checked["changed"] is True and writes(net) == []
    assert paths(net) == [("GET", "subnets/ip:10.10.0.21/", "ip_addresses"), ("GET", "users/", "whoami")]
    assert checked["diff"] == {"before": {"addresses": {"10.10.0.21": "a reservation of user admin for DNS name cp-1.maas"}},
                               "after": {"addresses": {"10.10.0.21": "free"}}}

    first = run(net, monkeypatch, **args)
    entry = first["addresses"][0]
    assert first["changed"] is True and (entry["state"], entry["action"], entry["hostname"]) == ("released", "release", "cp-1")
    assert entry["reason"] == "a reservation of user admin for DNS name cp-1.maas"
    assert writes(net) == [("POST", "ipaddresses/", "release")] and net.reservations == {}

    net.fake.calls.clear()
    second = run(net, monkeypatch, **args)
    assert second["changed"] is False and writes(net) == []
    assert [(a["state"], a["reason"]) for a in second["addresses"]] == [("absent", "free (nothing in MAAS holds it)")]
    assert paths(net) == [("GET", "subnets/ip:10.10.0.21/", "ip_addresses")]  # no whoami without a reservation


def test_scoped_absent_asks_who_the_user_is_only_for_a_reservation_of_its_addresses(monkeypatch):
    net = found_by_ip(Net(reservations={"10.10.0.24": {"names": ["vip"], "mac": None}}).script_writes())
    result = run(net, monkeypatch, state="absent", hostname="cp-1", addresses=[{"address": "10.10.0.21"}])
    assert result["changed"] is False and result["addresses"][0]["state"] == "absent"
    assert paths(net) == [("GET", "subnets/ip:10.10.0.21/", "ip_addresses")]


def test_scoped_absent_keeps_every_other_holder_and_says_why(monkeypatch):
    bob = {"ip": "10.10.0.26", "alloc_type": 4, "user": "bob", "dns_records": [{"id": 9, "name": "cp-6", "domain": "maas"}]}
    net = Net(reservations={"10.10.0.24": {"names": ["vip"], "mac": None}, "10.10.0.25": {"names": [], "mac": None},
                            "10.10.0.27": {"names": ["cp-7", "vip"], "mac": None},
                            "2001:db8:42::29": {"names": ["cp-9"], "mac": None}},
              others=(MACHINE, CP2, bob)).script_writes()
    plan = [("10.10.0.22", "cp-2"), ("10.10.0.30", "cp-3"), ("10.10.0.24", "cp-4"), ("10.10.0.25", "cp-5"),
            ("10.10.0.26", "cp-6"), ("10.10.0.27", "cp-7"), ("10.10.0.28", "cp-8"), ("2001:db8:42::29", "cp-9.maas")]
    result = run(net, monkeypatch, state="absent", addresses=[{"address": a, "hostname": h} for a, h in plan])
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert [(a["address"], a["state"], a["reason"]) for a in result["addresses"]] == [
        ("10.10.0.22", "assigned", "machine cp-2 (system_id cp2sid, owner admin) on eth0 as an automatic address: the "
                                   "machine's own address, not a reservation"),
        ("10.10.0.30", "kept", "machine db1 (system_id kx7fqa, owner bob) on eth0 as a sticky (static) address, not a "
                               "reservation of yours"),
        ("10.10.0.24", "kept", "a reservation of user admin for DNS name vip.maas, not for cp-4"),
        ("10.10.0.25", "kept", "a reservation of user admin (no DNS name), so it is not known to be cp-5's"),
        ("10.10.0.26", "kept", "a reservation of user bob for DNS name cp-6.maas, not yours"),
        ("10.10.0.27", "kept", "a reservation of user admin for DNS name cp-7.maas, vip.maas, not for cp-7 alone"),
        ("10.10.0.28", "absent", "free (nothing in MAAS holds it)"),
        ("2001:db8:42::29", "released", "a reservation of user admin for DNS name cp-9.maas"),
    ]
    assert [a["action"] for a in result["addresses"]].count("release") == 1
    assert net.fake.find("POST", "ipaddresses/", "release")[0].form == {"ip": ["2001:db8:42::29"]}
    # Several addresses: the subnets once, then one read per subnet they are in.
    assert [c for c in paths(net) if c[0] == "GET"] == [
        ("GET", "subnets/", None), ("GET", "subnets/1/", "ip_addresses"), ("GET", "subnets/2/", "ip_addresses"),
        ("GET", "users/", "whoami")]
    assert sorted(net.reservations) == ["10.10.0.24", "10.10.0.25", "10.10.0.27"]


def test_scoped_absent_with_another_domain_keeps_the_reservation(monkeypatch):
    net = found_by_ip(Net(reservations={"10.10.0.21": {"names": ["cp-1"], "mac": None}}).script_writes())
    result = run(net, monkeypatch, state="absent", hostname="cp-1.example.com", addresses=[{"address": "10.10.0.21"}])
    assert result["changed"] is False and writes(net) == []
    assert result["addresses"][0]["reason"] == "a reservation of user admin for DNS name cp-1.maas, not for cp-1.example.com"


def test_scoped_address_outside_every_subnet_is_absent(monkeypatch):
    net = found_by_ip(Net().script_writes())
    result = run(net, monkeypatch, state="absent", addresses=[{"address": "192.0.2.10", "hostname": "ext-1"}])
    assert result["changed"] is False and result["addresses"][0]["state"] == "absent" and writes(net) == []


def test_entries_with_and_without_a_host_name_in_one_task(monkeypatch):
    net = found_by_ip(Net(reservations={"10.10.0.21": {"names": ["vip"], "mac": None},
                                        "10.10.0.23": {"names": ["vip"], "mac": None}}).script_writes())
    result = run(net, monkeypatch, state="absent", addresses=[{"address": "10.10.0.21", "hostname": "cp-1"},
                                                              {"address": "10.10.0.23"}])
    assert [(a["state"], a["reason"]) for a in result["addresses"]] == [
        ("kept", "a reservation of user admin for DNS name vip.maas, not for cp-1"), ("released", "reserved by you")]
    assert list(net.reservations) == ["10.10.0.21"]
