# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address reservations of the API user: the runner of ``maas_static_ip`` and the reservation reads others share.

``static_ip(context)`` validates a plan of static addresses (``state=validated``), reserves them
(``present``, ``POST /ipaddresses/?op=reserve``) or releases the API user's reservations
(``absent``, ``op=release``). Every address is validated before anything is changed; a failure
raises ``LxdcpError`` whose result names what the run had already changed.

``my_reservations(client)`` is the one read of the API user's reservations (``GET /ipaddresses/``)
and ``normalize_mac`` the one MAC syntax rule.
"""

from __future__ import annotations

import re

from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr
from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasError, MaasNotFound
from ansible_collections.lxdcp.maas.plugins.module_utils.names import split_hostname

_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$", re.IGNORECASE)
# Per-address options that default to the module's top-level option of the same name.
ENTRY_DEFAULTS = ("subnet", "gateway", "dns_servers", "hostname")


def static_ip(context):
    """``maas_static_ip``: ``changed``, ``addresses`` and (in diff mode) ``diff`` of the task's ``state``."""
    ipaddr.check_netaddr()
    client = context.client()
    run = StaticIP(context)
    changed, addresses, diff = getattr(run, context.params["state"])(client)
    result = dict(changed=changed, addresses=addresses)
    if diff is not None and context.diff_mode:
        result["diff"] = diff
    return result


def normalize_mac(mac):
    """``52:54:00:12:34:56`` from any of the forms MAAS accepts, or None when ``mac`` is not a MAC address."""
    if not isinstance(mac, str) or not _MAC_RE.match(mac.strip()):
        return None
    digits = re.sub(r"[^0-9a-fA-F]", "", mac).lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def my_reservations(client, address=None):
    """The API user's reservations (``GET /ipaddresses/``, of ``address`` alone when given), keyed by packed address."""
    mine = {}
    for reservation in client.ip_addresses(ip=address):
        try:
            mine[ipaddr.packed(reservation.get("ip") or "")] = reservation
        except (OSError, ValueError):
            continue
    return mine


def find_mine(client, address):
    """The API user's reservation of ``address`` (to verify a reserve whose answer was lost), or None."""
    return my_reservations(client, address).get(ipaddr.packed(address))


def describe_state(holder):
    """A short text of who holds an address, for the diff."""
    if holder is None:
        return "free"
    names = holder.get("dns_names") or []
    if holder.get("system_id"):
        return "held by %s %s (%s)" % (holder.get("node_type_name") or "node", holder.get("hostname"), holder.get("system_id"))
    return "reserved by %s%s" % (holder.get("user"), " for " + ", ".join(names) if names else " (no DNS name)")


class StaticIP(object):
    """One run of ``maas_static_ip``: a method per ``state``, each returning ``(changed, addresses, diff)``."""

    def __init__(self, context):
        self.context = context
        self.params = context.params
        self.entries = self._entries()

    def _entries(self):
        """The addresses with the top-level defaults applied."""
        entries = []
        for entry in self.params["addresses"]:
            merged = dict((key, value) for key, value in entry.items() if value is not None)
            for key in ENTRY_DEFAULTS:
                if merged.get(key) is None and self.params.get(key) is not None:
                    merged[key] = self.params[key]
            entries.append(merged)
        return entries

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

    def checked_request(self):
        """The request, once nothing is wrong with it that can be judged without MAAS."""
        request, problems = self.local_problems()
        if problems:
            raise ipaddr.InvalidAddresses(problems)
        return request

    # -- validated / present ------------------------------------------------------------------

    def plan(self, client):
        """Validate against MAAS; raise on any problem; return the resolved addresses."""
        request = self.checked_request()
        result = ipaddr.validate_plan(request, ipaddr.fetch_index(client, request))
        for warning in result.warnings:
            self.context.warn(warning)
        if result.problems:
            raise ipaddr.InvalidAddresses(result.problems)
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
                    self.context.log("%s: reserved without DNS name, re-reserving for %s" % (item["address"], item["hostname"]))
                if item["mac"]:
                    if mine is None:
                        mine = my_reservations(client)
                    reservation = mine.get(ipaddr.packed(item["address"])) or {}
                    macs = [i.get("mac_address") for i in reservation.get("interface_set") or []]
                    if item["mac"] not in [normalize_mac(m) for m in macs if m]:
                        item["action"] = "re-reserve"
                        self.context.log("%s: reserved with MAC %s, re-reserving with %s" % (
                            item["address"], ", ".join(m for m in macs if m) or "none", item["mac"]))
        diff = self.diff(addresses)
        changed = any(item["action"] != "none" for item in addresses)
        if not self.context.check_mode:
            for item in addresses:
                self.apply(client, item, addresses)
        for item in addresses:
            item.pop("mac")
            item.pop("released", None)
        return changed, addresses, diff

    def check_domains(self, client, addresses):
        """Raise before any write when a host name names a DNS domain MAAS does not have."""
        wanted = [(n, item) for n, item in enumerate(addresses)
                  if item["hostname"] and item["status"] != ipaddr.OURS and split_hostname(item["hostname"])[1]]
        if not wanted:
            return
        domains = set(d.get("name") for d in client.list_domains())
        problems = []
        for index, item in wanted:
            domain = split_hostname(item["hostname"])[1]
            if domain not in domains:
                problems.append(ipaddr.Problem(
                    index, "addresses[%d]" % index, item["address"], "unknown-domain",
                    "addresses[%d]: hostname %s is in DNS domain %r, which MAAS does not have (domains: %s)" % (
                        index, item["hostname"], domain, ", ".join(sorted(domains)) or "none")))
        if problems:
            raise ipaddr.InvalidAddresses(problems)

    def apply(self, client, item, addresses):
        """Reserve (or re-reserve) one address; raise naming what this run already changed."""
        if item["action"] == "none":
            return
        address = item["address"]
        try:
            if item["action"] == "re-reserve":
                client.release_ip(address)
                item["released"] = True
            data = {"ip": address, "hostname": item["hostname"], "mac": item["mac"]}
            item["reservation"] = client.post("ipaddresses/", data=data, op="reserve",
                                              verify=lambda: find_mine(client, address))
        except MaasError as exc:
            done = [a["address"] for a in addresses if a.get("reservation")]
            notes = []
            if item.get("released"):
                notes.append("its previous reservation was released")
            if done:
                notes.append("reserved by this run before: %s" % ", ".join(done))
            raise LxdcpError("Reserving %s failed: %s%s" % (address, exc, " (%s)" % "; ".join(notes) if notes else ""),
                             error=exc.to_dict(), changed=bool(done or item.get("released")), addresses=addresses)
        self.context.log("%s: reserved%s" % (address, " for %s" % item["hostname"] if item["hostname"] else ""))

    @staticmethod
    def diff(addresses):
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
        request = self.checked_request()
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
                self.context.log("%s: %s, left alone: %s" % (address, entry["state"], entry["reason"]))
            addresses.append(entry)
        changed = any(a["action"] == "release" for a in addresses)
        if not self.context.check_mode:
            for entry in addresses:
                if entry["action"] == "release":
                    self.release(client, entry, addresses)
        for entry in addresses:
            entry.pop("released", None)
        return changed, addresses, {"before": {"addresses": before}, "after": {"addresses": after}}

    def release(self, client, entry, addresses):
        """Release one reservation; raise naming what this run already released."""
        try:
            client.release_ip(entry["holder"]["ip"])
        except MaasError as exc:
            done = [a["address"] for a in addresses if a.get("released")]
            raise LxdcpError("Releasing %s failed: %s%s" % (
                entry["address"], exc, " (already released by this run: %s)" % ", ".join(done) if done else ""),
                error=exc.to_dict(), changed=bool(done), addresses=addresses)
        entry["released"] = True
        self.context.log("%s: released (%s)" % (entry["address"], entry["reason"]))


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
    for_host = [ipaddr.is_name_of(name, item.hostname) for name in names]
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
