"""``users/`` (``op=whoami``) and ``users/{username}/`` (``maasserver/api/users.py``)."""

from __future__ import annotations

from .. import render
from ..errors import not_found
from ..model import User
from ..params import REQUIRED, FieldErrors
from ..routing import Handler, admin_method, operation


class UsersHandler(Handler):
    """Manage the user accounts of this MAAS."""

    path = "users/"

    def read(self, ctx):
        """List users."""
        return [render.user(user) for user in sorted(ctx.state.all("user"), key=lambda u: u.username)]

    @admin_method
    def create(self, ctx):
        """Create a user (admin): ``username``, ``email``, ``password``, ``is_superuser``."""
        errors = FieldErrors()
        username = ctx.data.get("username")
        if not username:
            errors.add("username", REQUIRED)
        elif ctx.state.find("user", username=username) is not None:
            errors.add("username", "A user with that username already exists.")
        if not ctx.data.get("email"):
            errors.add("email", REQUIRED)
        errors.raise_if_any()
        user = User(id=ctx.state.next_id("user"), username=username, email=ctx.data.get("email"),
                    is_superuser=ctx.data.get("is_superuser", "").lower() in ("1", "true", "on", "yes"))
        ctx.state.add(user)
        return render.user(user)

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
