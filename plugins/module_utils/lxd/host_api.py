# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LXD host's own endpoints, on top of the transport: ``LxdHostApi`` (``LxdClient`` adds the instances).

The server (trust, API extensions, whether it can run VMs), its resources, storage pools and custom
volumes, networks, and the trust store; plus the write helpers every endpoint uses: an asynchronous
answer is waited for (``waiters.wait_for_operation``), a DELETE of something absent is no error when
asked so, and a POST that creates something carries the ``verify`` lookup that lets a lost answer be
retried without a duplicate.
"""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.definitions import REQUIRED_EXTENSIONS
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import LxdBadRequest, LxdNotFound, LxdUnsupported, LxdUntrusted, untrusted_hint
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.transport import LxdTransport, pem_fingerprint
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.waiters import wait_for_operation

DEFAULT_PROJECT = "default"
# LXD creates an empty VM (no image) in well under a second; a deletion or stop can take longer.
OPERATION_TIMEOUT = 300


def quote_name(value):
    """A name as one URL path segment."""
    return quote(str(value), safe="")


class LxdHostApi(LxdTransport):
    """The endpoints of the LXD host itself (see the module docstring).

    ``project`` is the LXD project of project-scoped requests (each method takes ``project=`` to use
    another one); ``operation_timeout`` bounds each wait for an operation.
    """

    def __init__(self, url, client_cert, client_key, project=DEFAULT_PROJECT, operation_timeout=OPERATION_TIMEOUT,
                 **kwargs):
        super(LxdHostApi, self).__init__(url, client_cert, client_key, **kwargs)
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

    def untrust_certificate(self, fingerprint, name=None):
        """Remove a certificate from LXD's trust store; False when it was not there. With ``name``, only a certificate
        trusted under that name is removed (one the caller added), any other is left: False then too."""
        if name is not None:
            trusted = self._find("/1.0/certificates/%s" % quote_name(fingerprint))
            if trusted is None or trusted.get("name") != name:
                return False
        try:
            self.request("DELETE", "/1.0/certificates/%s" % quote_name(fingerprint))
        except LxdNotFound:
            return False
        return True

    # -- storage ---------------------------------------------------------------------------

    def list_storage_pools(self):
        """Every storage pool (name, driver, config, status)."""
        return self.get("/1.0/storage-pools", [("recursion", 1)]) or []

    def get_storage_pool(self, name):
        """One storage pool; LxdNotFound when there is none."""
        return self.get("/1.0/storage-pools/%s" % quote_name(name))

    def storage_pool_resources(self, name):
        """``GET .../resources``: ``{"space": {"used", "total"}, "inodes": {...}}`` in bytes."""
        return self.get("/1.0/storage-pools/%s/resources" % quote_name(name)) or {}

    def storage_pool_free(self, name):
        """Free bytes in a storage pool (total - used, as MAAS computes it)."""
        space = self.storage_pool_resources(name).get("space") or {}
        return int(space.get("total") or 0) - int(space.get("used") or 0)

    def create_volume(self, pool, name, size, config=None, project=None):
        """Create a custom block volume of ``size`` bytes (a VM's extra disk, as MAAS makes them); returns it."""
        project = project or self.project
        body = {"name": name, "type": "custom", "content_type": "block",
                "config": dict(config or {}, size=str(size))}
        path = "/1.0/storage-pools/%s/volumes/custom" % quote_name(pool)

        def verify():
            found = self._find(path + "/" + quote_name(name), [("project", project)])
            if found is not None and (found.get("config") or {}).get("size") == str(size):
                return {"type": "verified", "volume": found}
            return None

        envelope = self.request("POST", path, [("project", project)], body=body, verify=verify)
        if envelope.get("type") == "verified":
            return envelope["volume"]
        self._complete(envelope, "the creation of volume %s in pool %s" % (name, pool))
        return self.get(path + "/" + quote_name(name), [("project", project)])

    def find_volume(self, pool, name, project=None):
        """A custom volume (its ``config`` holds the marks it was made with), or None."""
        return self._find("/1.0/storage-pools/%s/volumes/custom/%s" % (quote_name(pool), quote_name(name)),
                          [("project", project or self.project)])

    def delete_volume(self, pool, name, project=None, missing_ok=True):
        """Delete a custom volume; False when there was none."""
        return self._delete("/1.0/storage-pools/%s/volumes/custom/%s" % (quote_name(pool), quote_name(name)), project or self.project,
                            "the deletion of volume %s in pool %s" % (name, pool), missing_ok)

    # -- networks --------------------------------------------------------------------------

    def list_networks(self):
        """Every network LXD sees: its managed networks and the host's interfaces (``managed: false``)."""
        return self.get("/1.0/networks", [("recursion", 1)]) or []

    def get_network(self, name):
        """One network or host interface; LxdNotFound when there is none."""
        return self.get("/1.0/networks/%s" % quote_name(name))

    def bridge_exists(self, name):
        """Whether the host has a bridge ``name`` (LXD-managed or not)."""
        network = self._find("/1.0/networks/%s" % quote_name(name))
        return network is not None and network.get("type") == "bridge"

    def require_bridges(self, names):
        """Raise LxdNotFound naming each of ``names`` that is not a bridge on the LXD host (one request each)."""
        for name in names:
            network = self._find("/1.0/networks/%s" % quote_name(name))
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
