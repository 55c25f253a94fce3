# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LXD half of a direct-mode VM (``direct.py``): its instance, its extra disks, and MAAS's certificate on LXD.

What is the collection's on an LXD host carries its ``user.lxdcp.*`` marks (``ownership.instance_marks``): the
instance and the custom volumes of its extra disks. One more instance is the collection's: the one a machine of
this task (its ownership tags) is powered by - a VM MAAS composed for the collection before MAAS 4.0 removed VM
hosts, which has no marks; :meth:`VmInstances.claim` marks it. Every other instance or volume is left alone. MAAS's
certificate of a machine is trusted under the name ``maas-<system_id>`` and only a certificate of that name is
removed again (the VMs MAAS composed on one VM host shared that host's certificate).
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.definitions import generate_mac, vm_definition
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import LxdError
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.transport import pem_fingerprint
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import (
    LXD_HOSTNAME_KEY,
    LXD_MANAGED_KEY,
    instance_is_owned,
    instance_marks,
    instance_ownership,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.spec import DEFAULT_CORES, DEFAULT_MEMORY


def trust_name(system_id):
    """The name MAAS's certificate of machine ``system_id`` is trusted under on its LXD host."""
    return "maas-%s" % system_id


class VmInstances(object):
    """The instances of one task's VM on the LXD hosts (``lxd(host)`` gives a host's LxdClient)."""

    def __init__(self, journal, spec, lxd):
        self.journal = journal
        self.spec = spec
        self.lxd = lxd

    # -- making --------------------------------------------------------------------------------

    def create(self, host, storage_pool):
        """Create the instance (and its extra disks' volumes) on ``host``; on failure the volumes made are deleted again."""
        lxd = self.lxd(host)
        volumes = []
        try:
            return lxd.create_instance(self._definition(lxd, host, storage_pool, volumes))
        except LxdError:
            for pool, name in volumes:
                self._delete_volume(lxd, host, pool, name)
            raise

    def _definition(self, lxd, host, storage_pool, volumes):
        """MAAS's definition of the VM (``vm_definition``): a NIC per interface of the task on the host's bridge (one at
        least), the root disk in ``storage_pool``, an extra disk each on a custom block volume made here (``volumes``)."""
        spec = self.spec
        marks = instance_marks(spec.cluster, spec.hostname)
        disks = []
        for index, disk in enumerate(spec.compose_disks()):
            pool = disk["pool"] or storage_pool
            if index == 0:
                disks.append({"size": disk["size"], "pool": pool})
                continue
            name = "%s-disk%d" % (spec.hostname, index)
            self._clear_volume(lxd, host, pool, name)
            lxd.create_volume(pool, name, disk["size"], config=marks)
            volumes.append((pool, name))
            disks.append({"volume": name, "pool": pool})
        nics = [{"parent": host["bridge"], "hwaddr": generate_mac(), "name": item["name"]} for item in spec.interfaces]
        return vm_definition(spec.hostname, spec.cores or DEFAULT_CORES, spec.memory or DEFAULT_MEMORY, disks,
                             nics or [{"parent": host["bridge"], "hwaddr": generate_mac()}], storage_pool=storage_pool,
                             profiles=lxd.vm_profiles(), config_keys=marks)

    def _clear_volume(self, lxd, host, pool, name):
        """A volume of that name is what an interrupted attempt left when it is this VM's (deleted: no instance uses
        it, the instance is being made); anyone else's stops the creation before the instance is made."""
        found = lxd.find_volume(pool, name)
        if found is None:
            return
        if not self._ours(found, check_name=True):
            raise LxdcpError("Refusing to create %s: LXD host %s already has a storage volume %s in pool %s that lxdcp.maas did "
                             "not make for this VM, so it is left alone: remove it on %s if it is not needed, or choose "
                             "another hostname." % (self.spec.hostname, host["name"], name, pool, host["name"]))
        self.journal.log("deleting volume %s in pool %s on %s, left by an interrupted attempt" % (name, pool, host["name"]))
        lxd.delete_volume(pool, name)

    # -- what is whose ---------------------------------------------------------------------------

    def _ours(self, item, check_name=False):
        """Whether an instance or volume carries the marks of this task's cluster (and, ``check_name``, of this VM)."""
        if not instance_is_owned(item, self.spec.cluster):
            return False
        return not check_name or (item.get("config") or {}).get(LXD_HOSTNAME_KEY) == self.spec.hostname

    def not_ours(self, host, instance):
        """Why an instance named like the VM on ``host`` stops its creation."""
        spec = self.spec
        managed, owner = instance_ownership(instance)
        where = "LXD host %s already has an instance named %s (project %s)" % (
            host["name"], spec.hostname, instance.get("project") or host["project"])
        if managed:
            whose = "lxdcp.maas made it for %s" % ("cluster %s" % owner if owner else "no cluster")
            todo = "remove it with that cluster's task (state: absent), or choose another hostname"
        else:
            whose = "lxdcp.maas did not create it (it has no %s mark)" % LXD_MANAGED_KEY
            todo = "choose another hostname, or remove or rename that instance on %s if it is not needed" % host["name"]
        return ("Refusing to create %s: %s, and %s, so it is left alone and nothing was changed: %s."
                % (spec.hostname, where, whose, todo))

    def claim(self, host, instance, system_id):
        """The instance a machine of this task is powered by is this VM's: mark it when it has no marks (MAAS composed it
        before 4.0); another cluster's marks are an error. Returns the instance."""
        spec = self.spec
        managed, owner = instance_ownership(instance)
        if managed and owner == (spec.cluster or None) or managed and not spec.cluster:
            return instance
        if managed:
            raise LxdcpError("%s (%s) is powered by LXD instance %s on %s, which lxdcp.maas made for cluster %s, not %s: "
                             "check the machine's power parameters in MAAS" % (
                                 spec.hostname, system_id, instance["name"], host["name"], owner, spec.cluster))
        self.journal.act("mark LXD instance %s on %s as %s's (composed by MAAS before 4.0; its machine %s is this task's)"
                         % (instance["name"], host["name"], "cluster %s" % spec.cluster if spec.cluster else "lxdcp.maas",
                            system_id))
        if self.journal.check:
            return instance
        return self.lxd(host).update_instance_config(instance["name"], instance_marks(spec.cluster, spec.hostname),
                                                     project=instance.get("project"))

    # -- removing --------------------------------------------------------------------------------

    def delete(self, host, name, project=None, powered=False):
        """Delete the instance ``name`` of this VM and its extra disks' volumes. ``powered``: a machine of this task is
        powered by it (so it is this VM's even without marks). An instance of someone else's is left, with a warning."""
        lxd = self.lxd(host)
        instance = lxd.find_instance(name, project)
        if instance is None:
            return False
        managed, owner = instance_ownership(instance)
        if not (self._ours(instance) or powered and (not managed or owner == (self.spec.cluster or None))):
            self.journal.warn("LXD instance %s on %s is not this task's (%s): left alone" % (
                name, host["name"], "cluster %s" % owner if managed else "no user.lxdcp marks"))
            return False
        lxd.delete_instance(name, project)
        for device in (instance.get("devices") or {}).values():
            if device.get("type") == "disk" and device.get("pool") and device.get("source") and not device.get("path"):
                volume = lxd.find_volume(device["pool"], device["source"], project)
                if volume is not None and self._ours(volume):
                    self._delete_volume(lxd, host, device["pool"], device["source"], project)
        return True

    def _delete_volume(self, lxd, host, pool, name, project=None):
        try:
            lxd.delete_volume(pool, name, project)
        except LxdError as exc:
            self.journal.warn("volume %s in pool %s on %s is left: %s" % (name, pool, host["name"], exc))

    def delete_unregistered(self, hosts):
        """``state: absent`` without a machine: delete an instance of this VM an interrupted run never registered."""
        spec = self.spec
        for host in hosts:
            try:
                instance = self.lxd(host).find_instance(spec.hostname)
            except LxdError as exc:
                self.journal.warn("LXD host %s could not be checked for an instance %s: %s" % (host["name"], spec.hostname, exc))
                continue
            if instance is not None and self._ours(instance):
                self.journal.act("delete LXD instance %s on %s (never registered in MAAS)" % (spec.hostname, host["name"]))
                if not self.journal.check:
                    self.delete(host, spec.hostname)

    # -- MAAS's certificate ------------------------------------------------------------------------

    def trust(self, host, certificate, system_id):
        """Trust MAAS's certificate of the machine on its LXD host, so that MAAS's lxd power driver can reach the VM."""
        self.lxd(host).trust_certificate(certificate, trust_name(system_id))

    def untrust(self, host, certificate, system_id):
        """Remove MAAS's certificate of the (deleted) machine, when it was trusted for that machine only."""
        if not certificate:
            return
        try:
            self.lxd(host).untrust_certificate(pem_fingerprint(certificate), name=trust_name(system_id))
        except LxdError as exc:
            self.journal.warn("MAAS's certificate of %s stays trusted on %s: %s" % (system_id, host["name"], exc))
