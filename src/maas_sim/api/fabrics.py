"""``fabrics/`` and ``fabrics/{id}/`` (``maasserver/api/fabrics.py``)."""

from __future__ import annotations

from .. import render
from ..errors import validation_error
from ..model import Fabric, Vlan
from ..routing import Handler, admin_method
from .common import fabric_or_404


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


class FabricHandler(Handler):
    """Manage a fabric."""

    path = "fabrics/{id}/"

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read a fabric with its VLANs."""
        return render.fabric(ctx.state, fabric_or_404(ctx, id))
