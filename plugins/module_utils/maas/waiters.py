# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for MAAS: polling with backoff and a deadline, and the machine waiters built on it."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasWaitError
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import FAILED_STATES, machine_reason, state_text


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
