"""Address bookkeeping: what is in use on a subnet, allocation, interface links.

Follows ``Subnet.get_ipranges_in_use``/``get_ipranges_not_in_use``/
``get_next_ip_for_allocation``, ``StaticIPAddress.objects.allocate_new``,
``Subnet.validate_static_ip`` and ``Interface.link_subnet``/``claim_auto_ips``/
``release_auto_ips`` of MAAS 3.6.
"""

from __future__ import annotations

import ipaddress

from . import builders, ipset, lookup
from .enums import IPType
from .errors import ip_out_of_range, ip_unavailable, unavailable
from .state import State


def range_span(item) -> ipset.IPSpan:
    """An IP range as a span whose purpose is its type."""
    return ipset.span(item.start_ip, item.end_ip, item.type)


def in_use(state: State, subnet, ranges_only: bool = False, include_reserved: bool = True, exclude_range=None,
           ignore_discovered: bool = False) -> list[ipset.IPSpan]:
    """``Subnet.get_ipranges_in_use``: gateway, DNS servers, assigned addresses and ranges, condensed."""
    network = lookup.subnet_network(subnet)
    spans = []
    if network.version == 6:
        first = int(network.network_address)
        if network.prefixlen == 64:
            spans.append(ipset.IPSpan(first + 1, first + 0xFFFFFFFF, frozenset({"reserved"}), 6))
        if network.prefixlen < 127:
            spans.append(ipset.IPSpan(first, first, frozenset({"rfc-4291-2.6.1"}), 6))
    if not ranges_only:
        if subnet.gateway_ip and ipaddress.ip_address(subnet.gateway_ip) in network:
            spans.append(ipset.span(subnet.gateway_ip, purpose="gateway-ip"))
        for server in subnet.dns_servers:
            if ipaddress.ip_address(server) in network:
                spans.append(ipset.span(server, purpose="dns-server"))
        for sip in state.tables["staticip"].values():
            if sip.ip and sip.subnet_id == subnet.id and not (ignore_discovered and sip.alloc_type == IPType.DISCOVERED):
                spans.append(ipset.span(sip.ip, purpose="assigned-ip"))
    for item in state.tables["iprange"].values():
        if item.subnet_id != subnet.id or item is exclude_range:
            continue
        if item.type == "dynamic" or include_reserved:
            spans.append(range_span(item))
    return ipset.condense(spans)


def not_in_use(state: State, subnet, ranges_only: bool = False, exclude_range=None, ignore_discovered: bool = False) -> list[ipset.IPSpan]:
    """``Subnet.get_ipranges_not_in_use`` (managed subnets; unmanaged ones only offer their reserved ranges)."""
    network = lookup.subnet_network(subnet)
    used = in_use(state, subnet, ranges_only=ranges_only, exclude_range=exclude_range, ignore_discovered=ignore_discovered)
    if subnet.managed or ranges_only:
        return ipset.unused(used, network)
    unused = ipset.unused(used, network, purpose="unmanaged")
    unmanaged_used = in_use(state, subnet, ranges_only=ranges_only, include_reserved=False, exclude_range=exclude_range,
                            ignore_discovered=ignore_discovered)
    return ipset.unused(ipset.condense(unmanaged_used + unused), network)


def next_free_ip(state: State, subnet) -> str:
    """``get_next_ip_for_allocation``: the first address of the smallest free range (lowest on ties)."""
    free = not_in_use(state, subnet)
    if not free:
        raise unavailable(f"No more IPs available in subnet: {subnet.cidr}.")
    best = min(free, key=lambda item: (item.size, item.first))
    return best.start()


def validate_static_ip(state: State, subnet, address: str) -> None:
    """``Subnet.validate_static_ip`` with reserved ranges restricted."""
    if ipaddress.ip_address(address) not in lookup.subnet_network(subnet):
        raise ip_out_of_range(f"{address} is not within subnet CIDR: {subnet.cidr}")
    dynamic = lookup.range_containing(lookup.dynamic_ranges(state, subnet), address)
    if dynamic is not None:
        raise ip_unavailable(f"{address} is within the dynamic range from {dynamic.start_ip} to {dynamic.end_ip}")
    reserved = lookup.range_containing(lookup.reserved_ranges(state, subnet), address)
    if reserved is not None:
        raise ip_unavailable(f"{address} is within the reserved range from {reserved.start_ip} to {reserved.end_ip}")


def check_requested_ip(state: State, subnet, address: str) -> None:
    """``allocate_new`` with a requested address: 404 when another row holds it or it is in a dynamic/reserved range."""
    existing = state.ip_by_address(address)
    if existing is not None and existing.alloc_type != IPType.DISCOVERED:
        raise ip_unavailable(f"The IP address {address} is already in use.")
    validate_static_ip(state, subnet, address)


def allocate(state: State, subnet, alloc_type: int, user_id: int | None, requested: str | None = None, interface_id: int | None = None):
    """``StaticIPAddress.objects.allocate_new``: a requested address or the next free one."""
    if requested is None:
        address = next_free_ip(state, subnet)
    else:
        address = str(ipaddress.ip_address(requested))
        check_requested_ip(state, subnet, address)
    return builders.create_ip(state, alloc_type, address, subnet.id, user_id, interface_id)


def release_ip(state: State, sip) -> None:
    """Delete an address row and drop it from DNS resources that name it.

    A DNS resource left without any address is deleted with it, as MAAS's
    ``post_delete_clean_up_dns`` signal does (``signals/staticipaddress.py``).
    """
    for resource in [r for r in state.all("dnsresource") if sip.id in r.ip_ids]:
        resource.ip_ids = [ip_id for ip_id in resource.ip_ids if ip_id != sip.id]
        if resource.ip_ids:
            state.touch(resource)
        else:
            state.remove(resource)
    state.remove(sip)


def delete_dnsresource(state: State, resource) -> None:
    """Delete a DNS resource as ``DNSResource.delete`` does in MAAS 3.6.1+.

    Its USER_RESERVED addresses that no interface uses and no other DNS resource names are
    deleted with it; every other address stays.
    """
    for ip_id in list(resource.ip_ids):
        sip = state.get("staticip", ip_id)
        if sip is None or sip.alloc_type != IPType.USER_RESERVED or sip.interface_id is not None:
            continue
        if any(ip_id in other.ip_ids for other in state.all("dnsresource") if other.id != resource.id):
            continue
        state.remove(sip)
    state.remove(resource)


def claim_auto_ips(state: State, machine) -> None:
    """Give every AUTO link of the machine an address (at deploy)."""
    for interface in state.interfaces_of(machine.system_id):
        for sip in state.ips_of(interface.id):
            if sip.alloc_type == IPType.AUTO and not sip.ip and sip.subnet_id is not None:
                subnet = state.get("subnet", sip.subnet_id)
                try:
                    sip.ip = next_free_ip(state, subnet)
                except Exception:
                    raise unavailable(f"{machine.system_id}: Unable to allocate static IP due to address exhaustion.") from None
                state.touch(sip)


def release_auto_ips(state: State, machine) -> None:
    """Clear the addresses of the machine's AUTO links (at release); STATIC ones stay."""
    for interface in state.interfaces_of(machine.system_id):
        for sip in state.ips_of(interface.id):
            if sip.alloc_type == IPType.AUTO and sip.ip:
                sip.ip = None
                state.touch(sip)


def set_initial_networking(state: State, machine) -> None:
    """``force_auto_or_dhcp_link`` on the boot interface when it has no link yet (after commissioning).

    A boot interface without VLAN (a machine created over the API) is first put on the VLAN it
    PXE-booted from, as commissioning finds it: the first VLAN with DHCP (else the first VLAN).
    """
    boot = state.get("interface", machine.boot_interface_id) if machine.boot_interface_id is not None else None
    if boot is not None and boot.vlan_id is None:
        vlans = state.all("vlan")
        pxe = next((vlan for vlan in vlans if vlan.dhcp_on), vlans[0] if vlans else None)
        if pxe is not None:
            boot.vlan_id = pxe.id
            state.touch(boot)
    if boot is None or boot.vlan_id is None or state.ips_of(boot.id):
        return
    subnet = next((s for s in state.tables["subnet"].values() if s.vlan_id == boot.vlan_id), None)
    if subnet is not None:
        builders.link(state, boot, "auto", subnet)
    else:
        builders.link(state, boot, "dhcp", None)


def delete_interface_links(state: State, interface) -> None:
    """Remove every link (and its address) of an interface."""
    for sip in state.ips_of(interface.id):
        release_ip(state, sip)
