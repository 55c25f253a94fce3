"""Run the collection's playbooks (``playbooks/*.yml``) with an inventory against a maas-sim.

Used by the role integration tests (``conftest.py``) and by ``benchmarks/bench_control_plane.py``.
``ClusterRunner(sim, workdir).up(inventory)`` runs ``control_plane.yml``, ``.down(inventory)``
runs ``teardown.yml``; both return a ``Run`` (per-host results and stats, and the simulator's
request log of the run). An inventory is a path, a file name under ``playbooks/inventory``, or a
dict (written to a YAML file).

``.start(playbook, inventory)`` runs a playbook in the background (``playbook_runner.Background``): the test
polls the simulator's request log until a request of the run (``until``), kills the controller there (``kill``:
the whole process tree, SIGKILL) or waits for the ``Run`` (``wait``).

The environment of ansible-playbook (the working tree as the collection, the ``lxdcp_results``
callback that writes every task result to a JSON file) comes from the module tests' runner
(``tests/integration/playbook_runner.py``).
"""

from __future__ import annotations

import json
import os

import yaml

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import ROOT, Background, Playbook, PlaybookResult

PLAYBOOKS = os.path.join(ROOT, "playbooks")
INVENTORIES = os.path.join(PLAYBOOKS, "inventory")


class Run(PlaybookResult):
    """One ansible-playbook run over several inventory hosts: per-host stats and task results, and the MAAS requests it caused."""

    def __init__(self, rc, stdout, stderr, data, requests, elapsed=None):
        super(Run, self).__init__(rc, stdout, stderr, data, requests, elapsed=elapsed)
        self.stats = data.get("stats", {})
        self.tasks = data.get("tasks", [])

    @property
    def ok(self):
        """No host failed or was unreachable."""
        return self.rc == 0 and not any(s.get("failures") or s.get("unreachable") for s in self.stats.values())

    @property
    def changed(self):
        """``{host: changed count}``."""
        return {host: stats.get("changed", 0) for host, stats in self.stats.items()}

    def by_host(self, name):
        """``{host: result}`` of the task whose name ends with ``name`` (the role prefix is left out)."""
        found = {task["host"]: task["result"] for task in self.tasks if task["task"].endswith(name)}
        if not found:
            raise KeyError(name)
        return found

    def failures(self):
        """``{host: msg}`` of every failed task result."""
        return {task["host"]: task["result"].get("msg", "") for task in self.tasks if task["status"] == "failed"}

    def __repr__(self):
        return "<Run rc=%s changed=%s writes=%d failures=%s>" % (self.rc, self.changed, len(self.writes), self.failures())


class ClusterRunner(object):
    """Runs the collection's playbooks with an inventory against one maas-sim."""

    def __init__(self, sim, workdir):
        self.sim = sim
        self.workdir = str(workdir)
        self.base = Playbook(sim, workdir)
        self.count = 0

    def inventory(self, inventory):
        """A path for ``inventory`` (a path, a name under playbooks/inventory, or a dict)."""
        if isinstance(inventory, dict):
            self.count += 1
            path = os.path.join(self.workdir, "inventory-%d.yml" % self.count)
            with open(path, "w", encoding="utf-8") as handle:
                yaml.safe_dump(inventory, handle, sort_keys=False)
            return path
        if os.path.sep not in inventory:
            return os.path.join(INVENTORIES, inventory)
        return inventory

    def options(self, inventory, check=False, diff=False, extra_vars=None, tags=None, limit=None, skip_tags=None):
        """The ansible-playbook options of a run (see ``run``)."""
        options = ["-i", self.inventory(inventory)]
        if check:
            options.append("--check")
        if diff:
            options.append("--diff")
        if tags:
            options += ["--tags", ",".join(tags)]
        if skip_tags:
            options += ["--skip-tags", ",".join(skip_tags)]
        if limit:
            options += ["--limit", ",".join(limit) if isinstance(limit, (list, tuple)) else limit]
        if extra_vars:
            options += ["-e", json.dumps(extra_vars)]  # JSON keeps lists, numbers and booleans as they are
        return options

    def env(self):
        """The MAAS connection of the playbooks (environment variables)."""
        return {"MAAS_URL": self.sim.url, "MAAS_API_KEY": self.sim.api_key, "ANSIBLE_PIPELINING": "true"}

    def run(self, playbook, inventory, check=False, diff=False, extra_vars=None, tags=None, limit=None, timeout=600,
            skip_tags=None):
        """Run ``playbooks/<playbook>`` (or a playbook at an absolute path) with ``inventory``; return a ``Run``.

        ``extra_vars`` (a dict) are passed as one JSON ``-e``, so they keep their types; ``tags`` (a list) as
        ``--tags``, to run only those parts of the roles; ``limit`` (a host or a list) as ``--limit``.
        """
        options = self.options(inventory, check=check, diff=diff, extra_vars=extra_vars, tags=tags, limit=limit,
                               skip_tags=skip_tags)
        return self.base.execute(os.path.join(PLAYBOOKS, playbook), options, env=self.env(), timeout=timeout, result_class=Run)

    def start(self, playbook, inventory, **kwargs):
        """Start ``playbooks/<playbook>`` in the background (its own session and process group); return a ``Background``.

        Takes the options of ``run``. ``Background.wait()`` gives the ``Run``; ``Background.kill()`` kills the
        whole process group with SIGKILL (the controller dying: no handler, no callback, no clean-up).
        """
        self.base.count += 1
        environment = self.base.environment(self.env())
        prefix = os.path.join(self.workdir, "run-%d" % self.base.count)
        environment["LXDCP_RESULTS_FILE"] = prefix + ".json"
        command = [os.path.join(os.path.dirname(self.base.python), "ansible-playbook"), os.path.join(PLAYBOOKS, playbook)]
        command += self.options(inventory, **kwargs)
        return Background(self.sim, command, environment, prefix, self.workdir, result_class=Run)

    def up(self, inventory, **kwargs):
        """``playbooks/control_plane.yml``."""
        return self.run("control_plane.yml", inventory, **kwargs)

    def down(self, inventory, **kwargs):
        """``playbooks/teardown.yml``."""
        return self.run("teardown.yml", inventory, **kwargs)
