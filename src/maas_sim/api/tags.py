"""``tags/`` and ``tags/{name}/`` (``maasserver/api/tags.py``)."""

from __future__ import annotations

import re

from .. import builders, lookup, render
from ..errors import conflict, forbidden, not_found
from ..routing import NO_CONTENT, Handler, operation
from .common import named_form, visible_machines
from .machines import machine_list_response

TAG_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")


def _tag_form(ctx, instance=None) -> dict:
    return named_form(ctx, "tag", "Tag", TAG_NAME_RE, instance, ("name", "comment", "definition", "kernel_opts"))


class TagsHandler(Handler):
    """Manage all tags known to MAAS."""

    path = "tags/"

    def read(self, ctx):
        """List tags."""
        return [render.tag(t) for t in ctx.state.all("tag")]

    def create(self, ctx):
        """Create a tag (admin): ``name``, ``comment``, ``definition``, ``kernel_opts``."""
        if not ctx.user.is_superuser:
            raise forbidden()
        fields = _tag_form(ctx)
        tag = builders.ensure_tag(ctx.state, fields.pop("name"), **fields)
        return render.tag(tag)


class TagHandler(Handler):
    """Manage a tag (addressed by name)."""

    path = "tags/{name}/"

    def _get(self, ctx, name, to_edit=False):
        if to_edit and not ctx.user.is_superuser:
            raise forbidden()
        tag = lookup.tag_named(ctx.state, name)
        if tag is None:
            raise not_found("Tag")
        return tag

    def read(self, ctx, name):
        """Read a tag."""
        return render.tag(self._get(ctx, name))

    def update(self, ctx, name):
        """Update a tag (admin); renaming renames it on its machines."""
        tag = self._get(ctx, name, to_edit=True)
        fields = _tag_form(ctx, tag)
        new_name = fields.get("name", tag.name)
        if new_name != tag.name:
            for machine in ctx.state.all("machine"):
                if tag.name in machine.tags:
                    machine.tags = [new_name if t == tag.name else t for t in machine.tags]
                    ctx.state.touch(machine)
        for key, value in fields.items():
            setattr(tag, key, value)
        ctx.state.touch(tag)
        return render.tag(tag)

    def delete(self, ctx, name):
        """Delete a tag (admin); it is removed from its machines."""
        tag = self._get(ctx, name, to_edit=True)
        for machine in ctx.state.all("machine"):
            if tag.name in machine.tags:
                machine.tags = [t for t in machine.tags if t != tag.name]
                ctx.state.touch(machine)
        ctx.state.remove(tag)
        return NO_CONTENT

    @operation(idempotent=True)
    def machines(self, ctx, name):
        """List the machines carrying this tag."""
        tag = self._get(ctx, name)
        return machine_list_response(ctx.state, [m for m in visible_machines(ctx) if tag.name in m.tags])

    @operation(idempotent=True)
    def nodes(self, ctx, name):
        """List the nodes (here: machines) carrying this tag."""
        return self.machines(ctx, name)

    @operation(idempotent=False)
    def update_nodes(self, ctx, name):
        """Add (``add=``) and remove (``remove=``) the tag on nodes by system id; returns the counts."""
        if not ctx.user.is_superuser:
            raise forbidden()
        tag = self._get(ctx, name)
        definition = ctx.data.get("definition")
        if definition is not None and definition != tag.definition:
            raise conflict(f"Definition supplied '{definition}' doesn't match current definition '{tag.definition}'")
        state = ctx.state
        added = [state.get("machine", sid) for sid in dict.fromkeys(ctx.data.getlist("add")) if state.get("machine", sid)]
        removed = [state.get("machine", sid) for sid in dict.fromkeys(ctx.data.getlist("remove")) if state.get("machine", sid)]
        for machine in added:
            if tag.name not in machine.tags:
                machine.tags = machine.tags + [tag.name]
                state.touch(machine)
        for machine in removed:
            if tag.name in machine.tags:
                machine.tags = [t for t in machine.tags if t != tag.name]
                state.touch(machine)
        return {"added": len(added), "removed": len(removed)}
