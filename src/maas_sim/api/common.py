"""Permission checks and lookups shared by the API handlers (``maasserver/auth/local.py`` without RBAC)."""

from __future__ import annotations

from ..errors import forbidden, not_found

VIEW, EDIT, ADMIN = "view", "edit", "admin"
# Unlocking: superusers only, and (unlike ADMIN) a locked machine is no obstacle.
UNLOCK = "unlock"


def can_view(user, machine) -> bool:
    """Unowned machines, your own, or any for an admin."""
    return user.is_superuser or machine.owner_id is None or machine.owner_id == user.id


def can_edit(user, machine) -> bool:
    """Edit (deploy, release...): unlocked, and unowned/yours, or admin."""
    return not machine.locked and (user.is_superuser or machine.owner_id is None or machine.owner_id == user.id)


def has_perm(user, machine, perm: str) -> bool:
    """``user.has_perm(NodePermission.<perm>, machine)``."""
    if perm == VIEW:
        return can_view(user, machine)
    if perm == EDIT:
        return can_edit(user, machine)
    if perm == UNLOCK:
        return user.is_superuser
    return user.is_superuser and not machine.locked


def machine_or_404(ctx, system_id: str, perm: str, model: str = "Machine"):
    """``<Model>.objects.get_node_or_404``: 404 ``No <model> matches...`` when missing, empty 403 without the permission."""
    machine = ctx.state.get("machine", system_id)
    if machine is None:
        raise not_found(model)
    if not has_perm(ctx.user, machine, perm):
        raise forbidden()
    return machine


def visible_machines(ctx) -> list:
    """Machines the user may see, ordered by id."""
    return [m for m in ctx.state.all("machine") if can_view(ctx.user, m)]
