"""``domains/`` and ``domains/{id}/`` (``maasserver/api/domains.py``)."""

from __future__ import annotations

from .. import lookup, render
from ..errors import bad_request, forbidden, internal_error, not_found, validation_error
from ..model import Domain
from ..params import REQUIRED, FieldErrors, int_field
from ..routing import NO_CONTENT, Handler, Raw, admin_method, operation


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
