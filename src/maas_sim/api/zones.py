"""``zones/`` and ``zones/{name}/`` (``maasserver/api/zones.py``)."""

from __future__ import annotations

import re

from .. import lookup, render
from ..errors import bad_request, not_found
from ..model import Zone
from ..routing import NO_CONTENT, Handler, admin_method
from .common import named_form

ZONE_NAME_RE = re.compile(r"^\w[ \w-]*$")


class ZonesHandler(Handler):
    """Manage physical zones."""

    path = "zones/"

    def read(self, ctx):
        """List zones, by name."""
        return [render.zone(z) for z in sorted(ctx.state.all("zone"), key=lambda z: z.name)]

    @admin_method
    def create(self, ctx):
        """Create a zone (``name``, ``description``)."""
        fields = named_form(ctx, "zone", "Physical zone", ZONE_NAME_RE)
        zone = Zone(id=ctx.state.next_id("zone"), name=fields["name"], description=fields.get("description", ""))
        ctx.state.add(zone)
        return render.zone(zone)


class ZoneHandler(Handler):
    """Manage a physical zone (addressed by name)."""

    path = "zones/{name}/"

    def read(self, ctx, name):
        """Read a zone."""
        zone = lookup.zone_named(ctx.state, name)
        if zone is None:
            raise not_found("Zone")
        return render.zone(zone)

    @admin_method
    def update(self, ctx, name):
        """Update a zone's name or description."""
        zone = lookup.zone_named(ctx.state, name)
        if zone is None:
            raise not_found("Zone")
        for key, value in named_form(ctx, "zone", "Physical zone", ZONE_NAME_RE, zone).items():
            setattr(zone, key, value)
        ctx.state.touch(zone)
        return render.zone(zone)

    @admin_method
    def delete(self, ctx, name):
        """Delete a zone (204 even when it does not exist); its machines move to ``default``."""
        zone = lookup.zone_named(ctx.state, name)
        if zone is not None:
            if zone.name == "default":
                raise bad_request("This zone is the default zone, it cannot be deleted.")
            default = lookup.default_zone(ctx.state)
            for obj in ctx.state.all("machine") + ctx.state.all("pod"):
                if obj.zone_id == zone.id:
                    obj.zone_id = default.id
                    ctx.state.touch(obj)
            ctx.state.remove(zone)
        return NO_CONTENT
