"""Finding objects the way MAAS's managers and specifiers do."""

from __future__ import annotations

import ipaddress

from .errors import not_found
from .state import State


def default_zone(state: State):
    """The zone named ``default`` (MAAS always has it)."""
    return state.find("zone", name="default")


def default_pool(state: State):
    """The resource pool with id 0."""
    return state.get("pool", 0)


def default_domain(state: State):
    """The default domain."""
    wanted = state.meta.get("default_domain_id", 0)
    return state.get("domain", wanted) or next(iter(state.tables["domain"].values()), None)


def by_id(state: State, kind: str, value: str):
    """Object of ``kind`` by a numeric id given as text; None when missing or not a number."""
    return state.get(kind, int(value)) if value.isdigit() else None


def by_id_or_404(state: State, kind: str, value: str, model: str):
    """``by_id``, or 404 ``No <model> matches the given query.``"""
    obj = by_id(state, kind, value)
    if obj is None:
        raise not_found(model)
    return obj


def fabric_by_id_or_name(state: State, value: str | None):
    """Fabric by numeric id, else by name; None when no match."""
    if value and value.isdigit():
        return state.get("fabric", int(value))
    return state.find("fabric", name=value)


def zone_named(state: State, name: str):
    """Zone by name, or None."""
    return state.find("zone", name=name)


def pool_named(state: State, name: str):
    """Pool by name, or None."""
    return state.find("pool", name=name)


def pool_by_id_or_name(state: State, value: str):
    """``/resourcepool/{id}/``: numeric id or name."""
    if value.isdigit():
        return state.get("pool", int(value))
    return pool_named(state, value)


def domain_by_id_or_name(state: State, value: str):
    """``/domains/{id}/``: numeric id or name (``name:`` prefix allowed)."""
    if value.startswith("name:"):
        return state.find("domain", name=value[5:])
    if value.isdigit():
        return state.get("domain", int(value))
    return state.find("domain", name=value)


def user_named(state: State, username: str):
    """User by username, or None."""
    return state.find("user", username=username)


def tag_named(state: State, name: str):
    """Tag by name, or None."""
    return state.find("tag", name=name)


def machine_by_hostname(state: State, hostname: str):
    """Machine by hostname, or None."""
    return state.machine_named(hostname)


def subnet_network(subnet) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The subnet's network object."""
    return ipaddress.ip_network(subnet.cidr, strict=False)


def best_subnet_for_ip(state: State, address: str):
    """``get_best_subnet_for_ip``: DHCP-enabled VLAN first, then the longest prefix."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    candidates = []
    for subnet in state.tables["subnet"].values():
        network = subnet_network(subnet)
        if ip.version == network.version and ip in network:
            vlan = state.get("vlan", subnet.vlan_id)
            candidates.append((bool(vlan and vlan.dhcp_on), network.prefixlen, -subnet.id, subnet))
    if not candidates:
        return None
    candidates.sort(key=lambda item: item[:3], reverse=True)
    return candidates[0][3]


_SUBNET_SPECIFIERS = ("cidr", "ip", "name", "id", "vid", "vlan")


def subnet_by_specifier(state: State, spec: str):
    """A subnet by id, CIDR, name or ``cidr:``/``ip:``/``name:``/``id:``/``vid:`` specifier; None when no match."""
    spec = spec.strip()
    prefix, separator, rest = spec.partition(":")
    kind, value = (prefix, rest) if separator and prefix in _SUBNET_SPECIFIERS else (None, spec)
    subnets = state.tables["subnet"].values()
    if kind == "id" or (kind is None and value.isdigit()):
        return state.get("subnet", int(value)) if value.isdigit() else None
    if kind == "name":
        return next((s for s in subnets if s.name == value), None)
    if kind == "ip":
        return best_subnet_for_ip(state, value)
    if kind in ("vid", "vlan"):
        vid = int(value, 0) if value else -1
        return next((s for s in subnets if state.get("vlan", s.vlan_id).vid == vid), None)
    try:
        cidr = str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        if kind == "cidr":
            return None
        return next((s for s in subnets if s.name == value), None)
    return next((s for s in subnets if str(ipaddress.ip_network(s.cidr, strict=False)) == cidr), None)


def subnet_or_404(state: State, spec: str):
    """``Subnet.objects.get_object_by_specifiers_or_raise``."""
    subnet = subnet_by_specifier(state, spec)
    if subnet is None:
        raise not_found("Subnet")
    return subnet


def dynamic_ranges(state: State, subnet) -> list:
    """The subnet's dynamic IP ranges."""
    return [r for r in state.tables["iprange"].values() if r.subnet_id == subnet.id and r.type == "dynamic"]


def reserved_ranges(state: State, subnet) -> list:
    """The subnet's reserved IP ranges."""
    return [r for r in state.tables["iprange"].values() if r.subnet_id == subnet.id and r.type == "reserved"]


def range_containing(ranges, address: str):
    """The first range of ``ranges`` that holds ``address``, or None."""
    ip = ipaddress.ip_address(address)
    for item in ranges:
        if ipaddress.ip_address(item.start_ip) <= ip <= ipaddress.ip_address(item.end_ip):
            return item
    return None
