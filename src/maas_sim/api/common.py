"""What several API modules share: permission checks (``maasserver/auth/local.py`` without RBAC), lookups, the name form."""

from __future__ import annotations

from .. import lookup
from ..errors import forbidden, not_found
from ..params import REQUIRED, FieldErrors

VIEW, EDIT, ADMIN = "view", "edit", "admin"
# ``NodePermission.admin_read``: superusers, locked machines included.
ADMIN_READ = "admin_read"
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
    if perm in (UNLOCK, ADMIN_READ):
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


def fabric_or_404(ctx, fabric_id: str):
    """Fabric by id (or name)."""
    fabric = lookup.fabric_by_id_or_name(ctx.state, fabric_id)
    if fabric is None:
        raise not_found("Fabric")
    return fabric


def named_form(ctx, kind: str, label: str, regex, instance=None, fields=("name", "description")) -> dict:
    """Validate the unique ``name`` (matching ``regex``) of a zone, pool or tag form; the given ``fields`` of the request."""
    errors = FieldErrors()
    name = ctx.data.get("name")
    if instance is None and not name:
        errors.add("name", REQUIRED)
    elif name is not None:
        if not regex.match(name):
            errors.add("name", "Enter a valid value.")
        other = ctx.state.find(kind, name=name)
        if other is not None and other is not instance:
            errors.add("name", f"{label} with this Name already exists.")
    errors.raise_if_any()
    return {key: ctx.data.get(key) for key in fields if ctx.data.get(key) is not None}
