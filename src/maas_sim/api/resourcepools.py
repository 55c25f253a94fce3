"""``resourcepools/`` and ``resourcepool/{id}/`` (``maasserver/api/resourcepools.py``)."""

from __future__ import annotations

import re

from .. import lookup, render
from ..errors import bad_request, forbidden, not_found
from ..model import Pool
from ..routing import NO_CONTENT, Handler
from .common import named_form

POOL_NAME_RE = re.compile(r"^[\w-]+$")


class ResourcePoolsHandler(Handler):
    """Manage resource pools."""

    path = "resourcepools/"

    def read(self, ctx):
        """List resource pools, by name."""
        return [render.pool(p) for p in sorted(ctx.state.all("pool"), key=lambda p: p.name)]

    def create(self, ctx):
        """Create a resource pool (admin)."""
        if not ctx.user.is_superuser:
            raise forbidden()
        fields = named_form(ctx, "pool", "Resource pool", POOL_NAME_RE)
        pool = Pool(id=ctx.state.next_id("pool", start=0), name=fields["name"], description=fields.get("description", ""))
        ctx.state.add(pool)
        return render.pool(pool)


class ResourcePoolHandler(Handler):
    """Manage a resource pool (``/resourcepool/{id}/``, id or name)."""

    path = "resourcepool/{id}/"

    def _get(self, ctx, id):  # pylint: disable=redefined-builtin
        pool = lookup.pool_by_id_or_name(ctx.state, id)
        if pool is None:
            raise not_found("ResourcePool")
        return pool

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read a resource pool."""
        return render.pool(self._get(ctx, id))

    def update(self, ctx, id):  # pylint: disable=redefined-builtin
        """Update a resource pool (admin)."""
        pool = self._get(ctx, id)
        if not ctx.user.is_superuser:
            raise forbidden()
        for key, value in named_form(ctx, "pool", "Resource pool", POOL_NAME_RE, pool).items():
            setattr(pool, key, value)
        ctx.state.touch(pool)
        return render.pool(pool)

    def delete(self, ctx, id):  # pylint: disable=redefined-builtin
        """Delete a resource pool (admin); not the default one, nor one holding machines."""
        pool = self._get(ctx, id)
        if not ctx.user.is_superuser:
            raise forbidden()
        if pool.id == 0:
            raise bad_request("This is the default pool, it cannot be deleted.")
        if any(m.pool_id == pool.id for m in ctx.state.all("machine")):
            raise bad_request("Pool has machines in it, it cannot be deleted.")
        ctx.state.remove(pool)
        return NO_CONTENT
