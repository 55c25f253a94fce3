"""``describe/`` (anonymous): the description of the whole API (``maasserver/api/doc_handler.py``)."""

from __future__ import annotations

import json

from ..routing import Handler, Raw


class DescribeHandler(Handler):
    """Describe the MAAS API: every handler with its URI and operations."""

    path = "describe/"
    requires_auth = False
    undescribed = True

    def read(self, ctx):
        """Render a description of the whole MAAS API."""
        base = ctx.base_url
        description = ctx.sim.router.describe(base, hide_vm_hosts=ctx.sim.vm_hosts_gone())
        description["hash"] = ctx.sim.api_hash()
        return Raw(json.dumps(description, sort_keys=True).encode(), "application/json")
