# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for MAAS: polling with a pause relative to the time waited, a deadline, and the machine waiters built on it."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasWaitError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import FAILED_STATES, machine_reason, state_text

#: The pause before the next poll, as a share of the time waited so far: a state MAAS reports is seen at most this
#: share of the waiting time later (within the waiter's cap, plus one request). The requests grow with the logarithm
#: of the time waited until the cap, then linearly (one per cap).
POLL_LAG = 0.25

#: One machine's own wait (``wait_for_machine``, ``wait_for_machine_gone``, the provisioners' probes): the shortest and
#: the longest pause between two polls.
MACHINE_POLL_START = 0.5
MACHINE_POLL_CAP = 10.0

#: A cluster-wide wait (``wait_for_machines``): one request asks for every machine, so it can poll more often than a
#: machine's own wait and still send fewer requests. A new state is seen at most ``CLUSTER_POLL_LAG`` of the time
#: waited, and never more than ``CLUSTER_POLL_CAP`` seconds (plus one request), after MAAS reports it. The smaller
#: share costs requests only in the first ``CLUSTER_POLL_CAP / CLUSTER_POLL_LAG`` seconds (12 more than with
#: ``POLL_LAG`` by then); after that the cap spaces the requests either way.
CLUSTER_POLL_START = 0.25
CLUSTER_POLL_CAP = 2.0
CLUSTER_POLL_LAG = 0.1


def next_pause(elapsed, remaining, start=MACHINE_POLL_START, cap=MACHINE_POLL_CAP, lag=POLL_LAG):
    """The pause before the next poll after ``elapsed`` seconds of waiting, ``remaining`` seconds before the deadline.

    ``min(cap, max(start, lag * elapsed))``, cut to the deadline: never shorter than ``start`` (unless the deadline is
    closer), never longer than ``cap`` or ``lag`` times the time waited so far (unless that is below ``start``).
    """
    return max(0.0, min(cap, max(start, lag * elapsed), remaining))


def poll(client, probe, timeout, what, start=MACHINE_POLL_START, cap=MACHINE_POLL_CAP, lag=POLL_LAG):
    """Call ``probe()`` until it reports done or ``timeout`` seconds pass.

    ``probe`` returns ``(done, value, state)``; ``state`` is a short text for logs and the
    timeout message; it may raise to stop (for example MaasWaitError on a failed state).
    The pause before the next call is ``lag`` times the time waited so far, at least ``start`` and
    at most ``cap`` seconds (``next_pause``); the last pause is cut to the deadline. The client
    gives the clock, the sleep and the log. Returns ``value``; raises MaasWaitError on timeout.
    """
    begun = client.clock()
    deadline = begun + timeout
    polls = 0
    while True:
        polls += 1
        done, value, state = probe()
        if done:
            client.log("%s: done after %d poll(s): %s" % (what, polls, state))
            return value
        now = client.clock()
        remaining = deadline - now
        if remaining <= 0:
            raise MaasWaitError(
                "Timed out after %s s waiting for %s; last state: %s. Raise wait_timeout if MAAS is just slow, "
                "or check the machine's events in MAAS." % (timeout, what, state),
                state=state, timed_out=True, machine=value if isinstance(value, dict) else None,
            )
        pause = next_pause(now - begun, remaining, start=start, cap=cap, lag=lag)
        client.log("%s: %s, next check in %.2f s" % (what, state, pause))
        client.sleep(pause)


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


def wait_for_machines(client, system_ids, targets, timeout, failures=FAILED_STATES, known=None,
                      start=CLUSTER_POLL_START, cap=CLUSTER_POLL_CAP, lag=CLUSTER_POLL_LAG):
    """Wait for several machines at once: one ``GET /machines/?id=..&id=..`` per interval for those still on their way.

    Returns ``(outcomes, polls)``: ``outcomes`` maps each system_id to ``{"machine", "status", "ok", "reason",
    "timed_out"}``. A machine is settled when its ``status_name`` is in ``targets`` (``ok``), in ``failures`` (MAAS's
    ``status_message`` and ``error_description`` in ``reason``) or when MAAS no longer lists it; it is not asked for
    again. At the deadline the machines still on their way fail with ``timed_out``. Nothing is raised for a machine:
    the caller reports each one (the MAAS client's own errors, such as authentication, still raise).
    ``known`` ({system_id: machine}) are reads made just before: the first check uses them instead of a request.
    The pause between two requests is ``lag`` times the time waited so far, from ``start`` to ``cap`` seconds
    (``poll``).
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
            poll(client, probe, timeout, what, start=start, cap=cap, lag=lag)
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
