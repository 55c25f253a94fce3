"""Run ``ansible-playbook`` against maas-sim and read back what happened.

Used by the module, lookup and role integration tests and by the benchmarks::

    result = playbook.run([{"lxdcp.maas.maas_lxd_vm": {"hostname": "cp-1"}}])
    assert result.ok and result.results[0]["changed"]
    assert result.writes == []          # POST/PUT/DELETE the run sent (maas-sim request log)

The playbook runs on localhost with the project's virtualenv Python, the working tree as the
collection (``ANSIBLE_COLLECTIONS_PATH`` = ``collections/``), and ``module_defaults`` for
``group/lxdcp.maas.maas`` carrying the simulator's URL and API key (a task's own ``url``/``api_key``
win). Results come from the ``lxdcp_results`` callback (``callback_plugins/``), which writes every
task result to a JSON file: ansible-core 2.19 no longer ships a JSON stdout callback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
COLLECTIONS = os.path.join(ROOT, "collections")


class PlaybookError(RuntimeError):
    """ansible-playbook wrote no results (it failed before running the play)."""


class PlaybookResult(object):
    """The outcome of one run: parsed callback output, exit code, and the simulator's request log."""

    def __init__(self, rc, stdout, stderr, data, requests):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.data = data
        self.requests = requests
        self.writes = [entry for entry in requests if entry["write"]]
        self.tasks = [task for task in data.get("tasks", []) if task["host"] == "localhost"]
        self.results = [task["result"] for task in self.tasks]
        self.stats = data.get("stats", {}).get("localhost", {})

    @property
    def ok(self):
        """No task failed."""
        return self.rc == 0 and not self.stats.get("failures")

    @property
    def result(self):
        """The result of the last task that ran."""
        return self.results[-1]

    def task(self, name):
        """The result of the task called ``name``."""
        for task in self.tasks:
            if task["task"] == name:
                return task["result"]
        raise KeyError(name)

    def write_summary(self):
        """``["POST /MAAS/api/2.0/vm-hosts/1/ op=compose", ...]``: the writes, readable in assertion messages."""
        return ["%s %s%s" % (e["method"], e["path"], " op=%s" % e["op"] if e.get("op") else "") for e in self.writes]

    def __repr__(self):
        return "<PlaybookResult rc=%s stats=%s writes=%d>" % (self.rc, self.stats, len(self.writes))


class Playbook(object):
    """Runs generated playbooks against one maas-sim (a ``simharness.SimServer``)."""

    def __init__(self, sim, workdir, python=None):
        self.sim = sim
        self.workdir = str(workdir)
        self.python = python or sys.executable
        self.count = 0

    def environment(self, extra=None):
        """Environment of ansible-playbook: this tree as the collection, the results callback, an isolated ANSIBLE_HOME."""
        env = dict(os.environ)
        env.update(
            ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
            ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="lxdcp_results",
            ANSIBLE_HOME=os.path.join(self.workdir, ".ansible"),
            ANSIBLE_LOCAL_TEMP=os.path.join(self.workdir, ".ansible", "tmp"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="false",
            ANSIBLE_PYTHON_INTERPRETER=self.python,
        )
        env.pop("ANSIBLE_CONFIG", None)
        env.update(extra or {})
        return env

    def write(self, tasks, auth=True, extra_vars=None):
        """Write the playbook for ``tasks`` and return its path."""
        play = {"name": "lxdcp.maas integration", "hosts": "localhost", "gather_facts": False, "tasks": tasks}
        if auth:
            play["module_defaults"] = {"group/lxdcp.maas.maas": {"url": self.sim.url, "api_key": self.sim.api_key}}
        if extra_vars:
            play["vars"] = dict(extra_vars)
        self.count += 1
        path = os.path.join(self.workdir, "playbook-%d.yml" % self.count)
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump([play], handle, sort_keys=False)
        return path

    def run(self, tasks, check=False, diff=False, verbosity=0, auth=True, extra_vars=None, env=None, timeout=600):
        """Run ``tasks`` (a task dict or a list of them) in one playbook; return a ``PlaybookResult``."""
        if isinstance(tasks, dict):
            tasks = [tasks]
        path = self.write(tasks, auth=auth, extra_vars=extra_vars)
        options = ["-i", "localhost,", "-c", "local"]
        if check:
            options.append("--check")
        if diff:
            options.append("--diff")
        if verbosity:
            options.append("-" + "v" * verbosity)
        return self.execute(path, options, env=env, timeout=timeout)

    def execute(self, playbook, options=(), env=None, timeout=600, result_class=PlaybookResult):
        """Run ``ansible-playbook <playbook> <options>``; return ``result_class`` with its results and requests."""
        self.count += 1
        environment = self.environment(env)
        environment["LXDCP_RESULTS_FILE"] = os.path.join(self.workdir, "results-%d.json" % self.count)
        command = [os.path.join(os.path.dirname(self.python), "ansible-playbook"), playbook] + list(options)
        mark = self.sim.seq()
        done = subprocess.run(command, cwd=self.workdir, env=environment, capture_output=True, text=True,
                              timeout=timeout, check=False)
        requests = self.sim.requests(mark)
        try:
            with open(environment["LXDCP_RESULTS_FILE"], encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            raise PlaybookError("ansible-playbook (exit %d) wrote no results.\nstdout:\n%s\nstderr:\n%s"
                                % (done.returncode, done.stdout[-3000:], done.stderr[-3000:])) from None
        return result_class(done.returncode, done.stdout, done.stderr, data, requests)


# -- the simulator's state, read through its admin API (independent of the collection's client) --


def sim_objects(sim, kind):
    """Records of one kind (``machine``, ``staticip``, ``pod``, ``tag``, ...) from ``GET /_sim/state``."""
    objects = sim.state()["objects"].get(kind) or {}
    return list(objects.values()) if isinstance(objects, dict) else list(objects)


def sim_machines(sim, hostname=None):
    """Machine records, optionally only those named ``hostname``."""
    return [m for m in sim_objects(sim, "machine") if hostname is None or m["hostname"] == hostname]


def sim_ips(sim, ip):
    """Static IP records holding ``ip``."""
    return [record for record in sim_objects(sim, "staticip") if record.get("ip") == ip]
