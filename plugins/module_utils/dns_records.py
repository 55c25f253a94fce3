# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS records with A/AAAA addresses: the runner of ``maas_dns_record``.

``dns_record(context)`` creates, updates or deletes one MAAS DNS resource (``/dnsresources/``),
found with the ``fqdn`` filter. Input is checked before any request and the addresses the record
does not have yet before any write; a failure raises ``LxdcpError`` (``changed`` false unless the
run had already written).

MAAS turns an address it does not know into a reservation of the API user when a DNS record gets
it, and (before 3.6.1, or when the address is only removed from the record) leaves it behind:
after its write, the run releases those the API user holds that no DNS record and no interface
uses any more (``released``).
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils import ipaddr
from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasError, MaasNotFound
from ansible_collections.lxdcp.maas.plugins.module_utils.names import dns_name_message, valid_dns_name

TTL_MAX = (1 << 31) - 1
GUARD = "only_if_addresses_within"
ADDRESS_RRTYPES = ("A", "AAAA")


def dns_record(context):
    """``maas_dns_record``: the record after the run, what was there before, the action and the reservations."""
    ipaddr.check_netaddr()
    run = DnsRecord(context)
    run.check_input()
    client = context.client()
    result = getattr(run, context.params["state"])(client)
    diff = result.pop("diff")
    if context.diff_mode:
        result["diff"] = diff
    return result


class InputError(LxdcpError):
    """Bad input found before any request (nothing was changed)."""

    def __init__(self, message, **result):
        result.setdefault("changed", False)
        super(InputError, self).__init__(message, **result)


def record_fqdn(params):
    """The FQDN the options name; raises InputError when it is not a valid one."""
    if params.get("fqdn") is not None:
        fqdn = params["fqdn"].rstrip(".")
        if not valid_dns_name(fqdn) or "." not in fqdn:
            raise InputError(dns_name_message(params["fqdn"], "fqdn") + ", and it needs a name and a domain "
                             "(for example k8s-api.maas)")
        return fqdn
    name, domain = params.get("name"), params.get("domain")
    if name is None or domain is None:
        raise InputError("give fqdn, or name together with domain")
    if "." in name or not valid_dns_name(name):
        raise InputError(dns_name_message(name, "name") + " (one label: the domain goes in domain)")
    if not valid_dns_name(domain.rstrip(".")):
        raise InputError(dns_name_message(domain, "domain"))
    return "%s.%s" % (name, domain.rstrip("."))


def guard_addresses(values, option=GUARD):
    """The packed addresses of ``option``; raises InputError naming every one that is not an address."""
    allowed, bad = set(), []
    for index, value in enumerate(values):
        try:
            allowed.add(ipaddr.parse_address(value, "%s[%d]" % (option, index)).packed)
        except ipaddr.AddressError as exc:
            bad.append(exc.message)
    if bad:
        raise InputError("; ".join(bad))
    return allowed


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


def not_ours(record, allowed):
    """``(reason, foreign addresses)`` when ``only_if_addresses_within`` (``allowed``) keeps ``record``, else ``(None, [])``."""
    held = addresses_of(record)
    foreign = sorted((text for key, text in held.items() if key not in allowed), key=sort_key)
    if foreign:
        return "it holds %s, which %s not in %s" % (", ".join(foreign), "is" if len(foreign) == 1 else "are", GUARD), foreign
    other = ["%s %s" % (r.get("rrtype"), r.get("rrdata")) for r in record.get("resource_records") or []
             if r.get("rrtype") not in ADDRESS_RRTYPES]
    if other:
        return "it also holds %s, which %s cannot vouch for" % (", ".join(other), GUARD), []
    if not held:
        return "it holds no address, so %s cannot show that it is yours" % GUARD, []
    return None, []


class DnsRecord(object):
    """One run of ``maas_dns_record``: ``check_input``, then ``present`` or ``absent`` returns the result with ``diff``."""

    def __init__(self, context):
        self.context = context
        self.params = context.params
        self.check_mode = context.check_mode
        self.fqdn = None
        self.wanted = None
        self.request = None
        self.allowed = None
        self.gone = None  # state=absent with addresses: the addresses to take out of the record

    def check_input(self):
        """Everything that can be judged without MAAS."""
        params = self.params
        self.fqdn = record_fqdn(params)
        ttl = params.get("ttl")
        if ttl is not None and not 0 <= ttl <= TTL_MAX:
            raise InputError("ttl %d is out of range: MAAS accepts 0 to %d seconds" % (ttl, TTL_MAX))
        if params.get(GUARD) is not None:
            if params["state"] != "absent":
                raise InputError("%s only applies to state=absent (it decides whether a record may be deleted)" % GUARD)
            self.allowed = guard_addresses(params[GUARD])
        if params["state"] == "absent":
            if params.get("addresses") is not None:
                self.gone = guard_addresses(params["addresses"], "addresses")
            return
        if not params.get("addresses"):
            raise InputError("addresses must list at least one IP address for state=present")
        self.request = ipaddr.check_request(params["addresses"], ipaddr.DNS_TARGET)
        if self.request.problems:
            raise ipaddr.InvalidAddresses(self.request.problems)
        self.wanted = dict((item.ip.packed, str(item.ip)) for item in self.request.planned)

    # -- MAAS --------------------------------------------------------------------------------

    def find(self, client):
        """The record named by the options, or None; ``(record, domain_exists)``."""
        try:
            found = client.get("dnsresources/", params={"fqdn": self.fqdn}) or []
        except MaasNotFound:
            return None, False  # MAAS answers 404 when the domain of the FQDN does not exist
        matches = [r for r in found if r.get("id", -1) != -1 and (r.get("fqdn") or "").rstrip(".") == self.fqdn]
        if len(matches) > 1:
            raise LxdcpError("MAAS has %d DNS records named %s (ids %s); delete the extra ones" % (
                len(matches), self.fqdn, ", ".join(str(r["id"]) for r in matches)), changed=False)
        return (matches[0] if matches else None), True

    def validate_added(self, client, added):
        """Check the addresses the record does not have yet; return those MAAS would turn into reservations."""
        request = ipaddr.Request([item for item in self.request.planned if item.ip.packed in added], [], ipaddr.DNS_TARGET)
        result = ipaddr.validate_plan(request, ipaddr.fetch_index(client, request))
        if result.problems:
            raise ipaddr.InvalidAddresses(result.problems)
        for warning in result.warnings:
            self.context.warn(warning)
        return [a["address"] for a in result.addresses if a["status"] == ipaddr.FREE]

    def release_orphans(self, client, candidates, record_id, done):
        """After the write: release the candidates no DNS record uses any more; return them."""
        if not candidates:
            return []
        unused = orphans(self.context, client, candidates, record_id, after_write=True)
        released = []
        for address in unused:
            try:
                client.release_ip(address)
            except MaasError as exc:
                raise LxdcpError("Releasing the orphan reservation %s failed after %s: %s%s" % (
                    address, done, exc, " (released before: %s)" % ", ".join(released) if released else ""),
                    changed=True, error=exc.to_dict(), released=released)
            released.append(address)
            self.context.log("%s: released (no DNS record uses it any more)" % address)
        return released

    # -- states -------------------------------------------------------------------------------

    def present(self, client):
        """Create the record or bring its addresses and TTL to the wanted ones."""
        record, domain_exists = self.find(client)
        if not domain_exists:
            raise LxdcpError("DNS domain %r of %s does not exist in MAAS; create it first (MAAS > DNS) or use an existing "
                             "domain" % (self.fqdn.split(".", 1)[1], self.fqdn), changed=False)
        current = addresses_of(record)
        if record is not None:
            cnames = [r for r in record.get("resource_records") or [] if r.get("rrtype") == "CNAME"]
            if cnames:
                raise LxdcpError("DNS record %s (id %s) holds a CNAME (%s); MAAS cannot add addresses to it" % (
                    self.fqdn, record.get("id"), cnames[0].get("rrdata")), changed=False)
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
        self.context.log("%s %s: addresses %s%s" % (action, self.fqdn, " ".join(wanted_texts),
                                                    ", ttl %s" % ttl if ttl is not None else ""))
        candidates = orphan_candidates(record, removed)
        if self.check_mode:
            released = orphans(self.context, client, candidates, record.get("id"), after_write=False) if candidates else []
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
        released = self.release_orphans(client, candidates, record.get("id") if record else None, "updating %s" % self.fqdn)
        return dict(result, changed=True, action=action, record=view(answer, self.fqdn), released=released,
                    diff=self.diff(record, answer))

    def absent(self, client):
        """Delete the record (unless ``only_if_addresses_within`` keeps it), then release the reservations it leaves unused."""
        record = self.find(client)[0]
        if record is None:
            return dict(changed=False, action="none", record=None, before=None, kept=[], maas_reserved=[], released=[],
                        diff=self.diff(None, None))
        if self.gone is not None:
            held = addresses_of(record)
            if any(key not in self.gone for key in held):
                return self.take_out(client, record, held)
        if self.allowed is not None:
            reason, foreign = not_ours(record, self.allowed)
            if reason:
                self.context.warn("DNS record %s kept: %s" % (self.fqdn, reason))
                return dict(changed=False, action="none", record=view(record), before=view(record), kept=foreign,
                            reason=reason, maas_reserved=[], released=[], diff=self.diff(record, record))
        before = view(record)
        candidates = orphan_candidates(record, addresses_of(record))
        self.context.log("delete %s (id %s)" % (self.fqdn, record["id"]))
        if self.check_mode:
            released = orphans(self.context, client, candidates, record["id"], after_write=False) if candidates else []
            return dict(changed=True, action="delete", record=None, before=before, kept=[], maas_reserved=[],
                        released=released, diff=self.diff(record, None))
        try:
            client.delete("dnsresources/%s/" % record["id"])
        except MaasNotFound:
            self.context.log("%s was already deleted" % self.fqdn)
        released = self.release_orphans(client, candidates, record["id"], "deleting %s" % self.fqdn)
        return dict(changed=True, action="delete", record=None, before=before, kept=[], maas_reserved=[],
                    released=released, diff=self.diff(record, None))

    def take_out(self, client, record, held):
        """``state=absent`` with ``addresses`` on a record that keeps other addresses: remove just those (a PUT)."""
        removed = dict((key, text) for key, text in held.items() if key in self.gone)
        before = view(record)
        if not removed:
            return dict(changed=False, action="none", record=before, before=before, kept=[], maas_reserved=[], released=[],
                        diff=self.diff(record, record))
        left = sorted((text for key, text in held.items() if key not in self.gone), key=sort_key)
        planned = dict(record, ip_addresses=[{"ip": text} for text in left])
        candidates = orphan_candidates(record, removed)
        self.context.log("update %s: remove %s, keep %s" % (self.fqdn, " ".join(sorted(removed.values(), key=sort_key)),
                                                            " ".join(left)))
        if self.check_mode:
            released = orphans(self.context, client, candidates, record["id"], after_write=False) if candidates else []
            return dict(changed=True, action="update", record=view(planned), before=before, kept=[], maas_reserved=[],
                        released=released, diff=self.diff(record, planned))
        answer = client.put("dnsresources/%s/" % record["id"], data={"ip_addresses": " ".join(left)})
        answer = answer if isinstance(answer, dict) else self.find(client)[0]
        released = self.release_orphans(client, candidates, record["id"], "updating %s" % self.fqdn)
        return dict(changed=True, action="update", record=view(answer, self.fqdn), before=before, kept=[], maas_reserved=[],
                    released=released, diff=self.diff(record, answer))

    def diff(self, before, after):
        """FQDN, sorted addresses and TTL before and after."""
        def text(record):
            if record is None:
                return {}
            shown = view(record, self.fqdn)
            return {"fqdn": shown["fqdn"], "addresses": shown["addresses"], "ttl": shown["ttl"]}
        return {"before": text(before), "after": text(after)}


def orphan_candidates(record, gone):
    """Addresses of ``record`` in ``gone`` that may become orphan reservations: USER_RESERVED, on no interface."""
    found = []
    for item in (record or {}).get("ip_addresses") or []:
        if not isinstance(item, dict) or not item.get("ip") or ipaddr.packed(item["ip"]) not in gone:
            continue
        if item.get("alloc_type") == ipaddr.USER_RESERVED and not item.get("interface_set"):
            found.append(item)
    return found


def orphans(context, client, candidates, record_id, after_write):
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
            context.warn("%s was a reservation of this record with no MAAS subnet, so whether another DNS record "
                         "uses it cannot be checked; it was not released (release it with "
                         "lxdcp.maas.maas_static_ip state=absent if it is unused)" % item["ip"])
            continue
        by_subnet.setdefault(subnet_id, []).append(item)
    for subnet_id, items in sorted(by_subnet.items()):
        held = ipaddr.NetworkIndex()
        held.add_addresses(client.subnet_ip_addresses(subnet_id))
        for item in items:
            holder = held.holder_of(item["ip"])
            if holder is None:
                context.log("%s: MAAS deleted the reservation with the record" % item["ip"])
                continue
            if not holder.is_reservation:
                continue
            if holder.user != client.username():
                context.log("%s: a reservation of user %s, not ours, kept" % (item["ip"], holder.user))
                continue
            users = [r for r in holder.raw.get("dns_records") or [] if after_write or r.get("id") != record_id]
            if users:
                context.log("%s: still used by DNS record(s) %s, kept" % (
                    item["ip"], ", ".join("%s.%s" % (r.get("name"), r.get("domain")) for r in users)))
                continue
            result.append(item["ip"])
    return result
