"""The molecule scenarios of the collection (``extensions/molecule/*/molecule.yml``), collected and run by pytest.

As ``ansible-creator`` scaffolds it for a collection: pytest-ansible finds every scenario that git tracks and gives
one ``molecule_scenario`` per scenario (ids ``extensions-<scenario>``); the test runs ``molecule test -s <scenario>``
in ``extensions/`` and passes when molecule does. ``make molecule`` runs this file (``pytest -n 2 -p pytest-ansible``:
the plugin is off elsewhere, pyproject.toml), and
``make integration`` leaves it out (marker ``molecule``). The scenarios start their own maas-sim (``shared/create.yml``).
"""

from __future__ import annotations

import pytest

from pytest_ansible.molecule import MoleculeScenario

pytestmark = pytest.mark.molecule


def test_molecule_scenario(molecule_scenario: MoleculeScenario) -> None:
    proc = molecule_scenario.test()
    assert proc.returncode == 0, "molecule test -s %s failed (its output is above)" % molecule_scenario.name
