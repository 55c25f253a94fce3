# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LXD client of the collection: ``LxdClient``, the host's endpoints (``host_api.py``) plus projects, profiles and
instances.

One method per LXD operation. Asynchronous ones (instance create, delete and state changes) are
waited for so that a method returns when LXD is done. The client never changes an instance it did
not create unless asked to by name: the ownership marks (``ownership.instance_marks``) tell the
caller which instances are the collection's, and ``create_instance`` says whose an existing
instance of the same name is.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.definitions import MAAS_PROFILE, bridges
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import LxdConflict, LxdNotFound, LxdOperationFailed
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.host_api import DEFAULT_PROJECT, LxdHostApi, quote_name
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import LXD_MANAGED_KEY, LXD_MARK_PREFIX, instance_ownership

__all__ = ["DEFAULT_PROJECT", "LxdClient"]


class LxdClient(LxdHostApi):
    """The LXD client: the host's endpoints plus one method per project, profile and instance operation used."""

    # -- projects and profiles -------------------------------------------------------------

    def project_exists(self, name=None):
        """Whether the LXD project ``name`` (default: the client's) exists.

        Check it when it matters: LXD 5.0 lists the instances of a project that does not exist as none.
        """
        return self._exists("/1.0/projects/%s" % quote_name(name or self.project))

    def require_project(self, name=None):
        """Raise LxdNotFound unless the LXD project ``name`` (default: the client's) exists (one request)."""
        name = name or self.project
        if not self.project_exists(name):
            raise LxdNotFound(
                "LXD at %s has no project %r: create it on the LXD host (`lxc project create %s`) or name one that "
                "`lxc project list` shows." % (self.url, name, name), status=404, method="GET",
                path="/1.0/projects/%s" % quote_name(name), url=self.url)

    def profile_exists(self, name, project=None):
        """Whether the profile ``name`` exists (in ``project``, or the default project it inherits profiles from)."""
        return self._exists("/1.0/profiles/%s" % quote_name(name), [("project", project or self.project)])

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
        return self.get("/1.0/instances/%s" % quote_name(name), [("project", project or self.project)])

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
        envelope = self.request("PATCH", "/1.0/instances/%s" % quote_name(name), [("project", project or self.project)],
                                body={"config": dict(config)})
        return self._complete(envelope, "the config update of instance %s" % name, timeout)

    def instance_state(self, name, project=None):
        """``GET .../state``: ``status`` (Running, Stopped...), ``status_code`` (102 = Stopped), network, memory..."""
        return self.get("/1.0/instances/%s/state" % quote_name(name), [("project", project or self.project)])

    def change_state(self, name, action, force=False, timeout=30, project=None, wait_timeout=None):
        """``PUT .../state`` with ``action`` (start, stop, restart, freeze, unfreeze), waited; returns the operation."""
        envelope = self.request("PUT", "/1.0/instances/%s/state" % quote_name(name), [("project", project or self.project)],
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
        return self._delete("/1.0/instances/%s" % quote_name(name), project, "the deletion of instance %s in project %s" % (
            name, project), missing_ok, timeout, when_running=lambda: self.stop_instance(name, project=project))

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
