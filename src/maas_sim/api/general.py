"""``version/`` and ``describe/`` (anonymous) and ``users/`` (``op=whoami``)."""

from __future__ import annotations

import json

from .. import render
from ..errors import not_found
from ..routing import Handler, Raw, operation

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


class DescribeHandler(Handler):
    """Describe the MAAS API: every handler with its URI and operations."""

    path = "describe/"
    requires_auth = False

    def read(self, ctx):
        """Render a description of the whole MAAS API."""
        base = ctx.base_url
        description = ctx.sim.router.describe(base, hide_vm_hosts=bool(ctx.sim.faults["vmhost_gone"]))
        description["hash"] = ctx.sim.api_hash()
        return Raw(json.dumps(description, sort_keys=True).encode(), "application/json")


class UsersHandler(Handler):
    """Manage the user accounts of this MAAS."""

    path = "users/"

    def read(self, ctx):
        """List users."""
        return [render.user(user) for user in sorted(ctx.state.all("user"), key=lambda u: u.username)]

    @operation(idempotent=True)
    def whoami(self, ctx):
        """Returns the currently logged-in user."""
        return render.user(ctx.user)


class UserHandler(Handler):
    """Manage a user account."""

    path = "users/{username}/"

    def read(self, ctx, username):
        """Retrieve a user's details."""
        user = ctx.state.find("user", username=username)
        if user is None:
            raise not_found("User")
        return render.user(user)
