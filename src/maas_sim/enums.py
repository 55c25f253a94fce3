"""MAAS enumerations as the API exposes them (codes, names, filter keywords).

Values follow ``maascommon/enums/node.py``, ``maasserver/enum.py`` and
``maasserver/node_status.py`` of MAAS 3.6.
"""

from __future__ import annotations


class NodeStatus:
    """Machine status codes (``status`` field)."""

    NEW = 0
    COMMISSIONING = 1
    FAILED_COMMISSIONING = 2
    MISSING = 3
    READY = 4
    RESERVED = 5
    DEPLOYED = 6
    RETIRED = 7
    BROKEN = 8
    DEPLOYING = 9
    ALLOCATED = 10
    FAILED_DEPLOYMENT = 11
    RELEASING = 12
    FAILED_RELEASING = 13
    DISK_ERASING = 14
    FAILED_DISK_ERASING = 15
    RESCUE_MODE = 16
    ENTERING_RESCUE_MODE = 17
    FAILED_ENTERING_RESCUE_MODE = 18
    EXITING_RESCUE_MODE = 19
    FAILED_EXITING_RESCUE_MODE = 20
    TESTING = 21
    FAILED_TESTING = 22


# Code -> ``status_name``.
STATUS_NAMES = {
    0: "New",
    1: "Commissioning",
    2: "Failed commissioning",
    3: "Missing",
    4: "Ready",
    5: "Reserved",
    6: "Deployed",
    7: "Retired",
    8: "Broken",
    9: "Deploying",
    10: "Allocated",
    11: "Failed deployment",
    12: "Releasing",
    13: "Releasing failed",
    14: "Disk erasing",
    15: "Failed disk erasing",
    16: "Rescue mode",
    17: "Entering rescue mode",
    18: "Failed to enter rescue mode",
    19: "Exiting rescue mode",
    20: "Failed to exit rescue mode",
    21: "Testing",
    22: "Failed testing",
}

# Filter keyword (``status=`` / ``not_status=``) -> code: the lower-cased enum names.
STATUS_KEYWORDS = {
    name.lower(): value for name, value in vars(NodeStatus).items() if not name.startswith("_")
}

# ``simple_status`` keyword -> codes (``SIMPLIFIED_NODE_STATUSES_MAP``); "other" is everything else.
SIMPLE_STATUSES = {
    "allocated": {NodeStatus.ALLOCATED},
    "broken": {NodeStatus.BROKEN},
    "commissioning": {NodeStatus.COMMISSIONING},
    "deployed": {NodeStatus.DEPLOYED},
    "deploying": {NodeStatus.DEPLOYING},
    "failed": {
        NodeStatus.FAILED_COMMISSIONING,
        NodeStatus.FAILED_DEPLOYMENT,
        NodeStatus.FAILED_DISK_ERASING,
        NodeStatus.FAILED_ENTERING_RESCUE_MODE,
        NodeStatus.FAILED_EXITING_RESCUE_MODE,
        NodeStatus.FAILED_RELEASING,
        NodeStatus.FAILED_TESTING,
    },
    "new": {NodeStatus.NEW},
    "ready": {NodeStatus.READY},
    "releasing": {NodeStatus.DISK_ERASING, NodeStatus.RELEASING},
    "rescue_mode": {NodeStatus.ENTERING_RESCUE_MODE, NodeStatus.EXITING_RESCUE_MODE, NodeStatus.RESCUE_MODE},
    "testing": {NodeStatus.TESTING},
}
SIMPLE_STATUSES["other"] = set(STATUS_NAMES) - set().union(*SIMPLE_STATUSES.values())

# Statuses from which ``op=release`` starts a release (``RELEASABLE_STATUSES``).
RELEASABLE_STATUSES = frozenset(
    {
        NodeStatus.ALLOCATED,
        NodeStatus.RESERVED,
        NodeStatus.BROKEN,
        NodeStatus.DEPLOYING,
        NodeStatus.DEPLOYED,
        NodeStatus.FAILED_DEPLOYMENT,
        NodeStatus.FAILED_DISK_ERASING,
        NodeStatus.FAILED_RELEASING,
    }
)

# Interface link states in which ``link_subnet``/``unlink_subnet`` are allowed (api/interfaces.py).
LINK_EDIT_STATUSES = frozenset(
    {NodeStatus.NEW, NodeStatus.READY, NodeStatus.FAILED_TESTING, NodeStatus.ALLOCATED, NodeStatus.BROKEN}
)


class IPType:
    """``StaticIPAddress.alloc_type`` codes."""

    AUTO = 0
    STICKY = 1
    USER_RESERVED = 4
    DHCP = 5
    DISCOVERED = 6


IP_TYPE_NAMES = {
    IPType.AUTO: "Automatic",
    IPType.STICKY: "Static",
    IPType.USER_RESERVED: "User reserved",
    IPType.DHCP: "DHCP",
    IPType.DISCOVERED: "Observed",
}

LINK_MODES = ("auto", "dhcp", "static", "link_up")

POWER_STATES = ("on", "off", "unknown", "error")

TEST_STATUS_NAMES = {-1: "Unknown", 0: "Pending", 1: "Running", 2: "Passed", 3: "Failed"}


def _transitions():
    """``NODE_TRANSITIONS`` of ``maasserver/node_status.py``: status -> statuses it may move to."""
    s = NodeStatus
    table = {
        s.NEW: {s.COMMISSIONING, s.TESTING, s.MISSING, s.READY, s.RETIRED, s.BROKEN, s.ENTERING_RESCUE_MODE},
        s.COMMISSIONING: {s.FAILED_COMMISSIONING, s.READY, s.RETIRED, s.MISSING, s.NEW, s.BROKEN, s.TESTING},
        s.FAILED_COMMISSIONING: {s.COMMISSIONING, s.MISSING, s.RETIRED, s.BROKEN, s.ENTERING_RESCUE_MODE, s.TESTING},
        s.READY: {s.ENTERING_RESCUE_MODE, s.COMMISSIONING, s.ALLOCATED, s.RESERVED, s.RETIRED, s.MISSING, s.BROKEN, s.TESTING},
        s.RESERVED: {s.READY, s.ALLOCATED, s.RETIRED, s.MISSING, s.BROKEN, s.DISK_ERASING, s.RELEASING, s.ENTERING_RESCUE_MODE, s.TESTING},
        s.ALLOCATED: {s.READY, s.RETIRED, s.MISSING, s.BROKEN, s.DEPLOYING, s.DISK_ERASING, s.RELEASING, s.ENTERING_RESCUE_MODE, s.TESTING},
        s.RELEASING: {s.NEW, s.ALLOCATED, s.RESERVED, s.DEPLOYED, s.READY, s.BROKEN, s.MISSING, s.FAILED_DEPLOYMENT,
                      s.FAILED_DISK_ERASING, s.FAILED_RELEASING},
        s.DEPLOYING: {s.ALLOCATED, s.MISSING, s.BROKEN, s.FAILED_DEPLOYMENT, s.DEPLOYED, s.READY, s.DISK_ERASING, s.RELEASING},
        s.FAILED_DEPLOYMENT: {s.ALLOCATED, s.MISSING, s.BROKEN, s.READY, s.DISK_ERASING, s.RELEASING, s.ENTERING_RESCUE_MODE, s.TESTING},
        s.DEPLOYED: {s.ALLOCATED, s.MISSING, s.BROKEN, s.READY, s.DISK_ERASING, s.RELEASING, s.ENTERING_RESCUE_MODE, s.TESTING},
        s.MISSING: {s.NEW, s.READY, s.ALLOCATED, s.COMMISSIONING, s.BROKEN, s.ENTERING_RESCUE_MODE, s.TESTING},
        s.RETIRED: {s.NEW, s.READY, s.MISSING, s.BROKEN, s.ENTERING_RESCUE_MODE, s.TESTING},
        s.BROKEN: {s.COMMISSIONING, s.READY, s.DISK_ERASING, s.RELEASING, s.ENTERING_RESCUE_MODE, s.TESTING, s.DEPLOYED},
        s.FAILED_RELEASING: {s.RELEASING, s.DISK_ERASING, s.READY, s.BROKEN, s.TESTING},
        s.DISK_ERASING: {s.BROKEN, s.DISK_ERASING, s.FAILED_DISK_ERASING, s.READY, s.RELEASING},
        s.FAILED_DISK_ERASING: {s.DISK_ERASING, s.RELEASING, s.BROKEN, s.ALLOCATED, s.READY, s.ENTERING_RESCUE_MODE, s.TESTING},
        s.ENTERING_RESCUE_MODE: {s.READY, s.BROKEN, s.DEPLOYED, s.RESCUE_MODE, s.FAILED_ENTERING_RESCUE_MODE, s.EXITING_RESCUE_MODE},
        s.FAILED_ENTERING_RESCUE_MODE: {s.BROKEN, s.ENTERING_RESCUE_MODE, s.EXITING_RESCUE_MODE, s.TESTING},
        s.RESCUE_MODE: {s.BROKEN, s.EXITING_RESCUE_MODE, s.TESTING},
        s.EXITING_RESCUE_MODE: set(STATUS_NAMES) - {
            s.COMMISSIONING, s.DEPLOYING, s.RELEASING, s.DISK_ERASING, s.TESTING, s.ENTERING_RESCUE_MODE, s.EXITING_RESCUE_MODE},
        s.FAILED_EXITING_RESCUE_MODE: {s.BROKEN, s.EXITING_RESCUE_MODE, s.TESTING},
        s.TESTING: {s.BROKEN, s.NEW, s.READY, s.RESERVED, s.ALLOCATED, s.DEPLOYED, s.FAILED_TESTING, s.FAILED_COMMISSIONING,
                    s.FAILED_DEPLOYMENT},
        s.FAILED_TESTING: {s.COMMISSIONING, s.BROKEN, s.MISSING, s.ENTERING_RESCUE_MODE, s.TESTING, s.READY, s.DEPLOYED},
    }
    return {status: frozenset(targets) for status, targets in table.items()}


TRANSITIONS = _transitions()


def transition_error(old: int, new: int) -> str | None:
    """Return MAAS's ``Invalid transition`` text when ``old -> new`` is not allowed, else None."""
    if old == new or new in TRANSITIONS.get(old, ()):
        return None
    return f"Invalid transition: {STATUS_NAMES.get(old, 'Unknown')} -> {STATUS_NAMES.get(new, 'Unknown')}."
