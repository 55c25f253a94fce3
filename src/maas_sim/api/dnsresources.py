"""``dnsresources/`` and ``dnsresources/{id}/`` (``maasserver/api/dnsresources.py``, ``forms/dnsresource.py``)."""

from __future__ import annotations

import ipaddress
import re

from .. import builders, lookup, netlogic, render
from ..enums import IPType
from ..errors import forbidden, not_found, validation_error
from ..model import DNSResource
from ..params import REQUIRED, FieldErrors, int_field, invalid_choice
from ..routing import NO_CONTENT, Handler, admin_method

DNS_LABEL = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,62}[a-zA-Z0-9]){0,1}"
DNS_NAME_RE = re.compile(rf"^({DNS_LABEL}[.])*{DNS_LABEL}[.]?$")


def _split_fqdn(state, fqdn: str):
    """``separate_fqdn`` for address records: ``(name, domain name)``."""
    if state.find("domain", name=fqdn):
        return "@", fqdn
    match = re.match(rf"^(?P<name>{DNS_LABEL})\.(?P<domain>.+)$", fqdn)
    return (match.group("name"), match.group("domain")) if match else (None, None)


def _domain_for(ctx, name: str):
    domain = lookup.domain_by_id_or_name(ctx.state, name)
    if domain is None:
        raise not_found("Domain")
    return domain


def _dnsresource_form(ctx, instance=None) -> dict:
    """``DNSResourceForm``: name/domain (or fqdn), address_ttl, space-separated ``ip_addresses``."""
    state = ctx.state
    data = ctx.data
    name, domain_name = data.get("name"), data.get("domain")
    fqdn = data.get("fqdn")
    if name is None and domain_name is None and fqdn is not None:
        name, domain_name = _split_fqdn(state, fqdn)
    domain = _domain_for(ctx, domain_name) if domain_name is not None else (state.get("domain", instance.domain_id) if instance else None)
    name = name if name is not None else (instance.name if instance else None)
    errors = FieldErrors()
    if not name:
        errors.add("name", REQUIRED)
    if domain is None:
        errors.add("domain", REQUIRED)
    ttl = int_field(errors, data, "address_ttl", minimum=0, maximum=(1 << 31) - 1)
    errors.raise_if_any()
    raw_ips = data.get("ip_addresses")
    ip_values = raw_ips.split() if raw_ips is not None else None
    if ip_values is not None and name != "@" and not DNS_NAME_RE.match(name):
        raise validation_error(f"Invalid dnsresource name: {name}.")
    if ip_values is not None:
        for value in ip_values:
            if value.isdigit():
                if state.get("staticip", int(value)) is None:
                    raise validation_error({"ip_addresses": [invalid_choice(value)]})
                continue
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise validation_error({"ip_addresses": [f"\u201c{value}\u201d is not a valid value."]}) from None
    if instance is None and state.find("dnsresource", name=name, domain_id=domain.id) is not None:
        raise validation_error({"__all__": ["Labels must be unique within their zone."]})
    fields = {"name": name, "domain_id": domain.id}
    if "address_ttl" in data:
        fields["address_ttl"] = ttl
    return fields, ip_values


def _resolve_ips(state, user, values) -> list:
    """Ids for ``ip_addresses`` values: known addresses are linked, unknown ones become USER_RESERVED of the caller."""
    ids = []
    for value in values:
        if value.isdigit():
            ids.append(int(value))
            continue
        address = str(ipaddress.ip_address(value))
        sip = state.ip_by_address(address)
        if sip is None:
            subnet = lookup.best_subnet_for_ip(state, address)
            sip = builders.create_ip(state, IPType.USER_RESERVED, address, subnet.id if subnet else None, user.id)
        ids.append(sip.id)
    return ids


class DNSResourcesHandler(Handler):
    """Manage DNS resources."""

    path = "dnsresources/"

    def read(self, ctx):
        """List DNS resources (filters ``fqdn``, ``name``, ``domain``, ``rrtype``)."""
        state = ctx.state
        name, domain_name = ctx.query.get("name"), ctx.query.get("domain")
        fqdn = ctx.query.get("fqdn")
        rrtype = ctx.query.get("rrtype")
        if domain_name is None and name is None and fqdn is not None:
            name, domain_name = _split_fqdn(state, fqdn)
        resources = state.all("dnsresource")
        if domain_name is not None:
            domain = _domain_for(ctx, domain_name)
            resources = sorted((r for r in resources if r.domain_id == domain.id), key=lambda r: r.name)
        else:
            resources = sorted(resources, key=lambda r: (r.domain_id, r.name))
        if name is not None:
            resources = [r for r in resources if r.name == name]
        if rrtype is not None:
            # MAAS filters on DNSData rows (CNAME, TXT...); address records have none.
            resources = []
        return [render.dnsresource(state, r) for r in resources]

    @admin_method
    def create(self, ctx):
        """Create a DNS resource (``fqdn`` or ``name``+``domain``, ``address_ttl``, ``ip_addresses``)."""
        state = ctx.state
        fields, ip_values = _dnsresource_form(ctx)
        resource = DNSResource(id=state.next_id("dnsresource"), **fields)
        resource.ip_ids = _resolve_ips(state, ctx.user, ip_values or [])
        state.add(resource)
        return render.dnsresource(state, resource)


class DNSResourceHandler(Handler):
    """Manage a DNS resource."""

    path = "dnsresources/{id}/"

    def _get(self, ctx, id, admin=False):  # pylint: disable=redefined-builtin
        resource = lookup.by_id_or_404(ctx.state, "dnsresource", id, "DNSResource")
        if admin and not ctx.user.is_superuser:
            raise forbidden()
        return resource

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read a DNS resource."""
        return render.dnsresource(ctx.state, self._get(ctx, id))

    def update(self, ctx, id):  # pylint: disable=redefined-builtin
        """Update a DNS resource (admin); ``ip_addresses`` replaces the address list."""
        state = ctx.state
        resource = self._get(ctx, id, admin=True)
        fields, ip_values = _dnsresource_form(ctx, resource)
        for key, value in fields.items():
            setattr(resource, key, value)
        if ip_values is not None:
            resource.ip_ids = _resolve_ips(state, ctx.user, ip_values)
        state.touch(resource)
        return render.dnsresource(state, resource)

    def delete(self, ctx, id):  # pylint: disable=redefined-builtin
        """Delete a DNS resource (admin), with the reservations only it used (MAAS 3.6.1+)."""
        netlogic.delete_dnsresource(ctx.state, self._get(ctx, id, admin=True))
        return NO_CONTENT
