"""``version/`` (anonymous): version and capabilities (``maasserver/api/version.py``)."""

from __future__ import annotations

import json

from ..routing import Handler, Raw

CAPABILITIES = [
    "networks-management",
    "static-ipaddresses",
    "ipv6-deployment-ubuntu",
    "devices-management",
    "storage-deployment-ubuntu",
    "network-deployment-ubuntu",
    "bridging-interface-ubuntu",
    "bridging-automatic-ubuntu",
    "authenticate-api",
]


class VersionHandler(Handler):
    """Information about this MAAS instance."""

    path = "version/"
    requires_auth = False

    def read(self, ctx):
        """Read version and capabilities of this MAAS instance."""
        body = {"capabilities": CAPABILITIES, "version": ctx.state.meta.get("maas_version", "3.6.1"), "subversion": ""}
        return Raw(json.dumps(body).encode())
