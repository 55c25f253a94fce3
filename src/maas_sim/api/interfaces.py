"""``/nodes/{system_id}/interfaces/`` (``maasserver/api/interfaces.py``, ``forms/interface_link.py``)."""

from __future__ import annotations

import ipaddress

from .. import builders, lookup, netlogic, render
from ..enums import LINK_EDIT_STATUSES, LINK_MODES, IPType
from ..errors import conflict, forbidden, ip_unavailable, not_found, validation_error
from ..params import REQUIRED, FieldErrors, compose_invalid_choice_text, form_bool, ip_field, model_invalid_choice, string_bool
from ..routing import Handler, operation
from .common import ADMIN, VIEW, has_perm, machine_or_404


def _subnet_label(state, subnet) -> str:
    """``str(Subnet)``: ``<name>:<cidr>(vid=N)``."""
    return f"{subnet.name}:{subnet.cidr}(vid={state.get('vlan', subnet.vlan_id).vid})"


def interface_or_404(ctx, system_id: str, specifier: str, perm: str):
    """``Interface.objects.get_interface_or_404`` (by id or name), then the permission on the node."""
    state = ctx.state
    interfaces = state.interfaces_of(system_id)
    if specifier.isdigit():
        interface = next((i for i in interfaces if i.id == int(specifier)), None)
    else:
        interface = next((i for i in interfaces if i.name == specifier), None)
    if interface is None:
        raise not_found("Interface")
    machine = state.get("machine", system_id)
    if not has_perm(ctx.user, machine, perm):
        raise forbidden()
    return machine, interface


def _require_link_state(machine, operation_name: str) -> None:
    if machine.status not in LINK_EDIT_STATUSES:
        raise conflict(f"Cannot {operation_name} interface because the machine is not New, Ready, Allocated, or Broken.")


class InterfacesHandler(Handler):
    """Manage interfaces on a node."""

    path = "nodes/{system_id}/interfaces/"

    def read(self, ctx, system_id):
        """List the node's interfaces."""
        machine_or_404(ctx, system_id, VIEW, model="Node")
        return [render.interface(ctx.state, i) for i in ctx.state.interfaces_of(system_id)]


class InterfaceHandler(Handler):
    """Manage a node's interface (by id or name)."""

    path = "nodes/{system_id}/interfaces/{id}/"

    def read(self, ctx, system_id, id):  # pylint: disable=redefined-builtin
        """Read an interface."""
        interface = interface_or_404(ctx, system_id, id, VIEW)[1]
        return render.interface(ctx.state, interface)

    @operation(idempotent=False)
    def link_subnet(self, ctx, system_id, id):  # pylint: disable=redefined-builtin
        """Link to a subnet: ``mode`` AUTO/DHCP/STATIC/LINK_UP, ``subnet``, ``ip_address``, ``default_gateway``, ``force``."""
        state = ctx.state
        force = bool(string_bool(ctx.post, "force"))
        machine, interface = interface_or_404(ctx, system_id, id, ADMIN)
        _require_link_state(machine, "link subnet")
        data = ctx.data
        errors = FieldErrors()
        raw_mode = data.get("mode")
        mode = raw_mode.lower() if raw_mode else None
        if not raw_mode:
            errors.add("mode", REQUIRED)
        elif mode not in LINK_MODES:
            errors.add("mode", compose_invalid_choice_text("mode", raw_mode, LINK_MODES))
        subnet = None
        if data.get("subnet"):
            subnet = lookup.subnet_by_specifier(state, data.get("subnet"))
            allowed = force or interface.vlan_id is None or (subnet is not None and subnet.vlan_id == interface.vlan_id)
            if subnet is None or not allowed:
                errors.add("subnet", model_invalid_choice())
                subnet = None
        ip_address = ip_field(errors, data, "ip_address")
        default_gateway = form_bool(data, "default_gateway")
        links = state.ips_of(interface.id)
        if mode == "auto" and subnet is None and "subnet" not in errors.errors:
            errors.add("subnet", REQUIRED)
        elif mode == "dhcp":
            current = next((s for s in links if s.alloc_type == IPType.DHCP), None)
            if current is not None:
                if current.subnet_id is not None:
                    errors.add("mode", f"Interface is already set to DHCP from '{_subnet_label(state, state.get('subnet', current.subnet_id))}'.")
                else:
                    errors.add("mode", "Interface is already set to DHCP.")
        elif mode == "static":
            if subnet is None and "subnet" not in errors.errors:
                errors.add("subnet", REQUIRED)
            elif subnet is not None and ip_address:
                if ipaddress.ip_address(ip_address) not in lookup.subnet_network(subnet):
                    errors.add("ip_address", f"IP address is not in the given subnet '{_subnet_label(state, subnet)}'.")
                dynamic = lookup.range_containing(lookup.dynamic_ranges(state, subnet), ip_address)
                if dynamic is not None:
                    errors.add("ip_address", f"IP address is inside a dynamic range {dynamic.start_ip} to {dynamic.end_ip}.")
        elif mode == "link_up":
            active = [s for s in links if not (s.alloc_type in (IPType.STICKY, IPType.DISCOVERED) and not s.ip)]
            if active and not force:
                errors.add("mode", "Cannot configure interface to link up (with no IP address) while other links are already configured. "
                                   "Specify force=True to override this behavior and delete all links.")
        if default_gateway and mode:
            if mode not in ("auto", "static"):
                errors.add("default_gateway", f"Cannot use in mode '{mode}'.")
            elif subnet is None:
                errors.add("default_gateway", "Subnet is required when default_gateway is True.")
            elif not subnet.gateway_ip:
                errors.add("default_gateway", f"Cannot set as default gateway because subnet {_subnet_label(state, subnet)} "
                                              "doesn't provide a gateway IP address.")
        errors.raise_if_any()
        if mode == "static" and ip_address:
            existing = state.ip_by_address(ip_address)
            if existing is not None:
                raise ip_unavailable("IP address is already in use.")
        if mode == "link_up" or force:
            for sip in state.ips_of(interface.id):
                netlogic.release_ip(state, sip)
        link = self._link(state, interface, mode, subnet, ip_address)
        if default_gateway:
            if ":" in subnet.cidr:
                machine.gateway_link_ipv6 = link.id
            else:
                machine.gateway_link_ipv4 = link.id
            state.touch(machine)
        return render.interface(state, interface)

    @staticmethod
    def _link(state, interface, mode: str, subnet, ip_address: str | None):
        """``Interface.link_subnet`` after validation."""
        if interface.vlan_id is None and subnet is not None:
            interface.vlan_id = subnet.vlan_id
            state.touch(interface)
        family = ":" in subnet.cidr if subnet is not None else None

        def remove(kind: str) -> None:
            for sip in state.ips_of(interface.id):
                mode_now = render.link_mode(sip)
                same_family = family is None or sip.subnet_id is None or (":" in state.get("subnet", sip.subnet_id).cidr) == family
                if mode_now == kind and sip.alloc_type != IPType.DISCOVERED and (kind != "dhcp" or same_family):
                    netlogic.release_ip(state, sip)

        if mode == "static":
            if ip_address:
                link = builders.create_ip(state, IPType.STICKY, ip_address, subnet.id, None, interface.id)
            else:
                link = netlogic.allocate(state, subnet, IPType.STICKY, None, interface_id=interface.id)
            remove("dhcp")
            remove("link_up")
            return link
        if mode == "link_up":
            remove("link_up")
            link = builders.create_ip(state, IPType.STICKY, None, subnet.id if subnet else None, None, interface.id)
            remove("dhcp")
            return link
        if mode == "dhcp":
            remove("dhcp")
            link = builders.create_ip(state, IPType.DHCP, None, subnet.id if subnet else None, None, interface.id)
            remove("link_up")
            return link
        link = builders.create_ip(state, IPType.AUTO, None, subnet.id, None, interface.id)
        remove("dhcp")
        remove("link_up")
        return link

    @operation(idempotent=False)
    def unlink_subnet(self, ctx, system_id, id):  # pylint: disable=redefined-builtin
        """Remove a link (``id`` from ``links[].id``); an interface left without links gets a LINK_UP one."""
        state = ctx.state
        machine, interface = interface_or_404(ctx, system_id, id, ADMIN)
        _require_link_state(machine, "unlink subnet")
        link_ids = [sip.id for sip in state.ips_of(interface.id)]
        raw = ctx.data.get("id")
        errors = FieldErrors()
        if not raw:
            errors.add("id", REQUIRED)
        elif not raw.isdigit() or int(raw) not in link_ids:
            errors.add("id", compose_invalid_choice_text("id", raw, [str(i) for i in link_ids]))
        errors.raise_if_any()
        netlogic.release_ip(state, state.get("staticip", int(raw)))
        if interface.enabled and not state.ips_of(interface.id) and interface.vlan_id is not None:
            builders.create_ip(state, IPType.STICKY, None, None, None, interface.id)
        for attribute in ("gateway_link_ipv4", "gateway_link_ipv6"):
            if getattr(machine, attribute) == int(raw):
                setattr(machine, attribute, None)
                state.touch(machine)
        return render.interface(state, interface)

    @operation(idempotent=False)
    def disconnect(self, ctx, system_id, id):  # pylint: disable=redefined-builtin
        """Remove every link and the VLAN."""
        state = ctx.state
        machine, interface = interface_or_404(ctx, system_id, id, ADMIN)
        _require_link_state(machine, "disconnect")
        netlogic.delete_interface_links(state, interface)
        interface.vlan_id = None
        state.touch(interface)
        return render.interface(state, interface)

    @operation(idempotent=False)
    def set_default_gateway(self, ctx, system_id, id):  # pylint: disable=redefined-builtin
        """Use a link of this interface (``link_id``, else the first per address family) as the machine's default gateway."""
        state = ctx.state
        machine, interface = interface_or_404(ctx, system_id, id, ADMIN)
        _require_link_state(machine, "link subnet")
        usable = [sip for sip in state.ips_of(interface.id)
                  if sip.alloc_type in (IPType.AUTO, IPType.STICKY, IPType.DHCP) and sip.subnet_id is not None
                  and state.get("subnet", sip.subnet_id).gateway_ip]
        if not usable:
            raise validation_error("This interface has no usable gateways.")
        raw = ctx.data.get("link_id")
        if raw:
            chosen = [sip for sip in usable if str(sip.id) == raw]
            if not chosen:
                raise validation_error({"link_id": [compose_invalid_choice_text("link_id", raw, [str(s.id) for s in usable])]})
        else:
            firsts: dict = {}
            for sip in usable:
                firsts.setdefault(":" in state.get("subnet", sip.subnet_id).cidr, sip)
            chosen = list(firsts.values())
        for sip in chosen:
            if ":" in state.get("subnet", sip.subnet_id).cidr:
                machine.gateway_link_ipv6 = sip.id
            else:
                machine.gateway_link_ipv4 = sip.id
        state.touch(machine)
        return render.interface(state, interface)
