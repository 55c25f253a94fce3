"""Fixtures of the inventory integration tests: ``ansible-inventory`` with a ``*.maas.yml`` config against maas-sim.

* ``site`` (module scope): a maas-sim (default scenario plus one bare-metal machine, fast timings) on which the main job
  (``playbooks/control_plane.yml``, the role tests' ``ClusterRunner``) brought cluster ``demo`` up: two control-plane
  LXD VMs with static IPs in zones az2 and az3, and a bare-metal worker (metal-1, in az1), which the provision role
  tags ``lxdcp-worker`` (it is not in the control-plane group). The tests only read it.
* ``inventory``: ``inventory(config, *options, name="lab", filename=None, env=None, sim=None)`` writes ``config``
  (a dict or text) to ``<name>.maas.yml`` (or ``filename``) and runs ``ansible-inventory -i <file> --list`` (or ``options``) with MAAS_URL and MAAS_API_KEY
  of the site in the environment; returns an ``InventoryRun`` (rc, stdout, stderr, the parsed JSON for ``--list`` and
  the MAAS requests of the run from the simulator's log).
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml
from simharness import SimServer  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import Playbook, ansible_python
from ansible_collections.lxdcp.maas.tests.integration.roles.maas_state import scenario_with_metal
from ansible_collections.lxdcp.maas.tests.integration.roles.runner import ClusterRunner

DEMO_IPS = {"demo-cp-1": "10.10.0.101", "demo-cp-2": "10.10.0.102"}
WORKER = "demo-w-1"


def main_job_inventory():
    """A control plane of two LXD VMs plus one bare-metal worker."""
    return {"all": {
        "vars": {"lxdcp_cluster": "demo"},
        "children": {
            "control_plane": {
                "vars": {"lxdcp_provisioning_mode": "lxd", "provision_cores": 2, "provision_memory": "4G",
                         "provision_disk_size": "20G", "provision_zones": ["az2", "az3"]},
                "hosts": {name: {"lxdcp_ip": ip} for name, ip in DEMO_IPS.items()},
            },
            "workers": {
                # Constraints no composed VM meets (as the role tests' mixed cluster): allocation by constraints could
                # otherwise take one of the control plane's VMs while it is Ready, before it is deployed.
                "vars": {"lxdcp_provisioning_mode": "bare-metal", "provision_cores": 8,
                         "provision_memory": "32G"},
                "hosts": {WORKER: {}},
            },
        },
    }}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """maas-sim after the main job brought cluster demo up (read only in the tests)."""
    with SimServer(scenario=scenario_with_metal(1), timings=SimServer.FAST_TIMINGS) as sim:
        run = ClusterRunner(sim, tmp_path_factory.mktemp("main-job")).up(main_job_inventory(), timeout=1800)
        assert run.ok, run
        yield sim


def _plain(value):
    """ansible-inventory marks the values read from MAAS unsafe (never templated): ``{"__ansible_unsafe": text}``."""
    return value["__ansible_unsafe"] if list(value) == ["__ansible_unsafe"] else value


class InventoryRun(object):
    """One ansible-inventory run: ``rc``, ``stdout``, ``stderr`` (whitespace folded in ``error``), ``data`` and ``requests``."""

    def __init__(self, rc, stdout, stderr, requests):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.error = re.sub(r"\s+", " ", stderr)
        self.requests = requests
        try:
            self.data = json.loads(stdout, object_hook=_plain)
        except ValueError:
            self.data = None

    def api_requests(self):
        """``[(method, path, op)]`` of the run's MAAS API requests."""
        return [(r["method"], r["path"], r["op"]) for r in self.requests if "/api/2.0/" in r["path"]]

    def groups(self):
        """``{group: sorted hosts}`` of a --list run (only groups holding hosts directly)."""
        return {name: sorted(group["hosts"]) for name, group in self.data.items() if isinstance(group, dict) and group.get("hosts")}

    def hostvars(self, host):
        return self.data["_meta"]["hostvars"][host]

    def __repr__(self):
        return "<InventoryRun rc=%s stderr=%s>" % (self.rc, self.stderr[-2000:])


@pytest.fixture
def inventory(site, tmp_path):
    """Run ansible-inventory with a config written to ``<name>.maas.yml``; see the module docstring."""
    bin_dir = os.path.dirname(ansible_python())  # the ansible-core under test (make core-matrix) or ours

    def run(config, *options, name="lab", filename=None, env=None, sim=None):
        sim = sim or site
        path = tmp_path / (filename or "%s.maas.yml" % name)
        path.write_text(yaml.safe_dump(config, sort_keys=False) if isinstance(config, dict) else config, encoding="utf-8")
        environment = Playbook(sim, tmp_path).environment({"MAAS_URL": sim.url, "MAAS_API_KEY": sim.api_key,
                                                           "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
        environment.update(env or {})
        seq = sim.seq()
        done = subprocess.run([os.path.join(bin_dir, "ansible-inventory"), "-i", str(path)] + list(options or ["--list"]),
                              env=environment, capture_output=True, text=True, timeout=120, check=False)
        return InventoryRun(done.returncode, done.stdout, done.stderr, sim.requests(seq))

    return run
