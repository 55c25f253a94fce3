# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for LXD's asynchronous operations (instance create, delete, state changes).

``GET /1.0/operations/<id>/wait?timeout=<s>`` blocks in LXD until the operation ends or the
timeout passes. The waiter asks in slices (at most ``slice_seconds``, never past the deadline)
and, when LXD answers a slice early without an end (a proxy, a restarting LXD), pauses with a
bounded backoff before asking again. An operation that fails or is cancelled raises with LXD's
``err``; the deadline raises ``LxdWaitTimeout`` (the operation may still finish).

LXD 5.0 answers a slice that ran out with the running operation; later versions answer it with an
error (``context deadline exceeded``): both mean "not yet".
"""

from __future__ import annotations

import math

from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import (
    LxdError,
    LxdNotFound,
    LxdWaitTimeout,
    error_from_operation,
)

SUCCESS = 200
FAILURE = 400
CANCELLED = 401
_STILL_RUNNING_TEXTS = ("deadline exceeded",)


def operation_id(operation):
    """The id of an operation given as an id, a path (``/1.0/operations/<id>``) or an operation object."""
    if isinstance(operation, dict):
        operation = operation.get("id") or operation.get("operation") or ""
    return str(operation).rstrip("/").rsplit("/", 1)[-1]


def wait_for_operation(client, operation, timeout, what, slice_seconds=30, start=0.5, factor=1.5, cap=5.0):
    """Wait until the operation ends and return it (LXD's operation object, ``status_code`` 200).

    ``client`` gives ``request``, ``clock``, ``sleep``, ``log`` and ``timeout`` (the read timeout
    added to each slice). A failed or cancelled operation raises the error of its ``err``
    (``lxd.errors.error_from_operation``); an operation LXD no longer knows raises ``LxdNotFound``.
    """
    op_id = operation_id(operation)
    path = "/1.0/operations/%s/wait" % op_id
    deadline = client.clock() + timeout
    delay = start
    state = "Running"
    slices = 0
    while True:
        remaining = deadline - client.clock()
        if remaining <= 0:
            raise LxdWaitTimeout(
                "Timed out after %s s waiting for LXD at %s to finish %s (operation %s, last state %s); it may still "
                "finish: check `lxc operation list` on the LXD host, or raise the timeout if LXD is just slow." % (
                    timeout, client.url, what, op_id, state),
                state=state, operation=op_id, url=client.url)
        seconds = max(1, min(int(slice_seconds), int(math.ceil(remaining))))
        asked = client.clock()
        slices += 1
        try:
            found = client.get(path, params=[("timeout", seconds)], timeout=seconds + client.timeout)
        except LxdNotFound as exc:
            raise LxdNotFound(
                "LXD at %s no longer knows operation %s (%s): %s" % (client.url, op_id, what, exc.message),
                status=404, operation=op_id, url=client.url, lxd_error=exc.lxd_error)
        except LxdError as exc:
            if not any(text in (exc.lxd_error or "").lower() for text in _STILL_RUNNING_TEXTS):
                raise
            found = None
        if found:
            state = found.get("status") or state
            code = found.get("status_code")
            if code == SUCCESS:
                client.log("%s: operation %s succeeded after %d wait(s)" % (what, op_id, slices))
                return found
            if code in (FAILURE, CANCELLED):
                raise error_from_operation(client.url, found, what)
        if client.clock() - asked < seconds - 0.5:
            pause = min(delay, max(0.0, deadline - client.clock()))
            client.log("%s: operation %s is %s, asking again in %.2f s" % (what, op_id, state, pause))
            client.sleep(pause)
            delay = min(cap, delay * factor)
