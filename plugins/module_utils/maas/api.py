# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MAAS API endpoints the collection uses, on top of the transport: ``MaasClient``.

Each method is one MAAS operation with the filters MAAS applies server-side (never a whole
list downloaded to find one object), and, for writes that are not idempotent, the ``verify``
lookup that lets a lost answer be retried without duplicates (``transport.py``).
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import (
    MaasConfigError,
    MaasError,
    MaasNotFound,
    MaasValidationError,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import COMMISSIONING, DEPLOYED, DEPLOYING, READY
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.transport import MaasTransport

# MAAS composes synchronously and gives the hypervisor driver 120 s; a shorter read timeout would
# turn every slow compose into a lost answer.
COMPOSE_TIMEOUT = 150


class MaasClient(MaasTransport):
    """The MAAS client: the transport's signed, retried requests plus one method per MAAS operation used."""

    def __init__(self, *args, **kwargs):
        super(MaasClient, self).__init__(*args, **kwargs)
        self._username = None

    # Users and version

    def version(self):
        """``GET /version/``: ``{"version": "3.6.1", "capabilities": [...], "subversion": ""}``."""
        return self.get("version/")

    def whoami(self):
        """The user the key belongs to (``username``, ``is_superuser``, ...)."""
        return self.get("users/", op="whoami")

    def username(self):
        """The API user's name (one ``op=whoami`` per client, asked when first needed)."""
        if self._username is None:
            self._username = (self.whoami() or {}).get("username")
        return self._username

    # VM hosts

    def list_vm_hosts(self):
        """Every VM host MAAS shows this user (MAAS offers no server-side filter on this list)."""
        return self.get("vm-hosts/") or []

    def get_vm_host(self, host_id):
        """One VM host by id."""
        return self.get("vm-hosts/%s/" % host_id)

    def vm_host_parameters(self, host_id):
        """A VM host's power parameters (admin only). They contain secrets: pick fields, never return it whole."""
        return self.get("vm-hosts/%s/" % host_id, op="parameters")

    def compose(self, host_id, data):
        """``op=compose`` on a VM host. ``data`` must carry ``hostname``: it is how a lost answer is verified.

        Returns ``{"system_id", "resource_uri"}``; when a retry finds that the first attempt
        created the machine, that machine's ``system_id`` and ``resource_uri`` are returned.
        """
        hostname = data.get("hostname")
        if not hostname:
            raise MaasConfigError("compose needs a hostname so that a lost answer can be verified without duplicates")

        retried = []

        def verify():
            retried.append(True)
            machine = self.find_machine(hostname)
            if machine is None:
                return None
            return {"system_id": machine["system_id"], "resource_uri": machine.get("resource_uri"), "verified": True}

        try:
            return self.post("vm-hosts/%s/" % host_id, data=data, op="compose", verify=verify,
                             timeout=max(self.timeout, COMPOSE_TIMEOUT))
        except MaasValidationError as exc:
            # A first attempt still running inside MAAS when ours timed out makes the re-sent one fail
            # on the hostname; the machine it created is the answer.
            if retried and "hostname" in exc.fields:
                found = verify()
                if found is not None:
                    self.log("compose of %s: MAAS reports the hostname taken by the earlier attempt's machine %s" % (
                        hostname, found["system_id"]))
                    return found
            raise

    # Machines

    def list_machines(self, **filters):
        """``GET /machines/`` with server-side filters (``hostname``, ``id``, ``zone``, ``pool``, ``tags``...)."""
        return self.get("machines/", params=filters) or []

    def list_machines_tagged(self, tags, **filters):
        """Machines carrying all of ``tags`` (one filtered request); none, not an error, while a tag does not exist.

        MAAS answers a filter on an unknown tag with 400 ``{"tags": ["No such tag(s): 'x'."]}``.
        """
        try:
            return self.list_machines(tags=list(tags), **filters)
        except MaasValidationError as exc:
            if "tags" in (exc.fields or {}):
                return []
            raise

    def find_machine(self, hostname):
        """The machine named ``hostname`` (short name) or None; one filtered request."""
        found = self.list_machines(hostname=[hostname])
        matches = [m for m in found if m.get("hostname") == hostname]
        if len(matches) > 1:
            raise MaasError("MAAS has %d machines named %r (%s); rename or delete the extra ones." % (
                len(matches), hostname, ", ".join(m["system_id"] for m in matches)))
        return matches[0] if matches else None

    def get_machine(self, system_id):
        """One machine by system_id."""
        return self.get("machines/%s/" % system_id)

    def get_machines(self, system_ids):
        """Several machines in one request (``?id=a&id=b``); ids MAAS does not know are simply absent."""
        if not system_ids:
            return []
        return self.list_machines(id=list(system_ids))

    def create_machine(self, data):
        """``POST /machines/``: register a machine (``hostname``, ``architecture``, ``mac_addresses``, ``power_type``,
        ``power_parameters_<name>``, ``zone``, ``pool``, ``domain``, ``commission``). ``data`` must carry ``hostname``:
        a lost answer is verified by it, never re-sent blindly."""
        hostname = data.get("hostname")
        if not hostname:
            raise MaasConfigError("create_machine needs a hostname so that a lost answer can be verified without duplicates")
        return self.post("machines/", data=data, verify=lambda: self.find_machine(hostname))

    def commission(self, system_id, data=None):
        """``op=commission``; a retry first checks whether the machine is commissioning (or done) already."""

        def verify():
            machine = self.get_machine(system_id)
            return machine if machine.get("status_name") in (COMMISSIONING, READY) else None

        return self.post("machines/%s/" % system_id, data=data, op="commission", verify=verify)

    def power_parameters(self, system_id):
        """``op=power_parameters`` (admin): the machine's power parameters. They hold secrets (an LXD machine's
        certificate and key, a BMC password): take the fields needed, never return or log the whole answer."""
        return self.get("machines/%s/" % system_id, op="power_parameters") or {}

    def allocate(self, constraints, verify=None):
        """``POST /machines/?op=allocate``; ``verify`` finds a machine the first attempt allocated."""
        return self.post("machines/", data=constraints, op="allocate", verify=verify)

    def deploy(self, system_id, data):
        """``op=deploy``; a retry first checks whether the machine is already deploying."""

        def verify():
            machine = self.get_machine(system_id)
            return machine if machine.get("status_name") in (DEPLOYING, DEPLOYED) else None

        return self.post("machines/%s/" % system_id, data=data, op="deploy", verify=verify)

    def release(self, system_id, data=None):
        """``op=release``; MAAS answers a release of a Ready or Releasing machine with a no-op, so it is safe to repeat."""
        return self.post("machines/%s/" % system_id, data=data, op="release", idempotent=True)

    def update_machine(self, system_id, data):
        """``PUT /machines/{system_id}/`` (hostname, zone, pool, domain, ...)."""
        return self.put("machines/%s/" % system_id, data=data)

    def delete_machine(self, system_id):
        """Delete a machine (decomposes a VM); returns False when it was already gone."""
        try:
            self.delete("machines/%s/" % system_id)
        except MaasNotFound:
            return False
        return True

    # Interfaces

    def link_subnet(self, system_id, interface_id, data):
        """``op=link_subnet`` on an interface; a retry first checks whether the link already exists."""
        ip_address = data.get("ip_address")

        def verify():
            interface = self.get("nodes/%s/interfaces/%s/" % (system_id, interface_id))
            for link in interface.get("links", []):
                if ip_address and link.get("ip_address") == ip_address and link.get("mode") == str(data.get("mode")).lower():
                    return interface
            return None

        return self.post("nodes/%s/interfaces/%s/" % (system_id, interface_id), data=data, op="link_subnet",
                         verify=verify if ip_address else None)

    def unlink_subnet(self, system_id, interface_id, link_id):
        """``op=unlink_subnet``; a retry first checks whether the link is already gone."""

        def verify():
            interface = self.get("nodes/%s/interfaces/%s/" % (system_id, interface_id))
            if any(link.get("id") == link_id for link in interface.get("links", [])):
                return None
            return interface

        return self.post("nodes/%s/interfaces/%s/" % (system_id, interface_id), data={"id": link_id},
                         op="unlink_subnet", verify=verify)

    def set_default_gateway(self, system_id, interface_id, link_id):
        """``op=set_default_gateway``: the link ``link_id`` of the interface gives the machine its default gateway.

        Idempotent in MAAS (it sets ``gateway_link_ipv4``/``ipv6``), so a retry is safe.
        """
        return self.post("nodes/%s/interfaces/%s/" % (system_id, interface_id), data={"link_id": link_id},
                         op="set_default_gateway", idempotent=True)

    # Tags

    def get_tag(self, name):
        """A tag, or None when MAAS has none of that name."""
        try:
            return self.get("tags/%s/" % name)
        except MaasNotFound:
            return None

    def list_tags(self):
        """Every tag (name, comment, definition); one request, however many tags are looked for."""
        return self.get("tags/") or []

    def ensure_tags(self, comments):
        """Create the tags of ``comments`` (name -> comment) that do not exist, with one read; return those created.

        Tasks running in parallel (one per VM) race to create the same cluster tag: MAAS answers
        the losers 400 ``{"name": ["Tag with this Name already exists."]}``, which is success here.
        """
        existing = set(tag.get("name") for tag in self.list_tags())
        created = []
        for name, comment in comments.items():
            if name in existing:
                continue
            try:
                self.post("tags/", data={"name": name, "comment": comment}, verify=lambda name=name: self.get_tag(name))
            except MaasValidationError as exc:
                if "name" in (exc.fields or {}) and self.get_tag(name) is not None:
                    self.log("tag %s was created meanwhile by another task" % name)
                    continue
                raise
            created.append(name)
        return created

    def delete_tag(self, name):
        """Delete tag ``name`` (MAAS removes it from its machines); False when it was already gone."""
        try:
            self.delete("tags/%s/" % name)
        except MaasNotFound:
            return False
        return True

    def tag_machines(self, name, add=(), remove=()):
        """``op=update_nodes`` on tag ``name``; adding or removing twice is harmless, so retries are safe."""
        data = {"add": list(add), "remove": list(remove)}
        return self.post("tags/%s/" % name, data=data, op="update_nodes", idempotent=True)

    # Places and networks

    def list_zones(self):
        """All zones (a short list)."""
        return self.get("zones/") or []

    def list_resource_pools(self):
        """All resource pools (a short list)."""
        return self.get("resourcepools/") or []

    def list_domains(self):
        """All DNS domains (a short list)."""
        return self.get("domains/") or []

    def list_subnets(self):
        """All subnets."""
        return self.get("subnets/") or []

    def list_ipranges(self):
        """Every dynamic and reserved IP range, with its type, owner and comment (one request)."""
        return self.get("ipranges/") or []

    def subnet_ip_addresses(self, subnet):
        """``op=ip_addresses`` of a subnet (id or MAAS specifier such as ``ip:<address>``): its allocated addresses,
        each with the user, the node summary and the DNS records that use it."""
        return self.get("subnets/%s/" % subnet, op="ip_addresses", params={"with_username": 1, "with_summary": 1}) or []

    def ip_addresses(self, ip=None, all_users=False):
        """``GET /ipaddresses/``: by default this user's reservations; ``all_users`` (admin) lists every allocated address."""
        params = {"ip": ip}
        if all_users:
            params["all"] = True
        return self.get("ipaddresses/", params=params) or []

    def release_ip(self, ip, force=False):
        """Release a reserved IP address; a retry first checks whether it is already released."""
        data = {"ip": ip}
        if force:
            data["force"] = True
        return self.post("ipaddresses/", data=data, op="release",
                         verify=lambda: True if not self.ip_addresses(ip=ip, all_users=force) else None)
