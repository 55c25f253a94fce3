# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IP validator of lxdcp.maas: static addresses planned for MAAS subnets.

Used by ``maas_static_ip``, ``maas_dns_record``, ``maas_lxd_vm`` and the roles. Three layers:

1. ``check_request(entries, rules)``: what can be judged without MAAS (syntax of addresses,
   CIDRs, gateways, DNS servers and host names; special addresses; network/broadcast
   addresses of a subnet given as a CIDR; duplicates within the request). No request is sent.
2. ``NetworkIndex`` + ``validate_plan(request, index)``: pure functions over data read from
   MAAS (subnets, IP ranges, the addresses of the subnets concerned). The index is built once
   (a dict of used addresses keyed by packed address, a per-prefix-length dict of subnets and
   sorted integer intervals for ranges), then each planned address costs O(1) + O(log n).
3. ``fetch_index(client, request)`` / ``check_with_maas(client, entries, rules)``: the reads, with
   the fewest calls that give exact answers: ``GET /subnets/``, ``GET /ipranges/`` (every
   dynamic and reserved range, with owner and comment, in one call), one
   ``GET /subnets/{id}/?op=ip_addresses`` per subnet the plan touches (each allocated address
   with its node, user and DNS records), and ``GET /users/?op=whoami`` only when a planned
   address turns out to be a user reservation (to tell ours from someone else's).

An entry is a mapping with ``address`` and optionally ``subnet`` (CIDR, id or name),
``gateway``, ``dns_servers``, ``hostname`` (the machine or DNS name the address is for) and
``system_id``. Every problem is a ``Problem`` naming the entry, the address and the rule
(``rule`` is one of the constants below) in a complete sentence.

"Ours": an address held by a machine or device with the entry's ``system_id`` or host name,
or reserved (USER_RESERVED) by the API user with no DNS name or with the entry's host name,
is not a conflict, so that re-runs are idempotent.
"""

from __future__ import annotations

import bisect
import re
import socket

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.names import dns_name_error, split_hostname, valid_dns_name

try:
    from netaddr import AddrFormatError, IPAddress, IPNetwork
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test's import sanity test
    AddrFormatError = ValueError
    IPAddress = IPNetwork = None
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = exc


# Rules (``Problem.rule``).
MALFORMED = "malformed"
SPECIAL_ADDRESS = "special-address"
BAD_SUBNET = "bad-subnet"
UNKNOWN_SUBNET = "unknown-subnet"
NO_SUBNET = "no-subnet"
OUTSIDE_SUBNET = "outside-subnet"
NETWORK_ADDRESS = "network-address"
BROADCAST_ADDRESS = "broadcast-address"
ANYCAST_ADDRESS = "subnet-router-anycast"
GATEWAY_ADDRESS = "gateway-address"
DNS_SERVER_ADDRESS = "dns-server-address"
DYNAMIC_RANGE = "dynamic-range"
RESERVED_RANGE = "reserved-range"
IN_USE = "in-use"
DUPLICATE = "duplicate"
BAD_GATEWAY = "bad-gateway"
BAD_DNS_SERVER = "bad-dns-server"
# MAAS configures a machine's gateway and DNS servers from its subnets (docs/static-ips.md, "Gateway and DNS
# servers per machine"): a value the subnet does not carry cannot be applied per machine.
GATEWAY_NOT_SUBNETS = "gateway-not-subnets"
DNS_SERVER_NOT_SUBNETS = "dns-server-not-subnets"
BAD_HOSTNAME = "bad-hostname"

# Status of a planned address that passed validation.
FREE = "free"          # nothing in MAAS holds it
OURS = "ours"          # held by the entry's machine, or reserved by the API user for it
IN_USE_OK = "in-use"   # held by something else, which the rules allow (DNS targets)

# StaticIPAddress.alloc_type (maascommon/enums/ipaddress.py) and Node.node_type (enums/node.py).
AUTO, STICKY, USER_RESERVED, DHCP, DISCOVERED = 0, 1, 4, 5, 6
ALLOC_TYPE_NAMES = {AUTO: "automatic", STICKY: "sticky (static)", USER_RESERVED: "user reserved",
                    DHCP: "DHCP", DISCOVERED: "discovered"}
NODE_TYPE_NAMES = {0: "machine", 1: "device", 2: "rack controller", 3: "region controller",
                   4: "region and rack controller"}


def with_article(phrase):
    """``an automatic``, ``an alloc_type 2``, ``a sticky (static)``, ``a user reserved``, ``a DHCP``.

    "an" before a vowel letter, except a "u" said "you" (every phrase here that starts with "u" is
    "user ..."); acronyms here start with a consonant sound ("DHCP").
    """
    first = phrase[:1].lower()
    return ("an " if first in "aeio" and first else "a ") + phrase


_LIST_LIMIT = 8


class Problem(object):
    """One thing wrong with a requested address: which entry, which rule, and a complete message."""

    __slots__ = ("index", "label", "address", "rule", "message")

    def __init__(self, index, label, address, rule, message):
        self.index = index
        self.label = label
        self.address = address
        self.rule = rule
        self.message = message

    def __repr__(self):
        return "Problem(%r, %r)" % (self.rule, self.message)

    def as_dict(self):
        """JSON-safe form for module results."""
        return {"index": self.index, "address": self.address, "rule": self.rule, "message": self.message}


class InvalidAddresses(LxdcpError):
    """A task fails on its addresses before changing anything: the message lists every ``Problem``, the result carries them."""

    def __init__(self, problems):
        super(InvalidAddresses, self).__init__(summarize(problems), problems=[p.as_dict() for p in problems], changed=False)


class AddressError(ValueError):
    """A value that is not what it should be; ``rule`` says which rule it breaks."""

    def __init__(self, rule, message):
        super(AddressError, self).__init__(message)
        self.rule = rule
        self.message = message


class Rules(object):
    """What a kind of use tolerates.

    ``allow_in_use``: an address MAAS already knows is fine (a DNS record just points to it).
    ``allow_reserved_range``: an address inside a reserved IP range is fine (such ranges are
    meant for hosts outside MAAS, like a load balancer's virtual IP). ``allow_outside_subnets``:
    an address in no MAAS subnet is fine (an external endpoint).
    """

    def __init__(self, name, allow_in_use=False, allow_reserved_range=False, allow_outside_subnets=False):
        self.name = name
        self.allow_in_use = allow_in_use
        self.allow_reserved_range = allow_reserved_range
        self.allow_outside_subnets = allow_outside_subnets

    def __repr__(self):
        return "Rules(%r)" % self.name


# A static address for a reservation or a VM: must be free (or ours), in a MAAS subnet, outside ranges.
RESERVE = Rules("reserve")
# A target of a DNS record: any address MAAS knows, or a free one that is safe to reserve.
DNS_TARGET = Rules("dns-target", allow_in_use=True, allow_reserved_range=True, allow_outside_subnets=True)


# --------------------------------------------------------------------------------------------
# Single values (no MAAS)


def _require_netaddr():
    if not HAS_NETADDR:
        raise ImportError("the Python library 'netaddr' is required: %s" % NETADDR_IMPORT_ERROR)


def check_netaddr():
    """Raise LxdcpError with Ansible's missing-library message when netaddr is not installed (a module's first step)."""
    if not HAS_NETADDR:
        raise LxdcpError(missing_required_lib("netaddr"), exception=str(NETADDR_IMPORT_ERROR))


def parse_address(value, what="address"):
    """Return ``value`` as a netaddr ``IPAddress``; raise AddressError(MALFORMED) with the reason.

    Only the plain textual forms are accepted (dotted quad without leading zeros, RFC 4291
    IPv6): no prefix length, no zone index, no surrounding spaces.
    """
    _require_netaddr()
    if not isinstance(value, str) or not value:
        raise AddressError(MALFORMED, "%s %r is not an IP address (expected a string such as 10.10.0.20 or 2001:db8::20)"
                           % (what, value))
    if value != value.strip():
        raise AddressError(MALFORMED, "%s %r has surrounding whitespace" % (what, value))
    if "/" in value:
        raise AddressError(MALFORMED, "%s %r has a prefix length; give the address alone (%s) and the subnet separately"
                           % (what, value, value.split("/", 1)[0]))
    if "%" in value:
        raise AddressError(MALFORMED, "%s %r has an IPv6 zone index, which a static address cannot have" % (what, value))
    try:
        return IPAddress(value)
    except (AddrFormatError, ValueError, TypeError):
        pass
    if ":" in value:
        kind = "IPv6 address"
    elif re.match(r"^[0-9.]+$", value):
        kind = "IPv4 address (four numbers 0-255 without leading zeros, separated by dots)"
    else:
        kind = "IP address"
    raise AddressError(MALFORMED, "%s %r is not a valid %s" % (what, value, kind))


def parse_network(value, what="subnet"):
    """Return a CIDR as a netaddr ``IPNetwork``; raise AddressError(BAD_SUBNET) unless it is ``network/prefix``."""
    _require_netaddr()
    if not isinstance(value, str) or "/" not in value:
        raise AddressError(BAD_SUBNET, "%s %r is not a CIDR (expected network/prefix, for example 10.10.0.0/24)"
                           % (what, value))
    try:
        network = IPNetwork(value)
    except (AddrFormatError, ValueError, TypeError):
        raise AddressError(BAD_SUBNET, "%s %r is not a valid CIDR (expected network/prefix, for example 10.10.0.0/24)"
                           % (what, value))
    if network.ip != network.network:
        raise AddressError(BAD_SUBNET, "%s %r has host bits set; the network is %s" % (what, value, network.cidr))
    return network


def cidr_reference(value):
    """The CIDR a subnet reference gives (``10.10.0.0/24`` or MAAS's ``cidr:10.10.0.0/24``), or None for an id or name."""
    if not isinstance(value, str) or "/" not in value or value.startswith(("name:", "id:")):
        return None
    return value[len("cidr:"):] if value.startswith("cidr:") else value


def special_address_reason(ip):
    """Why ``ip`` can never be a host's static address (unspecified, loopback, multicast...), or None."""
    if ip.version == 4:
        value = int(ip)
        if value == 0:
            return "the unspecified address"
        if value == 0xFFFFFFFF:
            return "the IPv4 limited broadcast address"
        if value >> 24 == 127:
            return "a loopback address (127.0.0.0/8)"
        if value >> 28 == 0xE:
            return "a multicast address (224.0.0.0/4)"
        if value >> 28 == 0xF:
            return "a reserved address (240.0.0.0/4)"
        return None
    value = int(ip)
    if value == 0:
        return "the unspecified address (::)"
    if value == 1:
        return "the loopback address (::1)"
    if value >> 120 == 0xFF:
        return "a multicast address (ff00::/8)"
    return None


def network_role(ip, network):
    """``(rule, text)`` when ``ip`` is the network, broadcast or subnet-router anycast address of ``network``.

    IPv4 /31 and /32 and IPv6 /127 and /128 have no such addresses (RFC 3021, RFC 6164).
    """
    if ip.version != network.version:
        return None
    value = int(ip)
    if network.version == 4:
        if network.prefixlen >= 31:
            return None
        if value == network.first:
            return NETWORK_ADDRESS, "the network address of %s" % network.cidr
        if value == network.last:
            return BROADCAST_ADDRESS, "the broadcast address of %s" % network.cidr
        return None
    if network.prefixlen < 127 and value == network.first:
        return ANYCAST_ADDRESS, "the subnet-router anycast address of %s (RFC 4291 2.6.1)" % network.cidr
    return None


def check_in_network(ip, network, text, what="address"):
    """Raise AddressError when ``ip`` is outside ``network`` or one of its unusable addresses."""
    if ip.version != network.version:
        raise AddressError(OUTSIDE_SUBNET, "%s %s is IPv%d but subnet %s is IPv%d" % (
            what, text, ip.version, network.cidr, network.version))
    if ip not in network:
        raise AddressError(OUTSIDE_SUBNET, "%s %s is outside subnet %s (%s)" % (
            what, text, network.cidr, usable_span(network)))
    role = network_role(ip, network)
    if role is not None:
        raise AddressError(role[0], "%s %s is %s, which no host may use" % (what, text, role[1]))


def usable_span(network):
    """``usable 10.10.0.1 - 10.10.0.254`` for messages."""
    first, last = network.first, network.last
    if network.version == 4 and network.prefixlen < 31:
        first, last = first + 1, last - 1
    elif network.version == 6 and network.prefixlen < 127:
        first += 1
    return "usable %s - %s" % (IPAddress(first, network.version), IPAddress(last, network.version))


def check_gateway(value, network=None, what="gateway"):
    """Parse a gateway; with ``network``, it must be a usable address of it. Raises AddressError(BAD_GATEWAY)."""
    try:
        ip = parse_address(value, what)
        reason = special_address_reason(ip)
        if reason:
            raise AddressError(BAD_GATEWAY, "%s %s is %s" % (what, value, reason))
        if network is not None:
            check_in_network(ip, network, value, what)
    except AddressError as exc:
        raise AddressError(BAD_GATEWAY, exc.message)
    return ip


def check_dns_server(value, what="DNS server"):
    """Parse a DNS server address (any version; loopback allowed for local resolvers). Raises AddressError(BAD_DNS_SERVER)."""
    try:
        ip = parse_address(value, what)
    except AddressError as exc:
        raise AddressError(BAD_DNS_SERVER, exc.message)
    if int(ip) == 0 or (ip.version == 4 and int(ip) == 0xFFFFFFFF) or ip.is_multicast():
        raise AddressError(BAD_DNS_SERVER, "%s %s is %s, which cannot answer DNS queries" % (
            what, value, special_address_reason(ip)))
    return ip


def packed(ip_text):
    """The packed bytes of an address as MAAS renders it (4 bytes IPv4, 16 IPv6): the key of used addresses."""
    family = socket.AF_INET6 if ":" in ip_text else socket.AF_INET
    return socket.inet_pton(family, ip_text)


# --------------------------------------------------------------------------------------------
# The request (no MAAS)


class Planned(object):
    """One parsed entry of a request."""

    __slots__ = ("index", "label", "text", "ip", "subnet", "network", "gateway", "gateway_text", "dns_servers",
                 "hostname", "system_id", "entry")

    def __init__(self, index, label, text, entry):
        self.index = index
        self.label = label
        self.text = text
        self.ip = None
        self.subnet = entry.get("subnet")
        self.network = None
        self.gateway = None
        self.gateway_text = entry.get("gateway")
        self.dns_servers = list(entry.get("dns_servers") or [])
        self.hostname = entry.get("hostname")
        self.system_id = entry.get("system_id")
        self.entry = entry


class Request(object):
    """The outcome of ``check_request``: parsed entries, problems found without MAAS, and the rules."""

    def __init__(self, planned, problems, rules):
        self.planned = planned
        self.problems = problems
        self.rules = rules

    @property
    def valid(self):
        """Entries whose address parsed (problems of other entries do not hide these)."""
        return [p for p in self.planned if p.ip is not None]


def check_request(entries, rules=RESERVE, what="addresses"):
    """Parse and check ``entries`` (mappings, see the module docstring) without MAAS.

    Returns a ``Request``; its ``problems`` cover syntax, special addresses, subnets given as
    CIDRs (membership, network/broadcast/anycast), gateways, DNS servers, host names and
    duplicates within the request.
    """
    _require_netaddr()
    planned = []
    problems = []
    seen = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"address": entry}
        label = "%s[%d]" % (what, index)
        text = entry.get("address")
        item = Planned(index, label, text, entry)
        planned.append(item)

        def report(rule, message, item=item):
            problems.append(Problem(item.index, item.label, item.text, rule, "%s: %s" % (item.label, message)))

        try:
            ip = parse_address(text)
        except AddressError as exc:
            report(exc.rule, exc.message)
            continue
        reason = special_address_reason(ip)
        if reason is not None:
            report(SPECIAL_ADDRESS, "address %s is %s, which cannot be a host's address" % (text, reason))
            continue
        key = ip.packed
        if key in seen:
            first = seen[key]
            report(DUPLICATE, "address %s is requested more than once (also %s%s)" % (
                ip, first.label, "" if first.text == text else " as %s" % first.text))
            continue
        seen[key] = item
        item.ip = ip

        if item.subnet is not None and not isinstance(item.subnet, (str, int)):
            report(BAD_SUBNET, "subnet %r must be a CIDR, a MAAS subnet id or a name" % (item.subnet,))
        elif cidr_reference(item.subnet) is not None:
            try:
                item.network = parse_network(cidr_reference(item.subnet))
                check_in_network(ip, item.network, text)
            except AddressError as exc:
                report(exc.rule, exc.message)

        if item.gateway_text is not None:
            try:
                item.gateway = check_gateway(item.gateway_text, item.network)
            except AddressError as exc:
                report(exc.rule, exc.message)
            else:
                if item.gateway == ip:
                    report(BAD_GATEWAY, "gateway %s is the address itself" % item.gateway_text)

        for position, server in enumerate(item.dns_servers):
            try:
                check_dns_server(server, "dns_servers[%d]" % position)
            except AddressError as exc:
                report(exc.rule, exc.message)

        if item.hostname is not None and not valid_dns_name(item.hostname):
            report(BAD_HOSTNAME, dns_name_error(item.hostname))
    return Request(planned, problems, rules)


# --------------------------------------------------------------------------------------------
# What MAAS knows


class Subnet(object):
    """A MAAS subnet (from ``GET /subnets/``) with its parsed network."""

    __slots__ = ("id", "name", "cidr", "network", "gateway", "dns_servers", "raw")

    def __init__(self, raw):
        self.raw = raw
        self.id = raw.get("id")
        self.name = raw.get("name")
        self.network = IPNetwork(raw["cidr"]).cidr
        self.cidr = str(self.network)
        self.gateway = raw.get("gateway_ip") or None
        self.dns_servers = list(raw.get("dns_servers") or [])

    def label(self):
        """``10.10.0.0/24`` or ``10.10.0.0/24 (name "lab", id 1)``."""
        if self.name and self.name != self.cidr:
            return "%s (name %r, id %s)" % (self.cidr, self.name, self.id)
        return "%s (id %s)" % (self.cidr, self.id)

    def as_dict(self):
        """The subnet as modules return it."""
        vlan = self.raw.get("vlan") or {}
        return {
            "id": self.id,
            "name": self.name,
            "cidr": self.cidr,
            "gateway_ip": self.gateway,
            "dns_servers": list(self.dns_servers),
            "vlan": {"id": vlan.get("id"), "vid": vlan.get("vid"), "name": vlan.get("name"), "fabric": vlan.get("fabric")},
            "space": self.raw.get("space"),
            "managed": self.raw.get("managed"),
        }


class IPRangeInfo(object):
    """A MAAS IP range (``GET /ipranges/``): dynamic (DHCP) or reserved."""

    __slots__ = ("first", "last", "raw")

    def __init__(self, raw, first, last):
        self.raw = raw
        self.first = first
        self.last = last

    @property
    def type(self):
        """``dynamic`` or ``reserved``."""
        return self.raw.get("type")

    def describe(self):
        """``the reserved range 10.10.0.230-10.10.0.250 (owner admin, comment "VIPs")``."""
        details = []
        owner = (self.raw.get("user") or {}).get("username")
        if owner:
            details.append("owner %s" % owner)
        if self.raw.get("comment"):
            details.append("comment %r" % self.raw["comment"])
        kind = "dynamic (DHCP)" if self.type == "dynamic" else (self.type or "unknown")
        text = "the %s range %s-%s" % (kind, self.raw.get("start_ip"), self.raw.get("end_ip"))
        if self.raw.get("id") is not None:
            details.insert(0, "id %s" % self.raw["id"])
        return text + (" (%s)" % ", ".join(details) if details else "")

    def as_dict(self):
        """The range as modules return it."""
        return {"id": self.raw.get("id"), "type": self.type, "start_ip": self.raw.get("start_ip"),
                "end_ip": self.raw.get("end_ip"), "comment": self.raw.get("comment"),
                "owner": (self.raw.get("user") or {}).get("username")}


class Holder(object):
    """Who holds an address, from one ``op=ip_addresses`` record (node summary, user, DNS records, BMCs)."""

    __slots__ = ("raw",)

    def __init__(self, raw):
        self.raw = raw

    @property
    def ip(self):
        """The address as MAAS renders it."""
        return self.raw.get("ip")

    @property
    def alloc_type(self):
        """StaticIPAddress alloc_type code."""
        return self.raw.get("alloc_type")

    @property
    def user(self):
        """The user of the address (a reservation's owner, or the node's owner)."""
        return self.raw.get("user")

    @property
    def node(self):
        """``node_summary`` (system_id, hostname, fqdn, node_type, via) or an empty dict."""
        return self.raw.get("node_summary") or {}

    @property
    def dns_names(self):
        """``[("cp-1", "maas"), ...]``: DNS records (resources) pointing at this address."""
        return [(r.get("name"), r.get("domain")) for r in self.raw.get("dns_records") or []]

    @property
    def is_reservation(self):
        """A USER_RESERVED address with no node (``ipaddresses op=reserve`` or a DNS record)."""
        return self.alloc_type == USER_RESERVED and not self.node

    def describe(self):
        """A phrase naming who holds the address, for messages."""
        node = self.node
        alloc = ALLOC_TYPE_NAMES.get(self.alloc_type, "alloc_type %s" % self.alloc_type)
        if node:
            kind = NODE_TYPE_NAMES.get(node.get("node_type"), "node")
            parts = ["system_id %s" % node.get("system_id")]
            if self.user:
                parts.append("owner %s" % self.user)
            text = "%s %s (%s)" % (kind, node.get("hostname") or node.get("fqdn"), ", ".join(parts))
            if node.get("via"):
                text += " on %s" % node["via"]
            return text + " as %s address" % with_article(alloc)
        for bmc in self.raw.get("bmcs") or []:
            machines = ", ".join("%s (%s)" % (n.get("hostname"), n.get("system_id")) for n in bmc.get("nodes") or [])
            return "the BMC (power type %s) of %s" % (bmc.get("power_type"), machines or "no machine")
        names = ", ".join("%s.%s" % name for name in self.dns_names)
        if self.alloc_type == USER_RESERVED:
            text = "a reservation of user %s" % (self.user or "(unknown)")
            return text + (" for DNS name %s" % names if names else " (no DNS name)")
        if self.alloc_type == DISCOVERED:
            return "a host MAAS discovered on the network (observed address%s)" % (", DNS name %s" % names if names else "")
        return "%s address%s%s" % (with_article(alloc), " of user %s" % self.user if self.user else "",
                                   " for DNS name %s" % names if names else "")

    def as_dict(self):
        """The holder as modules return it."""
        node = self.node
        return {
            "ip": self.ip,
            "alloc_type": self.alloc_type,
            "alloc_type_name": ALLOC_TYPE_NAMES.get(self.alloc_type),
            "user": self.user,
            "system_id": node.get("system_id"),
            "hostname": node.get("hostname"),
            "node_type_name": NODE_TYPE_NAMES.get(node.get("node_type")) if node else None,
            "dns_names": ["%s.%s" % name for name in self.dns_names],
            "description": self.describe(),
        }


class NetworkIndex(object):
    """Subnets, ranges and used addresses, indexed once for fast lookups.

    ``subnets``: ``GET /subnets/`` objects; ``ipranges``: ``GET /ipranges/`` objects;
    ``add_addresses(records)`` adds one subnet's ``op=ip_addresses`` answer;
    ``user``: the API user's name (reservations of this user can be "ours").
    """

    def __init__(self, subnets=(), ipranges=(), user=None):
        _require_netaddr()
        self.user = user
        self.subnets = [Subnet(raw) for raw in subnets if raw.get("cidr")]
        self._by_id = {}
        self._by_cidr = {}
        self._by_name = {}
        self._by_prefix = {}
        for subnet in self.subnets:
            self._by_id[str(subnet.id)] = subnet
            self._by_cidr[subnet.cidr] = subnet
            if subnet.name:
                self._by_name.setdefault(subnet.name, subnet)
            net = subnet.network
            self._by_prefix.setdefault((net.version, net.prefixlen), {})[net.first] = subnet
        # Longest prefix first (MAAS forbids overlapping subnets, this keeps nested data right anyway).
        self._prefixes = sorted(self._by_prefix, key=lambda key: -key[1])
        self._ranges = {4: [], 6: []}
        for raw in ipranges:
            try:
                first, last = IPAddress(raw["start_ip"]), IPAddress(raw["end_ip"])
            except (AddrFormatError, ValueError, TypeError, KeyError):
                continue
            self._ranges[first.version].append(IPRangeInfo(raw, int(first), int(last)))
        self._range_starts = {}
        self._range_reach = {}
        for version, ranges in self._ranges.items():
            ranges.sort(key=lambda r: (r.first, r.last))
            self._range_starts[version] = [r.first for r in ranges]
            reach, top = [], -1
            for item in ranges:
                top = max(top, item.last)
                reach.append(top)
            self._range_reach[version] = reach
        self._used = {}

    def add_addresses(self, records):
        """Index one subnet's allocated addresses (``op=ip_addresses`` records)."""
        used = self._used
        for record in records or ():
            text = record.get("ip")
            if not text:
                continue
            try:
                used[packed(text)] = record
            except (OSError, ValueError):
                continue

    def find_subnet(self, spec):
        """The subnet a reference names: an id, a CIDR, a name, or MAAS's ``id:``/``cidr:``/``name:`` specifiers."""
        if isinstance(spec, int):
            return self._by_id.get(str(spec))
        if not isinstance(spec, str):
            return None
        text = spec.strip()
        for prefix, table in (("id:", self._by_id), ("name:", self._by_name)):
            if text.startswith(prefix):
                return table.get(text[len(prefix):])
        cidr = cidr_reference(text)
        if cidr is not None:
            try:
                return self._by_cidr.get(str(IPNetwork(cidr).cidr))
            except (AddrFormatError, ValueError, TypeError):
                return None
        if text.isdigit() and text in self._by_id:
            return self._by_id[text]
        return self._by_name.get(text)

    def subnet_for(self, ip):
        """The most specific subnet containing ``ip`` (like MAAS's ``get_best_subnet_for_ip``), or None."""
        value = int(ip)
        version = ip.version
        width = 32 if version == 4 else 128
        for key in self._prefixes:
            if key[0] != version:
                continue
            host_bits = width - key[1]
            subnet = self._by_prefix[key].get((value >> host_bits) << host_bits)
            if subnet is not None:
                return subnet
        return None

    def range_for(self, ip):
        """The dynamic or reserved range containing ``ip``, or None (O(log n) for MAAS's disjoint ranges)."""
        version = ip.version
        ranges = self._ranges[version]
        value = int(ip)
        position = bisect.bisect_right(self._range_starts[version], value) - 1
        reach = self._range_reach[version]
        while position >= 0 and reach[position] >= value:
            if ranges[position].last >= value:
                return ranges[position]
            position -= 1
        return None

    def holder(self, ip):
        """Who holds ``ip`` (a ``Holder``), or None when MAAS has no allocation for it in the loaded subnets."""
        record = self._used.get(ip.packed)
        return Holder(record) if record is not None else None

    def holder_of(self, text):
        """``holder`` of an address given as MAAS renders it."""
        record = self._used.get(packed(text))
        return Holder(record) if record is not None else None

    def subnet_list(self, limit=_LIST_LIMIT):
        """``10.10.0.0/24 (id 1), ...`` for messages."""
        names = [s.label() for s in self.subnets[:limit]]
        if len(self.subnets) > limit:
            names.append("and %d more" % (len(self.subnets) - limit))
        return ", ".join(names) if names else "none"

    def subnet_of(self, item):
        """The subnet of a planned entry: the one it names, else the one containing its address."""
        if item.subnet is not None:
            return self.find_subnet(item.subnet)
        return self.subnet_for(item.ip) if item.ip is not None else None


def is_ours(holder, item, user):
    """Whether ``holder`` is the entry's own machine, or the API user's reservation meant for it."""
    node = holder.node
    host = split_hostname(item.hostname)[0] if item.hostname else None
    if node:
        if item.system_id and node.get("system_id") == item.system_id:
            return True
        if host and (node.get("hostname") == host or (node.get("fqdn") or "").rstrip(".") == item.hostname.rstrip(".")):
            return True
        return False
    if holder.alloc_type != USER_RESERVED or not user or holder.user != user:
        return False
    names = holder.dns_names
    if not names or not host:
        return True
    return any(is_name_of(name, item.hostname) for name in names)


def is_name_of(dns_name, hostname):
    """Whether a holder's DNS name ``(name, domain)`` is ``hostname`` (a short host name, in any domain)."""
    host, domain = split_hostname(hostname)
    return dns_name[0] == host and (domain is None or dns_name[1] == domain)


# --------------------------------------------------------------------------------------------
# Validation against MAAS (pure)


class PlanResult(object):
    """Validated addresses (in request order), problems and warnings."""

    def __init__(self, addresses, problems, warnings):
        self.addresses = addresses
        self.problems = problems
        self.warnings = warnings

    @property
    def ok(self):
        """True when no problem was found."""
        return not self.problems

    def message(self):
        """One line per problem, preceded by a count."""
        return summarize(self.problems)

    def as_dict(self):
        """JSON-safe form."""
        return {"addresses": self.addresses, "problems": [p.as_dict() for p in self.problems], "warnings": self.warnings}


def summarize(problems, what="requested address"):
    """``2 problems with the requested addresses: addresses[0]: ...; addresses[3]: ...``."""
    if not problems:
        return "no problems"
    head = "1 problem with the %ses" % what if len(problems) == 1 else "%d problems with the %ses" % (len(problems), what)
    return "%s: %s" % (head, "; ".join(p.message for p in problems))


def _address_problem(item, index, rules):
    """MAAS-side checks of one entry; returns ``(problems, resolved dict or None, warnings)``."""
    problems = []
    warnings = []

    def report(rule, message):
        problems.append(Problem(item.index, item.label, item.text, rule, "%s: %s" % (item.label, message)))

    ip = item.ip
    subnet = index.subnet_of(item)
    if subnet is None and item.subnet is not None:
        report(UNKNOWN_SUBNET, "subnet %r is not known to MAAS (MAAS subnets: %s)" % (item.subnet, index.subnet_list()))
        return problems, None, warnings
    if subnet is None and not rules.allow_outside_subnets:
        report(NO_SUBNET, "address %s is in no subnet MAAS knows, so MAAS cannot reserve or assign it "
                          "(MAAS subnets: %s)" % (item.text, index.subnet_list()))
        return problems, None, warnings

    holder = index.holder(ip)
    status = FREE
    if subnet is not None:
        try:
            check_in_network(ip, subnet.network, item.text)
        except AddressError as exc:
            report(exc.rule, exc.message)
            return problems, None, warnings
    if holder is not None:
        if is_ours(holder, item, index.user):
            status = OURS
        elif rules.allow_in_use:
            status = IN_USE_OK
        else:
            report(IN_USE, "address %s is already in use by %s" % (item.text, holder.describe()))
            return problems, None, warnings

    found_range = None
    if subnet is not None and status == FREE:
        if subnet.gateway and _same(subnet.gateway, ip):
            report(GATEWAY_ADDRESS, "address %s is the gateway of subnet %s" % (item.text, subnet.cidr))
        elif any(_same(server, ip) for server in subnet.dns_servers):
            report(DNS_SERVER_ADDRESS, "address %s is a DNS server of subnet %s" % (item.text, subnet.cidr))
        found_range = index.range_for(ip)
        if found_range is not None:
            if found_range.type == "dynamic":
                report(DYNAMIC_RANGE, "address %s is inside %s of subnet %s, which MAAS's DHCP server hands out; "
                                      "pick an address outside it" % (item.text, found_range.describe(), subnet.cidr))
            elif not rules.allow_reserved_range:
                report(RESERVED_RANGE, "address %s is inside %s of subnet %s, which MAAS keeps for use outside MAAS "
                                       "and will not reserve or assign" % (item.text, found_range.describe(), subnet.cidr))
    if problems:
        return problems, None, warnings

    gateway = str(item.gateway) if item.gateway is not None else (subnet.gateway if subnet else None)
    if item.gateway is not None and subnet is not None:
        try:
            check_in_network(item.gateway, subnet.network, item.gateway_text, "gateway")
        except AddressError as exc:
            report(BAD_GATEWAY, exc.message)
            return problems, None, warnings
        if not subnet.gateway or not _same(subnet.gateway, item.gateway):
            report(GATEWAY_NOT_SUBNETS, "gateway %s is not the gateway of subnet %s in MAAS (%s): MAAS writes a "
                                        "machine's default gateway from the gateway_ip of one of its subnets (a "
                                        "machine only chooses which link gives it), so a gateway of its own cannot "
                                        "be applied; leave gateway out, use %s, or change the subnet's gateway_ip "
                                        "for every machine on it" % (
                                            item.gateway_text, subnet.cidr,
                                            "it has %s" % subnet.gateway if subnet.gateway else "it has none",
                                            subnet.gateway if subnet.gateway else "a subnet that has one"))
    if subnet is not None:
        missing = [server for server in item.dns_servers if not any(_same(known, parse_address(server)) for known in subnet.dns_servers)]
        if missing:
            report(DNS_SERVER_NOT_SUBNETS, "DNS server%s %s %s not among the DNS servers of subnet %s in MAAS (%s): "
                                           "MAAS writes a machine's resolvers from its subnets' dns_servers (and its "
                                           "rack controllers when the subnet allows DNS), with no per-machine setting, "
                                           "and cloud-init does not take network settings from user data; leave "
                                           "dns_servers out, list only the subnet's, or add the server to the subnet "
                                           "for every machine on it" % (
                                               "s" if len(missing) > 1 else "", ", ".join(missing),
                                               "are" if len(missing) > 1 else "is", subnet.cidr,
                                               ", ".join(subnet.dns_servers) or "none"))
    if problems:
        return problems, None, warnings
    resolved = {
        "address": str(ip),
        "version": ip.version,
        "hostname": item.hostname,
        "status": status,
        "subnet": subnet.as_dict() if subnet else None,
        "prefixlen": subnet.network.prefixlen if subnet else None,
        "address_cidr": "%s/%d" % (ip, subnet.network.prefixlen) if subnet else None,
        "gateway": gateway,
        "dns_servers": list(item.dns_servers) if item.dns_servers else (list(subnet.dns_servers) if subnet else []),
        "holder": holder.as_dict() if holder is not None else None,
        "range": found_range.as_dict() if found_range is not None else None,
    }
    return problems, resolved, warnings


def _same(text, ip):
    """Whether the address ``text`` (as MAAS renders it) equals ``ip``."""
    try:
        return packed(str(text)) == IPAddress(ip).packed
    except (OSError, ValueError, AddrFormatError, TypeError):
        return False


def validate_plan(request, index):
    """Validate a checked ``Request`` against ``index``; returns a ``PlanResult``.

    Problems found by ``check_request`` are included; entries with such problems are not
    checked further. Each remaining address costs a dict lookup, a prefix lookup per distinct
    subnet prefix length and a bisection of the range list.
    """
    problems = list(request.problems)
    bad = set(p.index for p in request.problems)
    addresses = []
    warnings = []
    for item in request.planned:
        if item.ip is None or item.index in bad:
            continue
        found, resolved, notes = _address_problem(item, index, request.rules)
        problems.extend(found)
        warnings.extend(notes)
        if resolved is not None:
            addresses.append(resolved)
    problems.sort(key=lambda p: p.index)
    return PlanResult(addresses, problems, warnings)


# --------------------------------------------------------------------------------------------
# Reading MAAS


def fetch_index(client, request, subnets=None):
    """Read what ``request`` needs from MAAS and return a ``NetworkIndex``.

    ``GET /subnets/`` (unless the caller has read them: ``subnets``), ``GET /ipranges/``, one
    ``op=ip_addresses`` per subnet the planned addresses fall in, and ``op=whoami`` only if one
    of them is a user reservation.
    """
    subnets = client.list_subnets() if subnets is None else subnets
    index = NetworkIndex(subnets, client.list_ipranges())
    wanted = []
    for item in request.valid:
        subnet = index.subnet_of(item)
        if subnet is not None and subnet.id not in wanted:
            wanted.append(subnet.id)
    for subnet_id in wanted:
        index.add_addresses(client.subnet_ip_addresses(subnet_id))
    held = (index.holder(item.ip) for item in request.valid)
    if any(holder is not None and holder.alloc_type == USER_RESERVED for holder in held):
        index.user = client.username()
    return index


def check_with_maas(client, entries, rules=RESERVE, what="addresses", subnets=None):
    """``check_request`` and, when it found nothing wrong, ``fetch_index`` + ``validate_plan``.

    Problems found without MAAS are returned before any request is sent.
    """
    request = check_request(entries, rules, what)
    if request.problems:
        return PlanResult([], list(request.problems), [])
    return validate_plan(request, fetch_index(client, request, subnets))
