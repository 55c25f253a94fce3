"""What the region does around a power-on: which driver, with which credentials, and the outcome.

Machines with ``power_type: lxd`` that are not VMs of a simulated VM host are powered through the
real-LXD driver (``lxdpower.py``); every other machine is powered by the simulation alone, as
before. The driver runs during the request that starts commissioning or deployment (MAAS runs it
right after the request's transaction, so the answer still shows Commissioning or Deploying).

Outcome of a failed power-on, as MAAS's ``Node._start`` errback chain produces it:

* commissioning (``start_commissioning``): ``_start_bmc_unavailable`` puts the machine back in the
  status it had (New for a new machine), see ``lifecycle._revert``; the driver's text only reaches
  MAAS's logs. maas-sim keeps it in the machine's ``power_error`` (``GET /_sim/state``) and logs it;
* deployment: MAAS's deploy workflow marks the machine Failed deployment with the workflow's error;
  maas-sim puts the driver's text in ``error_description`` (the exact text MAAS shows there is not
  confirmed).
"""

from __future__ import annotations

import logging

from . import certs, lifecycle, lxdpower, machineform, netlogic

LOG = logging.getLogger("maas_sim.power")


def uses_lxd_driver(machine) -> bool:
    """Whether powering this machine talks to a real LXD server."""
    return machine.power_type == "lxd" and machine.pod_id is None


def controller_certificate(state) -> tuple[str, str]:
    """The rack controller's own certificate (``get_maas_cert_tuple``), made on first use and kept."""
    pair = state.meta.get("controller_certificate")
    if not pair:
        name, uuid = machineform.maas_identity(state)
        pair = state.meta["controller_certificate"] = list(certs.generate(name, "MAAS", uuid))
        state.touch_meta()
    return pair[0], pair[1]


def power_on(state, machine, without_vm_hosts: bool) -> tuple[str | None, dict]:
    """Run the driver for a power-on: ``(error text or None, hardware found in the instance)``."""
    if not uses_lxd_driver(machine):
        return None, {}
    driver = lxdpower.Driver(machine.system_id, without_vm_hosts, controller_certificate(state))
    try:
        instance = driver.query(machine.power_parameters)
    except lxdpower.LxdPowerError as exc:
        machine.power_error = str(exc)
        state.touch(machine)
        LOG.warning("%s: Power state could not be queried: %s", machine.hostname, exc)
        return str(exc), {}
    machine.power_error = ""
    state.touch(machine)
    return None, lxdpower.hardware(instance.config, instance.disks)


def start_commissioning(ctx, machine, skip_networking: bool = False) -> None:
    """``Node.start_commissioning``: Commissioning, then Ready; back to the old status when the power-on fails."""
    state = ctx.state
    if machine.pending:
        lifecycle.cancel(state, machine)
    old_status = machine.status
    error, hardware = power_on(state, machine, ctx.sim.without_vm_hosts)
    extra = {"revert_to": old_status, "user": ctx.user.username} if error else {"hardware": hardware}
    lifecycle.start(state, machine, "commissioning", fail=machine.hostname in ctx.sim.faults["commission_fail"], **extra)
    machine.power_state = "on"
    machine.error_description = ""
    if not skip_networking:
        for interface in state.interfaces_of(machine.system_id):
            netlogic.delete_interface_links(state, interface)


def start_deployment(ctx, machine, user_data) -> None:
    """``Node.start`` on an Allocated machine: Deploying, AUTO addresses claimed, powered on."""
    state = ctx.state
    machine.user_data = user_data
    netlogic.claim_auto_ips(state, machine)
    error, _hardware = power_on(state, machine, ctx.sim.without_vm_hosts)
    fail = error is not None or machine.hostname in ctx.sim.faults["deploy_fail"]
    lifecycle.start(state, machine, "deploying", fail=fail, message="Deploying", **({"error": error} if error else {}))
    machine.power_state = "on"
