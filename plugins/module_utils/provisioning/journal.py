# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal of one ``maas_lxd_vm`` run: what it did (or would do, in check mode), its deadline and its outcome."""

from __future__ import annotations

import time


class Journal(object):
    """Shared by the runner and the provisioner of a run.

    ``actions`` are the changes in order (``would ...`` in check mode); ``extra`` the result fields
    a step adds (``created`` when this run composed or allocated the machine, ``released_ips``...); ``placement`` how a VM host was chosen; ``after_state`` the
    status the run leads to when the machine does not exist (yet) for --diff, ``predicted`` the fields of its --diff view
    known before it exists (check mode).
    """

    def __init__(self, context, wait_timeout):
        self.check = context.check_mode
        self.diff = context.diff_mode
        self.log = context.log
        self.warn = context.warn
        self.changed = False
        self.actions = []
        self.extra = {"created": False}
        self.placement = None
        self.after_state = None
        self.predicted = None
        self.deadline = time.monotonic() + wait_timeout

    def act(self, text):
        """Record a change (done, or to be done in check mode)."""
        self.changed = True
        self.actions.append(("would " + text) if self.check else text)
        self.log(("check mode: would " if self.check else "") + text)

    def remaining(self):
        """Seconds left of wait_timeout (at least one, so a last poll still happens)."""
        return max(1.0, self.deadline - time.monotonic())
