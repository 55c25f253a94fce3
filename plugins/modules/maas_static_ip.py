#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate, reserve and release static IP addresses in MAAS."""

from __future__ import annotations

DOCUMENTATION = r"""
module: maas_static_ip
short_description: Validate, reserve and release static IP addresses in MAAS
version_added: 1.0.0
description:
  - Checks a plan of static IP addresses against what MAAS knows (O(state=validated)), reserves them for use outside
    MAAS (O(state=present), C(POST /ipaddresses/?op=reserve)) or releases reservations (O(state=absent),
    C(POST /ipaddresses/?op=release)).
  - "Every address is validated before anything is changed: syntax, the subnet (given or found by MAAS), network,
    broadcast and IPv6 subnet-router anycast addresses, the subnet's gateway and DNS servers, MAAS's dynamic (DHCP) and
    reserved IP ranges, addresses already used by a machine, device, controller, BMC or another user's reservation (the
    message names who holds it), and duplicates within the request. One problem or many, the module fails listing all of
    them and MAAS is left unchanged."
  - "An address is already I(ours) when it is held by the machine or device named by its O(addresses[].hostname), or
    reserved by the API user without a DNS name or with that host name. Such addresses are not conflicts: re-runs change
    nothing."
  - "A reservation is never sent twice: when MAAS's answer is lost, the module looks the address up before retrying."
  - The validation reads C(GET /subnets/), C(GET /ipranges/), one C(GET /subnets/{id}/?op=ip_addresses) per subnet the
    addresses are in, and C(GET /users/?op=whoami) only when an address is a user reservation.
  - "O(state=absent) with a host name releases a reservation only when the API user made it for that host name, so a
    teardown never frees an address that merely happens to be listed: who holds each address is read from its subnet
    (C(GET /subnets/ip:<address>/?op=ip_addresses) for one address, C(GET /subnets/) and one read per subnet for more)."
author:
  - lxdcp.maas maintainers (@lxdcp)
extends_documentation_fragment:
  - lxdcp.maas.auth
options:
  state:
    description:
      - V(validated) checks the addresses and returns them with their subnet, gateway and DNS servers; MAAS is not
        changed. Use it to check a control-plane plan before creating anything.
      - V(present) reserves each address for the API user (with its O(addresses[].hostname) as DNS name and its
        O(addresses[].mac) when given). An address already reserved by the API user, or held by the machine named by
        its host name, is left as it is. A reservation of the API user without the requested host name or MAC is
        released and made again with them.
      - V(absent) releases the API user's reservations of the addresses; addresses not reserved by the API user are
        left alone (they are reported with C(state=absent)). Only O(addresses[].address) and O(addresses[].hostname)
        are used.
      - With O(addresses[].hostname) (or O(hostname)), V(absent) releases a reservation only when the API user made it
        for that host name (every DNS name of the reservation is that host name); any other holder keeps the address,
        which is reported with C(state=kept) and the reason, and does not fail the task.
    type: str
    choices: [validated, present, absent]
    default: present
  addresses:
    description:
      - The addresses, each with its own optional subnet, gateway, DNS servers and host name.
    type: list
    elements: dict
    required: true
    suboptions:
      address:
        description:
          - The IPv4 or IPv6 address, without prefix length (V(10.10.0.20), V(2001:db8:42::20)).
        type: str
        required: true
      subnet:
        description:
          - The MAAS subnet the address must belong to, as a CIDR (V(10.10.0.0/24)), a MAAS subnet id or a subnet name.
          - Defaults to O(subnet); without either, the subnet MAAS has for the address is used.
        type: str
      gateway:
        description:
          - Gateway to use with this address (returned in RV(addresses[].gateway)). It must be a usable address of the
            subnet. Defaults to O(gateway), then to the subnet's gateway in MAAS.
          - A gateway different from MAAS's gives a warning, since MAAS configures its own on the machines it deploys.
        type: str
      dns_servers:
        description:
          - DNS servers to use with this address (returned in RV(addresses[].dns_servers)). Defaults to
            O(dns_servers), then to the subnet's DNS servers in MAAS.
        type: list
        elements: str
      hostname:
        description:
          - The host the address is for, as a short name (V(cp-1)) or with a DNS domain MAAS knows (V(cp-1.maas)).
          - With O(state=present) it becomes the DNS name of the reservation (MAAS creates or extends a DNS record of
            that name, in the default domain unless one is given).
          - An address held by the machine or device of this name, or reserved by the API user for it, is not a conflict.
          - With O(state=absent), the reservation is released only when the API user made it for this host name; a
            reservation without a DNS name or for another name, another user's, or an address held by a machine is
            kept (RV(addresses[].state=kept), with RV(addresses[].reason)). Defaults to O(hostname).
        type: str
      mac:
        description:
          - With O(state=present), the MAC address MAAS links the reservation to (an interface of unknown type is
            created for it). It must not belong to a machine's interface.
        type: str
  subnet:
    description:
      - Default for O(addresses[].subnet).
    type: str
  gateway:
    description:
      - Default for O(addresses[].gateway).
    type: str
  dns_servers:
    description:
      - Default for O(addresses[].dns_servers).
    type: list
    elements: str
  hostname:
    description:
      - Default for O(addresses[].hostname), for example the one host all the addresses are for.
    type: str
notes:
  - MAAS refuses to reserve an address inside a dynamic range without a MAC and any address inside a reserved range; this
    module refuses both, and also the subnet's gateway and DNS server addresses, which MAAS would accept.
  - A reserved address is I(in use) for MAAS. To give it to a machine or VM (for example with M(lxdcp.maas.maas_lxd_vm)),
    the reservation must be released first.
  - Releasing the last address of a DNS record makes MAAS delete that record.
  - Static routes' gateways and addresses MAAS merely observed in neighbour discovery are not checked.
requirements:
  - netaddr
seealso:
  - module: lxdcp.maas.maas_dns_record
  - name: MAAS API, IP addresses
    description: The reserve and release operations.
    link: https://canonical.com/maas/docs/api#ip-addresses
attributes:
  check_mode:
    support: full
    description: Reports what would be reserved or released; sends no write.
  diff_mode:
    support: full
    description: Shows each address before and after (free, reserved and for which name, or held by a machine).
"""

EXAMPLES = r"""
- name: Check the control-plane plan before creating anything
  lxdcp.maas.maas_static_ip:
    state: validated
    subnet: 10.10.0.0/24
    addresses:
      - {address: 10.10.0.21, hostname: cp-1}
      - {address: 10.10.0.22, hostname: cp-2}
      - {address: 10.10.0.23, hostname: cp-3}
  register: plan

- name: Reserve the Kubernetes API virtual IP with a DNS name
  lxdcp.maas.maas_static_ip:
    url: http://maas.example.com:5240/MAAS
    api_key: "{{ maas_api_key }}"
    addresses:
      - address: 10.10.0.20
        hostname: k8s-vip.maas

- name: Reserve an address for a host outside MAAS, tied to its MAC
  lxdcp.maas.maas_static_ip:
    addresses:
      - {address: 10.10.0.40, hostname: lb-1, mac: "52:54:00:12:34:56"}

- name: IPv6, with explicit gateway and DNS servers for the netplan of the host
  lxdcp.maas.maas_static_ip:
    state: validated
    addresses:
      - address: 2001:db8:42::21
        subnet: 2001:db8:42::/64
        gateway: 2001:db8:42::1
        dns_servers: [2001:db8:42::53]

- name: Release the reservations
  lxdcp.maas.maas_static_ip:
    state: absent
    addresses:
      - {address: 10.10.0.20}
      - {address: 10.10.0.40}

- name: Release cp-1's reservation only if it was made for cp-1 (a teardown)
  lxdcp.maas.maas_static_ip:
    state: absent
    hostname: cp-1
    addresses:
      - {address: 10.10.0.21}
  register: cp1_ip

- name: Say why an address was kept
  ansible.builtin.debug:
    msg: "{{ item.address }} kept: {{ item.reason }}"
  loop: "{{ cp1_ip.addresses | selectattr('state', 'equalto', 'kept') }}"
"""

RETURN = r"""
addresses:
  description: The addresses in request order, with what MAAS knows of them.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The address in canonical form.
      type: str
      sample: 10.10.0.21
    version:
      description: IP version, 4 or 6.
      type: int
      sample: 4
    hostname:
      description: The host name given for the address.
      type: str
      sample: cp-1
    state:
      description:
        - V(free) (O(state=validated) only; nothing holds it), V(reserved) (reserved by the API user, or to be),
          V(assigned) (held by the machine or device of its host name), V(released) (released by this run, or to be in
          check mode) or V(absent) (not reserved by the API user; with a host name, nothing in MAAS holds it).
        - V(kept) (O(state=absent) with a host name only) is an address held by anything but the API user's reservation
          for that host name; RV(addresses[].reason) says by what. Otherwise an address held by anything else is an
          error, never a state.
      type: str
      choices: [free, reserved, assigned, released, absent, kept]
      sample: reserved
    reason:
      description: Why the address was released or left alone (for example C(a reservation of user admin for DNS name
        vip.maas, not for cp-1)).
      type: str
      returned: when O(state=absent)
      sample: a reservation of user admin (no DNS name), so it is not known to be cp-1's
    action:
      description: What this run did (or would do in check mode) to the address.
      type: str
      choices: [none, reserve, re-reserve, release]
      sample: reserve
    address_cidr:
      description: The address with the subnet's prefix length, ready for a network configuration.
      type: str
      returned: unless O(state=absent)
      sample: 10.10.0.21/24
    prefixlen:
      description: The subnet's prefix length.
      type: int
      returned: unless O(state=absent)
      sample: 24
    gateway:
      description: The gateway for the address (given, else the subnet's in MAAS; null when neither has one).
      type: str
      returned: unless O(state=absent)
      sample: 10.10.0.1
    dns_servers:
      description: The DNS servers for the address (given, else the subnet's in MAAS).
      type: list
      elements: str
      returned: unless O(state=absent)
      sample: [10.10.0.2]
    subnet:
      description: The MAAS subnet of the address.
      type: dict
      returned: unless O(state=absent)
      sample: {id: 1, name: 10.10.0.0/24, cidr: 10.10.0.0/24, gateway_ip: 10.10.0.1, dns_servers: [],
               vlan: {id: 5001, vid: 0, name: untagged, fabric: fabric-0}, space: undefined, managed: true}
    holder:
      description: What held the address before this run (null when it was free).
      type: dict
      sample: {ip: 10.10.0.21, alloc_type: 4, alloc_type_name: user reserved, user: admin, system_id: null,
               hostname: null, node_type_name: null, dns_names: [cp-1.maas],
               description: a reservation of user admin for DNS name cp-1.maas}
    reservation:
      description: The IP address object MAAS returned for a reservation made by this run.
      type: dict
      returned: when this run reserved the address (not in check mode)
      sample: {ip: 10.10.0.21, alloc_type: 4, alloc_type_name: User reserved, owner: {username: admin},
               subnet: {id: 1, cidr: 10.10.0.0/24}}
problems:
  description: Every problem found, when the module fails on bad input. O(addresses) index, address, rule and message.
  returned: on failure caused by the addresses
  type: list
  elements: dict
  sample:
    - index: 1
      address: 10.10.0.150
      rule: dynamic-range
      message: "addresses[1]: address 10.10.0.150 is inside the dynamic (DHCP) range 10.10.0.100-10.10.0.200 (id 1) of
        subnet 10.10.0.0/24, which MAAS's DHCP server hands out; pick an address outside it"
maas_log:
  description: Requests (with attempts and retry delays) and decisions of the run; with C(-vvv) only.
  returned: with -vvv
  type: list
  elements: str
"""

import re

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasError, MaasNotFound
from ansible_collections.lxdcp.maas.plugins.module_utils.module import MaasModule

_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$", re.IGNORECASE)

ENTRY_OPTIONS = dict(
    address=dict(type="str", required=True),
    subnet=dict(type="str"),
    gateway=dict(type="str"),
    dns_servers=dict(type="list", elements="str"),
    hostname=dict(type="str"),
    mac=dict(type="str"),
)


def normalize_mac(mac):
    """``52:54:00:12:34:56`` from any of the forms MAAS accepts, or None when ``mac`` is not a MAC address."""
    if not isinstance(mac, str) or not _MAC_RE.match(mac.strip()):
        return None
    digits = re.sub(r"[^0-9a-fA-F]", "", mac).lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def my_reservations(client):
    """The API user's reservations (``GET /ipaddresses/``), keyed by packed address."""
    mine = {}
    for reservation in client.ip_addresses():
        try:
            mine[ipaddr.packed(reservation.get("ip") or "")] = reservation
        except (OSError, ValueError):
            continue
    return mine


def describe_state(holder):
    """A short text of who holds an address, for the diff."""
    if holder is None:
        return "free"
    names = holder.get("dns_names") or []
    if holder.get("system_id"):
        return "held by %s %s (%s)" % (holder.get("node_type_name") or "node", holder.get("hostname"), holder.get("system_id"))
    return "reserved by %s%s" % (holder.get("user"), " for " + ", ".join(names) if names else " (no DNS name)")


class StaticIP(object):
    """One run of the module."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.entries = self._entries()

    def _entries(self):
        """The addresses with the top-level defaults applied."""
        entries = []
        for entry in self.params["addresses"]:
            merged = dict((key, value) for key, value in entry.items() if value is not None)
            for key in ("subnet", "gateway", "dns_servers", "hostname"):
                if merged.get(key) is None and self.params.get(key) is not None:
                    merged[key] = self.params[key]
            entries.append(merged)
        return entries

    def fail_problems(self, problems, **result):
        """Fail listing every problem (nothing was changed)."""
        self.module.fail_json(ipaddr.summarize(problems), problems=[p.as_dict() for p in problems],
                              changed=False, **result)

    def local_problems(self):
        """Problems found without MAAS (the validator's request checks plus MAC syntax)."""
        request = ipaddr.check_request(self.entries, ipaddr.RESERVE)
        problems = list(request.problems)
        for index, entry in enumerate(self.entries):
            if entry.get("mac") is not None and normalize_mac(entry["mac"]) is None:
                problems.append(ipaddr.Problem(index, "addresses[%d]" % index, entry.get("address"), "bad-mac",
                                               "addresses[%d]: mac %r is not a MAC address (expected six hex pairs, for "
                                               "example 52:54:00:12:34:56)" % (index, entry["mac"])))
        problems.sort(key=lambda p: p.index)
        return request, problems

    # -- validated / present ------------------------------------------------------------------

    def plan(self, client):
        """Validate against MAAS; fail on any problem; return the resolved addresses."""
        request, problems = self.local_problems()
        if problems:
            self.fail_problems(problems)
        result = ipaddr.validate_plan(request, ipaddr.fetch_index(client, request))
        for warning in result.warnings:
            self.module.warn(warning)
        if result.problems:
            self.fail_problems(result.problems)
        for entry, resolved in zip(self.entries, result.addresses):
            resolved["mac"] = normalize_mac(entry.get("mac")) if entry.get("mac") else None
        return result.addresses

    def validated(self, client):
        """state=validated: the resolved addresses, nothing changed."""
        addresses = self.plan(client)
        for item in addresses:
            item["state"] = {ipaddr.FREE: "free", ipaddr.OURS: "assigned" if (item["holder"] or {}).get("system_id")
                             else "reserved"}[item.pop("status")]
            item["action"] = "none"
            item.pop("mac")
        return False, addresses, None

    def present(self, client):
        """state=present: reserve what is free, fix our reservations that lack the host name or MAC."""
        addresses = self.plan(client)
        self.check_domains(client, addresses)
        mine = None
        for item in addresses:
            status = item.pop("status")
            holder = item["holder"]
            if status == ipaddr.FREE:
                item.update(state="reserved", action="reserve")
            elif holder.get("system_id"):
                item.update(state="assigned", action="none")
            else:
                item.update(state="reserved", action="none")
                if item["hostname"] and not holder["dns_names"]:
                    item["action"] = "re-reserve"
                    self.module.log("%s: reserved without DNS name, re-reserving for %s" % (item["address"], item["hostname"]))
                if item["mac"]:
                    if mine is None:
                        mine = my_reservations(client)
                    reservation = mine.get(ipaddr.packed(item["address"])) or {}
                    macs = [i.get("mac_address") for i in reservation.get("interface_set") or []]
                    if item["mac"] not in [normalize_mac(m) for m in macs if m]:
                        item["action"] = "re-reserve"
                        self.module.log("%s: reserved with MAC %s, re-reserving with %s" % (
                            item["address"], ", ".join(m for m in macs if m) or "none", item["mac"]))
        diff = self.diff(addresses)
        changed = any(item["action"] != "none" for item in addresses)
        if not self.module.check_mode:
            for item in addresses:
                self.apply(client, item, addresses)
        for item in addresses:
            item.pop("mac")
            item.pop("released", None)
        return changed, addresses, diff

    def check_domains(self, client, addresses):
        """Fail before any write when a host name names a DNS domain MAAS does not have."""
        wanted = [(n, item) for n, item in enumerate(addresses)
                  if item["hostname"] and item["status"] != ipaddr.OURS and ipaddr.split_hostname(item["hostname"])[1]]
        if not wanted:
            return
        domains = set(d.get("name") for d in client.list_domains())
        problems = []
        for index, item in wanted:
            domain = ipaddr.split_hostname(item["hostname"])[1]
            if domain not in domains:
                problems.append(ipaddr.Problem(
                    index, "addresses[%d]" % index, item["address"], "unknown-domain",
                    "addresses[%d]: hostname %s is in DNS domain %r, which MAAS does not have (domains: %s)" % (
                        index, item["hostname"], domain, ", ".join(sorted(domains)) or "none")))
        if problems:
            self.fail_problems(problems)

    def apply(self, client, item, addresses):
        """Reserve (or re-reserve) one address; fail naming what this run already changed."""
        if item["action"] == "none":
            return
        address = item["address"]
        try:
            if item["action"] == "re-reserve":
                client.release_ip(address)
                item["released"] = True
            data = {"ip": address, "hostname": item["hostname"], "mac": item["mac"]}
            item["reservation"] = client.post("ipaddresses/", data=data, op="reserve",
                                              verify=lambda: self.find_mine(client, address))
        except MaasError as exc:
            done = [a["address"] for a in addresses if a.get("reservation")]
            notes = []
            if item.get("released"):
                notes.append("its previous reservation was released")
            if done:
                notes.append("reserved by this run before: %s" % ", ".join(done))
            self.module.fail_json(
                "Reserving %s failed: %s%s" % (address, exc, " (%s)" % "; ".join(notes) if notes else ""),
                error=exc.to_dict(), changed=bool(done or item.get("released")), addresses=addresses)
        self.module.log("%s: reserved%s" % (address, " for %s" % item["hostname"] if item["hostname"] else ""))

    @staticmethod
    def find_mine(client, address):
        """The API user's reservation of ``address`` (to verify a reserve whose answer was lost), or None."""
        wanted = ipaddr.packed(address)
        found = [ip for ip in client.ip_addresses(ip=address) if ipaddr.packed(ip.get("ip") or "0.0.0.0") == wanted]
        return found[0] if found else None

    def diff(self, addresses):
        """Before/after of every address."""
        before, after = {}, {}
        for item in addresses:
            before[item["address"]] = describe_state(item["holder"])
            if item["action"] == "none":
                after[item["address"]] = before[item["address"]]
            else:
                after[item["address"]] = "reserved by you%s%s" % (
                    " for %s" % item["hostname"] if item["hostname"] else " (no DNS name)",
                    ", MAC %s" % item["mac"] if item["mac"] else "")
        return {"before": {"addresses": before}, "after": {"addresses": after}}

    # -- absent -------------------------------------------------------------------------------

    def absent(self, client):
        """state=absent: release the API user's reservations (with a host name, only those made for it)."""
        request, problems = self.local_problems()
        if problems:
            self.fail_problems(problems)
        scoped = [item for item in request.planned if item.hostname]
        mine = my_reservations(client) if len(scoped) < len(request.planned) else {}
        held = address_holders(client, scoped) if scoped else ipaddr.NetworkIndex()
        holders = dict((item.ip.packed, held.holder(item.ip)) for item in scoped)
        user = None
        if any(holder is not None and holder.is_reservation for holder in holders.values()):
            user = client.username()
        addresses = []
        before, after = {}, {}
        for item in request.planned:
            if item.hostname:
                entry = scoped_entry(item, holders.get(item.ip.packed), user)
            else:
                entry = unscoped_entry(item, mine.get(item.ip.packed))
            address = entry["address"]
            if item.hostname:
                before[address] = entry["holder"]["description"] if entry["holder"] else "free"
            else:
                before[address] = "reserved by %s" % entry["holder"]["user"] if entry["holder"] else "not reserved by you"
            after[address] = "free" if entry["action"] == "release" else before[address]
            if entry["action"] == "none":
                self.module.log("%s: %s, left alone: %s" % (address, entry["state"], entry["reason"]))
            addresses.append(entry)
        changed = any(a["action"] == "release" for a in addresses)
        if not self.module.check_mode:
            for entry in addresses:
                if entry["action"] == "release":
                    self.release(client, entry, addresses)
        for entry in addresses:
            entry.pop("released", None)
        return changed, addresses, {"before": {"addresses": before}, "after": {"addresses": after}}

    def release(self, client, entry, addresses):
        """Release one reservation; fail naming what this run already released."""
        try:
            client.release_ip(entry["holder"]["ip"])
        except MaasError as exc:
            done = [a["address"] for a in addresses if a.get("released")]
            self.module.fail_json("Releasing %s failed: %s%s" % (
                entry["address"], exc, " (already released by this run: %s)" % ", ".join(done) if done else ""),
                error=exc.to_dict(), changed=bool(done), addresses=addresses)
        entry["released"] = True
        self.module.log("%s: released (%s)" % (entry["address"], entry["reason"]))


def absent_entry(item, state, action, holder, reason):
    """One address of an ``absent`` result."""
    return {"address": str(item.ip), "version": item.ip.version, "hostname": item.hostname, "state": state,
            "action": action, "holder": holder, "reason": reason}


def unscoped_entry(item, reservation):
    """``absent`` without a host name: the API user's reservation (from ``GET /ipaddresses/``) is released."""
    if reservation is None:
        return absent_entry(item, "absent", "none", None, "not reserved by you")
    owner = (reservation.get("owner") or {}).get("username")
    holder = {"ip": reservation.get("ip"), "alloc_type": reservation.get("alloc_type"),
              "alloc_type_name": reservation.get("alloc_type_name"), "user": owner, "system_id": None, "hostname": None,
              "node_type_name": None, "dns_names": [], "description": "a reservation of user %s" % owner}
    return absent_entry(item, "released", "release", holder, "reserved by you")


def scoped_entry(item, holder, user):
    """``absent`` with a host name: released only when the API user reserved the address for that name alone."""
    if holder is None:
        return absent_entry(item, "absent", "none", None, "free (nothing in MAAS holds it)")
    host, domain = ipaddr.split_hostname(item.hostname)
    names = holder.dns_names
    described = holder.as_dict()
    text = described["description"]
    if holder.node:
        if ipaddr.is_ours(holder, item, user):
            return absent_entry(item, "assigned", "none", described, "%s: the machine's own address, not a reservation" % text)
        return absent_entry(item, "kept", "none", described, "%s, not a reservation of yours" % text)
    if not holder.is_reservation or not user or holder.user != user:
        return absent_entry(item, "kept", "none", described, "%s, not yours" % text)
    if not names:
        return absent_entry(item, "kept", "none", described, "%s, so it is not known to be %s's" % (text, item.hostname))
    for_host = [name == host and (domain is None or zone == domain) for name, zone in names]
    if all(for_host):
        return absent_entry(item, "released", "release", described, text)
    why = "not for %s alone" if any(for_host) else "not for %s"
    return absent_entry(item, "kept", "none", described, "%s, %s" % (text, why % item.hostname))


def address_holders(client, items):
    """An ``ipaddr.NetworkIndex`` of what MAAS allocated among ``items``' addresses (ask it ``holder(ip)``).

    One address: its subnet's ``op=ip_addresses`` found by MAAS (``subnets/ip:<address>/``).
    More: ``GET /subnets/`` and one ``op=ip_addresses`` per subnet they fall in. An address in no
    MAAS subnet is held by nothing.
    """
    if len(items) == 1:
        refs = ["ip:%s" % items[0].ip]
    else:
        index = ipaddr.NetworkIndex(client.list_subnets())
        refs = []
        for item in items:
            subnet = index.subnet_for(item.ip)
            if subnet is not None and str(subnet.id) not in refs:
                refs.append(str(subnet.id))
    held = ipaddr.NetworkIndex()
    for ref in refs:
        try:
            held.add_addresses(client.subnet_ip_addresses(ref))
        except MaasNotFound:
            continue  # no MAAS subnet holds the address
    return held


def main():
    """Entry point."""
    module = MaasModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["validated", "present", "absent"]),
            addresses=dict(type="list", elements="dict", required=True, options=ENTRY_OPTIONS),
            subnet=dict(type="str"),
            gateway=dict(type="str"),
            dns_servers=dict(type="list", elements="str"),
            hostname=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if not ipaddr.HAS_NETADDR:
        module.fail_json(missing_required_lib("netaddr"), exception=str(ipaddr.NETADDR_IMPORT_ERROR))
    run = StaticIP(module)
    state = module.params["state"]
    try:
        client = module.client()
        changed, addresses, diff = getattr(run, state)(client)
    except MaasError as exc:
        module.fail_from(exc)
    result = dict(changed=changed, addresses=addresses)
    if diff is not None and module.diff_mode:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
