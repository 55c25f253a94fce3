"""Which MAAS the simulator is: the version it reports and whether it still has VM hosts.

MAAS reports the short form of its version on ``version/`` (``MAASVersion.main_version`` in
``provisioningserver/utils/version.py``: ``major.minor.point`` and an optional ``~qualifierN``).
VM hosts (pods), VM clusters and composition were removed on MAAS's master branch by commit
08f65b9c1 "chore: remove KVM/VM host (pods) support (#511)" (2026-07-30); master's
``snap/snapcraft.yaml`` calls that line 4.0 (epoch 6) and 3.8 the LTS (epoch 5). Every release
branch up to 3.8 keeps them. So a scenario whose version is 4 or later runs in "4.0 mode".
"""

from __future__ import annotations

import re

DEFAULT_VERSION = "3.6.1"

_VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<point>\d+))?(?P<qualifier>~?[a-z]+\d*)?$")


def normalise(raw) -> str | None:
    """``"4.0"`` -> ``"4.0.0"``; a full version stays as given; None when it is not a MAAS version."""
    match = _VERSION.match(str(raw).strip())
    if match is None:
        return None
    point = match.group("point") or "0"
    qualifier = match.group("qualifier") or ""
    if qualifier and not qualifier.startswith("~"):
        qualifier = "~" + qualifier
    return f"{match.group('major')}.{match.group('minor')}.{point}{qualifier}"


def major(version: str) -> int:
    """The major number of a normalised version."""
    return int(version.split(".", 1)[0])


def without_vm_hosts(state) -> bool:
    """True for MAAS 4.0 and later: no VM hosts, pods, VM clusters or composition."""
    return major(state.meta.get("maas_version", DEFAULT_VERSION)) >= 4
