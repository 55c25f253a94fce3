"""Fabrics, VLANs, subnets, IP ranges, IP addresses and DNS resources."""

from __future__ import annotations

import datetime
import ipaddress
import re

from .. import builders, ipset, lookup, netlogic, render
from ..enums import IPType
from ..errors import ApiError, bad_request, forbidden, not_found, validation_error
from ..model import DNSResource, Fabric, IPRange, Subnet, Vlan
from ..params import REQUIRED, FieldErrors, form_bool, int_field, invalid_choice, ip_field, mandatory, model_invalid_choice, string_bool
from ..routing import NO_CONTENT, Handler, admin_method, operation

DNS_LABEL = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,62}[a-zA-Z0-9]){0,1}"
DNS_NAME_RE = re.compile(rf"^({DNS_LABEL}[.])*{DNS_LABEL}[.]?$")


class FabricsHandler(Handler):
    """Manage fabrics."""

    path = "fabrics/"

    def read(self, ctx):
        """List fabrics."""
        return [render.fabric(ctx.state, f) for f in ctx.state.all("fabric")]

    @admin_method
    def create(self, ctx):
        """Create a fabric (it gets an untagged VLAN)."""
        state = ctx.state
        fabric_id = state.next_id("fabric", start=0)
        name = ctx.data.get("name") or f"fabric-{fabric_id}"
        if state.find("fabric", name=name):
            raise validation_error({"name": ["Fabric with this Name already exists."]})
        fabric = Fabric(id=fabric_id, name=name, class_type=ctx.data.get("class_type"), description=ctx.data.get("description", ""))
        state.add(fabric)
        state.add(Vlan(id=state.next_id("vlan", start=5001), fabric_id=fabric.id))
        return render.fabric(state, fabric)


def fabric_or_404(ctx, fabric_id: str):
    """Fabric by id (or name)."""
    fabric = lookup.fabric_by_id_or_name(ctx.state, fabric_id)
    if fabric is None:
        raise not_found("Fabric")
    return fabric


class FabricHandler(Handler):
    """Manage a fabric."""

    path = "fabrics/{id}/"

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read a fabric with its VLANs."""
        return render.fabric(ctx.state, fabric_or_404(ctx, id))


class VlansHandler(Handler):
    """Manage the VLANs of a fabric."""

    path = "fabrics/{fabric_id}/vlans/"

    def read(self, ctx, fabric_id):
        """List the fabric's VLANs."""
        fabric = fabric_or_404(ctx, fabric_id)
        return [render.vlan(ctx.state, v) for v in ctx.state.all("vlan") if v.fabric_id == fabric.id]

    @admin_method
    def create(self, ctx, fabric_id):
        """Create a VLAN (``vid`` required; ``name``, ``mtu``, ``space``)."""
        state = ctx.state
        fabric = fabric_or_404(ctx, fabric_id)
        errors = FieldErrors()
        vid = int_field(errors, ctx.data, "vid", minimum=0, maximum=4094, required=True)
        mtu = int_field(errors, ctx.data, "mtu", minimum=552, maximum=65535)
        if vid is not None and state.find("vlan", fabric_id=fabric.id, vid=vid):
            errors.add("__all__", "VLAN with this Fabric and Vid already exists.")
        errors.raise_if_any()
        vlan = Vlan(id=state.next_id("vlan", start=5001), fabric_id=fabric.id, vid=vid, name=ctx.data.get("name") or str(vid),
                    mtu=mtu or 1500, space=ctx.data.get("space"), description=ctx.data.get("description", ""))
        state.add(vlan)
        return render.vlan(state, vlan)


class VlanHandler(Handler):
    """Manage a VLAN (``/vlans/{vlan_id}/``, by database id)."""

    path = "vlans/{vlan_id}/"

    def _get(self, ctx, **kwargs):
        return lookup.by_id_or_404(ctx.state, "vlan", kwargs["vlan_id"], "VLAN")

    def read(self, ctx, **kwargs):
        """Read a VLAN."""
        return render.vlan(ctx.state, self._get(ctx, **kwargs))

    @admin_method
    def update(self, ctx, **kwargs):
        """Update ``name``, ``mtu``, ``dhcp_on``, ``primary_rack``, ``space``, ``description``."""
        vlan = self._get(ctx, **kwargs)
        errors = FieldErrors()
        mtu = int_field(errors, ctx.data, "mtu", minimum=552, maximum=65535)
        errors.raise_if_any()
        if mtu is not None:
            vlan.mtu = mtu
        for key in ("name", "description"):
            if ctx.data.get(key) is not None:
                setattr(vlan, key, ctx.data.get(key))
        for key in ("primary_rack", "secondary_rack", "space"):
            if ctx.data.get(key) is not None:
                setattr(vlan, key, ctx.data.get(key) or None)
        if ctx.data.get("dhcp_on") is not None:
            vlan.dhcp_on = form_bool(ctx.data, "dhcp_on")
        ctx.state.touch(vlan)
        return render.vlan(ctx.state, vlan)


class FabricVlanHandler(VlanHandler):
    """Manage a VLAN (``/fabrics/{fabric_id}/vlans/{vid}/``, by VID)."""

    path = "fabrics/{fabric_id}/vlans/{vid}/"

    def _get(self, ctx, **kwargs):
        fabric = fabric_or_404(ctx, kwargs["fabric_id"])
        vid = kwargs["vid"]
        vlan = ctx.state.find("vlan", fabric_id=fabric.id, vid=int(vid)) if vid.isdigit() else None
        if vlan is None:
            raise not_found("VLAN")
        return vlan


# --- subnets ---------------------------------------------------------------------


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


# --- IP ranges ------------------------------------------------------------------


def _iprange_form(ctx, instance=None) -> dict:
    """``IPRangeForm`` + ``IPRange.clean``: field checks, then containment and overlap."""
    state = ctx.state
    data = ctx.data
    errors = FieldErrors()
    range_type = data.get("type", instance.type if instance else None)
    if range_type is None:
        errors.add("type", REQUIRED)
    elif range_type not in ("dynamic", "reserved"):
        errors.add("type", invalid_choice(range_type))
    start = ip_field(errors, data, "start_ip", required=instance is None) or (instance.start_ip if instance else None)
    end = ip_field(errors, data, "end_ip", required=instance is None) or (instance.end_ip if instance else None)
    subnet = state.get("subnet", instance.subnet_id) if instance else None
    raw_subnet = data.get("subnet")
    if raw_subnet:
        subnet = lookup.subnet_by_specifier(state, raw_subnet)
        if subnet is None:
            errors.add("subnet", model_invalid_choice())
    elif subnet is None and start:
        subnet = lookup.best_subnet_for_ip(state, start)
        if subnet is None:
            errors.add("subnet", REQUIRED)
    errors.raise_if_any()
    _iprange_clean(state, subnet, range_type, start, end, instance)
    fields = {"type": range_type, "start_ip": start, "end_ip": end, "subnet_id": subnet.id}
    if data.get("comment") is not None:
        fields["comment"] = data.get("comment")
    return fields


def _range_error(message: str, fields=("start_ip", "end_ip")) -> ApiError:
    return validation_error({field: [message] for field in fields})


def _iprange_clean(state, subnet, range_type: str, start: str, end: str, instance) -> None:
    start_ip, end_ip = ipaddress.ip_address(start), ipaddress.ip_address(end)
    if start_ip.version != end_ip.version:
        raise _range_error("Start IP address and end IP address must be in the same address family.")
    if end_ip < start_ip:
        raise _range_error("End IP address must not be less than Start IP address.", ("end_ip",))
    network = lookup.subnet_network(subnet)
    if start_ip not in network and end_ip not in network:
        raise _range_error(f"IP addresses must be within subnet: {network}.")
    if start_ip not in network:
        raise _range_error(f"Start IP address must be within subnet: {network}.", ("start_ip",))
    if end_ip not in network:
        raise _range_error(f"End IP address must be within subnet: {network}.", ("end_ip",))
    if start_ip == network.network_address:
        raise _range_error("Reserved network address cannot be included in IP range.", ("start_ip",))
    if network.version == 4 and end_ip == network.broadcast_address:
        raise _range_error("Broadcast address cannot be included in IP range.", ("end_ip",))
    if start_ip.version == 6 and range_type == "dynamic" and int(end_ip) - int(start_ip) + 1 < 256:
        raise _range_error("IPv6 dynamic range must be at least 256 addresses in size.")
    if range_type == "reserved":
        unused = netlogic.not_in_use(state, subnet, ranges_only=True, exclude_range=instance)
    else:
        unused = netlogic.not_in_use(state, subnet, exclude_range=instance, ignore_discovered=True)
    if not unused:
        raise _range_error(f"There is no room for any {range_type} ranges on this subnet.")
    message = f"Requested {range_type} range conflicts with an existing " + ("range." if range_type == "reserved" else "IP address or range.")
    for free in unused:
        if int(start_ip) in free:
            if int(end_ip) in free:
                return
            raise _range_error(message)
    raise _range_error(message)


class IPRangesHandler(Handler):
    """Manage IP ranges."""

    path = "ipranges/"

    def read(self, ctx):
        """List IP ranges."""
        return [render.iprange(ctx.state, r) for r in ctx.state.all("iprange")]

    def create(self, ctx):
        """Create a range (``type``, ``start_ip``, ``end_ip``, ``subnet``, ``comment``); dynamic ones need admin."""
        if ctx.data.get("type") == "dynamic" and not ctx.user.is_superuser:
            raise forbidden("Unable to create dynamic IP range. You don't have sufficient privileges.")
        fields = _iprange_form(ctx)
        item = IPRange(id=ctx.state.next_id("iprange"), user_id=ctx.user.id, **fields)
        ctx.state.add(item)
        return render.iprange(ctx.state, item)


class IPRangeHandler(Handler):
    """Manage an IP range."""

    path = "ipranges/{id}/"

    def _get(self, ctx, id, edit=False):  # pylint: disable=redefined-builtin
        item = lookup.by_id_or_404(ctx.state, "iprange", id, "IPRange")
        if edit and not ctx.user.is_superuser and item.user_id != ctx.user.id:
            raise forbidden("Unable to modify IP range. You don't own the IP range.")
        return item

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read an IP range."""
        return render.iprange(ctx.state, self._get(ctx, id))

    def update(self, ctx, id):  # pylint: disable=redefined-builtin
        """Update an IP range (owner or admin)."""
        item = self._get(ctx, id, edit=True)
        for key, value in _iprange_form(ctx, item).items():
            setattr(item, key, value)
        ctx.state.touch(item)
        return render.iprange(ctx.state, item)

    def delete(self, ctx, id):  # pylint: disable=redefined-builtin
        """Delete an IP range (owner or admin)."""
        ctx.state.remove(self._get(ctx, id, edit=True))
        return NO_CONTENT


# --- IP addresses ---------------------------------------------------------------


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


# --- DNS resources --------------------------------------------------------------


def _split_fqdn(state, fqdn: str):
    """``separate_fqdn`` for address records: ``(name, domain name)``."""
    if state.find("domain", name=fqdn):
        return "@", fqdn
    match = re.match(rf"^(?P<name>{DNS_LABEL})\.(?P<domain>.+)$", fqdn)
    return (match.group("name"), match.group("domain")) if match else (None, None)


def _domain_for(ctx, name: str):
    domain = lookup.domain_by_id_or_name(ctx.state, name)
    if domain is None:
        raise not_found("Domain")
    return domain


def _dnsresource_form(ctx, instance=None) -> dict:
    """``DNSResourceForm``: name/domain (or fqdn), address_ttl, space-separated ``ip_addresses``."""
    state = ctx.state
    data = ctx.data
    name, domain_name = data.get("name"), data.get("domain")
    fqdn = data.get("fqdn")
    if name is None and domain_name is None and fqdn is not None:
        name, domain_name = _split_fqdn(state, fqdn)
    domain = _domain_for(ctx, domain_name) if domain_name is not None else (state.get("domain", instance.domain_id) if instance else None)
    name = name if name is not None else (instance.name if instance else None)
    errors = FieldErrors()
    if not name:
        errors.add("name", REQUIRED)
    if domain is None:
        errors.add("domain", REQUIRED)
    ttl = int_field(errors, data, "address_ttl", minimum=0, maximum=(1 << 31) - 1)
    errors.raise_if_any()
    raw_ips = data.get("ip_addresses")
    ip_values = raw_ips.split() if raw_ips is not None else None
    if ip_values is not None and name != "@" and not DNS_NAME_RE.match(name):
        raise validation_error(f"Invalid dnsresource name: {name}.")
    if ip_values is not None:
        for value in ip_values:
            if value.isdigit():
                if state.get("staticip", int(value)) is None:
                    raise validation_error({"ip_addresses": [invalid_choice(value)]})
                continue
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise validation_error({"ip_addresses": [f"\u201c{value}\u201d is not a valid value."]}) from None
    if instance is None and state.find("dnsresource", name=name, domain_id=domain.id) is not None:
        raise validation_error({"__all__": ["Labels must be unique within their zone."]})
    fields = {"name": name, "domain_id": domain.id}
    if "address_ttl" in data:
        fields["address_ttl"] = ttl
    return fields, ip_values


def _resolve_ips(state, user, values) -> list:
    """Ids for ``ip_addresses`` values: known addresses are linked, unknown ones become USER_RESERVED of the caller."""
    ids = []
    for value in values:
        if value.isdigit():
            ids.append(int(value))
            continue
        address = str(ipaddress.ip_address(value))
        sip = state.ip_by_address(address)
        if sip is None:
            subnet = lookup.best_subnet_for_ip(state, address)
            sip = builders.create_ip(state, IPType.USER_RESERVED, address, subnet.id if subnet else None, user.id)
        ids.append(sip.id)
    return ids


class DNSResourcesHandler(Handler):
    """Manage DNS resources."""

    path = "dnsresources/"

    def read(self, ctx):
        """List DNS resources (filters ``fqdn``, ``name``, ``domain``, ``rrtype``)."""
        state = ctx.state
        name, domain_name = ctx.query.get("name"), ctx.query.get("domain")
        fqdn = ctx.query.get("fqdn")
        rrtype = ctx.query.get("rrtype")
        if domain_name is None and name is None and fqdn is not None:
            name, domain_name = _split_fqdn(state, fqdn)
        resources = state.all("dnsresource")
        if domain_name is not None:
            domain = _domain_for(ctx, domain_name)
            resources = sorted((r for r in resources if r.domain_id == domain.id), key=lambda r: r.name)
        else:
            resources = sorted(resources, key=lambda r: (r.domain_id, r.name))
        if name is not None:
            resources = [r for r in resources if r.name == name]
        if rrtype is not None:
            # MAAS filters on DNSData rows (CNAME, TXT...); address records have none.
            resources = []
        return [render.dnsresource(state, r) for r in resources]

    @admin_method
    def create(self, ctx):
        """Create a DNS resource (``fqdn`` or ``name``+``domain``, ``address_ttl``, ``ip_addresses``)."""
        state = ctx.state
        fields, ip_values = _dnsresource_form(ctx)
        resource = DNSResource(id=state.next_id("dnsresource"), **fields)
        resource.ip_ids = _resolve_ips(state, ctx.user, ip_values or [])
        state.add(resource)
        return render.dnsresource(state, resource)


class DNSResourceHandler(Handler):
    """Manage a DNS resource."""

    path = "dnsresources/{id}/"

    def _get(self, ctx, id, admin=False):  # pylint: disable=redefined-builtin
        resource = lookup.by_id_or_404(ctx.state, "dnsresource", id, "DNSResource")
        if admin and not ctx.user.is_superuser:
            raise forbidden()
        return resource

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read a DNS resource."""
        return render.dnsresource(ctx.state, self._get(ctx, id))

    def update(self, ctx, id):  # pylint: disable=redefined-builtin
        """Update a DNS resource (admin); ``ip_addresses`` replaces the address list."""
        state = ctx.state
        resource = self._get(ctx, id, admin=True)
        fields, ip_values = _dnsresource_form(ctx, resource)
        for key, value in fields.items():
            setattr(resource, key, value)
        if ip_values is not None:
            resource.ip_ids = _resolve_ips(state, ctx.user, ip_values)
        state.touch(resource)
        return render.dnsresource(state, resource)

    def delete(self, ctx, id):  # pylint: disable=redefined-builtin
        """Delete a DNS resource (admin), with the reservations only it used (MAAS 3.6.1+)."""
        netlogic.delete_dnsresource(ctx.state, self._get(ctx, id, admin=True))
        return NO_CONTENT
