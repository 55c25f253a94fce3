#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a MAAS DNS record (A/AAAA addresses), for example the Kubernetes API endpoint."""

from __future__ import annotations

DOCUMENTATION = r"""
module: maas_dns_record
short_description: Manage a MAAS DNS record with A/AAAA addresses
version_added: 1.0.0
description:
  - Creates, updates and deletes a MAAS DNS resource (C(/dnsresources/)) holding A and AAAA records, typically the name of
    the Kubernetes API endpoint pointing at the control-plane nodes or a virtual IP.
  - The record is found with the C(fqdn) filter of C(GET /dnsresources/); MAAS is never asked for all records.
  - O(state=present) creates the record or updates its address set and TTL (C(PUT)); O(state=absent) deletes it.
    A second run with the same input sends no write; check mode sends none either; diff mode shows the record
    before and after.
  - Addresses the record does not have yet are validated before anything is changed; addresses MAAS already knows (a
    machine's, a reservation) are fine. An address MAAS does not know must not be a network, broadcast or IPv6
    subnet-router anycast address, a subnet's gateway or DNS server, or inside a dynamic (DHCP) range. Addresses inside
    a reserved range or outside every MAAS subnet (an external load balancer) are accepted.
  - "MAAS quirk: an address given to a DNS record that MAAS does not know becomes a C(USER_RESERVED) address of the API
    user (RV(maas_reserved) lists them). MAAS 3.6.1 and later delete such reservations with the record when no other
    record and no interface uses them; older versions leave them behind, and no version releases them when they are
    removed from the record. This module releases the API user's reservations that no DNS record and no interface uses
    any more after it removed them from the record or deleted the record (RV(released)), so every MAAS version ends in
    the same state and no orphan reservation is left."
  - "With O(only_if_addresses_within), O(state=absent) deletes the record only when it is the caller's by its
    addresses: a record holding any other address is kept (RV(kept) names the addresses, with a warning), so a
    teardown never deletes a record that also serves something else."
  - RV(before) is the record as it was before the run, so callers need no diff to know what was there.
author:
  - lxdcp.maas maintainers (@lxdcp)
extends_documentation_fragment:
  - lxdcp.maas.auth
options:
  fqdn:
    description:
      - Fully qualified name of the record, V(k8s-api.maas). The first label is the record's name, the rest the DNS domain,
        which must exist in MAAS.
      - Mutually exclusive with O(name) and O(domain).
    type: str
  name:
    description:
      - The record's name (one label) in O(domain); an alternative to O(fqdn).
    type: str
  domain:
    description:
      - The DNS domain (its name) of O(name).
    type: str
  addresses:
    description:
      - The complete set of IPv4 and IPv6 addresses of the record (A and AAAA records). Order does not matter.
      - Required with O(state=present). Addresses the record has and this list lacks are removed from it.
    type: list
    elements: str
  ttl:
    description:
      - TTL of the addresses in seconds (MAAS's C(address_ttl)), 0 or more. When omitted, a new record uses the domain's
        TTL and an existing record keeps its TTL.
    type: int
  state:
    description:
      - V(present) creates or updates the record, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  only_if_addresses_within:
    description:
      - With O(state=absent), delete the record only when every address it holds is in this list, for example the
        addresses of a cluster's machines and static IPs. Otherwise the record is kept, RV(kept) lists the addresses
        that are not in the list, and the task warns and reports no change.
      - A record that holds no address, or holds other data (a CNAME, TXT, MX or SRV record), is kept too, since its
        addresses cannot show whose it is.
      - An empty list keeps every record. Without this option, O(state=absent) deletes the record whatever it holds.
      - Only valid with O(state=absent).
    type: list
    elements: str
notes:
  - Creating, updating and deleting DNS records need a MAAS administrator's API key.
  - A record that also holds a CNAME cannot get addresses; the module fails before writing.
requirements:
  - netaddr
seealso:
  - module: lxdcp.maas.maas_static_ip
  - name: MAAS API, DNS resources
    description: The C(/dnsresources/) endpoints.
    link: https://canonical.com/maas/docs/api#dnsresources
attributes:
  check_mode:
    support: full
    description: Reports the record it would create, update or delete and the reservations it would release; sends no write.
  diff_mode:
    support: full
    description: Shows the FQDN, sorted addresses and TTL before and after.
"""

EXAMPLES = r"""
- name: The Kubernetes API endpoint points at the three control-plane nodes
  lxdcp.maas.maas_dns_record:
    url: http://maas.example.com:5240/MAAS
    api_key: "{{ maas_api_key }}"
    fqdn: k8s-api.maas
    addresses: [10.10.0.21, 10.10.0.22, 10.10.0.23]
    ttl: 30

- name: Dual-stack endpoint given as name and domain
  lxdcp.maas.maas_dns_record:
    name: k8s-api
    domain: lab.example.com
    addresses: [10.10.0.20, "2001:db8:42::20"]

- name: Remove the endpoint (and the reservations MAAS made for it)
  lxdcp.maas.maas_dns_record:
    fqdn: k8s-api.maas
    state: absent

- name: Remove the endpoint only if it points at nothing but our nodes
  lxdcp.maas.maas_dns_record:
    fqdn: k8s-api.maas
    state: absent
    only_if_addresses_within: [10.10.0.21, 10.10.0.22, 10.10.0.23]
  register: endpoint

- name: Say why it was kept
  ansible.builtin.debug:
    msg: "k8s-api.maas kept: {{ endpoint.reason }}"
  when: endpoint.reason is defined
"""

RETURN = r"""
record:
  description: The record after the run (as it would be in check mode); null when absent.
  returned: always
  type: dict
  contains:

    id:
      description: MAAS id of the DNS resource (null for a record check mode would create).
      type: int
      sample: 3
    fqdn:
      description: Fully qualified name.
      type: str
      sample: k8s-api.maas
    addresses:
      description: The record's addresses, sorted (IPv4 first).
      type: list
      elements: str
      sample: [10.10.0.21, 10.10.0.22, 10.10.0.23]
    ttl:
      description: The record's C(address_ttl) (null when it uses the domain's TTL).
      type: int
      sample: 30
    resource_uri:
      description: API path of the record.
      type: str
      sample: /MAAS/api/2.0/dnsresources/3/
before:
  description:
    - The record before the run, with the fields of RV(record) (C(id), C(fqdn), C(addresses), C(ttl), C(resource_uri));
      null when there was none.
  returned: always
  type: dict
  sample: {id: 3, fqdn: k8s-api.maas, addresses: [10.10.0.21, 10.10.0.22], ttl: null,
           resource_uri: /MAAS/api/2.0/dnsresources/3/}
action:
  description: What the run did (or would do in check mode).
  returned: always
  type: str
  choices: [none, create, update, delete]
  sample: update
maas_reserved:
  description: Added addresses MAAS did not know, which MAAS turns into reservations of the API user.
  returned: always
  type: list
  elements: str
  sample: [10.10.0.20]
released:
  description: Reservations of the API user released by the run (in check mode, those it would release) because no DNS
    record and no interface uses them any more.
  returned: always
  type: list
  elements: str
  sample: [10.10.0.20]
kept:
  description:
    - The record's addresses that are not in O(only_if_addresses_within), when the record was kept for them (sorted,
      IPv4 first); empty otherwise.
  returned: always
  type: list
  elements: str
  sample: [10.10.0.52]
reason:
  description: Why O(only_if_addresses_within) kept the record.
  returned: when the record was kept by O(only_if_addresses_within)
  type: str
  sample: it holds 10.10.0.52, which is not in only_if_addresses_within
problems:
  description: Every problem found with O(addresses), when the module fails on them.
  returned: on failure caused by the addresses
  type: list
  elements: dict
  sample:
    - {index: 0, address: 10.10.0.150, rule: dynamic-range,
       message: "addresses[0]: address 10.10.0.150 is inside the dynamic (DHCP) range 10.10.0.100-10.10.0.200 (id 1) of
         subnet 10.10.0.0/24, which MAAS's DHCP server hands out; pick an address outside it"}
maas_log:
  description: Requests (with attempts and retry delays) and decisions of the run; with C(-vvv) only.
  returned: with -vvv
  type: list
  elements: str
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasError, MaasNotFound
from ansible_collections.lxdcp.maas.plugins.module_utils.module import MaasModule

TTL_MAX = (1 << 31) - 1
GUARD = "only_if_addresses_within"
ADDRESS_RRTYPES = ("A", "AAAA")


class InputError(ValueError):
    """Bad input found before any request."""


def record_fqdn(params):
    """The FQDN the options name; raises InputError when it is not a valid one."""
    if params.get("fqdn") is not None:
        fqdn = params["fqdn"].rstrip(".")
        if not ipaddr.valid_hostname(fqdn) or "." not in fqdn:
            raise InputError(ipaddr.hostname_error(params["fqdn"], "fqdn") + ", and it needs a name and a domain "
                             "(for example k8s-api.maas)")
        return fqdn
    name, domain = params.get("name"), params.get("domain")
    if name is None or domain is None:
        raise InputError("give fqdn, or name together with domain")
    if "." in name or not ipaddr.valid_hostname(name):
        raise InputError(ipaddr.hostname_error(name, "name") + " (one label: the domain goes in domain)")
    if not ipaddr.valid_hostname(domain.rstrip(".")):
        raise InputError(ipaddr.hostname_error(domain, "domain"))
    return "%s.%s" % (name, domain.rstrip("."))


def sort_key(text):
    """IPv4 before IPv6, then numerically."""
    key = ipaddr.packed(text)
    return (len(key), key)


def addresses_of(record):
    """``{packed: text}`` of a MAAS DNS resource's addresses."""
    found = {}
    for item in (record or {}).get("ip_addresses") or []:
        text = item.get("ip") if isinstance(item, dict) else item
        if text:
            found[ipaddr.packed(text)] = text
    return found


def view(record, fqdn=None):
    """The record as the module returns it."""
    if record is None:
        return None
    texts = sorted(addresses_of(record).values(), key=sort_key)
    return {"id": record.get("id"), "fqdn": record.get("fqdn") or fqdn, "addresses": texts,
            "ttl": record.get("address_ttl"), "resource_uri": record.get("resource_uri")}


class DnsRecord(object):
    """One run of the module."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.fqdn = None
        self.wanted = None
        self.request = None
        self.allowed = None

    def fail(self, msg, **result):
        """Fail; nothing was changed unless ``changed`` says so."""
        result.setdefault("changed", False)
        self.module.fail_json(msg, **result)

    def check_input(self):
        """Everything that can be judged without MAAS."""
        params = self.params
        try:
            self.fqdn = record_fqdn(params)
        except InputError as exc:
            self.fail(str(exc))
        ttl = params.get("ttl")
        if ttl is not None and not 0 <= ttl <= TTL_MAX:
            self.fail("ttl %d is out of range: MAAS accepts 0 to %d seconds" % (ttl, TTL_MAX))
        if params.get(GUARD) is not None:
            if params["state"] != "absent":
                self.fail("%s only applies to state=absent (it decides whether a record may be deleted)" % GUARD)
            self.allowed = self.guard_addresses(params[GUARD])
        if params["state"] == "absent":
            return
        if not params.get("addresses"):
            self.fail("addresses must list at least one IP address for state=present")
        self.request = ipaddr.check_request(params["addresses"], ipaddr.DNS_TARGET)
        if self.request.problems:
            self.fail_problems(self.request.problems)
        self.wanted = dict((item.ip.packed, str(item.ip)) for item in self.request.planned)

    def guard_addresses(self, values):
        """The packed addresses of ``only_if_addresses_within``; fails naming every one that is not an address."""
        allowed, bad = set(), []
        for index, value in enumerate(values):
            try:
                allowed.add(ipaddr.parse_address(value, "%s[%d]" % (GUARD, index)).packed)
            except ipaddr.AddressError as exc:
                bad.append(exc.message)
        if bad:
            self.fail("; ".join(bad))
        return allowed

    def fail_problems(self, problems):
        """Fail listing every problem with the addresses."""
        self.fail(ipaddr.summarize(problems), problems=[p.as_dict() for p in problems])

    # -- MAAS --------------------------------------------------------------------------------

    def find(self, client):
        """The record named by the options, or None; ``(record, domain_exists)``."""
        try:
            found = client.get("dnsresources/", params={"fqdn": self.fqdn}) or []
        except MaasNotFound:
            return None, False  # MAAS answers 404 when the domain of the FQDN does not exist
        matches = [r for r in found if r.get("id", -1) != -1 and (r.get("fqdn") or "").rstrip(".") == self.fqdn]
        if len(matches) > 1:
            self.fail("MAAS has %d DNS records named %s (ids %s); delete the extra ones" % (
                len(matches), self.fqdn, ", ".join(str(r["id"]) for r in matches)))
        return (matches[0] if matches else None), True

    def validate_added(self, client, added):
        """Check the addresses the record does not have yet; return those MAAS would turn into reservations."""
        request = ipaddr.Request([item for item in self.request.planned if item.ip.packed in added], [], ipaddr.DNS_TARGET)
        result = ipaddr.validate_plan(request, ipaddr.fetch_index(client, request))
        if result.problems:
            self.fail_problems(result.problems)
        for warning in result.warnings:
            self.module.warn(warning)
        return [a["address"] for a in result.addresses if a["status"] == ipaddr.FREE]

    def candidates(self, record, gone):
        """Addresses of ``record`` in ``gone`` that may become orphan reservations: USER_RESERVED, on no interface."""
        found = []
        for item in (record or {}).get("ip_addresses") or []:
            if not isinstance(item, dict) or not item.get("ip") or ipaddr.packed(item["ip"]) not in gone:
                continue
            if item.get("alloc_type") == ipaddr.USER_RESERVED and not item.get("interface_set"):
                found.append(item)
        return found

    def orphans(self, client, candidates, record_id, after_write):
        """The candidates that are the API user's reservations used by no DNS record (other than ``record_id``).

        Reads the subnet's ``op=ip_addresses`` (its DNS records per address). Before the write
        (check mode), references by ``record_id`` are ignored; after it, an address MAAS
        already deleted with the record (3.6.1+) is simply gone.
        """
        result = []
        by_subnet = {}
        for item in candidates:
            subnet_id = (item.get("subnet") or {}).get("id")
            if subnet_id is None:
                self.module.warn("%s was a reservation of this record with no MAAS subnet, so whether another DNS record "
                                 "uses it cannot be checked; it was not released (release it with "
                                 "lxdcp.maas.maas_static_ip state=absent if it is unused)" % item["ip"])
                continue
            by_subnet.setdefault(subnet_id, []).append(item)
        for subnet_id, items in sorted(by_subnet.items()):
            known = dict((ipaddr.packed(r["ip"]), r) for r in client.subnet_ip_addresses(subnet_id) if r.get("ip"))
            for item in items:
                current = known.get(ipaddr.packed(item["ip"]))
                if current is None:
                    self.module.log("%s: MAAS deleted the reservation with the record" % item["ip"])
                    continue
                if current.get("alloc_type") != ipaddr.USER_RESERVED or current.get("node_summary"):
                    continue
                if current.get("user") != client.username():
                    self.module.log("%s: a reservation of user %s, not ours, kept" % (item["ip"], current.get("user")))
                    continue
                users = [r for r in current.get("dns_records") or [] if after_write or r.get("id") != record_id]
                if users:
                    self.module.log("%s: still used by DNS record(s) %s, kept" % (
                        item["ip"], ", ".join("%s.%s" % (r.get("name"), r.get("domain")) for r in users)))
                    continue
                result.append(item["ip"])
        return result

    def release(self, client, addresses, done):
        """Release orphan reservations; fail saying what the run already changed."""
        released = []
        for address in addresses:
            try:
                client.release_ip(address)
            except MaasError as exc:
                self.fail("Releasing the orphan reservation %s failed after %s: %s%s" % (
                    address, done, exc, " (released before: %s)" % ", ".join(released) if released else ""),
                    changed=True, error=exc.to_dict(), released=released)
            released.append(address)
            self.module.log("%s: released (no DNS record uses it any more)" % address)
        return released

    # -- states -------------------------------------------------------------------------------

    def present(self, client):
        """Create the record or bring its addresses and TTL to the wanted ones."""
        record, domain_exists = self.find(client)
        if not domain_exists:
            self.fail("DNS domain %r of %s does not exist in MAAS; create it first (MAAS > DNS) or use an existing domain"
                      % (self.fqdn.split(".", 1)[1], self.fqdn))
        current = addresses_of(record)
        if record is not None:
            cnames = [r for r in record.get("resource_records") or [] if r.get("rrtype") == "CNAME"]
            if cnames:
                self.fail("DNS record %s (id %s) holds a CNAME (%s); MAAS cannot add addresses to it" % (
                    self.fqdn, record.get("id"), cnames[0].get("rrdata")))
        added = dict((key, text) for key, text in self.wanted.items() if key not in current)
        removed = dict((key, text) for key, text in current.items() if key not in self.wanted)
        ttl = self.params.get("ttl")
        ttl_changes = ttl is not None and (record is None or record.get("address_ttl") != ttl)
        maas_reserved = self.validate_added(client, added) if added else []
        after_ttl = ttl if ttl is not None else (record.get("address_ttl") if record else None)
        wanted_texts = sorted(self.wanted.values(), key=sort_key)
        result = dict(maas_reserved=maas_reserved, released=[], before=view(record), kept=[])
        if record is None:
            action = "create"
        elif added or removed or ttl_changes:
            action = "update"
        else:
            return dict(result, changed=False, action="none", record=view(record), diff=self.diff(record, record))
        planned = {"id": record.get("id") if record else None, "fqdn": self.fqdn, "address_ttl": after_ttl,
                   "ip_addresses": [{"ip": t} for t in wanted_texts],
                   "resource_uri": record.get("resource_uri") if record else None}
        self.module.log("%s %s: addresses %s%s" % (action, self.fqdn, " ".join(wanted_texts),
                                                   ", ttl %s" % ttl if ttl is not None else ""))
        candidates = self.candidates(record, removed)
        if self.check_mode:
            released = self.orphans(client, candidates, record.get("id"), after_write=False) if candidates else []
            return dict(result, changed=True, action=action, record=view(planned), released=released,
                        diff=self.diff(record, planned))
        data = {"ip_addresses": " ".join(wanted_texts)}
        if ttl is not None:
            data["address_ttl"] = ttl
        if record is None:
            name, domain = self.fqdn.split(".", 1)
            data.update(name=name, domain=domain)
            answer = client.post("dnsresources/", data=data, verify=lambda: self.find(client)[0])
        else:
            answer = client.put("dnsresources/%s/" % record["id"], data=data)
        answer = answer if isinstance(answer, dict) else self.find(client)[0]
        released = []
        if candidates:
            released = self.release(client, self.orphans(client, candidates, record.get("id"), after_write=True),
                                    "updating %s" % self.fqdn)
        return dict(result, changed=True, action=action, record=view(answer, self.fqdn), released=released,
                    diff=self.diff(record, answer))

    def not_ours(self, record):
        """``(reason, foreign addresses)`` when ``only_if_addresses_within`` keeps ``record``, else ``(None, [])``."""
        held = addresses_of(record)
        foreign = sorted((text for key, text in held.items() if key not in self.allowed), key=sort_key)
        if foreign:
            return "it holds %s, which %s not in %s" % (", ".join(foreign), "is" if len(foreign) == 1 else "are", GUARD), foreign
        other = ["%s %s" % (r.get("rrtype"), r.get("rrdata")) for r in record.get("resource_records") or []
                 if r.get("rrtype") not in ADDRESS_RRTYPES]
        if other:
            return "it also holds %s, which %s cannot vouch for" % (", ".join(other), GUARD), []
        if not held:
            return "it holds no address, so %s cannot show that it is yours" % GUARD, []
        return None, []

    def absent(self, client):
        """Delete the record (unless ``only_if_addresses_within`` keeps it), then release the reservations it leaves unused."""
        record = self.find(client)[0]
        if record is None:
            return dict(changed=False, action="none", record=None, before=None, kept=[], maas_reserved=[], released=[],
                        diff=self.diff(None, None))
        if self.allowed is not None:
            reason, foreign = self.not_ours(record)
            if reason:
                self.module.warn("DNS record %s kept: %s" % (self.fqdn, reason))
                return dict(changed=False, action="none", record=view(record), before=view(record), kept=foreign,
                            reason=reason, maas_reserved=[], released=[], diff=self.diff(record, record))
        before = view(record)
        candidates = self.candidates(record, addresses_of(record))
        self.module.log("delete %s (id %s)" % (self.fqdn, record["id"]))
        if self.check_mode:
            released = self.orphans(client, candidates, record["id"], after_write=False) if candidates else []
            return dict(changed=True, action="delete", record=None, before=before, kept=[], maas_reserved=[],
                        released=released, diff=self.diff(record, None))
        try:
            client.delete("dnsresources/%s/" % record["id"])
        except MaasNotFound:
            self.module.log("%s was already deleted" % self.fqdn)
        released = []
        if candidates:
            released = self.release(client, self.orphans(client, candidates, record["id"], after_write=True),
                                    "deleting %s" % self.fqdn)
        return dict(changed=True, action="delete", record=None, before=before, kept=[], maas_reserved=[],
                    released=released, diff=self.diff(record, None))

    def diff(self, before, after):
        """FQDN, sorted addresses and TTL before and after."""
        def text(record):
            if record is None:
                return {}
            shown = view(record, self.fqdn)
            return {"fqdn": shown["fqdn"], "addresses": shown["addresses"], "ttl": shown["ttl"]}
        return {"before": text(before), "after": text(after)}


def main():
    """Entry point."""
    module = MaasModule(
        argument_spec=dict(
            fqdn=dict(type="str"),
            name=dict(type="str"),
            domain=dict(type="str"),
            addresses=dict(type="list", elements="str"),
            ttl=dict(type="int"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            only_if_addresses_within=dict(type="list", elements="str"),
        ),
        mutually_exclusive=[("fqdn", "name"), ("fqdn", "domain")],
        required_one_of=[("fqdn", "name")],
        required_together=[("name", "domain")],
        supports_check_mode=True,
    )
    if not ipaddr.HAS_NETADDR:
        module.fail_json(missing_required_lib("netaddr"), exception=str(ipaddr.NETADDR_IMPORT_ERROR))
    run = DnsRecord(module)
    run.check_input()
    try:
        client = module.client()
        result = getattr(run, module.params["state"])(client)
    except MaasError as exc:
        module.fail_from(exc)
    diff = result.pop("diff")
    if module.diff_mode:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
