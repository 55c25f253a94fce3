"""Fixtures of the direct-mode tests: ansible-playbook against maas-sim 4.0 and real VM-capable LXD daemons.

* ``playbook``: a ``Playbook`` (``tests/integration/playbook_runner.py``) bound to the site's maas-sim.
* ``vm_task(**args)``: a ``maas_lxd_vm`` task in direct mode with the site's ``lxd_hosts``.
* ``maas``: a ``MaasClient`` of the site's maas-sim (to change MAAS behind the collection's back).
"""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook

MODULE = "lxdcp.maas.maas_lxd_vm"


@pytest.fixture
def playbook(direct, tmp_path):
    """A Playbook runner against the direct-mode site's maas-sim."""
    return Playbook(direct.sim, tmp_path)


@pytest.fixture
def vm_task(direct):
    """Build one maas_lxd_vm task: a VM of cluster ``prod`` (2 cores, 4 GiB, 20 GB) on the site's LXD hosts."""

    def build(**overrides):
        args = {"hostname": "cp-1", "cluster": "prod", "cores": 2, "memory": "4G", "disks": [{"size": "20G"}],
                "lxd_hosts": direct.entries}
        args.update(overrides)
        return {"name": "vm %s" % args["hostname"], MODULE: args}

    return build


@pytest.fixture
def maas(direct):
    """The collection's MAAS client on the site's maas-sim."""
    return MaasClient(direct.sim.url, direct.sim.api_key)
