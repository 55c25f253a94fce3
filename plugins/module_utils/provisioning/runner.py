# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner of ``maas_lxd_vm``: one machine's life cycle, whatever provisioner makes it.

Read the machine by hostname, check it is this task's (ownership tags, or left untagged by an
interrupted run, or adoptable), compare it with the arguments (drift), create it with the
provisioner when it is missing, then converge: wait for MAAS, make the static IPs sticky, and
deploy or release. ``state: absent`` asks the provisioner to remove it. Every step is recorded in
the journal; check mode sends no write and records what would be done.
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd_hosts import AUTO_DIRECT
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import is_vm, machine_view, vm_host_name
from ansible_collections.lxdcp.maas.plugins.module_utils.maas import waiters
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import (
    ALLOCATED,
    DEPLOYED,
    DEPLOYING,
    FAILED_DEPLOYMENT,
    FAILED_STATES,
    ON_THE_WAY_TO_READY,
    READY,
    RELEASABLE,
    RELEASING,
    machine_reason,
)
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import clusters_of, is_owned
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.bare_metal import BareMetalProvisioner
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasGone
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.compose import ComposeProvisioner
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.drift import diff_view, find_drift, predicted_view, wanted_view
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.journal import Journal
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.spec import Spec
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.static_ips import StaticIps, default_gateways


def _direct(*args):
    """The DirectProvisioner, imported when a VM is made on LXD itself: the other ways never load the LXD client."""
    from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.direct import DirectProvisioner

    return DirectProvisioner(*args)


#: The provisioner of each way a machine comes to exist (``provisioning_mode``, and ``lxd_via`` for LXD VMs).
PROVISIONERS = {
    "vm-host": ComposeProvisioner,
    "direct": _direct,
    "bare-metal": BareMetalProvisioner,
}


def run(context):
    """``maas_lxd_vm``: validate the arguments, then run the life cycle; returns the module result."""
    return VmRunner(context, Spec(context.params)).run()


class VmRunner(object):
    """One run of the module: read, decide, write (unless check mode), wait, report."""

    def __init__(self, context, spec):
        self.spec = spec
        self.client = context.client()
        self.journal = Journal(context, spec.wait_timeout)
        self.static_ips = StaticIps(self.journal, spec, self.client)
        self.provisioner = self._provisioner("bare-metal" if not spec.lxd else spec.lxd_via if spec.lxd_via != "auto" else "vm-host")
        self.drift = []
        self.before = None
        self.wanted_after = None  # --diff "after" of a failed run that knows what was wanted (drift)

    def view(self, machine, host=None):
        """The machine as the module returns it, its provider ID as asked (``vm_provider_id_scheme``)."""
        return machine_view(machine, host, self.spec.vm_provider_id_scheme)

    def _provisioner(self, kind):
        return PROVISIONERS[kind](self.journal, self.spec, self.client, self.static_ips)

    def _auto(self, machine):
        """``lxd_via: auto``: an existing LXD VM decides by its kind (composed on a VM host, or LXD-powered); ``absent``
        without a machine asks MAAS whether it has VM hosts (an instance an interrupted run left is removed then)."""
        spec = self.spec
        if not (spec.lxd and spec.lxd_via == "auto"):
            return
        if machine is not None:
            if is_vm(machine) and not vm_host_name(machine):
                self.provisioner = self._provisioner("direct")
            return
        if spec.state == "absent":
            try:
                self.client.list_vm_hosts()
            except MaasGone:
                self.provisioner = self._provisioner("direct")

    def _create(self):
        """Create the machine; with ``lxd_via: auto`` a MAAS answering 410 on VM hosts (MAAS 4.0) means direct mode."""
        try:
            return self.provisioner.create()
        except MaasGone as exc:
            if self.spec.lxd and self.spec.lxd_via == "vm-host":
                raise LxdcpError("lxd_via is vm-host, but this MAAS has no VM hosts to compose %s on: set lxd_via: direct "
                                 "(or auto) to have the VM created on the LXD hosts and registered in MAAS. Nothing was "
                                 "changed. %s" % (self.spec.hostname, exc), error=exc.to_dict()) from None
            if not (self.spec.lxd and self.spec.lxd_via == "auto" and isinstance(self.provisioner, ComposeProvisioner)):
                raise
        self.journal.log("MAAS has no VM hosts (410): creating the VM on LXD directly (lxd_via: auto)")
        checked = self.provisioner
        self.provisioner = self._provisioner("direct")
        self.provisioner.pool_id, self.provisioner.domain_id = checked.pool_id, checked.domain_id
        self.provisioner.why = AUTO_DIRECT
        return self.provisioner.create()

    # -- entry -----------------------------------------------------------------------------

    def run(self):
        """Bring the machine to the wanted state and return the module result; LxdcpError carries the result too."""
        try:
            return self.result(self._run())
        except LxdcpError as exc:
            exc.result = dict(self.result(None, failed=True), **exc.result)
            raise

    def _run(self):
        spec = self.spec
        machine = self.client.find_machine(spec.hostname)
        self._auto(machine)
        provisioner = self.provisioner
        self.before = diff_view(machine)
        if machine is not None and any(i.get("gateway") for i in spec.interfaces):
            self.before["default_gateways"] = default_gateways(machine)
        if machine is not None and spec.state != "absent" and any(i.get("gateway") or i.get("dns_servers") for i in spec.interfaces):
            self.static_ips.check(system_id=machine["system_id"])  # a gateway or DNS server MAAS cannot apply: before any write
        if machine is None:
            self.journal.log("no machine named %s" % spec.hostname)
        else:
            self.journal.log("found %s (%s): %s%s" % (spec.hostname, machine["system_id"], machine.get("status_name"),
                                                      ", LXD VM%s" % (" on %s" % vm_host_name(machine) if vm_host_name(machine) else "")
                                                      if is_vm(machine) else ", bare metal"))
        if spec.state == "absent":
            return self.absent(machine)
        finishing = False  # adopting what an earlier run of this task left untagged
        if machine is not None:
            self.check_kind(machine)
            if not is_owned(machine, spec.cluster):
                if provisioner.left_untagged(machine):
                    finishing = True
                    self.journal.warn(
                        "%s (%s) lacks the ownership tags, but it is what a run of this task leaves when it fails between "
                        "%s and tagging; adopting it" % (spec.hostname, machine["system_id"],
                                                         provisioner.words.creation))
                elif not provisioner.adoptable(machine):
                    self.refuse(machine)
            machine = provisioner.settle(machine) if is_owned(machine, spec.cluster) or finishing else machine
            if machine is not None and provisioner.host_of(machine):  # known now (direct mode: from the power parameters)
                self.before["vm_host"] = provisioner.host_of(machine)["name"]
            if machine is None:
                pass
            elif machine.get("status_name") in FAILED_STATES and spec.recover == "recreate":
                # Before drift: a failed VM's links and sizes say nothing (commissioning drops its IP links).
                machine = provisioner.remove(machine, reason="recover: recreate (it was %s)" % machine.get("status_name"))
            else:
                self.check_failed(machine)
                self.drift = find_drift(machine, spec, provisioner.host_of(machine))
                if self.drift:
                    machine = self.handle_drift(machine)
        if machine is None:
            machine = self._create()
            if machine is None:  # check mode, or nothing to make
                return None
        elif is_owned(machine, spec.cluster) or finishing:
            machine = provisioner.ensure_tags(machine)
        else:
            machine = provisioner.adopt(machine)
        return self.converge(machine)

    # -- ownership and drift -----------------------------------------------------------------

    def check_kind(self, machine):
        """Fail when the machine is of the other provisioning mode."""
        problem = self.provisioner.kind_error(machine)
        if problem:
            raise LxdcpError(problem, machine=self.view(machine))

    def refuse(self, machine, hint=None):
        """Fail: the machine exists but was not created by lxdcp.maas for this cluster."""
        spec = self.spec
        missing = [tag for tag in spec.owner_tags if tag not in (machine.get("tag_names") or [])]
        clusters = clusters_of(machine)
        detail = (" it belongs to cluster %s" % ", ".join(clusters)) if clusters and spec.cluster else ""
        raise LxdcpError(
            "Refusing to manage %s (%s): it lacks the ownership tag(s) %s, so it was not created by lxdcp.maas%s%s. %s"
            % (spec.hostname, machine["system_id"], ", ".join(missing),
               " for cluster %s" % spec.cluster if spec.cluster else "", ";" + detail if detail else "",
               hint or "Choose another hostname, or tag the machine in MAAS if it really is this task's."),
            machine=self.view(machine),
        )

    def handle_drift(self, machine):
        """Fail on drift, or delete the VM for recreation (returns None then)."""
        text = "; ".join("%s is %s, wanted %s" % (d["field"], d["current"], d["wanted"]) for d in self.drift)
        if not self.spec.recreate:
            host = self.provisioner.host_of(machine)
            self.wanted_after = wanted_view(machine, self.drift, self.spec, host)
            raise LxdcpError("%s differs from the task: %s. Set recreate: true to delete and %s it again "
                             "(its data is lost), or change the task to match." % (self.spec.hostname, text,
                                                                                   self.provisioner.words.remake),
                             machine=self.view(machine, host))
        self.journal.log("drift: %s; recreating" % text)
        return self.provisioner.remove(machine, reason="recreate (%s)" % text)

    # -- absent ------------------------------------------------------------------------------

    def absent(self, machine):
        """Remove the machine (only one this task owns, or one ``absent`` left already), then the cluster's tag with its
        last machine."""
        provisioner = self.provisioner
        if machine is None:
            left = provisioner.gone()
        elif not is_owned(machine, self.spec.cluster) and provisioner.absent_already(machine):
            left = provisioner.finish_absent(machine)
        else:
            if not is_owned(machine, self.spec.cluster):
                hint = None
                if provisioner.left_untagged(machine):
                    hint = ("It looks like a %s a run of this task %s but could not tag; run the task with state: present "
                            "first to adopt it, then with state: absent." % (provisioner.words.noun, provisioner.words.made))
                self.refuse(machine, hint)
            self.check_kind(machine)
            left = provisioner.remove(machine, "state=absent")
        if self.spec.cluster and self.spec.wait and not self.spec.keep_cluster_tag:
            provisioner.drop_cluster_tag(machine["system_id"] if machine else None)
        return left

    # -- converging an existing machine ----------------------------------------------------

    def converge(self, machine):
        """Drive an existing (or just created) machine to the wanted state."""
        spec = self.spec
        journal = self.journal
        provisioner = self.provisioner
        status = machine.get("status_name")
        if status == FAILED_DEPLOYMENT and spec.recover == "redeploy" and spec.state != "deployed":
            journal.act("release %s after its failed deployment%s (recover: redeploy)" % (spec.hostname, machine_reason(machine)))
            if journal.check:
                status = READY
            else:
                machine = provisioner.wait_for(provisioner.release(machine, "recover: redeploy"), [READY])
                status = machine.get("status_name")
        self.check_failed(machine, status)
        if status in ON_THE_WAY_TO_READY and not journal.check:
            machine = provisioner.wait_for(machine, [READY] + ([DEPLOYED, ALLOCATED] if status == RELEASING else []))
            status = machine.get("status_name")
        machine = self.static_ips.ensure(machine)
        if spec.state == "present":
            machine, journal.after_state = provisioner.present(machine)
        elif spec.state == "released":
            if status in RELEASABLE:
                journal.act("release %s (%s)" % (spec.hostname, status))
                if not journal.check:
                    machine = provisioner.wait_for(provisioner.release(machine, "state=released"), [READY])
            journal.after_state = READY
        elif spec.state == "deployed":
            machine = self.deploy(machine)
        return machine

    def check_failed(self, machine, status=None):
        """Fail on a machine MAAS reports as failed, unless this task's state or ``recover`` deals with it."""
        spec = self.spec
        status = status or machine.get("status_name")
        if status not in FAILED_STATES:
            return
        # Released, or deployed again - unless the task said recover: none, which fails on every failed machine.
        if status in RELEASABLE and (spec.state == "released" or (spec.state == "deployed" and spec.recover != "none")):
            return
        if status == FAILED_DEPLOYMENT and spec.recover == "redeploy":
            return
        raise LxdcpError("%s is in state %r%s. Fix it in MAAS, delete it (state: absent), or let the task recover it "
                         "(recover: %s), and run again." % (spec.hostname, status, machine_reason(machine),
                                                            "redeploy" if status == FAILED_DEPLOYMENT else "recreate"),
                         machine=self.view(machine))

    def deploy(self, machine):
        """Deploy unless deployed (a failed deployment is released and deployed again)."""
        spec = self.spec
        journal = self.journal
        status = machine.get("status_name")
        journal.after_state = DEPLOYED
        if status == DEPLOYED:
            series = spec.params["distro_series"]
            if series and series.split("/")[-1] not in (machine.get("distro_series"), ""):
                journal.warn("%s is deployed with %s, the task asks for %s; release it (state: released) and deploy "
                             "again to change it" % (spec.hostname, machine.get("distro_series"), series))
            return machine
        if status == DEPLOYING:
            return machine if journal.check or not spec.deploy_wait else self.provisioner.wait_for(machine, [DEPLOYED])
        if status not in (READY, ALLOCATED, "Failed deployment") and not journal.check:
            journal.warn("%s is %s, not Ready: it is deployed on a later run (or use wait: true)" % (spec.hostname, status))
            return machine
        if status == "Failed deployment":
            journal.act("release %s after its failed deployment%s" % (spec.hostname, machine_reason(machine)))
            if not journal.check:
                self.client.release(machine["system_id"], {"comment": "lxdcp.maas redeploy"})
                machine = waiters.wait_for_machine(self.client, machine["system_id"], [READY], journal.remaining())
        journal.act(spec.deploy_action)
        if journal.check:
            return machine
        machine = self.client.deploy(machine["system_id"], spec.deploy_data())
        if not spec.deploy_wait:  # the caller waits for it, with other machines (maas_machine_info wait_for)
            return machine
        return self.provisioner.wait_for(machine, [DEPLOYED])

    # -- result ----------------------------------------------------------------------------

    def result(self, machine, failed=False):
        """The module result (``failed``: for a failure, when the machine is not known any more)."""
        journal = self.journal
        host = self.provisioner.host_of(machine) if machine is not None else None
        view = self.view(machine, host)
        result = dict(
            changed=journal.changed,
            machine=view,
            provider_id=view["provider_id"] if view else None,
            actions=journal.actions,
            drift=self.drift,
        )
        if journal.placement is not None:
            result["placement"] = journal.placement
        result.update(journal.extra)
        if journal.diff:
            if machine is not None:
                after = diff_view(machine, journal.after_state, host)
            elif failed:
                # A failed task changed nothing it knows of: "after" is "before", or what was wanted (drift).
                after = self.wanted_after if self.wanted_after is not None else (self.before or {})
            elif self.spec.state == "absent" or journal.after_state is None:
                after = {}
            else:
                after = predicted_view(self.spec, journal.after_state, journal.placement, journal.predicted)
            if any(i.get("gateway") for i in self.spec.interfaces) and after and self.spec.state != "absent":
                after = dict(after)
                if self.static_ips.gateways_after is not None:
                    after["default_gateways"] = self.static_ips.gateways_after
                elif machine is not None:
                    after["default_gateways"] = default_gateways(machine)
                else:
                    after["default_gateways"] = dict(
                        (family, next((i["gateway"] for i in self.spec.interfaces if i.get("gateway")
                                       and (":" in i["gateway"]) == (family == "ipv6")), None)) for family in ("ipv4", "ipv6"))
            result["diff"] = dict(before=self.before or {}, after=after)
        return result
