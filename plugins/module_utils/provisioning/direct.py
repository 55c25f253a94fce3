# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provisioner for LXD VMs created on LXD directly and registered in MAAS (``lxd_via: direct``; MAAS 4.0).

MAAS 4.0 has no VM hosts, but keeps the ``lxd`` power driver: a machine whose power parameters name
an LXD server and an instance is powered (and commissioned, deployed) through LXD. So the VM is made
in two halves, in this order:

1. the LXD instance, on an LXD host the placement core chooses (``lxd_hosts.lxd_candidates``), with
   the definition MAAS itself uses when it composes (``lxd.definitions.vm_definition``), a MAC known
   in advance, and lxdcp.maas's ``user.lxdcp.*`` marks;
2. the MAAS machine: ``POST /machines/`` with that MAC and ``power_type=lxd`` (without commissioning,
   MAAS generating the machine's own LXD certificate), the ownership tags, MAAS's certificate trusted
   on the LXD host, then ``op=commission``.

Each half state an interrupted run leaves is completed by the next: an instance of ours without a
machine is registered where it is; a machine of ours whose commissioning never started is
commissioned; a machine whose instance is gone is deleted and made again. An instance without our
marks is never touched. Removal releases and deletes the machine, then deletes the instance and
checks the host's allocation went down.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError, sentence
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.definitions import nic_macs
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import LxdConflict, LxdError
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd_hosts import (
    Connections,
    Defaults,
    host_entries,
    lxd_candidates,
    lxd_hosts,
    no_lxd_host,
    read_host,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import is_vm, machine_ips, vm_host_name
from ansible_collections.lxdcp.maas.plugins.module_utils.maas import waiters
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasWaitError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import COMMISSIONING, NEW, READY, RELEASABLE, state_text
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import instance_is_owned, left_untagged_vm
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.instances import VmInstances
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.placing import PlacingProvisioner
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.provisioner import Words

ARCHITECTURE = "amd64/generic"
# What MAAS's machine status message starts with when its power driver could not reach the BMC (the LXD instance).
BMC_FAILED = "Failed to query node's BMC"


class DirectProvisioner(PlacingProvisioner):
    """An LXD VM created on an LXD host by the collection and registered in MAAS as an ``lxd``-powered machine."""

    words = Words(noun="VM", creation="creation", made="created", undone="deleted", undo="delete", remake="create")
    host_noun = "LXD host"
    host_noun_lxd = "LXD host"

    def __init__(self, *args, **kwargs):
        super(DirectProvisioner, self).__init__(*args, **kwargs)
        self._hosts = None
        self.lxd = Connections(logger=self.journal.log, warn=self.journal.warn)  # lxd(host): the host's LxdClient
        self.why = ""  # why direct mode: set when lxd_via auto chose it
        self.lxd_host = None  # the LXD host of the VM, once known
        self._down = {}  # LXD host name -> the LxdError its LXD answered in this run (not asked again)
        self._warned = set()  # warnings about LXD hosts given already
        self.instances = VmInstances(self.journal, self.spec, self.lxd)

    # -- LXD hosts -----------------------------------------------------------------------------

    def hosts(self):
        """The LXD hosts (one MAAS read, once per run)."""
        if self._hosts is None:
            spec = self.spec
            defaults = Defaults.from_options(spec.params, spec.project)
            self._hosts = lxd_hosts(self.client, host_entries(spec.params.get("lxd_hosts")), defaults)
            if not self._hosts:
                raise no_lxd_host(defaults.tag, self.why)
        return self._hosts

    def host_at(self, address):
        """The LXD host whose endpoint is ``address`` (a power_address), or None."""
        wanted = _endpoint(address)
        return next((host for host in self.hosts() if _endpoint(host["client"]["url"]) == wanted), None)

    # -- kind and ownership ----------------------------------------------------------------------

    def kind_error(self, machine):
        if not is_vm(machine):
            return "%s is a bare-metal machine, not an LXD VM; use provisioning_mode: bare-metal for it" % self.spec.hostname
        if vm_host_name(machine):
            return ("%s was composed by MAAS on VM host %s; manage it with lxd_via: vm-host (or auto)"
                    % (self.spec.hostname, vm_host_name(machine)))
        return None

    def left_untagged(self, machine):
        return left_untagged_vm(machine, self.spec.cluster)

    def host_of(self, machine):
        return dict(id=None, name=self.lxd_host) if self.lxd_host else None

    # -- placing ---------------------------------------------------------------------------------

    def _candidates(self):
        spec = self.spec
        candidates = lxd_candidates(self.client, self.hosts(), spec.cluster, exclude=[spec.hostname], connect_host=self.lxd,
                                    vet=self._vet, failed=self._down)
        for warning in candidates.warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                self.journal.warn(warning)
        self._check_usable(candidates)
        if spec.cluster:
            others = sum(host.replicas for host in candidates.hosts) + sum(candidates.existing_zones.values())
            self.journal.log("cluster %s: %d other VM(s)" % (spec.cluster, others))
        return candidates

    def _check_usable(self, candidates):
        """Fail, naming each LXD host and why, when none of those left can take a VM at all (unreachable, the client
        not trusted, no VM support, the project or the bridge missing), or a storage pool of ``disks`` exists on none."""
        spec = self.spec
        in_scope = [(host, view) for host, view in candidates.pairs if view.name not in self.excluded]
        if in_scope and not any(view.healthy for _host, view in in_scope):
            raise LxdcpError("%sno LXD host can take %s: none of the %d LXD host(s) can be used. %s" % (
                self.why, spec.hostname, len(in_scope),
                " ".join("%s: %s" % (host["name"], sentence(host["health"]["reason"])) for host, _view in in_scope)))
        readable = [host for host, _view in candidates.pairs if host["state"].error is None]
        have = sorted(set(pool for host in readable for pool in host["state"].storage))
        for index, disk in enumerate(spec.compose_disks()):
            if readable and disk["pool"] and disk["pool"] not in have:
                raise LxdcpError(
                    "%sstorage pool %r of disks[%d] exists on none of the LXD hosts (%s; their pools: %s): create it on the "
                    "LXD hosts (`lxc storage create %s <driver>`) or name one of theirs." % (
                        self.why, disk["pool"], index, ", ".join(host["name"] for host in readable), ", ".join(have) or "none",
                        disk["pool"]))

    def _vet(self, hosts):
        """``vm_host`` pins the VM to one LXD host: the others are excluded."""
        spec = self.spec
        if not spec.vm_host:
            return
        if spec.vm_host not in [host["name"] for host in hosts]:
            raise LxdcpError("no LXD host named %r (LXD hosts: %s)" % (spec.vm_host, ", ".join(sorted(h["name"] for h in hosts))))
        for host in hosts:
            if host["name"] != spec.vm_host:
                self.excluded[host["name"]] = "not the vm_host asked for"

    def create(self):
        """An instance of ours that an interrupted run left without its machine is registered where it is; an instance
        of that name that is not ours (another cluster's, or not lxdcp.maas's) is refused before anything is written."""
        spec = self.spec
        self.check_places()
        for host in self.hosts():
            try:
                instance = self.lxd(host).find_instance(spec.hostname)
            except LxdError as exc:
                self._down[host["name"]] = exc  # that host's trouble shows when it is placed on
                continue
            if instance is None:
                continue
            if not instance_is_owned(instance, spec.cluster):
                raise LxdcpError(self.instances.not_ours(host, instance))
            self.journal.warn("%s: LXD instance %s on %s is what an interrupted run left before registering it in "
                              "MAAS; registering it" % (spec.hostname, spec.hostname, host["name"]))
            self.journal.act("register %s (LXD instance on %s) in MAAS" % (spec.hostname, host["name"]))
            if self.journal.check:
                self.predict_made(self._known(host))
                return None
            self.journal.extra["created"] = True
            return self._commissioned(self._register(host, instance), host)
        return super(DirectProvisioner, self).create()

    def _describe_make(self, host):
        return "create %s on LXD host %s (%s) and register it in MAAS" % (self.spec.hostname, host["name"], self.spec.summary())

    def _known(self, host):
        # Where _register puts the machine (the placement says the same for a VM still to be created).
        return dict(vm_host=host["name"], zone=host["zone"], pool=self.spec.pool or host["pool"])

    def _make(self, host, storage_pool):
        """Create the instance on ``host`` and register it in MAAS; None when the host failed (it is given up)."""
        spec = self.spec
        try:
            instance = self.instances.create(host, storage_pool)
        except LxdConflict as exc:
            raise LxdcpError(str(exc), error=exc.to_dict()) from None
        except LxdError as exc:
            self.journal.log("creating %s on %s failed: %s" % (spec.hostname, host["name"], exc))
            self._give_up(host["name"], "LXD refused the instance: %s" % exc)
            return None
        self.attempts.append(dict(host=host["name"], ok=True, error=None))
        self.journal.extra["created"] = True
        return self._register(host, instance)

    def _register(self, host, instance):
        """The MAAS machine of ``instance`` (found, or created without commissioning), tagged, MAAS's certificate trusted
        on the LXD host, then commissioning started."""
        spec = self.spec
        machine = self.client.find_machine(spec.hostname)
        if machine is None:
            data = dict(hostname=spec.hostname, architecture=ARCHITECTURE, mac_addresses=self._macs(instance),
                        power_type="lxd", power_parameters_power_address=host["client"]["url"],
                        power_parameters_instance_name=instance["name"], power_parameters_project=host["project"],
                        commission=False, zone=host["zone"], pool=spec.pool or host["pool"])
            if spec.domain:
                data["domain"] = spec.domain
            answer = self.client.create_machine(data)
            machine = self.client.get_machine(answer["system_id"])
            self.journal.log("registered %s in MAAS as %s (LXD instance on %s)" % (spec.hostname, machine["system_id"], host["name"]))
        self.lxd_host = host["name"]
        with self.undo_on_failure(machine["system_id"]):
            machine = self.ensure_tags(machine)
            return self._commission(host, machine)

    def _macs(self, instance):
        """The instance's MACs, the NICs of the task's interfaces in their order first (MAAS names them eth0, eth1...)."""
        macs = nic_macs(instance)
        order = [item["name"] for item in self.spec.interfaces if item["name"] in macs]
        return [macs[name] for name in order] + [mac for name, mac in sorted(macs.items()) if name not in order]

    def _commission(self, host, machine):
        """Trust MAAS's certificate of the machine on its LXD host, then start commissioning."""
        parameters = self.client.power_parameters(machine["system_id"])
        if parameters.get("certificate"):
            self.instances.trust(host, parameters["certificate"], machine["system_id"])
        self.client.commission(machine["system_id"])
        return self.client.get_machine(machine["system_id"])

    def _commissioned(self, machine, vm_host):
        """Wait for commissioning; MAAS reverting the machine to New (its LXD instance unreachable) is a failure too."""
        if not self.spec.wait:
            return machine
        system_id = machine["system_id"]

        def probe():
            current = self.client.get_machine(system_id)
            status = current.get("status_name")
            if status == READY:
                return True, current, status
            if status == NEW and (current.get("status_message") or "").startswith(BMC_FAILED):
                raise MaasWaitError("Machine %s (%s) went back to New: %s" % (self.spec.hostname, system_id,
                                                                              current.get("status_message")),
                                    state="Failed commissioning", machine=current)
            return False, current, state_text(current)

        try:
            return waiters.poll(self.client, probe, self.journal.remaining(), "%s to be commissioned" % self.spec.hostname)
        except MaasWaitError as exc:
            if exc.timed_out:
                raise
            return self._failed_commissioning(machine, vm_host, exc)

    # -- half states of an earlier run -------------------------------------------------------------

    def settle(self, machine):
        """An existing machine of ours: its LXD host found; its instance gone -> the machine is deleted (None); commissioning
        never started -> started; commissioning -> waited for (with ``wait``: a failure deletes the VM, None)."""
        spec = self.spec
        parameters = self.client.power_parameters(machine["system_id"])
        host = self.host_at(parameters.get("power_address"))
        if host is None:
            raise LxdcpError("%s is powered by LXD at %s, which is none of the LXD hosts (lxd_hosts, MAAS machines tagged %s); "
                             "add it to lxd_hosts with its credentials" % (
                                 spec.hostname, parameters.get("power_address"), spec.params.get("lxd_host_tag") or "lxd-host"))
        self.lxd_host = host["name"]
        name = parameters.get("instance_name") or spec.hostname
        instance = self.lxd(host).find_instance(name, parameters.get("project"))
        if instance is None:
            self.journal.warn("%s (%s) is powered by LXD instance %s on %s, which is gone: deleting the machine to create "
                              "the VM again" % (spec.hostname, machine["system_id"], name, host["name"]))
            self.journal.act("delete %s (%s): its LXD instance %s on %s is gone" % (
                spec.hostname, machine["system_id"], name, host["name"]))
            if not self.journal.check:
                self.client.delete_machine(machine["system_id"])
                waiters.wait_for_machine_gone(self.client, machine["system_id"], self.journal.remaining(), hostname=spec.hostname)
                self.instances.untrust(host, parameters.get("certificate"), machine["system_id"])
            return None
        self.instances.claim(host, instance, machine["system_id"])
        commissioning = machine.get("status_name") == COMMISSIONING
        if machine.get("status_name") == NEW and machine.get("power_state") in (None, "unknown", "off"):
            self.journal.act("commission %s (%s): its commissioning never started" % (spec.hostname, machine["system_id"]))
            if not self.journal.check:
                machine, commissioning = self._commission(host, machine), True
        if commissioning and not self.journal.check:
            # MAAS learns the VM's size by commissioning it: wait, as a creation does, before the size is compared.
            machine = self._commissioned(machine, host)
        return machine

    def undo(self, system_id, why="created by this run, not tagged"):
        """Delete the machine and its instance (this run made both)."""
        spec = self.spec
        self.journal.act("delete %s (%s) again: %s" % (spec.hostname, system_id, why))
        parameters = self.client.power_parameters(system_id)
        self.client.delete_machine(system_id)
        if spec.wait:
            waiters.wait_for_machine_gone(self.client, system_id, self.journal.remaining(), hostname=spec.hostname)
        self._delete_instance(self.host_at(parameters.get("power_address")), parameters, system_id)

    def _delete_instance(self, host, parameters, system_id):
        """Delete the instance the (deleted) machine was powered by, and MAAS's certificate trusted for the machine."""
        if host is None:
            return
        self.instances.delete(host, parameters.get("instance_name") or self.spec.hostname, parameters.get("project"), powered=True)
        self.instances.untrust(host, parameters.get("certificate"), system_id)

    # -- removal ---------------------------------------------------------------------------------

    def gone(self):
        """No machine: an instance of ours an interrupted run left unregistered is deleted too."""
        self.journal.extra.update(released_ips=[], capacity_restored=None)
        self.instances.delete_unregistered(self.hosts())
        return None

    def remove(self, machine, reason):
        """Release, delete the machine, delete the instance, check the addresses are free and the host's allocation fell."""
        journal = self.journal
        spec = self.spec
        system_id = machine["system_id"]
        ips = sorted(ip for ips in machine_ips(machine).values() for ip in ips)
        parameters = self.client.power_parameters(system_id)
        host = self.host_at(parameters.get("power_address"))
        if host is None:
            raise LxdcpError("%s is powered by LXD at %s, which is none of the LXD hosts: add it to lxd_hosts so that its "
                             "instance can be deleted too; nothing was changed" % (spec.hostname, parameters.get("power_address")))
        status = machine.get("status_name")
        if status in RELEASABLE:
            journal.act("release %s (%s)" % (spec.hostname, status))
            if not journal.check:
                self.wait_for(self.release(machine, reason), [READY], what="%s to be released" % spec.hostname)
        journal.act("delete %s (%s) and its LXD instance on %s, %s" % (spec.hostname, system_id, host["name"], reason))
        journal.extra.update(released_ips=[], capacity_restored=None)
        if journal.check:
            return None
        before = self._allocated(host)
        self.client.delete_machine(system_id)
        if spec.wait:
            waiters.wait_for_machine_gone(self.client, system_id, journal.remaining(), hostname=spec.hostname)
        self._delete_instance(host, parameters, system_id)
        if not spec.wait:
            return None
        journal.extra["released_ips"] = self.free_addresses(system_id, ips)
        after = self._allocated(host)
        journal.extra["capacity_restored"] = after[0] <= before[0] - (machine.get("cpu_count") or 0) and after[1] <= before[1]
        return None

    def _allocated(self, host):
        """Cores and MiB allocated to instances on ``host`` now."""
        state = read_host(self.lxd(host))
        return state.used_cores, state.used_memory


def _endpoint(address):
    """``host:port`` of an LXD address, with LXD's defaults (https, 8443), for comparing."""
    text = (address or "").strip().rstrip("/")
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    if not text.rsplit("]", 1)[-1].count(":"):
        text += ":8443"
    return text.lower()
