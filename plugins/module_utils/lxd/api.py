# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LXD API endpoints the collection uses, on top of the transport: ``LxdClient``.

One method per LXD operation. Asynchronous ones (instance create, delete and state changes) are
waited for (``waiters.wait_for_operation``) so that a method returns when LXD is done, and a POST
that creates something carries the ``verify`` lookup that lets a lost answer be retried without a
duplicate. The client never changes an instance it did not create unless asked to by name: the
ownership marks (``ownership.instance_marks``) tell the caller which instances are the
collection's, and ``create_instance`` says whose an existing instance of the same name is.
"""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.definitions import MAAS_PROFILE, REQUIRED_EXTENSIONS, bridges
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import (
    LxdBadRequest,
    LxdConflict,
    LxdNotFound,
    LxdOperationFailed,
    LxdUnsupported,
    LxdUntrusted,
    untrusted_hint,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.transport import LxdTransport, pem_fingerprint
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.waiters import wait_for_operation
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import LXD_MANAGED_KEY, LXD_MARK_PREFIX, instance_ownership

DEFAULT_PROJECT = "default"
# LXD creates an empty VM (no image) in well under a second; a deletion or stop can take longer.
OPERATION_TIMEOUT = 300


def _name(value):
    return quote(str(value), safe="")


class LxdClient(LxdTransport):
    """The LXD client: the transport's verified, retried requests plus one method per LXD operation used.

    ``project`` is the LXD project of instance, profile and volume requests (each method takes
    ``project=`` to use another one); ``operation_timeout`` bounds each wait for an operation.
    """

    def __init__(self, url, client_cert, client_key, project=DEFAULT_PROJECT, operation_timeout=OPERATION_TIMEOUT,
                 **kwargs):
        super(LxdClient, self).__init__(url, client_cert, client_key, **kwargs)
        self.project = project or DEFAULT_PROJECT
        self.operation_timeout = operation_timeout
        self._server = None

    # -- the server ------------------------------------------------------------------------

    def server(self, refresh=False):
        """``GET /1.0``: ``api_extensions``, ``auth`` (trusted/untrusted), ``environment`` (server_version, driver...).

        Read once per client (``refresh`` reads again). LXD answers it to untrusted clients too.
        """
        if self._server is None or refresh:
            self._server = self.get("/1.0") or {}
        return self._server

    def server_version(self):
        """LXD's version (``environment.server_version``; empty for an untrusted client)."""
        return (self.server().get("environment") or {}).get("server_version", "")

    def require_trusted(self):
        """Raise LxdUntrusted unless LXD trusts the client certificate (``auth: trusted``)."""
        if self.server().get("auth") != "trusted":
            raise LxdUntrusted(
                "LXD at %s answers this client as %r. %s" % (self.url, self.server().get("auth") or "unknown",
                                                             untrusted_hint(self.client_cert)),
                status=403, method="GET", path="/1.0", url=self.url)

    def api_extensions(self):
        """The API extensions LXD announces."""
        return list(self.server().get("api_extensions") or [])

    def has_extension(self, name):
        """Whether LXD announces the API extension ``name``."""
        return name in self.api_extensions()

    def require_extensions(self, names=REQUIRED_EXTENSIONS):
        """Raise LxdUnsupported naming the extensions of ``names`` that LXD lacks (default: what MAAS requires)."""
        have = set(self.api_extensions())
        missing = [name for name in names if name not in have]
        if missing:
            raise LxdUnsupported(
                "LXD at %s (version %s) lacks the API extension(s) %s: upgrade LXD (MAAS requires 4.16 or later for "
                "LXD VMs)." % (self.url, self.server_version() or "unknown", ", ".join(missing)), url=self.url)

    def supports_virtual_machines(self):
        """Whether LXD can create virtual machines (its ``environment.driver`` lists qemu)."""
        drivers = (self.server().get("environment") or {}).get("driver", "")
        return "qemu" in [part.strip() for part in drivers.split("|")]

    def require_virtual_machines(self):
        """Raise LxdUnsupported unless LXD can create virtual machines."""
        self.require_trusted()
        if not self.supports_virtual_machines():
            driver = (self.server().get("environment") or {}).get("driver") or "none"
            raise LxdUnsupported(
                "LXD at %s cannot create virtual machines (instance drivers: %s): it needs qemu, /dev/kvm and the "
                "vhost_vsock kernel module on the LXD host; install and load them, then restart LXD." % (
                    self.url, driver), url=self.url)

    def resources(self):
        """``GET /1.0/resources``: the host's CPUs, memory, GPUs, NICs, disks..."""
        return self.get("/1.0/resources") or {}

    def capacity(self):
        """``{"cores": CPU threads, "memory": bytes}`` of the LXD host (``/1.0/resources``)."""
        resources = self.resources()
        return {"cores": int((resources.get("cpu") or {}).get("total") or 0),
                "memory": int((resources.get("memory") or {}).get("total") or 0)}

    # -- projects and profiles -------------------------------------------------------------

    def project_exists(self, name=None):
        """Whether the LXD project ``name`` (default: the client's) exists.

        Check it when it matters: LXD 5.0 lists the instances of a project that does not exist as none.
        """
        return self._exists("/1.0/projects/%s" % _name(name or self.project))

    def require_project(self, name=None):
        """Raise LxdNotFound unless the LXD project ``name`` (default: the client's) exists (one request)."""
        name = name or self.project
        if not self.project_exists(name):
            raise LxdNotFound(
                "LXD at %s has no project %r: create it on the LXD host (`lxc project create %s`) or name one that "
                "`lxc project list` shows." % (self.url, name, name), status=404, method="GET",
                path="/1.0/projects/%s" % _name(name), url=self.url)

    def profile_exists(self, name, project=None):
        """Whether the profile ``name`` exists (in ``project``, or the default project it inherits profiles from)."""
        return self._exists("/1.0/profiles/%s" % _name(name), [("project", project or self.project)])

    def vm_profiles(self, project=None):
        """The profiles MAAS gives a VM: ``["maas"]`` when that profile exists, else none."""
        return [MAAS_PROFILE] if self.profile_exists(MAAS_PROFILE, project) else []

    # -- instances -------------------------------------------------------------------------

    def list_instances(self, project=None, all_projects=False):
        """Every instance of ``project`` (or of all projects) with its config, devices, type and status."""
        params = [("recursion", 1)] + ([("all-projects", "true")] if all_projects else [("project", project or self.project)])
        return self.get("/1.0/instances", params) or []

    def get_instance(self, name, project=None):
        """One instance (``GET /1.0/instances/<name>``); LxdNotFound when there is none."""
        return self.get("/1.0/instances/%s" % _name(name), [("project", project or self.project)])

    def find_instance(self, name, project=None):
        """One instance, or None when there is none."""
        try:
            return self.get_instance(name, project)
        except LxdNotFound:
            return None

    def create_instance(self, definition, project=None, timeout=None, check_bridges=True):
        """Create an instance from ``definition`` (see ``definitions.vm_definition``), wait, and return it as LXD stores it.

        LXD accepts a bridged NIC whose parent does not exist and fails only when the VM starts, so
        the bridges are checked first (``check_bridges``). A lost answer is verified by name and the
        definition's ``user.lxdcp.*`` marks, never re-sent blindly. An instance of the same name raises
        LxdConflict saying whose it is (``foreign``: it has no lxdcp.maas marks). Nothing is left
        behind when LXD refuses: it rolls a failed creation back.
        """
        name = definition["name"]
        project = project or self.project
        what = "the creation of instance %s in project %s" % (name, project)
        if check_bridges:
            self.require_bridges(bridges(definition))
        marks = dict((key, value) for key, value in (definition.get("config") or {}).items()
                     if key.startswith(LXD_MARK_PREFIX))

        def verify():
            found = self.find_instance(name, project)
            if found is not None and marks and all((found.get("config") or {}).get(k) == v for k, v in marks.items()):
                return {"type": "verified", "instance": found}
            return None

        try:
            envelope = self.request("POST", "/1.0/instances", [("project", project)], body=definition,
                                    verify=verify if marks else None)
            if envelope.get("type") == "verified":
                return envelope["instance"]
            self._complete(envelope, what, timeout)
        except LxdConflict as exc:
            raise self._name_taken(name, project, exc)
        except LxdNotFound as exc:
            # The wait found the operation gone (LXD restarted, or forgot it): did it create the instance?
            if exc.operation is None or exc.status != 404 or verify() is None:
                raise
            self.log("%s: LXD forgot the operation, the instance exists with our marks" % what)
        return self.get_instance(name, project)

    def update_instance_config(self, name, config, project=None, timeout=None):
        """Set config keys of an instance (``PATCH``: the keys given change, the others stay)."""
        envelope = self.request("PATCH", "/1.0/instances/%s" % _name(name), [("project", project or self.project)],
                                body={"config": dict(config)})
        return self._complete(envelope, "the config update of instance %s" % name, timeout)

    def instance_state(self, name, project=None):
        """``GET .../state``: ``status`` (Running, Stopped...), ``status_code`` (102 = Stopped), network, memory..."""
        return self.get("/1.0/instances/%s/state" % _name(name), [("project", project or self.project)])

    def change_state(self, name, action, force=False, timeout=30, project=None, wait_timeout=None):
        """``PUT .../state`` with ``action`` (start, stop, restart, freeze, unfreeze), waited; returns the operation."""
        envelope = self.request("PUT", "/1.0/instances/%s/state" % _name(name), [("project", project or self.project)],
                                body={"action": action, "timeout": timeout, "force": bool(force)})
        return self._complete(envelope, "the %s of instance %s" % (action, name), wait_timeout)

    def stop_instance(self, name, force=True, project=None):
        """Stop an instance (forced by default, as MAAS does before deleting); a stopped one stays as it is."""
        try:
            self.change_state(name, "stop", force=force, project=project)
        except LxdOperationFailed as exc:
            if "already stopped" not in (exc.lxd_error or "").lower():
                raise

    def delete_instance(self, name, project=None, missing_ok=True, timeout=None):
        """Delete an instance and wait; a running one is stopped (forced) first. Returns False when there was none.

        Callers check ownership first (``ownership.instance_is_owned``): this deletes whatever it is named.
        LXD deletes the root disk with the instance; custom volumes stay (``delete_volume``).
        """
        project = project or self.project
        return self._delete("/1.0/instances/%s" % _name(name), project, "the deletion of instance %s in project %s" % (
            name, project), missing_ok, timeout, when_running=lambda: self.stop_instance(name, project=project))

    # -- trust -----------------------------------------------------------------------------

    def trust_certificate(self, pem, name):
        """Add the client certificate ``pem`` to LXD's trust store under ``name`` (a trusted client may); returns its
        SHA-256 fingerprint. A certificate LXD trusts already is left as it is."""
        fingerprint = pem_fingerprint(pem)
        if self._exists("/1.0/certificates/%s" % fingerprint):
            return fingerprint
        body = pem.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----", 1)[0]
        self.request("POST", "/1.0/certificates", body={"type": "client", "name": name, "certificate": "".join(body.split())},
                     verify=lambda: {"type": "verified"} if self._exists("/1.0/certificates/%s" % fingerprint) else None)
        return fingerprint

    def untrust_certificate(self, fingerprint):
        """Remove a certificate from LXD's trust store; False when it was not there."""
        try:
            self.request("DELETE", "/1.0/certificates/%s" % _name(fingerprint))
        except LxdNotFound:
            return False
        return True

    # -- storage ---------------------------------------------------------------------------

    def list_storage_pools(self):
        """Every storage pool (name, driver, config, status)."""
        return self.get("/1.0/storage-pools", [("recursion", 1)]) or []

    def get_storage_pool(self, name):
        """One storage pool; LxdNotFound when there is none."""
        return self.get("/1.0/storage-pools/%s" % _name(name))

    def storage_pool_resources(self, name):
        """``GET .../resources``: ``{"space": {"used", "total"}, "inodes": {...}}`` in bytes."""
        return self.get("/1.0/storage-pools/%s/resources" % _name(name)) or {}

    def storage_pool_free(self, name):
        """Free bytes in a storage pool (total - used, as MAAS computes it)."""
        space = self.storage_pool_resources(name).get("space") or {}
        return int(space.get("total") or 0) - int(space.get("used") or 0)

    def create_volume(self, pool, name, size, config=None, project=None):
        """Create a custom block volume of ``size`` bytes (a VM's extra disk, as MAAS makes them); returns it."""
        project = project or self.project
        body = {"name": name, "type": "custom", "content_type": "block",
                "config": dict(config or {}, size=str(size))}
        path = "/1.0/storage-pools/%s/volumes/custom" % _name(pool)

        def verify():
            found = self._find(path + "/" + _name(name), [("project", project)])
            if found is not None and (found.get("config") or {}).get("size") == str(size):
                return {"type": "verified", "volume": found}
            return None

        envelope = self.request("POST", path, [("project", project)], body=body, verify=verify)
        if envelope.get("type") == "verified":
            return envelope["volume"]
        self._complete(envelope, "the creation of volume %s in pool %s" % (name, pool))
        return self.get(path + "/" + _name(name), [("project", project)])

    def delete_volume(self, pool, name, project=None, missing_ok=True):
        """Delete a custom volume; False when there was none."""
        return self._delete("/1.0/storage-pools/%s/volumes/custom/%s" % (_name(pool), _name(name)), project or self.project,
                            "the deletion of volume %s in pool %s" % (name, pool), missing_ok)

    # -- networks --------------------------------------------------------------------------

    def list_networks(self):
        """Every network LXD sees: its managed networks and the host's interfaces (``managed: false``)."""
        return self.get("/1.0/networks", [("recursion", 1)]) or []

    def get_network(self, name):
        """One network or host interface; LxdNotFound when there is none."""
        return self.get("/1.0/networks/%s" % _name(name))

    def bridge_exists(self, name):
        """Whether the host has a bridge ``name`` (LXD-managed or not)."""
        network = self._find("/1.0/networks/%s" % _name(name))
        return network is not None and network.get("type") == "bridge"

    def require_bridges(self, names):
        """Raise LxdNotFound naming each of ``names`` that is not a bridge on the LXD host (one request each)."""
        for name in names:
            network = self._find("/1.0/networks/%s" % _name(name))
            if network is None:
                raise LxdNotFound(
                    "The LXD host at %s has no network interface %r to attach a bridged NIC to: create the bridge on the "
                    "LXD host (for example `ip link add %s type bridge`, or `lxc network create %s`) or name one that "
                    "`lxc network list` shows." % (self.url, name, name, name), status=404, url=self.url)
            if network.get("type") != "bridge":
                raise LxdBadRequest(
                    "%r on the LXD host at %s is a %s interface, not a bridge; a bridged NIC needs a bridge as its parent."
                    % (name, self.url, network.get("type") or "unknown"), status=400, url=self.url)

    # -- helpers ---------------------------------------------------------------------------

    def _complete(self, envelope, what, timeout=None):
        """The result of a write: the waited operation of an async answer, else the answer's metadata."""
        if (envelope or {}).get("type") == "async":
            operation = envelope.get("operation") or (envelope.get("metadata") or {}).get("id")
            return wait_for_operation(self, operation, timeout or self.operation_timeout, what)
        return (envelope or {}).get("metadata")

    def _delete(self, path, project, what, missing_ok=True, timeout=None, when_running=None):
        """DELETE ``path`` and wait; False when there was nothing (and ``missing_ok``). ``when_running()`` clears a
        refusal because the object is running, then the DELETE is sent again."""
        try:
            try:
                envelope = self.request("DELETE", path, [("project", project)])
            except LxdBadRequest as exc:
                if when_running is None or "running" not in (exc.lxd_error or "").lower():
                    raise
                when_running()
                envelope = self.request("DELETE", path, [("project", project)])
            self._complete(envelope, what, timeout)
        except LxdNotFound as exc:
            if exc.operation is None and missing_ok:
                return False
            raise
        return True

    def _exists(self, path, params=None):
        return self._find(path, params) is not None

    def _find(self, path, params=None):
        try:
            return self.get(path, params)
        except LxdNotFound:
            return None

    def _name_taken(self, name, project, conflict):
        """The LxdConflict for a create refused because ``name`` exists: whose is the instance?"""
        existing = self.find_instance(name, project)
        managed, cluster = instance_ownership(existing or {})
        if existing is None:
            whose = "LXD reports it exists but it cannot be read now; check `lxc list --project %s`" % project
        elif not managed:
            whose = ("it was not created by lxdcp.maas (no %s mark), so it is left alone: choose another hostname, or "
                     "remove or rename that instance yourself if it is not needed" % LXD_MANAGED_KEY)
        else:
            whose = ("it is lxdcp.maas's (cluster %s): adopt it instead of creating it, or delete it first"
                     % (cluster or "none"))
        return LxdConflict(
            "An instance named %s already exists in project %s on LXD at %s; %s. (LXD: %s)" % (
                name, project, self.url, whose, conflict.lxd_error),
            instance=existing, foreign=(existing is not None and not managed), status=409, method="POST",
            path="/1.0/instances", lxd_error=conflict.lxd_error, operation=conflict.operation, url=self.url)
