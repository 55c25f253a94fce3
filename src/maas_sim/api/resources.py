"""Zones, resource pools, tags and domains (``api/zones.py``, ``resourcepools.py``, ``tags.py``, ``domains.py``)."""

from __future__ import annotations

import re

from .. import builders, lookup, render
from ..errors import bad_request, conflict, forbidden, internal_error, not_found, validation_error
from ..model import Domain, Pool, Zone
from ..params import REQUIRED, FieldErrors, int_field
from ..routing import NO_CONTENT, Handler, Raw, admin_method, operation
from .common import visible_machines
from .machines import machine_list_response

ZONE_NAME_RE = re.compile(r"^\w[ \w-]*$")
POOL_NAME_RE = re.compile(r"^[\w-]+$")
TAG_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")


def _named_form(ctx, kind: str, label: str, instance=None, regex=ZONE_NAME_RE, fields=("name", "description")) -> dict:
    """Validate the unique ``name`` of a zone, pool or tag form; the given ``fields`` of the request."""
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


class ZonesHandler(Handler):
    """Manage physical zones."""

    path = "zones/"

    def read(self, ctx):
        """List zones, by name."""
        return [render.zone(z) for z in sorted(ctx.state.all("zone"), key=lambda z: z.name)]

    @admin_method
    def create(self, ctx):
        """Create a zone (``name``, ``description``)."""
        fields = _named_form(ctx, "zone", "Physical zone")
        zone = Zone(id=ctx.state.next_id("zone"), name=fields["name"], description=fields.get("description", ""))
        ctx.state.add(zone)
        return render.zone(zone)


class ZoneHandler(Handler):
    """Manage a physical zone (addressed by name)."""

    path = "zones/{name}/"

    def read(self, ctx, name):
        """Read a zone."""
        zone = lookup.zone_named(ctx.state, name)
        if zone is None:
            raise not_found("Zone")
        return render.zone(zone)

    @admin_method
    def update(self, ctx, name):
        """Update a zone's name or description."""
        zone = lookup.zone_named(ctx.state, name)
        if zone is None:
            raise not_found("Zone")
        for key, value in _named_form(ctx, "zone", "Physical zone", zone).items():
            setattr(zone, key, value)
        ctx.state.touch(zone)
        return render.zone(zone)

    @admin_method
    def delete(self, ctx, name):
        """Delete a zone (204 even when it does not exist); its machines move to ``default``."""
        zone = lookup.zone_named(ctx.state, name)
        if zone is not None:
            if zone.name == "default":
                raise bad_request("This zone is the default zone, it cannot be deleted.")
            default = lookup.default_zone(ctx.state)
            for obj in ctx.state.all("machine") + ctx.state.all("pod"):
                if obj.zone_id == zone.id:
                    obj.zone_id = default.id
                    ctx.state.touch(obj)
            ctx.state.remove(zone)
        return NO_CONTENT


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
        fields = _named_form(ctx, "pool", "Resource pool", regex=POOL_NAME_RE)
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
        for key, value in _named_form(ctx, "pool", "Resource pool", pool, regex=POOL_NAME_RE).items():
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


def _tag_form(ctx, instance=None) -> dict:
    return _named_form(ctx, "tag", "Tag", instance, TAG_NAME_RE, ("name", "comment", "definition", "kernel_opts"))


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


def _domain_form(ctx, instance=None) -> dict:
    errors = FieldErrors()
    fields = {}
    name = ctx.data.get("name")
    if instance is None and not name:
        errors.add("name", REQUIRED)
    elif name is not None:
        other = ctx.state.find("domain", name=name)
        if other is not None and other is not instance:
            errors.add("name", "Domain with this Name already exists.")
        fields["name"] = name
    if ctx.data.get("ttl") not in (None, ""):
        fields["ttl"] = int_field(errors, ctx.data, "ttl", minimum=1, maximum=604800)
    if ctx.data.get("authoritative") is not None:
        fields["authoritative"] = ctx.data.get("authoritative").lower() not in ("false", "0", "")
    errors.raise_if_any()
    return fields


class DomainsHandler(Handler):
    """Manage domains."""

    path = "domains/"

    def read(self, ctx):
        """List domains."""
        return [render.domain(ctx.state, d) for d in ctx.state.all("domain")]

    @admin_method
    def create(self, ctx):
        """Create a domain (``name``, ``authoritative``, ``ttl``)."""
        fields = _domain_form(ctx)
        domain = Domain(id=ctx.state.next_id("domain", start=0), **fields)
        ctx.state.add(domain)
        return render.domain(ctx.state, domain)

    @admin_method
    @operation(idempotent=False)
    def set_serial(self, ctx):
        """Set the SOA serial of the zones MAAS serves."""
        serial = ctx.data.get("serial")
        if serial is None:
            raise validation_error({"serial": "Missing parameter"})
        if not serial.isdigit():
            raise validation_error({"serial": "Expected a serial number"})
        if int(serial) == 0 or int(serial) > 4294967295:
            raise validation_error({"serial": "Expected a serial number between 1 and 4294967295"})
        ctx.state.meta["dns_serial"] = int(serial)
        ctx.state.touch_meta()
        return Raw(b"null")


class DomainHandler(Handler):
    """Manage a domain (by id or name)."""

    path = "domains/{id}/"

    def _get(self, ctx, id, admin=False):  # pylint: disable=redefined-builtin
        domain = lookup.domain_by_id_or_name(ctx.state, id)
        if domain is None:
            raise not_found("Domain")
        if admin and not ctx.user.is_superuser:
            raise forbidden()
        return domain

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read a domain."""
        return render.domain(ctx.state, self._get(ctx, id))

    def update(self, ctx, id):  # pylint: disable=redefined-builtin
        """Update a domain (admin)."""
        domain = self._get(ctx, id, admin=True)
        for key, value in _domain_form(ctx, domain).items():
            setattr(domain, key, value)
        ctx.state.touch(domain)
        return render.domain(ctx.state, domain)

    @operation(idempotent=False)
    def set_default(self, ctx, id):  # pylint: disable=redefined-builtin
        """Make this the default domain (admin)."""
        domain = self._get(ctx, id, admin=True)
        ctx.state.meta["default_domain_id"] = domain.id
        ctx.state.touch_meta()
        ctx.state.touch(domain)
        return render.domain(ctx.state, domain)

    def delete(self, ctx, id):  # pylint: disable=redefined-builtin
        """Delete a domain (admin) and its DNS resources; not the default one, nor one machines use."""
        domain = self._get(ctx, id, admin=True)
        if lookup.default_domain(ctx.state).id == domain.id:
            raise bad_request("This domain is the default domain, it cannot be deleted.")
        if any(m.domain_id == domain.id for m in ctx.state.all("machine")):
            # Node.domain is a PROTECT foreign key: Django's ProtectedError is not mapped, so MAAS answers 500.
            raise internal_error("Cannot delete some instances of model 'Domain' because they are referenced through protected "
                                 "foreign keys: 'Node.domain'.")
        for resource in ctx.state.all("dnsresource"):
            if resource.domain_id == domain.id:
                ctx.state.remove(resource)
        ctx.state.remove(domain)
        return NO_CONTENT
