"""``ipranges/`` and ``ipranges/{id}/`` (``maasserver/api/ipranges.py``, ``forms/iprange.py``)."""

from __future__ import annotations

import ipaddress

from .. import lookup, netlogic, render
from ..errors import ApiError, forbidden, validation_error
from ..model import IPRange
from ..params import REQUIRED, FieldErrors, invalid_choice, ip_field, model_invalid_choice
from ..routing import NO_CONTENT, Handler


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
