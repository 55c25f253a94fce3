"""Fixtures of the role and playbook integration tests: the real playbooks against maas-sim.

* ``cluster``: a ``ClusterRunner`` (``runner.py``) bound to the module's ``maas_sim``.
* ``maas``: a ``MaasClient`` of the collection talking to the same maas-sim, for checks of the
  resulting MAAS state through the real API.
* ``bind``: ``bind(sim)`` gives both for another server (``sim_factory``).
* ``inventory``: builds inventory dicts.
"""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.api import MaasClient
from ansible_collections.lxdcp.maas.tests.integration.roles.runner import ClusterRunner


@pytest.fixture
def cluster(maas_sim, tmp_path):
    """A ClusterRunner against this module's maas-sim."""
    return ClusterRunner(maas_sim, tmp_path)


@pytest.fixture
def maas(maas_sim):
    """The collection's MAAS client against this module's maas-sim."""
    return MaasClient(maas_sim.url, maas_sim.api_key)


@pytest.fixture
def bind(tmp_path):
    """``bind(sim)`` returns ``(ClusterRunner, MaasClient)`` for another SimServer (from ``sim_factory``)."""
    count = []

    def make(sim):
        count.append(sim)
        workdir = tmp_path / ("sim%d" % len(count))
        workdir.mkdir()
        return ClusterRunner(sim, workdir), MaasClient(sim.url, sim.api_key)

    return make


@pytest.fixture
def inventory():
    """``inventory(cluster, {hostname: ip}, workers={hostname: vars}, **control_plane_vars)`` builds an inventory dict."""

    def build(cluster_name, nodes, workers=None, **group_vars):
        settings = {"lxdcp_provisioning_mode": "lxd"}
        settings.update(group_vars)
        hosts = {name: ({"lxdcp_ip": ip} if ip else {}) for name, ip in nodes.items()}
        worker_group = {"vars": {"lxdcp_provisioning_mode": "bare-metal"}, "hosts": dict(workers or {})}
        return {
            "all": {
                "vars": {"lxdcp_cluster": cluster_name},
                "children": {"control_plane": {"vars": settings, "hosts": hosts}, "workers": worker_group},
            },
        }

    return build
