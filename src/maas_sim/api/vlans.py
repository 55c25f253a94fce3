"""``fabrics/{fabric_id}/vlans/``, ``fabrics/{fabric_id}/vlans/{vid}/`` and ``vlans/{vlan_id}/`` (``maasserver/api/vlans.py``)."""

from __future__ import annotations

from .. import lookup, render
from ..errors import not_found
from ..model import Vlan
from ..params import FieldErrors, form_bool, int_field
from ..routing import Handler, admin_method
from .common import fabric_or_404


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
