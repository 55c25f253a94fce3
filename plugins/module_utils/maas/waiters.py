# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for MAAS: polling with backoff and a deadline, and the machine waiters built on it."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasWaitError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import FAILED_STATES, machine_reason, state_text

#: The longest pause between two polls of a cluster-wide wait (``wait_for_machines``): one request asks for every
#: machine, so it can poll more often than a machine's own wait and still send fewer requests. A new state is seen
#: at most this long (plus one request) after MAAS reports it.
CLUSTER_POLL_CAP = 2.0


def poll(client, probe, timeout, what, start=0.5, factor=1.5, cap=10.0):
    """Call ``probe()`` until it reports done or ``timeout`` seconds pass.

    ``probe`` returns ``(done, value, state)``; ``state`` is a short text for logs and the
    timeout message; it may raise to stop (for example MaasWaitError on a failed state).
    Delays start at ``start`` seconds and grow by ``factor`` up to ``cap``; the last sleep
    is cut to the deadline. The client gives the clock, the sleep and the log. Returns ``value``;
    raises MaasWaitError on timeout.
    """
    deadline = client.clock() + timeout
    delay = start
    polls = 0
    while True:
        polls += 1
        done, value, state = probe()
        if done:
            client.log("%s: done after %d poll(s): %s" % (what, polls, state))
            return value
        remaining = deadline - client.clock()
        if remaining <= 0:
            raise MaasWaitError(
                "Timed out after %s s waiting for %s; last state: %s. Raise wait_timeout if MAAS is just slow, "
                "or check the machine's events in MAAS." % (timeout, what, state),
                state=state, timed_out=True, machine=value if isinstance(value, dict) else None,
            )
        pause = min(delay, remaining)
        client.log("%s: %s, next check in %.2f s" % (what, state, pause))
        client.sleep(pause)
        delay = min(cap, delay * factor)


def wait_for_machine(client, system_id, targets, timeout, failures=FAILED_STATES, what=None):
    """Wait until machine ``system_id`` has a ``status_name`` in ``targets`` and return it.

    A status in ``failures`` raises MaasWaitError with MAAS's ``status_message`` and
    ``error_description``; so does the deadline.
    """
    targets = frozenset([targets]) if isinstance(targets, str) else frozenset(targets)
    what = what or "machine %s to become %s" % (system_id, " or ".join(sorted(targets)))

    def probe():
        machine = client.get_machine(system_id)
        status = machine.get("status_name")
        if status in targets:
            return True, machine, status
        if status in failures:
            raise MaasWaitError(
                "Machine %s (%s) reached %r while waiting for %s%s." % (
                    machine.get("hostname"), system_id, status, " or ".join(sorted(targets)), machine_reason(machine)),
                state=status, machine=machine,
            )
        return False, machine, state_text(machine)

    return poll(client, probe, timeout, what)


def wait_for_machine_gone(client, system_id, timeout, hostname=None):
    """Wait until no machine with ``system_id`` is listed any more."""

    def probe():
        found = client.list_machines(id=[system_id])
        if not found:
            return True, None, "deleted"
        return False, None, state_text(found[0])

    return poll(client, probe, timeout, "machine %s to be deleted" % (hostname or system_id))


def wait_for_machines(client, system_ids, targets, timeout, failures=FAILED_STATES, known=None, cap=CLUSTER_POLL_CAP):
    """Wait for several machines at once: one ``GET /machines/?id=..&id=..`` per interval for those still on their way.

    Returns ``(outcomes, polls)``: ``outcomes`` maps each system_id to ``{"machine", "status", "ok", "reason",
    "timed_out"}``. A machine is settled when its ``status_name`` is in ``targets`` (``ok``), in ``failures`` (MAAS's
    ``status_message`` and ``error_description`` in ``reason``) or when MAAS no longer lists it; it is not asked for
    again. At the deadline the machines still on their way fail with ``timed_out``. Nothing is raised for a machine:
    the caller reports each one (the MAAS client's own errors, such as authentication, still raise).
    ``known`` ({system_id: machine}) are reads made just before: the first check uses them instead of a request.
    Delays grow from 0.5 s by 1.5 up to ``cap`` seconds (``poll``).
    """
    targets = frozenset([targets]) if isinstance(targets, str) else frozenset(targets)
    wanted = " or ".join(sorted(targets))
    outcomes = {}
    last = dict(known or {})
    pending = list(dict.fromkeys(system_ids))
    counter = {"polls": 0, "known": bool(known)}

    def settle(system_id, machine):
        status = machine.get("status_name") if machine else None
        if machine is None:
            outcomes[system_id] = dict(machine=last.get(system_id), status=None, ok=False, timed_out=False,
                                       reason="Machine %s is no longer in MAAS (deleted while waiting for %s)." % (system_id, wanted))
        elif status in targets:
            outcomes[system_id] = dict(machine=machine, status=status, ok=True, timed_out=False, reason="")
        elif status in failures:
            reason = "Machine %s (%s) reached %r while waiting for %s%s." % (
                machine.get("hostname"), system_id, status, wanted, machine_reason(machine))
            outcomes[system_id] = dict(machine=machine, status=status, ok=False, timed_out=False, reason=reason)
        else:
            return False
        return True

    def probe():
        if counter["known"]:
            counter["known"] = False
            found = dict((system_id, last[system_id]) for system_id in pending if system_id in last)
        else:
            counter["polls"] += 1
            found = dict((m["system_id"], m) for m in client.get_machines(pending))
        last.update(found)
        pending[:] = [system_id for system_id in pending if not settle(system_id, found.get(system_id))]
        states = ", ".join("%s %s" % ((last.get(s) or {}).get("hostname") or s, state_text(last.get(s) or {}))
                           for s in pending)
        return not pending, None, states or "all settled"

    what = "%d machine(s) to become %s" % (len(pending), wanted)
    if pending:
        try:
            poll(client, probe, timeout, what, cap=cap)
        except MaasWaitError:
            for system_id in pending:
                machine = last.get(system_id) or {}
                outcomes[system_id] = dict(machine=last.get(system_id), status=machine.get("status_name"), ok=False,
                                           timed_out=True, reason=(
                                               "Timed out after %s s waiting for %s (%s) to become %s; last state: %s. Raise "
                                               "wait_timeout if MAAS is just slow, or check the machine's events in MAAS."
                                               % (timeout, machine.get("hostname") or system_id, system_id, wanted,
                                                  state_text(machine))))
    return outcomes, counter["polls"]
