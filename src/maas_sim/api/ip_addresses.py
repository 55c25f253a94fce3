"""``ipaddresses/``: list, ``op=reserve`` and ``op=release`` (``maasserver/api/ip_addresses.py``)."""

from __future__ import annotations

import ipaddress
import re

from .. import builders, lookup, netlogic, render
from ..enums import IPType
from ..errors import ApiError, bad_request, forbidden, not_found
from ..model import DNSResource
from ..params import FieldErrors, mandatory, string_bool
from ..routing import NO_CONTENT, Handler, operation


class IPAddressesHandler(Handler):
    """Manage IP addresses allocated by MAAS."""

    path = "ipaddresses/"

    def read(self, ctx):
        """List your reserved addresses; admins: ``all=true``, ``owner=``; ``ip=`` filters."""
        state = ctx.state
        everything = string_bool(ctx.query, "all")
        ip = ctx.query.get("ip")
        owner = ctx.query.get("owner")
        if ip is not None:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ApiError(400, "Parameter 'ip' must contain an IP address.", "text/plain") from None
        if everything and not ctx.user.is_superuser:
            raise ApiError(403, "Listing all IP addresses requires admin privileges.", "text/plain")
        if owner is not None and not ctx.user.is_superuser:
            raise ApiError(403, "Listing another user's IP addresses requires admin privileges.", "text/plain")
        result = []
        for sip in state.all("staticip"):
            if not sip.ip:
                continue
            if not ctx.user.is_superuser or (owner is None and not everything):
                if sip.user_id != ctx.user.id:
                    continue
            elif owner is not None:
                user = state.get("user", sip.user_id) if sip.user_id is not None else None
                if user is None or user.username != owner:
                    continue
            if not everything and sip.alloc_type != IPType.USER_RESERVED:
                continue
            if ip is not None and sip.ip != ip:
                continue
            result.append(render.static_ip(state, sip))
        return result

    @operation(idempotent=False)
    def reserve(self, ctx):
        """Reserve an address (``subnet`` or ``ip``/``ip_address``, optional ``hostname``, ``mac``)."""
        state = ctx.state
        post = ctx.post
        subnet_spec = post.get("subnet")
        ip = post.get("ip") or post.get("ip_address")
        hostname = post.get("hostname")
        mac = post.get("mac")
        errors = FieldErrors()
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(ip))
            except ValueError:
                errors.add("ip_address", "Enter a valid IPv4 or IPv6 address.")
        if mac is not None and not re.match(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$", mac):
            errors.add("mac", f"'{mac}' is not a valid MAC address.")
        errors.raise_if_any()
        if ip is not None:
            subnet = lookup.best_subnet_for_ip(state, ip)
            if subnet is None:
                raise bad_request(f"No known subnet for IP address: {ip}.")
        elif subnet_spec is not None:
            subnet = lookup.subnet_by_specifier(state, subnet_spec)
            if subnet is None:
                raise bad_request(f"Unable to identify subnet: {subnet_spec}.")
        else:
            raise bad_request("Must supply either the 'subnet' or the 'ip' parameter.")
        return render.static_ip(state, _claim_ip(state, ctx.user, subnet, ip, mac, hostname))

    @operation(idempotent=False)
    def release(self, ctx):
        """Release a reserved address (``ip``; admins may ``force``)."""
        state = ctx.state
        ip = mandatory(ctx.post, "ip")
        force = string_bool(ctx.post, "force")
        discovered = string_bool(ctx.post, "discovered")
        if force and not ctx.user.is_superuser:
            raise ApiError(403, "Force-releasing an IP address requires admin privileges.", "text/plain")
        sip = state.ip_by_address(ip)
        if sip is not None:
            if force:
                if (sip.alloc_type == IPType.DISCOVERED) != bool(discovered):
                    sip = None
            elif sip.alloc_type != IPType.USER_RESERVED or sip.user_id != ctx.user.id:
                sip = None
        if sip is None:
            if force:
                raise bad_request(f"IP address {ip} does not exist.")
            raise bad_request(
                f"IP address {ip} does not exist, is not the correct type of address, or does not belong to the requesting user.\n"
                "If you are sure you want to release this address, use force=true as a MAAS administrator.")
        interface = state.get("interface", sip.interface_id) if sip.interface_id is not None else None
        netlogic.release_ip(state, sip)
        if interface is not None and interface.system_id is None and not state.ips_of(interface.id):
            state.remove(interface)
        return NO_CONTENT


def _claim_ip(state, user, subnet, ip: str | None, mac: str | None, hostname: str | None):
    """``IPAddressesHandler._claim_ip``."""
    if ip is not None:
        dynamic = lookup.range_containing(lookup.dynamic_ranges(state, subnet), ip)
        if dynamic is not None:
            raise forbidden(f"IP address {ip} belongs to an existing dynamic range. To reserve this IP address, a MAC address is required. "
                            "(Create a device instead.)")
    domain = lookup.default_domain(state)
    if hostname and hostname.find(".") > 0:
        hostname, domain_name = hostname.split(".", 1)
        domain = state.find("domain", name=domain_name)
        if domain is None:
            raise not_found("Domain")
    if mac is None:
        sip = netlogic.allocate(state, subnet, IPType.USER_RESERVED, user.id, ip)
    else:
        mac = mac.lower().replace("-", ":")
        interface = next((i for i in state.all("interface") if i.mac_address == mac), None)
        if interface is not None and interface.system_id is not None:
            owner = state.get("machine", interface.system_id)
            raise bad_request(f"MAC address {mac} already belongs to {owner.hostname}. Use of the interface API is required, "
                              "for an interface that belongs to a node.")
        if ip is not None and state.ip_by_address(ip) is not None:
            raise ApiError(404, "IP address is already in use.")
        address = ip or netlogic.next_free_ip(state, subnet)
        created = interface is None
        if created:
            interface = builders.create_interface(state, None, "eth0", subnet.vlan_id, mac=mac, type="unknown")
        sip = builders.create_ip(state, IPType.USER_RESERVED, address, subnet.id, user.id, interface.id)
    if hostname:
        resource = state.find("dnsresource", name=hostname, domain_id=domain.id)
        if resource is None:
            resource = DNSResource(id=state.next_id("dnsresource"), name=hostname, domain_id=domain.id)
            state.add(resource)
        resource.ip_ids = resource.ip_ids + [sip.id]
        state.touch(resource)
    return sip
