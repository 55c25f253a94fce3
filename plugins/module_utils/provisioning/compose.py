# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provisioner for LXD VMs composed by MAAS on a VM host (``provisioning_mode: lxd``).

The VM host is the one named in ``vm_host`` or the one the placement core chooses from the MAAS
view (``maas_view.candidate_hosts``); when composing fails on it for a reason that is the host's,
the next host of a fresh plan is tried. Removal releases and deletes the VM (MAAS destroys it on
the LXD host), frees what it left of its addresses and checks the host got its capacity back.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import is_vm, machine_ips
from ansible_collections.lxdcp.maas.plugins.module_utils.maas import waiters
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import (
    MaasError,
    MaasGone,
    MaasRetriesExhausted,
    MaasUnavailable,
    MaasValidationError,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import READY, RELEASABLE
from ansible_collections.lxdcp.maas.plugins.module_utils.maas_view import NoLxdVmHost, candidate_hosts, vm_host_project
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import left_untagged_vm
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.placing import PlacingProvisioner
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.provisioner import Words
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.spec import DEFAULT_CORES, DEFAULT_MEMORY
from ansible_collections.lxdcp.maas.plugins.module_utils.units import maas_gb


class ComposeProvisioner(PlacingProvisioner):
    """An LXD VM composed by MAAS on one of its LXD VM hosts."""

    words = Words(noun="VM", creation="compose", made="composed", undone="deleted", undo="delete", remake="compose")

    # -- kind and ownership ------------------------------------------------------------------

    def kind_error(self, machine):
        if not is_vm(machine):
            return "%s is a bare-metal machine, not an LXD VM; use provisioning_mode: bare-metal for it" % self.spec.hostname
        return None

    def left_untagged(self, machine):
        return left_untagged_vm(machine, self.spec.cluster)

    # -- composing ---------------------------------------------------------------------------

    def _candidates(self):
        """The MAAS view of placement (``maas_view.candidate_hosts``) for this VM."""
        spec = self.spec
        try:
            candidates = candidate_hosts(self.client, spec.cluster, exclude=[spec.hostname], vet=self._vet)
        except NoLxdVmHost as exc:
            raise LxdcpError("%s, or use provisioning_mode: bare-metal" % exc) from None
        if spec.cluster:
            others = sum(host.replicas for host in candidates.hosts) + sum(candidates.existing_zones.values())
            self.journal.log("cluster %s: %d other VM(s)" % (spec.cluster, others))
        return candidates

    def _describe_make(self, host):
        return "compose %s on %s (%s)" % (self.spec.hostname, host["name"], self.spec.summary())

    def _known(self, host):
        # MAAS gives a composed VM the VM host's tags, and puts it in the VM host's pool unless compose names one.
        return dict(tags=host.get("tags") or [], pool=self.spec.pool or (host.get("pool") or {}).get("name"))

    def _make(self, host, storage_pool):
        """Compose on VM host ``host`` and tag the VM; None when the host refused (it is given up)."""
        spec = self.spec
        vm_host = host
        try:
            answer = self.client.compose(vm_host["id"], self._compose_data(vm_host, storage_pool))
        except MaasError as exc:
            if not host_specific(exc):
                raise
            self.journal.log("compose on %s failed: %s" % (vm_host["name"], exc))
            answer = self.client.find_machine(spec.hostname)
            if answer is None:
                said = (exc.body or "").strip() if exc.status else ""
                self._give_up(vm_host["name"], "compose refused (%s): %s" % (exc.status, said) if said else "compose failed: %s" % exc)
                return None
            self.journal.log("MAAS reported a failure but created %s (%s); using it" % (spec.hostname, answer["system_id"]))
        self.attempts.append(dict(host=vm_host["name"], ok=True, error=None))
        self.journal.extra["created"] = True
        self.journal.log("composed %s as %s on %s" % (spec.hostname, answer["system_id"], vm_host["name"]))
        with self.undo_on_failure(answer["system_id"]):
            return self.ensure_tags(self.client.get_machine(answer["system_id"]))

    def _vet(self, vm_hosts):
        """The named vm_host and the LXD project, judged from the VM hosts before anything else is read."""
        spec = self.spec
        if spec.vm_host:
            named = [h for h in vm_hosts if spec.vm_host in (h["name"], str(h["id"]))]
            if not named:
                raise LxdcpError("no LXD VM host named %r (LXD VM hosts: %s)" % (
                    spec.vm_host, ", ".join(sorted(h["name"] for h in vm_hosts))))
            self._check_named_host(named[0])
            for host in vm_hosts:
                if host is not named[0]:
                    self.excluded[host["name"]] = "not the vm_host asked for"
        if spec.project:
            for host in vm_hosts:
                if host["name"] in self.excluded:
                    continue
                project = vm_host_project(self.client, host)
                if project != spec.project:
                    self.excluded[host["name"]] = "LXD project is %r, not %r" % (project, spec.project)
            if all(h["name"] in self.excluded for h in vm_hosts):
                reasons = "; ".join("%s: %s" % item for item in sorted(self.excluded.items()))
                raise LxdcpError("no LXD VM host%s uses LXD project %r: %s. MAAS has no per-VM project; configure the "
                                 "project on the VM host." % (" named %s" % spec.vm_host if spec.vm_host else "",
                                                              spec.project, reasons))

    def _check_named_host(self, vm_host):
        """Fail when vm_host contradicts zones, pool or host_tags (conflicting options)."""
        spec = self.spec
        zone = (vm_host.get("zone") or {}).get("name")
        pool = (vm_host.get("pool") or {}).get("name")
        problems = []
        if spec.zones and zone not in spec.zones:
            problems.append("it is in zone %s, not in %s" % (zone, ", ".join(spec.zones)))
        if spec.pool and pool != spec.pool:
            problems.append("it is in pool %s, not %s" % (pool, spec.pool))
        missing = [t for t in spec.host_tags if t not in (vm_host.get("tags") or [])]
        if missing:
            problems.append("it lacks tag(s) %s" % ", ".join(missing))
        if problems:
            raise LxdcpError("vm_host %s conflicts with the other options: %s. Drop vm_host to let the placement choose, "
                             "or fix zone/pool/host_tags." % (vm_host["name"], "; ".join(problems)))

    def _compose_data(self, host, storage_pool):
        """The ``op=compose`` form for ``host``; disks without a pool go to ``storage_pool`` (else the host's default)."""
        spec = self.spec
        storage = []
        for index, disk in enumerate(spec.compose_disks()):
            label = "root" if index == 0 else "disk%d" % index
            pool = disk["pool"] or storage_pool or ""
            storage.append("%s:%s(%s)" % (label, maas_gb(disk["size"]), pool) if pool else "%s:%s" % (label, maas_gb(disk["size"])))
        data = dict(
            hostname=spec.hostname,
            cores=spec.cores or DEFAULT_CORES,
            memory=spec.memory or DEFAULT_MEMORY,
            storage=",".join(storage),
            zone=(host.get("zone") or {}).get("id"),
            pool=self.pool_id if spec.pool else (host.get("pool") or {}).get("id"),
        )
        if spec.domain:
            data["domain"] = self.domain_id
        if spec.interfaces:
            parts = []
            for interface in spec.interfaces:
                if interface["ip"]:
                    parts.append("%s:ip=%s" % (interface["name"], interface["ip"]))
                else:
                    parts.append("%s:subnet_cidr=%s" % (interface["name"], interface["subnet"]))
            data["interfaces"] = ";".join(parts)
        return data

    def undo(self, system_id, why="composed by this run, not tagged"):
        spec = self.spec
        self.journal.act("delete %s (%s) again: %s" % (spec.hostname, system_id, why))
        self.client.delete_machine(system_id)
        # Waiting (with wait: true) lets the next run start from a settled MAAS: no machine.
        if spec.wait:
            waiters.wait_for_machine_gone(self.client, system_id, self.journal.remaining(), hostname=spec.hostname)

    # -- removal -----------------------------------------------------------------------------

    def gone(self):
        self.journal.extra.update(released_ips=[], capacity_restored=None)
        return None

    def remove(self, machine, reason):
        """Release, delete, check the addresses are free and the host's capacity came back."""
        journal = self.journal
        system_id = machine["system_id"]
        ips = sorted(ip for ips in machine_ips(machine).values() for ip in ips)
        pod = machine.get("pod") or {}
        host_before = self._vm_host_before_delete(pod)
        status = machine.get("status_name")
        # MAAS powers a VM off through its VM host before releasing it; with the host unreachable the VM's power state
        # is "error" and that power-off fails, so MAAS puts the machine back in its status instead of releasing it
        # (Node._release: _stop's errback). Deleting it works: MAAS deletes the machine even when it cannot remove the
        # instance from the host (Node.delete logs the failed decomposition). A lost zone's VMs are removed so.
        unreachable = machine.get("power_state") == "error" and pod.get("id") is not None
        if unreachable:
            journal.warn("%s: its VM host %s cannot be reached (power state error), so MAAS cannot power it off to release "
                         "it; the machine is deleted without release, and the host's capacity is not checked (the instance "
                         "stays on the host until it is back: delete it there then)" % (self.spec.hostname, pod.get("name")))
            host_before = None
        if status in RELEASABLE and not unreachable:
            journal.act("release %s (%s)" % (self.spec.hostname, status))
            if not journal.check:
                self.wait_for(self.release(machine, reason), [READY], what="%s to be released" % self.spec.hostname)
        journal.act("delete %s (%s) from VM host %s, %s" % (self.spec.hostname, system_id, pod.get("name"), reason))
        journal.extra.update(released_ips=[], capacity_restored=None)
        if journal.check:
            return None
        self.client.delete_machine(system_id)
        if not self.spec.wait:
            return None
        waiters.wait_for_machine_gone(self.client, system_id, journal.remaining(), hostname=self.spec.hostname)
        journal.extra["released_ips"] = self.free_addresses(system_id, ips)
        if host_before is not None:
            journal.extra["capacity_restored"] = self._capacity_back(machine, host_before)
        return None

    def _vm_host_before_delete(self, pod):
        """The VM host of a VM about to be deleted, to check its capacity afterwards; None when MAAS has none any more.

        A MAAS without VM hosts (after 3.8) answers 410 on /vm-hosts/ but still lists and deletes the
        machines composed before: the capacity check is skipped then, not the deletion.
        """
        if pod.get("id") is None:
            return None
        try:
            return self.client.get_vm_host(pod["id"])
        except MaasGone:
            self.journal.warn("MAAS answers 410 Gone for VM host %s (VM hosts were removed after MAAS 3.8): %s is deleted "
                              "without checking that the host gets its capacity back" % (pod.get("name") or pod["id"],
                                                                                         self.spec.hostname))
            return None

    def _capacity_back(self, machine, host_before):
        """Whether the VM host's used cores and memory dropped by the VM's size (polled briefly)."""
        cores = machine.get("cpu_count") or 0
        memory = machine.get("memory") or 0
        used = host_before.get("used") or {}
        want_cores = (used.get("cores") or 0) - cores
        want_memory = (used.get("memory") or 0) - memory

        def probe():
            host = self.client.get_vm_host(host_before["id"])
            now = host.get("used") or {}
            done = (now.get("cores") or 0) <= want_cores and (now.get("memory") or 0) <= want_memory
            return done, host, "used %s cores, %s MiB" % (now.get("cores"), now.get("memory"))

        try:
            waiters.poll(self.client, probe, min(self.journal.remaining(), 60), "VM host %s to free %d cores and %d MiB"
                         % (host_before.get("name"), cores, memory))
        except MaasError as exc:
            self.journal.warn("VM host %s did not get its capacity back: %s" % (host_before.get("name"), exc))
            return False
        return True


def host_specific(exc):
    """Whether a compose failure is about the host (try the next one) rather than the request.

    MAAS answers 503 when the host refuses or is unreachable, 500 when its storage pool is full
    (``PodInvalidResources``) and 400 on cores/memory/storage beyond the host's limits. A spent
    retry budget is not host specific: MAAS itself is struggling.
    """
    if isinstance(exc, MaasRetriesExhausted):
        return False
    if isinstance(exc, MaasUnavailable) or exc.status == 500:
        return True
    if isinstance(exc, MaasValidationError):
        return bool(set(exc.fields) & {"cores", "memory", "storage", "interfaces", "cpu_speed", "architecture"}) or (
            not exc.fields and "pod" in (exc.body or "").lower())
    return False
