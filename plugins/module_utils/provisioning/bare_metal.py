# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provisioner for bare-metal machines MAAS already manages (``provisioning_mode: bare-metal``).

A missing machine is allocated by constraints, zone by zone (the zone with the fewest machines of
the cluster first), renamed to the hostname and tagged. A free (Ready, unowned) machine of that
name without another cluster's tag is adopted. Removal releases the machine and removes the
ownership tags; the machine record is deleted only with ``delete_bare_metal``.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import is_vm, vm_host_name
from ansible_collections.lxdcp.maas.plugins.module_utils.maas import waiters
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasConflict
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import ALLOCATED, READY, RELEASABLE
from ansible_collections.lxdcp.maas.plugins.module_utils.maas_view import cluster_members, replica_counts
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import WORKER_TAG, allocation_exclusions, half_tagged, lxdcp_tags
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.drift import diff_view
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.provisioner import Provisioner, Words
from ansible_collections.lxdcp.maas.plugins.module_utils.units import maas_gb

# ``op=allocate`` is sent with ``agent_name`` ``lxdcp:<hostname>``; MAAS keeps it until release.
AGENT_PREFIX = "lxdcp:"


class BareMetalProvisioner(Provisioner):
    """A machine MAAS manages, allocated to the API user, named and tagged."""

    words = Words(noun="machine", creation="allocation", made="allocated", undone="released", undo="release", remake="allocate")

    def __init__(self, *args, **kwargs):
        super(BareMetalProvisioner, self).__init__(*args, **kwargs)
        self.allocated = False  # allocated by this run

    @property
    def agent_name(self):
        """The ``agent_name`` this task allocates machines with."""
        return AGENT_PREFIX + self.spec.hostname

    # -- kind and ownership ------------------------------------------------------------------

    def kind_error(self, machine):
        if is_vm(machine):
            return "%s is an LXD VM%s; use provisioning_mode: lxd for it" % (
                self.spec.hostname, " on VM host %s" % vm_host_name(machine) if vm_host_name(machine) else "")
        return None

    def left_untagged(self, machine):
        """Allocated to the API user with this task's ``agent_name``, without other lxdcp tags."""
        if not half_tagged(machine, self.spec.cluster) or is_vm(machine) or machine.get("status_name") != ALLOCATED:
            return False
        return machine["system_id"] in [m["system_id"] for m in self._untagged_allocations()]

    def _untagged_allocations(self):
        """Machines Allocated to the API user with this task's ``agent_name`` and no lxdcp tag (of another cluster)."""
        found = [m for m in self.client.list_machines(agent_name=[self.agent_name], status=["allocated"])
                 if not is_vm(m) and half_tagged(m, self.spec.cluster)]
        if not found:
            return []
        user = self.client.username()
        return [m for m in found if m.get("owner") == user]

    def adoptable(self, machine):
        """A free, Ready machine named as asked, of no other cluster, can be taken (allocated and tagged)."""
        return (self.spec.state in ("present", "deployed") and machine.get("status_name") == READY
                and not machine.get("owner") and half_tagged(machine, self.spec.cluster))

    def adopt(self, machine):
        """Allocate a free Ready machine by system id and tag it (released again if tagging fails)."""
        journal = self.journal
        self.allocated = True
        journal.act("allocate %s (%s, free and Ready)" % (self.spec.hostname, machine["system_id"]))
        if journal.check:
            return self.ensure_tags(machine)
        machine = self.client.allocate(dict(system_id=machine["system_id"], agent_name=self.agent_name,
                                            comment="lxdcp.maas %s" % self.spec.hostname),
                                       verify=self._allocated_verifier(machine["system_id"]))
        journal.extra["created"] = True
        with self.undo_on_failure(machine["system_id"]):
            return self.ensure_tags(machine)

    def present(self, machine):
        """``state: present`` keeps a bare-metal machine allocated to the API user: a Ready one is adopted."""
        if machine.get("status_name") == READY and not self.allocated:
            return self.adopt(machine), ALLOCATED
        return machine, machine.get("status_name")

    # -- allocating --------------------------------------------------------------------------

    def create(self):
        """Allocate a machine by constraints, zone by zone (fewest machines of the cluster first), name and tag it.

        A machine an earlier run allocated for this task but could not name or tag is taken instead. The constraints
        exclude every machine of lxdcp.maas and every VM (``ownership.allocation_exclusions``).
        """
        spec = self.spec
        journal = self.journal
        if spec.state == "released":
            journal.warn("no machine named %s: nothing to release" % spec.hostname)
            return None
        self.check_places()
        earlier = self._untagged_allocations()
        if earlier:
            machine = earlier[0]
            journal.warn("%s (%s) was allocated for %s by an earlier run of this task that could not name or tag it; "
                         "adopting it" % (machine["hostname"], machine["system_id"], spec.hostname))
            return self._name_and_tag(machine)
        zones = [None]
        if spec.zones:
            counts = self._cluster_zones()
            zones = sorted(spec.zones, key=lambda z: (counts.get(z, 0), spec.zones.index(z)))
        refusals = []
        exclusions = self._exclusions()
        for zone in zones:
            constraints = self._constraints(zone, exclusions)
            if journal.check:
                candidate = self._predict_allocation(constraints)
                if candidate is None:
                    refusals.append("%s: no Ready machine matches" % (zone or "any zone"))
                    continue
                # The machine MAAS would allocate now; machines allocated at the same time may take it first.
                journal.act(self._allocated(candidate))
                self._rename(candidate)
                self.predict_made(diff_view(candidate))
                return None
            try:
                machine = self.client.allocate(constraints, verify=self._allocated_verifier())
            except MaasConflict as exc:
                refusals.append("%s: %s" % (zone or "any zone", exc))
                continue
            journal.act(self._allocated(machine))
            if is_vm(machine):
                self._refuse_vm(machine)
            journal.extra["created"] = True
            return self._name_and_tag(machine)
        raise LxdcpError("No bare-metal machine can be allocated for %s: %s" % (spec.hostname, "; ".join(refusals)))

    def _cluster_zones(self):
        """The cluster's other bare-metal machines per zone."""
        spec = self.spec
        if not spec.cluster:
            return {}
        members = [m for m in cluster_members(self.client, spec.cluster) if m.get("hostname") != spec.hostname]
        zones = replica_counts(members, set(), vms=False)[1]
        self.journal.log("cluster %s: %d other bare-metal machine(s)" % (spec.cluster, sum(zones.values())))
        return zones

    def _allocated_verifier(self, system_id=None):
        """A verify callable for allocate: the machine this task's earlier attempt allocated, if any."""

        def verify():
            found = self.client.list_machines(agent_name=[self.agent_name], status=["allocated"])
            if system_id is not None:
                found = [m for m in found if m["system_id"] == system_id]
            return found[0] if found else None

        return verify

    def _exclusions(self):
        """The constraints that keep the allocation off lxdcp.maas's machines and off VMs (``allocation_exclusions``),
        from MAAS's tags and version (one read each): MAAS 4.0 has no ``pod`` constraints."""
        tags = [tag["name"] for tag in self.client.list_tags()]
        version = str((self.client.version() or {}).get("version") or "")
        head = version.split(".", 1)[0]
        major = int(head) if head.isdigit() else 0
        exclusions = allocation_exclusions(tags, pod_constraints=major < 4)
        self.journal.log("allocation excludes %s" % ", ".join(
            "%s=%s" % (key, ",".join(values)) for key, values in sorted(exclusions.items())))
        return exclusions

    def _refuse_vm(self, machine):
        """MAAS 4.0 cannot leave VMs out of an allocation: release one it allocated and fail."""
        spec = self.spec
        self.journal.act("release %s (%s) again: an LXD VM, not bare metal" % (machine["hostname"], machine["system_id"]))
        self.client.release(machine["system_id"], {"comment": "lxdcp.maas: an LXD VM, not bare metal"})
        if spec.wait:
            waiters.wait_for_machine(self.client, machine["system_id"], [READY], self.journal.remaining())
        raise LxdcpError("MAAS allocated %s (%s) for %s, but it is an LXD VM (power type %s), not bare metal; it was "
                         "released again. This MAAS has no pod constraints to leave VMs out: narrow the allocation with "
                         "host_tags, pool or zones." % (machine["hostname"], machine["system_id"], spec.hostname,
                                                        machine.get("power_type")))

    def _constraints(self, zone, exclusions=None):
        """``op=allocate`` constraints for one zone (or any), with ``exclusions`` (``_exclusions``)."""
        spec = self.spec
        data = dict(agent_name=self.agent_name, comment="lxdcp.maas %s" % spec.hostname)
        data.update(exclusions or {})
        if spec.cores:
            data["cpu_count"] = spec.cores
        if spec.memory:
            data["mem"] = spec.memory
        if zone:
            data["zone"] = zone
        if spec.pool:
            data["pool"] = spec.pool
        if spec.host_tags:
            data["tags"] = list(spec.host_tags)
        if spec.disks:
            data["storage"] = ",".join("%s:%s" % ("root" if i == 0 else "disk%d" % i, maas_gb(d["size"]))
                                       for i, d in enumerate(spec.disks))
        return data

    @staticmethod
    def _allocated(machine):
        """The action of allocating ``machine``."""
        return "allocate %s (%s) in %s" % (machine["hostname"], machine["system_id"], (machine.get("zone") or {}).get("name"))

    def _name_and_tag(self, machine):
        """Rename an allocated machine to the hostname and tag it; it is released again when either fails."""
        with self.undo_on_failure(machine["system_id"]):
            return self.ensure_tags(self._rename(machine))

    def _rename(self, machine):
        """Give the machine the task's hostname (recorded only, in check mode); return it."""
        spec = self.spec
        if machine["hostname"] == spec.hostname:
            return machine
        self.journal.act("rename %s to %s" % (machine["hostname"], spec.hostname))
        if self.journal.check:
            return machine
        return self.client.update_machine(machine["system_id"], {"hostname": spec.hostname})

    def _predict_allocation(self, constraints):
        """Check mode: the machine MAAS would allocate (its cheapest Ready match), read with filters only."""
        filters = dict(status=["ready"])
        for key in ("cpu_count", "mem", "zone", "pool", "tags", "not_tags", "not_pod_type"):
            if key in constraints:
                filters[key] = constraints[key]
        ready = [m for m in self.client.list_machines(**filters) if not is_vm(m)]
        ready.sort(key=lambda m: ((m.get("cpu_count") or 0) + (m.get("memory") or 0) / 1024.0, m["system_id"]))
        return ready[0] if ready else None

    def undo(self, system_id):
        spec = self.spec
        self.journal.act("release %s (%s) again: allocated by this run, not tagged" % (spec.hostname, system_id))
        self.client.release(system_id, {"comment": "lxdcp.maas rollback: tagging failed"})
        # Waiting (with wait: true) lets the next run start from a settled MAAS: a free machine.
        if spec.wait:
            waiters.wait_for_machine(self.client, system_id, [READY], self.journal.remaining())

    # -- removal -----------------------------------------------------------------------------

    def absent_already(self, machine):
        """A machine without our tags that is Ready, owned by nobody and of no other cluster: what absent leaves.

        An interrupted ``absent`` can leave the cluster tag alone, which is removed on the next run.
        """
        return not is_vm(machine) and machine.get("status_name") == READY and not machine.get("owner") and half_tagged(
            machine, self.spec.cluster)

    def finish_absent(self, machine):
        """``absent`` for a free machine: remove a cluster tag left behind, else nothing to do."""
        if lxdcp_tags(machine):
            return self.remove(machine, "state=absent")
        self.journal.log("%s (%s) is Ready, owned by nobody and carries no lxdcp tag: absent already" % (
            self.spec.hostname, machine["system_id"]))
        if self.spec.params["delete_bare_metal"]:
            self.journal.warn("%s (%s) carries no ownership tag, so its machine record is not deleted (delete_bare_metal): "
                              "it is not known to be this task's" % (self.spec.hostname, machine["system_id"]))
        return machine

    def remove(self, machine, reason):
        """Release the machine, remove the worker mark and the ownership tags, and delete it only when asked."""
        spec = self.spec
        journal = self.journal
        status = machine.get("status_name")
        if status in RELEASABLE:
            journal.act("release %s (%s)" % (spec.hostname, status))
            if not journal.check:
                machine = self.wait_for(self.release(machine, reason), [READY])
        for tag in [WORKER_TAG] + spec.owner_tags:
            if tag in (machine.get("tag_names") or []):
                journal.act("untag %s %s" % (spec.hostname, tag))
                if not journal.check:
                    self.client.tag_machines(tag, remove=[machine["system_id"]])
        if spec.params["delete_bare_metal"]:
            journal.act("delete machine record %s (%s)" % (spec.hostname, machine["system_id"]))
            if not journal.check:
                self.client.delete_machine(machine["system_id"])
            return None
        return machine if journal.check else self.refresh(machine)
