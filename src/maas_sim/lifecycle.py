"""Machine life cycle: the status changes of ``maasserver/models/node.py``, with timed completions.

Operations that MAAS completes asynchronously (commissioning, deployment,
release, disk erasing) set ``machine.pending = {"action", "at", "fail"}``; the
outcome is applied lazily by ``advance`` at the start of every request, from
the stored deadline, so nothing needs a background thread and a restart keeps
pending transitions. Failures are decided when the operation starts (from the
``commission_fail``/``deploy_fail`` faults).
"""

from __future__ import annotations

import time

from . import builders, capacity, netlogic
from .enums import STATUS_KEYWORDS, STATUS_NAMES, NodeStatus, transition_error
from .errors import conflict
from .state import State

# action -> (status while running, status on success, status on failure)
ACTIONS = {
    "commissioning": (NodeStatus.COMMISSIONING, NodeStatus.READY, NodeStatus.FAILED_COMMISSIONING),
    "deploying": (NodeStatus.DEPLOYING, NodeStatus.DEPLOYED, NodeStatus.FAILED_DEPLOYMENT),
    "releasing": (NodeStatus.RELEASING, NodeStatus.READY, NodeStatus.FAILED_RELEASING),
    "disk_erasing": (NodeStatus.DISK_ERASING, NodeStatus.READY, NodeStatus.FAILED_DISK_ERASING),
}


def set_status(state: State, machine, status: int, message: str | None = None) -> None:
    """``update_status``: enforce ``NODE_TRANSITIONS`` (409 ``Invalid transition: A -> B.``)."""
    error = transition_error(machine.status, status)
    if error:
        raise conflict(error)
    if status != machine.status:
        machine.previous_status = machine.status
    machine.status = status
    machine.status_message = message if message is not None else STATUS_NAMES[status]
    state.touch(machine)


def start(state: State, machine, action: str, fail: bool = False, message: str | None = None, **extra) -> None:
    """Enter the running status of ``action`` and schedule its completion.

    ``extra`` is kept in ``pending`` for the completion: ``hardware`` (what commissioning finds),
    ``error`` (the failure text), ``revert_to``/``user`` (the power-on failed: see ``_revert``).
    """
    running = ACTIONS[action][0]
    set_status(state, machine, running, message)
    delay = 0.0 if "revert_to" in extra else float(state.meta.get("timings", {}).get(action, 0.0))
    machine.pending = {"action": action, "at": time.time() + delay, "fail": bool(fail), **extra}
    state.schedule(machine)


def cancel(state: State, machine) -> None:
    """Forget a pending completion."""
    machine.pending = None
    state.touch(machine)


def advance(state: State, now: float | None = None) -> None:
    """Complete every transition whose deadline has passed."""
    for machine in state.due(time.time() if now is None else now):
        pending = machine.pending
        machine.pending = None
        if "revert_to" in pending:
            _revert(state, machine, pending)
            continue
        success, failure = ACTIONS[pending["action"]][1:]
        finish = {
            "commissioning": _finish_commissioning,
            "deploying": _finish_deployment,
            "releasing": _finish_release,
            "disk_erasing": _finish_release,
        }[pending["action"]]
        finish(state, machine, failure if pending["fail"] else success, pending)


def _revert(state: State, machine, pending: dict) -> None:
    """``Node._start_bmc_unavailable``: the power-on failed, the machine goes back to its old status.

    MAAS logs the event ``Failed to query node's BMC`` (``NODE_POWER_QUERY_FAILED``, level WARN) with
    this description; ``status_message`` shows the newest event of level INFO or more as
    ``<type description> - <description>``. The power state is the one ``power_query_all`` found
    before the power-on: ``unknown`` when no rack could query the BMC.
    """
    names = {value: name.upper() for name, value in STATUS_KEYWORDS.items()}
    running, old = machine.status, pending["revert_to"]
    set_status(state, machine, old)
    machine.status_message = (f"Failed to query node's BMC - ({pending.get('user', '')}) - Aborting {names[running]} and "
                              f"reverting to {names[old]}. Unable to power control the node. Please check power credentials.")
    machine.power_state = "unknown"


def _finish_commissioning(state: State, machine, status: int, pending: dict) -> None:
    machine.power_state = "off"
    if status == NodeStatus.FAILED_COMMISSIONING:
        set_status(state, machine, status, "Failed commissioning")
        machine.error_description = "Commissioning failed (maas-sim commission_fail fault)."
        return
    hardware = dict(pending.get("hardware") or {})
    sizes = hardware.pop("disks", None)
    for key, value in hardware.items():
        setattr(machine, key, value)
    if sizes:
        machine.disks = []
        for size in sizes:
            builders.add_disk(state, machine, size)
    netlogic.set_initial_networking(state, machine)
    set_status(state, machine, status, "Ready")


def _finish_deployment(state: State, machine, status: int, pending: dict) -> None:
    if status == NodeStatus.FAILED_DEPLOYMENT:
        set_status(state, machine, status, "Failed deployment")
        machine.error_description = pending.get("error") or "Installation failed (maas-sim deploy_fail fault)."
        return
    machine.power_state = "on"
    set_status(state, machine, status, "Deployed")


def _finish_release(state: State, machine, status: int, _pending: dict) -> None:
    """``Node._finalize_release``: clear ownership and OS, release AUTO addresses; dynamic VMs go away."""
    machine.power_state = "off"
    if machine.dynamic:
        delete_machine(state, machine)
        return
    netlogic.release_auto_ips(state, machine)
    machine.owner_id = None
    machine.agent_name = ""
    machine.osystem = ""
    machine.distro_series = ""
    machine.hwe_kernel = None
    machine.owner_data = {}
    machine.ephemeral_deploy = False
    set_status(state, machine, status, "Released")


def acquire(state: State, machine, user, agent_name: str = "") -> None:
    """``Node.acquire``: Allocated to ``user``."""
    set_status(state, machine, NodeStatus.ALLOCATED, f"From 'Ready' to 'Allocated' (to {user.username})")
    machine.owner_id = user.id
    machine.agent_name = agent_name or ""


def release(state: State, machine, erase: bool = False) -> None:
    """``Node.start_releasing``: Releasing (or Disk erasing), completed later."""
    if machine.pending:
        cancel(state, machine)
    start(state, machine, "disk_erasing" if erase else "releasing")
    machine.power_state = "on" if erase else machine.power_state


def delete_machine(state: State, machine) -> None:
    """Remove a machine, its interfaces and addresses, and its VM (capacity returns to the host)."""
    for interface in state.interfaces_of(machine.system_id):
        netlogic.delete_interface_links(state, interface)
        state.remove(interface)
    vm = state.vm_of_machine(machine.system_id)
    if vm is not None:
        state.remove(vm)
    state.remove(machine)


def delete_pod(state: State, pod) -> None:
    """Delete a VM host: its machines (as ``delete_machine``), its other VMs, then the host."""
    for machine in [m for m in state.all("machine") if m.pod_id == pod.id]:
        delete_machine(state, machine)
    for vm in capacity.vms_of(state, pod):
        state.remove(vm)
    state.remove(pod)
