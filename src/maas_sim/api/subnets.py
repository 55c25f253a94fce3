"""``subnets/`` and ``subnets/{id}/`` with the in-use, free-range and statistics operations (``maasserver/api/subnets.py``)."""

from __future__ import annotations

import datetime
import ipaddress
import re

from .. import ipset, lookup, netlogic, render
from ..model import Subnet
from ..params import REQUIRED, FieldErrors, form_bool, int_field, ip_field, model_invalid_choice, string_bool
from ..routing import NO_CONTENT, Handler, admin_method, operation


def _subnet_form(ctx, instance=None) -> dict:
    state = ctx.state
    errors = FieldErrors()
    data = ctx.data
    fields = {}
    cidr = data.get("cidr")
    network = None
    if instance is None and not cidr:
        errors.add("cidr", REQUIRED)
    elif cidr:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
            fields["cidr"] = str(network)
        except ValueError:
            errors.add("cidr", "Required format: <network>/<prefixlen>.")
        if network is not None and any(str(ipaddress.ip_network(s.cidr)) == str(network) and s is not instance for s in state.all("subnet")):
            errors.add("cidr", "Subnet with this Cidr already exists.")
    network = network or (ipaddress.ip_network(instance.cidr) if instance else None)
    vlan = None
    if data.get("vlan"):
        vlan = lookup.by_id(state, "vlan", data.get("vlan"))
        if vlan is None:
            errors.add("vlan", model_invalid_choice())
    elif data.get("fabric") or data.get("vid") is not None:
        fabric = lookup.fabric_by_id_or_name(state, data.get("fabric")) or state.all("fabric")[0]
        vlan = state.find("vlan", fabric_id=fabric.id, vid=int(data.get("vid") or 0))
        if vlan is None:
            errors.add("vid", "No VLAN with the specified VID in the fabric.")
    if vlan is not None:
        fields["vlan_id"] = vlan.id
    elif instance is None:
        fields["vlan_id"] = state.all("vlan")[0].id
    gateway = data.get("gateway_ip")
    if gateway:
        address = ip_field(errors, data, "gateway_ip")
        if address and network is not None and ipaddress.ip_address(address) not in network:
            errors.add("gateway_ip", "Gateway IP must be within CIDR range.")
        fields["gateway_ip"] = address
    elif gateway == "":
        fields["gateway_ip"] = None
    if data.get("dns_servers") is not None:
        servers = [s for s in re.split(r"[,\s]+", data.get("dns_servers")) if s]
        for server in servers:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                errors.add("dns_servers", f"Invalid IP address: {server}.")
        fields["dns_servers"] = servers
    rdns = int_field(errors, data, "rdns_mode", minimum=0, maximum=2)
    if rdns is not None:
        fields["rdns_mode"] = rdns
    for key in ("name", "description"):
        if data.get(key) is not None:
            fields[key] = data.get(key)
    for key in ("allow_dns", "allow_proxy", "managed", "active_discovery"):
        if data.get(key) is not None:
            fields[key] = form_bool(data, key)
    errors.raise_if_any()
    if instance is None and not fields.get("name"):
        fields["name"] = fields["cidr"]
    return fields


class SubnetsHandler(Handler):
    """Manage subnets."""

    path = "subnets/"

    def read(self, ctx):
        """List subnets."""
        return [render.subnet(ctx.state, s) for s in ctx.state.all("subnet")]

    @admin_method
    def create(self, ctx):
        """Create a subnet (``cidr`` required)."""
        fields = _subnet_form(ctx)
        subnet = Subnet(id=ctx.state.next_id("subnet"), **fields)
        ctx.state.add(subnet)
        return render.subnet(ctx.state, subnet)


class SubnetHandler(Handler):
    """Manage a subnet (by id, CIDR, name or specifier)."""

    path = "subnets/{id}/"
    param_patterns = {"id": r"[.: \w-]+(?:/\d\d\d?)?"}

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read a subnet."""
        return render.subnet(ctx.state, lookup.subnet_or_404(ctx.state, id))

    @admin_method
    def update(self, ctx, id):  # pylint: disable=redefined-builtin
        """Update a subnet."""
        subnet = lookup.subnet_or_404(ctx.state, id)
        for key, value in _subnet_form(ctx, subnet).items():
            setattr(subnet, key, value)
        ctx.state.touch(subnet)
        return render.subnet(ctx.state, subnet)

    @admin_method
    def delete(self, ctx, id):  # pylint: disable=redefined-builtin
        """Delete a subnet with its ranges; addresses on it lose their subnet."""
        state = ctx.state
        subnet = lookup.subnet_or_404(state, id)
        for item in [r for r in state.all("iprange") if r.subnet_id == subnet.id]:
            state.remove(item)
        for sip in [s for s in state.all("staticip") if s.subnet_id == subnet.id]:
            netlogic.release_ip(state, sip)
        state.remove(subnet)
        return NO_CONTENT

    @operation(idempotent=True)
    def reserved_ip_ranges(self, ctx, id):  # pylint: disable=redefined-builtin
        """Ranges in use: gateway, DNS servers, assigned addresses, dynamic and reserved ranges, with purposes."""
        subnet = lookup.subnet_or_404(ctx.state, id)
        return [item.render() for item in netlogic.in_use(ctx.state, subnet)]

    @operation(idempotent=True)
    def unreserved_ip_ranges(self, ctx, id):  # pylint: disable=redefined-builtin
        """Ranges free for allocation."""
        subnet = lookup.subnet_or_404(ctx.state, id)
        return [item.render(include_purpose=False) for item in netlogic.not_in_use(ctx.state, subnet)]

    @operation(idempotent=True)
    def statistics(self, ctx, id):  # pylint: disable=redefined-builtin
        """Usage statistics (``include_ranges``, ``include_suggestions``)."""
        subnet = lookup.subnet_or_404(ctx.state, id)
        include_ranges = string_bool(ctx.query, "include_ranges")
        include_suggestions = string_bool(ctx.query, "include_suggestions")
        full = ipset.full_range(netlogic.in_use(ctx.state, subnet), lookup.subnet_network(subnet))
        return ipset.statistics(full, bool(include_ranges), bool(include_suggestions))

    @operation(idempotent=True)
    def ip_addresses(self, ctx, id):  # pylint: disable=redefined-builtin
        """Addresses in use on the subnet (``with_username``, ``with_summary``)."""
        state = ctx.state
        subnet = lookup.subnet_or_404(state, id)
        with_username = string_bool(ctx.query, "with_username", default=True)
        with_summary = string_bool(ctx.query, "with_summary", default=True)
        if string_bool(ctx.query, "with_node_summary", default=True) is False:
            with_summary = False
        resources_by_ip: dict = {}
        if with_summary:
            for resource in state.all("dnsresource"):
                for ip_id in dict.fromkeys(resource.ip_ids):
                    resources_by_ip.setdefault(ip_id, []).append(resource)
        result = []
        for sip in state.all("staticip"):
            if sip.subnet_id != subnet.id or not sip.ip:
                continue
            result.append(_ip_summary(state, sip, bool(with_username), bool(with_summary), resources_by_ip))
        result.sort(key=lambda item: ipaddress.ip_address(item["ip"]))
        return result


def _ip_summary(state, sip, with_username: bool, with_summary: bool, resources_by_ip: dict) -> dict:
    """``StaticIPAddress.render_json``; ``resources_by_ip`` maps address ids to the DNS resources naming them."""
    when = "%a, %d %b. %Y %H:%M:%S"
    data = {"ip": sip.ip, "alloc_type": sip.alloc_type, "created": _strftime(sip.created, when), "updated": _strftime(sip.updated, when)}
    user = state.get("user", sip.user_id) if sip.user_id is not None else None
    if with_username and user is not None:
        data["user"] = user.username
    if with_summary:
        interface = state.get("interface", sip.interface_id) if sip.interface_id is not None else None
        machine = state.get("machine", interface.system_id) if interface is not None and interface.system_id else None
        if machine is not None:
            domain = state.get("domain", machine.domain_id)
            data["node_summary"] = {"system_id": machine.system_id, "node_type": 0, "fqdn": f"{machine.hostname}.{domain.name}",
                                    "hostname": machine.hostname, "is_container": machine.parent_id is not None, "via": interface.name}
            owner = state.get("user", machine.owner_id) if machine.owner_id is not None else None
            if with_username and owner is not None:
                data["user"] = owner.username
        records = [{"id": r.id, "name": r.name, "domain": state.get("domain", r.domain_id).name}
                   for r in resources_by_ip.get(sip.id, ())]
        if records:
            data["dns_records"] = records
    return data


def _strftime(timestamp: float, fmt: str) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime(fmt)
