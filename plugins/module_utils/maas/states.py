# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machine states as MAAS names them (``status_name``), and the groups of them the collection acts on."""

from __future__ import annotations

# Machine status names (``status_name``) as MAAS reports them.
READY = "Ready"
ALLOCATED = "Allocated"
DEPLOYING = "Deploying"
DEPLOYED = "Deployed"
RELEASING = "Releasing"
NEW = "New"
COMMISSIONING = "Commissioning"
FAILED_COMMISSIONING = "Failed commissioning"
FAILED_DEPLOYMENT = "Failed deployment"
FAILED_STATES = frozenset([
    FAILED_COMMISSIONING,
    FAILED_DEPLOYMENT,
    "Releasing failed",
    "Failed disk erasing",
    "Failed testing",
    "Broken",
])

# States from which MAAS can release a machine.
RELEASABLE = frozenset([ALLOCATED, DEPLOYED, DEPLOYING, FAILED_DEPLOYMENT, "Broken", "Releasing failed", "Reserved"])
# States in which MAAS accepts link_subnet on a machine's interface.
LINKABLE = frozenset([NEW, READY, ALLOCATED, "Broken", "Failed testing"])
# Statuses a machine passes through on its own on the way to Ready.
ON_THE_WAY_TO_READY = frozenset([NEW, COMMISSIONING, "Testing", RELEASING, "Disk erasing"])
# Statuses of a VM that was composed and never taken further (what a run that died right after compose leaves,
# including a commissioning that failed after the run died).
JUST_COMPOSED = frozenset([NEW, COMMISSIONING, READY, FAILED_COMMISSIONING])


def machine_reason(machine):
    """``: status message "...", error "..."`` from MAAS's own explanation of a machine's state."""
    parts = []
    if machine.get("status_message"):
        parts.append("status message %r" % machine["status_message"])
    if machine.get("error_description"):
        parts.append("error %r" % machine["error_description"])
    return (": " + ", ".join(parts)) if parts else ""


def state_text(machine):
    text = str(machine.get("status_name"))
    if machine.get("status_message"):
        text += " (%s)" % machine["status_message"]
    return text
