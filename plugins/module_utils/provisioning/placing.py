# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provisioners that place a VM on a host they choose: the placement, the preferred host and failover, once.

:class:`PlacingProvisioner` plans one VM with the placement core over the candidates its subclass
reads (``_candidates``: MAAS VM hosts, or LXD hosts), tries the preferred host first, makes the VM
(``_make``: compose it, or create and register it), waits for commissioning, and gives a host up when
the failure is the host's - up to ``max_hosts`` hosts - placing the VM again against the figures of
that moment.
"""

from __future__ import annotations

import abc

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError, sentence
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasWaitError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import FAILED_COMMISSIONING, READY, machine_reason
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import PlacementError, Request, plan, storage_pool_for
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.explain import (
    VM,
    error_dict,
    error_message,
    plan_dict,
    plan_lines,
    rejection_dict,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.provisioner import Provisioner
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.spec import DEFAULT_CORES, DEFAULT_MEMORY


class PlacingProvisioner(Provisioner):
    """A provisioner that chooses the VM's host (see the module docstring); subclasses read candidates and make VMs.

    ``candidates`` (what ``_candidates`` returns) has ``hosts`` (placement core hosts), ``existing_zones`` and
    ``vm_host(name)``, the subclass's own host object, a dict with at least ``name``.
    """

    #: How messages name the hosts: "3 VM host(s)", "No LXD VM host can take cp-1".
    host_noun = "VM host"
    host_noun_lxd = "LXD VM host"

    def __init__(self, *args, **kwargs):
        super(PlacingProvisioner, self).__init__(*args, **kwargs)
        self.excluded = {}  # host name -> why it is not a candidate
        self.failed = {}  # host name -> why it was given up in this run (failover)
        self.attempts = []  # attempts to make the VM: host, ok, error

    @abc.abstractmethod
    def _candidates(self):
        """The candidates of this VM's placement, read now (see the class docstring)."""

    @abc.abstractmethod
    def _make(self, host, storage_pool):
        """Make the VM on ``host`` and tag it; the machine, or None when the host refused (call ``_give_up``)."""

    @abc.abstractmethod
    def _describe_make(self, host):
        """The action text of making the VM on ``host``."""

    def _known(self, host):
        """Check mode: the fields of the VM's --diff view that ``host`` decides (``Provisioner.predict_made``)."""
        return None

    def create(self):
        """Choose a host, make the VM there, tag it, and return the new machine (None in check mode).

        When making it fails on a host for a reason that is the host's (or the VM's commissioning fails there), the
        host is given up for this run and the VM is placed again against the current figures, up to ``max_hosts``
        hosts; each failover is logged, warned about and returned (``failover``).
        """
        spec = self.spec
        journal = self.journal
        self.check_places()
        candidates = self._candidates()
        while True:
            vm_host, storage_pool, plan_view = self._choose(candidates)
            journal.placement = dict(plan_view, attempts=self.attempts)
            self.static_ips.adopt_reservations()
            journal.act(self._describe_make(vm_host))
            if journal.check:
                self.predict_made(self._known(vm_host))
                return None
            machine = self._make(vm_host, storage_pool)
            if machine is not None:
                machine = self._commissioned(machine, vm_host)
            if machine is not None:
                return machine
            candidates = self._candidates()  # place it again against the figures of now

    def _commissioned(self, machine, vm_host):
        """Wait (with ``wait``) for MAAS to commission the new VM; when that fails, delete it and give the host up."""
        if not self.spec.wait:
            return machine
        try:
            return self.wait_for(machine, [READY])
        except MaasWaitError as exc:
            if exc.timed_out or exc.state != FAILED_COMMISSIONING:
                raise
            return self._failed_commissioning(machine, vm_host, exc)

    def _failed_commissioning(self, machine, vm_host, exc):
        """The new VM's commissioning failed on ``vm_host``: delete it, give the host up (None)."""
        reason = "commissioning failed%s" % machine_reason(exc.machine or {})
        self.journal.log("%s: %s on %s; deleting it" % (self.spec.hostname, reason, vm_host["name"]))
        self.undo(machine["system_id"], why="its commissioning failed on %s" % vm_host["name"])
        self.journal.extra["created"] = False
        if self.attempts:
            self.attempts[-1].update(ok=False, error=reason)
        self._give_up(vm_host["name"], reason, attempted=not self.attempts)
        return None

    def _give_up(self, name, reason, attempted=True):
        """Exclude host ``name`` for this run and record the failover; fail once ``max_hosts`` hosts are given up."""
        if attempted:
            self.attempts.append(dict(host=name, ok=False, error=reason))
        self.excluded[name] = reason
        self.failed[name] = reason
        self.journal.extra.setdefault("failover", []).append(dict(host=name, reason=reason, new_host=None))
        if len(self.failed) >= self.spec.max_hosts:
            tried = "; ".join("%s: %s" % item for item in self.failed.items())
            message = "%s could not be %s on %d %s(s) (max_hosts): %s" % (
                self.spec.hostname, self.words.made, len(self.failed), self.host_noun, tried)
            raise LxdcpError(message, placement=dict(self.journal.placement or {}, attempts=self.attempts))

    def _request(self, candidates):
        """The placement request for this VM.

        A requested zone whose every host in scope was given up in this run is left out: the cluster spreads over the
        zones that can still take VMs.
        """
        spec = self.spec
        disks = spec.compose_disks()
        root_pool = disks[0]["pool"]
        disk = sum(d["size"] for d in disks if d["pool"] == root_pool)
        zones = spec.zones
        if zones and self.failed:
            in_scope = [host for host in candidates.hosts
                        if (not spec.pool or host.pool == spec.pool) and all(tag in host.tags for tag in spec.host_tags)]
            lost = [zone for zone in zones if any(host.zone == zone for host in in_scope)
                    and all(host.name in self.failed for host in in_scope if host.zone == zone)]
            if lost and len(lost) < len(zones):
                self.journal.log("zone(s) %s: every VM host was given up in this run; spreading over the others" % ", ".join(lost))
                zones = [zone for zone in zones if zone not in lost]
        return Request(count=1, cores=spec.cores or DEFAULT_CORES, memory=spec.memory or DEFAULT_MEMORY, disk=disk,
                       storage_pool=root_pool, zones=zones, pool=spec.pool, tags=spec.host_tags,
                       strategy=spec.strategy, existing_zones=candidates.existing_zones, names=[spec.hostname])

    def _preferred(self, candidates, request):
        """The preferred VM host (``preferred_vm_host``, the plan's choice) when it can still take the VM, else None.

        A preferred host that cannot (gone, unhealthy, full since the plan) is given up: the VM fails over.
        """
        name = self.spec.preferred_vm_host
        if not name or name in self.failed:
            return None
        host = next((h for h in candidates.hosts if name in (h.name, str(h.id))), None)
        if host is None:
            self._give_up(name, "no LXD VM host of that name in MAAS", attempted=False)
            return None
        if host.name in self.failed:
            return None
        if host.name in self.excluded:
            self._give_up(host.name, self.excluded[host.name], attempted=False)
            return None
        try:
            plan([host], request)
        except PlacementError as exc:
            reasons = [rejection_dict(rejection)["reason"] for rejection in exc.rejected]
            self._give_up(host.name, "; ".join(reasons) or error_message(exc, VM), attempted=False)
            return None
        return host

    def _choose(self, candidates):
        """Plan one VM over the hosts not excluded: ``(vm_host, storage pool, plan view)``; fail clearly when none fits.

        The preferred host goes first when it can take the VM. The storage pool is the one placement checked for room
        (:func:`storage_pool_for`).
        """
        request = self._request(candidates)
        preferred = self._preferred(candidates, request)
        usable = [preferred] if preferred else [host for host in candidates.hosts if host.name not in self.excluded]
        skipped = [dict(host=name, code="excluded", reason=reason) for name, reason in sorted(self.excluded.items())]
        try:
            result = plan(usable, request)
        except PlacementError as exc:
            tried = ""
            if self.attempts:
                tried = " Compose attempts: %s" % sentence("; ".join("%s: %s" % (a["host"], a["error"]) for a in self.attempts))
            target = " on vm_host %s" % self.spec.vm_host if self.spec.vm_host else ""
            self.journal.placement = dict(error_dict(exc, VM), excluded=skipped, attempts=self.attempts)
            raise LxdcpError("No %s can take %s%s: %s.%s" % (self.host_noun_lxd, self.spec.hostname, target, error_message(exc, VM), tried),
                             placement=self.journal.placement)
        chosen = result.placements[0]
        for line in plan_lines(result, VM):
            self.journal.log("placement: %s" % line)
        host = next(host for host in candidates.hosts if host.name == chosen.host)
        view = plan_dict(result, VM)
        view["excluded"] = skipped
        for warning in view["warnings"]:
            self.journal.warn("placement: %s" % warning)
        for failover in self.journal.extra.get("failover", []):
            if failover["new_host"] is None:
                failover["new_host"] = chosen.host
                self.journal.warn("%s: VM host %s given up (%s); placing it on %s in %s instead" % (
                    self.spec.hostname, failover["host"], failover["reason"], chosen.host, chosen.zone))
        return candidates.vm_host(chosen.host), storage_pool_for(host, request), view
