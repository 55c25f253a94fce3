"""Fixtures of the module integration tests: ansible-playbook against maas-sim.

* ``playbook``: a ``Playbook`` (``tests/integration/playbook_runner.py``) bound to the module's ``maas_sim``;
  ``playbook.run(tasks, check=, diff=, verbosity=)`` returns a ``PlaybookResult`` with the
  task results and the simulator's request log of the run (``.requests``, ``.writes``).
* ``sim_playbook``: ``sim_playbook(sim)`` binds a ``Playbook`` to another server (``sim_factory``).
"""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook


@pytest.fixture
def playbook(maas_sim, tmp_path):
    """A Playbook runner against this module's maas-sim."""
    return Playbook(maas_sim, tmp_path)


@pytest.fixture
def sim_playbook(tmp_path):
    """Bind a Playbook runner to a given SimServer."""
    count = []

    def bind(sim):
        count.append(sim)
        workdir = tmp_path / ("sim%d" % len(count))
        workdir.mkdir()
        return Playbook(sim, workdir)

    return bind
