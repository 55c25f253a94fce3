"""maas_dns_record: input checks, create/update/delete, idempotency, check mode, diff, orphan reservations (scripted MAAS)."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.modules import maas_dns_record
from ansible_collections.lxdcp.maas.tests.unit.plugins import maasdata as data
from ansible_collections.lxdcp.maas.tests.unit.plugins.fakehttp import FakeMaas, dropped, run_module

ADMIN = {"username": "admin", "email": "", "is_local": True, "is_superuser": True}
RANGES = [{"id": 1, "type": "dynamic", "start_ip": "10.10.0.100", "end_ip": "10.10.0.200", "comment": "", "user": ADMIN}]
MACHINES = {
    "10.10.0.21": {"system_id": "cp1sid", "node_type": 0, "hostname": "cp-1", "fqdn": "cp-1.maas", "via": "eth0"},
    "10.10.0.22": {"system_id": "cp2sid", "node_type": 0, "hostname": "cp-2", "fqdn": "cp-2.maas", "via": "eth0"},
}


class Dns(object):
    """Scripted MAAS DNS records and static addresses, answering as MAAS 3.x does.

    ``deletes_reservations``: MAAS 3.6.1+ deletes the record's unused USER_RESERVED addresses with it.
    """

    def __init__(self, deletes_reservations=False, domains=("maas",)):
        self.deletes_reservations = deletes_reservations
        self.domains = list(domains)
        self.records = {}       # id -> {"name", "domain", "ttl", "ips": [ip], "rrdata": [...]}
        self.static = {ip: {"alloc_type": 0, "user": "admin", "node": node} for ip, node in MACHINES.items()}
        self.next_id = 1
        fake = self.fake = FakeMaas()
        fake.add("GET", "dnsresources/", handler=self.list_records)
        fake.add("POST", "dnsresources/", handler=self.create)
        for record_id in range(1, 10):
            fake.add("PUT", "dnsresources/%d/" % record_id, handler=self.update)
            fake.add("DELETE", "dnsresources/%d/" % record_id, handler=self.delete)
        fake.add("GET", "subnets/", json=[data.subnet(dns=["10.10.0.2"]), data.subnet("2001:db8:42::/64", 2, None)])
        fake.add("GET", "ipranges/", json=RANGES)
        fake.add("GET", "subnets/1/", op="ip_addresses", handler=lambda call: (200, self.subnet_addresses(False)))
        fake.add("GET", "subnets/2/", op="ip_addresses", handler=lambda call: (200, self.subnet_addresses(True)))
        fake.add("GET", "users/", op="whoami", json=ADMIN)
        fake.add("POST", "ipaddresses/", op="release", handler=self.release)
        fake.add("GET", "ipaddresses/", handler=self.mine)

    # -- state helpers -------------------------------------------------------------------------

    def add_record(self, name, ips, ttl=None, rrdata=(), reserve=True):
        for ip in ips:
            if ip not in self.static and reserve:
                self.static[ip] = {"alloc_type": 4, "user": "admin", "node": None}
        self.records[self.next_id] = {"name": name, "domain": "maas", "ttl": ttl, "ips": list(ips), "rrdata": list(rrdata)}
        self.next_id += 1
        return self.next_id - 1

    def ip_object(self, ip):
        info = self.static[ip]
        subnet = data.subnet("2001:db8:42::/64", 2, None) if ":" in ip else (data.subnet() if ip.startswith("10.10.") else None)
        return {"ip": ip, "alloc_type": info["alloc_type"], "owner": {"username": info["user"]}, "subnet": subnet,
                "interface_set": [{"id": 1, "system_id": info["node"]["system_id"]}] if info["node"] else [],
                "resource_uri": "/MAAS/api/2.0/ipaddresses/"}

    def render(self, record_id):
        record = self.records[record_id]
        return {"id": record_id, "fqdn": "%s.%s" % (record["name"], record["domain"]), "address_ttl": record["ttl"],
                "ip_addresses": [self.ip_object(ip) for ip in record["ips"]], "resource_records": record["rrdata"],
                "resource_uri": "/MAAS/api/2.0/dnsresources/%d/" % record_id}

    def subnet_addresses(self, v6):
        found = []
        for ip, info in sorted(self.static.items()):
            if (":" in ip) != v6 or not (ip.startswith("10.10.") or v6):
                continue
            entry = {"ip": ip, "alloc_type": info["alloc_type"], "user": info["user"]}
            if info["node"]:
                entry["node_summary"] = info["node"]
            names = [{"id": rid, "name": r["name"], "domain": r["domain"]} for rid, r in self.records.items() if ip in r["ips"]]
            if names:
                entry["dns_records"] = names
            found.append(entry)
        return found

    # -- handlers -------------------------------------------------------------------------------

    def list_records(self, call):
        name, domain = call.query["fqdn"][0].split(".", 1)
        if domain not in self.domains:
            return 404, "No Domain matches the given query."
        return 200, [self.render(rid) for rid, r in self.records.items() if r["name"] == name and r["domain"] == domain]

    def create(self, call):
        ips = call.form.get("ip_addresses", [""])[-1].split()
        ttl = int(call.form["address_ttl"][0]) if "address_ttl" in call.form else None
        return 200, self.render(self.add_record(call.form["name"][0], ips, ttl))

    def update(self, call):
        record_id = int(call.path.split("/")[1])
        record = self.records[record_id]
        if "ip_addresses" in call.form:
            record["ips"] = call.form["ip_addresses"][-1].split()
            for ip in record["ips"]:
                self.static.setdefault(ip, {"alloc_type": 4, "user": "admin", "node": None})
        if "address_ttl" in call.form:
            record["ttl"] = int(call.form["address_ttl"][0])
        return 200, self.render(record_id)

    def delete(self, call):
        record = self.records.pop(int(call.path.split("/")[1]), None)
        if record is None:
            return 404, "No DNSResource matches the given query."
        if self.deletes_reservations:
            for ip in record["ips"]:
                info = self.static[ip]
                others = [r for r in self.records.values() if ip in r["ips"]]
                if info["alloc_type"] == 4 and not info["node"] and not others:
                    del self.static[ip]
        return 204, None

    def release(self, call):
        ip = call.form["ip"][0]
        info = self.static.get(ip)
        if info is None or info["alloc_type"] != 4 or info["user"] != "admin":
            return 400, "IP address %s does not exist, is not the correct type of address, or does not belong to the requesting user." % ip
        del self.static[ip]
        return 204, None

    def mine(self, call):
        wanted = call.query.get("ip", [None])[0]
        return 200, [self.ip_object(ip) for ip, info in sorted(self.static.items())
                     if info["alloc_type"] == 4 and wanted in (None, ip)]


def run(dns, monkeypatch, check_mode=False, diff=False, **args):
    return run_module(maas_dns_record.main, args, dns.fake, monkeypatch, check_mode=check_mode, diff=diff)


def writes(dns):
    return [(c.method, c.path, c.op) for c in dns.fake.writes()]


# -- input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ({"fqdn": "k8s_api.maas", "addresses": ["10.10.0.21"]}, "fqdn 'k8s_api.maas' is not a valid DNS name"),
        ({"fqdn": "k8s-api", "addresses": ["10.10.0.21"]}, "it needs a name and a domain (for example k8s-api.maas)"),
        ({"fqdn": "-k8s.maas", "addresses": ["10.10.0.21"]}, "is not a valid DNS name"),
        ({"name": "k8s.api", "domain": "maas", "addresses": ["10.10.0.21"]}, "(one label: the domain goes in domain)"),
        ({"name": "k8s", "domain": "ma_as", "addresses": ["10.10.0.21"]}, "domain 'ma_as' is not a valid DNS name"),
        ({"fqdn": "k8s-api.maas", "addresses": ["10.10.0.21"], "ttl": -5}, "ttl -5 is out of range: MAAS accepts 0 to 2147483647"),
        ({"fqdn": "k8s-api.maas", "addresses": ["10.10.0.21"], "ttl": 2 ** 31}, "ttl 2147483648 is out of range"),
        ({"fqdn": "k8s-api.maas"}, "addresses must list at least one IP address for state=present"),
        ({"fqdn": "k8s-api.maas", "addresses": []}, "addresses must list at least one IP address"),
        ({"fqdn": "k8s-api.maas", "addresses": ["10.10.0.21", "10.10.0.256"]}, "addresses[1]: address '10.10.0.256' is not a valid IPv4"),
        ({"fqdn": "k8s-api.maas", "addresses": ["10.10.0.21", "10.10.0.21"]}, "addresses[1]: address 10.10.0.21 is requested more than once"),
        ({"fqdn": "k8s-api.maas", "addresses": ["224.0.0.1"]}, "is a multicast address"),
        ({"fqdn": "k8s-api.maas", "addresses": ["10.10.0.21/24"]}, "has a prefix length"),
        ({"fqdn": "k8s-api.maas", "addresses": ["10.10.0.21"], "only_if_addresses_within": ["10.10.0.21"]},
         "only_if_addresses_within only applies to state=absent"),
        ({"fqdn": "k8s-api.maas", "state": "absent", "only_if_addresses_within": ["10.10.0.21", "cp-1", "10.1.1.1/24"]},
         "only_if_addresses_within[1] 'cp-1' is not a valid IP address; only_if_addresses_within[2] '10.1.1.1/24' has a "
         "prefix length"),
    ],
)
def test_bad_input_fails_before_any_request(monkeypatch, args, message):
    dns = Dns()
    result = run(dns, monkeypatch, **args)
    assert result["failed"] and message in result["msg"], result["msg"]
    assert result["changed"] is False and dns.fake.calls == []


def test_option_combinations_are_checked_by_ansible(monkeypatch):
    dns = Dns()
    result = run(dns, monkeypatch, fqdn="a.maas", name="a", domain="maas", addresses=["10.10.0.21"])
    assert result["failed"] and "mutually exclusive" in result["msg"]
    result = run(dns, monkeypatch, name="a", addresses=["10.10.0.21"])
    assert result["failed"] and "parameters are required together: name, domain" in result["msg"]
    assert dns.fake.calls == []


# -- present ---------------------------------------------------------------------------------------


def test_create_then_idempotent(monkeypatch):
    dns = Dns()
    args = dict(fqdn="k8s-api.maas", addresses=["10.10.0.22", "10.10.0.21", "10.10.0.20"], ttl=30)
    first = run(dns, monkeypatch, diff=True, **args)
    assert first["changed"] is True and first["action"] == "create", first
    assert writes(dns) == [("POST", "dnsresources/", None)]
    post = dns.fake.find("POST", "dnsresources/")[0]
    assert post.form == {"name": ["k8s-api"], "domain": ["maas"], "ip_addresses": ["10.10.0.20 10.10.0.21 10.10.0.22"],
                         "address_ttl": ["30"]}
    assert first["record"] == {"id": 1, "fqdn": "k8s-api.maas", "addresses": ["10.10.0.20", "10.10.0.21", "10.10.0.22"],
                               "ttl": 30, "resource_uri": "/MAAS/api/2.0/dnsresources/1/"}
    assert first["maas_reserved"] == ["10.10.0.20"]
    assert first["diff"] == {"before": {}, "after": {"fqdn": "k8s-api.maas", "ttl": 30,
                                                     "addresses": ["10.10.0.20", "10.10.0.21", "10.10.0.22"]}}
    dns.fake.calls.clear()
    second = run(dns, monkeypatch, **args)
    assert second["changed"] is False and second["action"] == "none" and writes(dns) == []
    assert [c.path for c in dns.fake.calls] == ["dnsresources/"]
    assert dns.fake.calls[0].query == {"fqdn": ["k8s-api.maas"]}


def test_name_and_domain_find_by_fqdn(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.21"])
    result = run(dns, monkeypatch, name="k8s-api", domain="maas", addresses=["10.10.0.21"])
    assert result["changed"] is False and dns.fake.calls[0].query == {"fqdn": ["k8s-api.maas"]}


def test_check_mode_create_sends_no_write(monkeypatch):
    dns = Dns()
    result = run(dns, monkeypatch, check_mode=True, diff=True, fqdn="k8s-api.maas", addresses=["10.10.0.21", "2001:db8:42::21"])
    assert result["changed"] is True and result["action"] == "create" and writes(dns) == []
    assert result["record"]["id"] is None and result["record"]["addresses"] == ["10.10.0.21", "2001:db8:42::21"]
    assert result["maas_reserved"] == ["2001:db8:42::21"]
    assert dns.records == {}


def test_update_addresses_and_ttl_releases_our_orphan(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.20", "10.10.0.21"], ttl=60)
    result = run(dns, monkeypatch, diff=True, fqdn="k8s-api.maas", addresses=["10.10.0.21", "10.10.0.22"], ttl=30)
    assert result["changed"] is True and result["action"] == "update", result
    assert writes(dns) == [("PUT", "dnsresources/1/", None), ("POST", "ipaddresses/", "release")]
    assert dns.fake.find("PUT", "dnsresources/1/")[0].form == {"ip_addresses": ["10.10.0.21 10.10.0.22"], "address_ttl": ["30"]}
    assert result["released"] == ["10.10.0.20"] and "10.10.0.20" not in dns.static
    assert result["diff"]["before"] == {"fqdn": "k8s-api.maas", "addresses": ["10.10.0.20", "10.10.0.21"], "ttl": 60}
    assert result["diff"]["after"] == {"fqdn": "k8s-api.maas", "addresses": ["10.10.0.21", "10.10.0.22"], "ttl": 30}
    assert result["maas_reserved"] == []


def test_ttl_alone_is_updated_and_omitted_ttl_is_kept(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.21"], ttl=60)
    kept = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21"])
    assert kept["changed"] is False and kept["record"]["ttl"] == 60
    changed = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21"], ttl=0)
    assert changed["changed"] is True and dns.records[1]["ttl"] == 0
    assert dns.fake.find("PUT", "dnsresources/1/")[0].form == {"ip_addresses": ["10.10.0.21"], "address_ttl": ["0"]}


def test_removed_reservation_used_by_another_record_is_kept(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.20", "10.10.0.21"])
    dns.add_record("k8s-vip", ["10.10.0.20"])
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21"])
    assert result["changed"] is True and result["released"] == []
    assert writes(dns) == [("PUT", "dnsresources/1/", None)] and "10.10.0.20" in dns.static


def test_removed_reservation_of_another_user_is_kept(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.20", "10.10.0.21"])
    dns.static["10.10.0.20"]["user"] = "carol"
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21"])
    assert result["released"] == [] and writes(dns) == [("PUT", "dnsresources/1/", None)]


def test_check_mode_update_predicts_releases(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.20", "10.10.0.21"])
    result = run(dns, monkeypatch, check_mode=True, fqdn="k8s-api.maas", addresses=["10.10.0.21"])
    assert result["changed"] is True and result["released"] == ["10.10.0.20"] and writes(dns) == []


@pytest.mark.parametrize(
    "address, rule, fragment",
    [
        ("10.10.0.150", "dynamic-range", "inside the dynamic (DHCP) range 10.10.0.100-10.10.0.200"),
        ("10.10.0.1", "gateway-address", "is the gateway of subnet 10.10.0.0/24"),
        ("10.10.0.255", "broadcast-address", "broadcast address of 10.10.0.0/24"),
        ("2001:db8:42::", "subnet-router-anycast", "subnet-router anycast"),
    ],
)
def test_added_addresses_are_validated_before_writing(monkeypatch, address, rule, fragment):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.21"])
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21", address])
    assert result["failed"] and writes(dns) == []
    assert [(p["index"], p["rule"]) for p in result["problems"]] == [(1, rule)]
    assert result["msg"].startswith("1 problem with the requested addresses: addresses[1]: ") and fragment in result["msg"]


def test_machine_and_external_addresses_are_valid_targets(monkeypatch):
    dns = Dns()
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21", "192.0.2.10"])
    assert result["changed"] is True and result["maas_reserved"] == ["192.0.2.10"]


def test_unknown_domain(monkeypatch):
    dns = Dns()
    present = run(dns, monkeypatch, fqdn="k8s-api.nowhere", addresses=["10.10.0.21"])
    assert present["failed"] and writes(dns) == []
    assert present["msg"] == ("DNS domain 'nowhere' of k8s-api.nowhere does not exist in MAAS; create it first (MAAS > DNS) "
                              "or use an existing domain")
    absent = run(dns, monkeypatch, fqdn="k8s-api.nowhere", state="absent")
    assert absent["changed"] is False and absent["record"] is None


def test_cname_record_cannot_get_addresses(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", [], rrdata=[{"rrtype": "CNAME", "rrdata": "lb.example.com."}])
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21"])
    assert result["failed"] and "holds a CNAME (lb.example.com.)" in result["msg"] and writes(dns) == []


def test_lost_answer_after_create_is_verified_not_resent(monkeypatch):
    dns = Dns()

    def commit_then_drop(call):
        dns.create(call)
        raise dropped()

    dns.fake.routes.insert(0, FakeMaas().add("POST", "dnsresources/", handler=commit_then_drop, times=1).routes[0])
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21"])
    assert result["changed"] is True and result["record"]["id"] == 1, result
    assert writes(dns) == [("POST", "dnsresources/", None)] and len(dns.records) == 1


def test_503_storm_on_update_is_retried(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.21"])
    dns.fake.routes.insert(0, FakeMaas().add("PUT", "dnsresources/1/", status=503, text="busy", times=3).routes[0])
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.22"])
    assert result["changed"] is True, result
    assert len(dns.fake.find("PUT", "dnsresources/1/")) == 4 and len(dns.fake.sleeps) == 3
    assert dns.records[1]["ips"] == ["10.10.0.22"]


# -- absent ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("maas_deletes", [False, True], ids=["maas-before-3.6.1", "maas-3.6.1+"])
def test_absent_leaves_no_orphan_reservation(monkeypatch, maas_deletes):
    dns = Dns(deletes_reservations=maas_deletes)
    dns.add_record("k8s-api", ["10.10.0.20", "10.10.0.21", "10.10.0.25"])
    dns.add_record("k8s-vip", ["10.10.0.25"])
    checked = run(dns, monkeypatch, check_mode=True, diff=True, fqdn="k8s-api.maas", state="absent")
    assert checked["changed"] is True and checked["action"] == "delete" and writes(dns) == []
    assert checked["released"] == ["10.10.0.20"]
    assert checked["diff"]["after"] == {} and checked["diff"]["before"]["addresses"] == ["10.10.0.20", "10.10.0.21", "10.10.0.25"]

    result = run(dns, monkeypatch, fqdn="k8s-api.maas", state="absent")
    assert result["changed"] is True and result["record"] is None
    expected = [("DELETE", "dnsresources/1/", None)] + ([] if maas_deletes else [("POST", "ipaddresses/", "release")])
    assert writes(dns) == expected
    assert result["released"] == ([] if maas_deletes else ["10.10.0.20"])
    assert sorted(dns.static) == ["10.10.0.21", "10.10.0.22", "10.10.0.25"]  # machines' and the other record's kept

    dns.fake.calls.clear()
    again = run(dns, monkeypatch, fqdn="k8s-api.maas", state="absent")
    assert again["changed"] is False and writes(dns) == []


def test_absent_delete_already_gone_on_retry(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.21"])

    def delete_then_drop(call):
        dns.delete(call)
        raise dropped()

    dns.fake.routes.insert(0, FakeMaas().add("DELETE", "dnsresources/1/", handler=delete_then_drop, times=1).routes[0])
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", state="absent")
    assert result["changed"] is True and not result.get("failed"), result
    assert dns.records == {} and len(dns.fake.find("DELETE", "dnsresources/1/")) == 2


def test_absent_returns_the_record_as_it_was(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.22", "10.10.0.21"], ttl=30)
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", state="absent")
    assert result["record"] is None and result["kept"] == []
    assert result["before"] == {"id": 1, "fqdn": "k8s-api.maas", "addresses": ["10.10.0.21", "10.10.0.22"], "ttl": 30,
                                "resource_uri": "/MAAS/api/2.0/dnsresources/1/"}
    again = run(dns, monkeypatch, fqdn="k8s-api.maas", state="absent")
    assert again["before"] is None and again["record"] is None


def test_present_returns_the_record_before_too(monkeypatch):
    dns = Dns()
    created = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.21"])
    assert created["before"] is None and created["kept"] == []
    updated = run(dns, monkeypatch, fqdn="k8s-api.maas", addresses=["10.10.0.22"])
    assert updated["before"]["addresses"] == ["10.10.0.21"] and updated["record"]["addresses"] == ["10.10.0.22"]


# -- absent with only_if_addresses_within ----------------------------------------------------------------


def test_guard_deletes_a_record_holding_only_listed_addresses(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.21", "2001:db8:42::21"])
    args = dict(fqdn="k8s-api.maas", state="absent", only_if_addresses_within=["2001:DB8:42::21", "10.10.0.21", "10.10.0.23"])
    checked = run(dns, monkeypatch, check_mode=True, **args)
    assert checked["changed"] is True and checked["action"] == "delete" and writes(dns) == []
    assert checked["before"]["addresses"] == ["10.10.0.21", "2001:db8:42::21"] and checked["kept"] == []
    result = run(dns, monkeypatch, **args)
    assert result["changed"] is True and dns.records == {}
    assert writes(dns)[0] == ("DELETE", "dnsresources/1/", None)
    again = run(dns, monkeypatch, **args)
    assert again["changed"] is False and again["before"] is None


def test_guard_keeps_a_record_with_a_foreign_address_and_warns(monkeypatch):
    warnings = []
    monkeypatch.setattr("ansible.module_utils.basic.AnsibleModule.warn", lambda self, msg: warnings.append(msg))
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.23", "10.10.0.21", "10.10.0.22"])
    for check_mode in (True, False):
        result = run(dns, monkeypatch, check_mode=check_mode, diff=True, fqdn="k8s-api.maas", state="absent",
                     only_if_addresses_within=["10.10.0.21"])
        assert not result.get("failed"), result
        assert result["changed"] is False and result["action"] == "none"
        assert result["kept"] == ["10.10.0.22", "10.10.0.23"]
        assert result["reason"] == "it holds 10.10.0.22, 10.10.0.23, which are not in only_if_addresses_within"
        assert result["record"] == result["before"] and result["record"]["addresses"] == ["10.10.0.21", "10.10.0.22", "10.10.0.23"]
        assert result["diff"]["before"] == result["diff"]["after"]
    assert writes(dns) == [] and list(dns.records) == [1]
    assert warnings == ["DNS record k8s-api.maas kept: it holds 10.10.0.22, 10.10.0.23, which are not in only_if_addresses_within"] * 2


@pytest.mark.parametrize(
    "ips, rrdata, allowed, reason",
    [
        ([], [], ["10.10.0.21"], "it holds no address, so only_if_addresses_within cannot show that it is yours"),
        (["10.10.0.21"], [{"rrtype": "TXT", "rrdata": "owner=team-a"}], ["10.10.0.21"],
         "it also holds TXT owner=team-a, which only_if_addresses_within cannot vouch for"),
        (["10.10.0.21"], [], [], "it holds 10.10.0.21, which is not in only_if_addresses_within"),
    ],
    ids=["no-address", "other-data", "empty-list"],
)
def test_guard_keeps_records_it_cannot_vouch_for(monkeypatch, ips, rrdata, allowed, reason):
    dns = Dns()
    dns.add_record("k8s-api", ips, rrdata=rrdata)
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", state="absent", only_if_addresses_within=allowed)
    assert result["changed"] is False and result["reason"] == reason and writes(dns) == []


# -- absent with addresses: take some out (a node leaves the cluster) -------------------------------------


def test_absent_with_addresses_takes_them_out_and_keeps_the_record(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.21", "10.10.0.22", "10.10.0.23"], ttl=30)
    args = dict(fqdn="k8s-api.maas", state="absent", addresses=["10.10.0.23", "10.10.0.99"])
    checked = run(dns, monkeypatch, check_mode=True, diff=True, **args)
    assert checked["changed"] is True and checked["action"] == "update" and writes(dns) == []
    assert checked["diff"]["after"]["addresses"] == ["10.10.0.21", "10.10.0.22"]
    done = run(dns, monkeypatch, **args)
    assert done["changed"] is True and done["action"] == "update" and done["record"]["addresses"] == ["10.10.0.21", "10.10.0.22"]
    # 10.10.0.23 was a reservation MAAS made for the record: released once no record uses it.
    assert writes(dns) == [("PUT", "dnsresources/1/", None), ("POST", "ipaddresses/", "release")] and done["released"] == ["10.10.0.23"]
    assert dns.records[1]["ttl"] == 30
    again = run(dns, monkeypatch, **args)
    assert again["changed"] is False and again["action"] == "none" and len(writes(dns)) == 2


def test_absent_with_addresses_deletes_the_record_when_none_is_left(monkeypatch):
    dns = Dns()
    dns.add_record("k8s-api", ["10.10.0.21"])
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", state="absent", addresses=["10.10.0.21"],
                 only_if_addresses_within=["10.10.0.21"])
    assert result["changed"] is True and result["action"] == "delete" and not dns.records


def test_absent_with_bad_addresses_fails_before_any_request(monkeypatch):
    dns = Dns()
    result = run(dns, monkeypatch, fqdn="k8s-api.maas", state="absent", addresses=["10.10.0.300"])
    assert result["failed"] and "addresses[0]" in result["msg"] and dns.fake.calls == []
