"""Run the collection's playbooks (``playbooks/*.yml``) with an inventory against a maas-sim.

Used by the role integration tests (``conftest.py``) and by ``benchmarks/bench_control_plane.py``.
``ClusterRunner(sim, workdir).up(inventory)`` runs ``control_plane.yml``, ``.down(inventory)``
runs ``teardown.yml``; both return a ``Run`` (per-host results and stats, and the simulator's
request log of the run). An inventory is a path, a file name under ``playbooks/inventory``, or a
dict (written to a YAML file).

``.start(playbook, inventory)`` runs a playbook in the background (``Background``): the test polls the
simulator's request log until a request of the run (``until``), kills the controller there (``kill``: the
whole process tree, SIGKILL) or waits for the ``Run`` (``wait``).

The environment of ansible-playbook (the working tree as the collection, the ``lxdcp_results``
callback that writes every task result to a JSON file) comes from the module tests' runner
(``tests/integration/playbook_runner.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import yaml

from ansible_collections.lxdcp.maas.tests.integration.playbook_runner import ROOT, Playbook, PlaybookResult

PLAYBOOKS = os.path.join(ROOT, "playbooks")
INVENTORIES = os.path.join(PLAYBOOKS, "inventory")


class Run(PlaybookResult):
    """One ansible-playbook run over several inventory hosts: per-host stats and task results, and the MAAS requests it caused."""

    def __init__(self, rc, stdout, stderr, data, requests):
        super(Run, self).__init__(rc, stdout, stderr, data, requests)
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

    def options(self, inventory, check=False, diff=False, extra_vars=None, tags=None, limit=None):
        """The ansible-playbook options of a run (see ``run``)."""
        options = ["-i", self.inventory(inventory)]
        if check:
            options.append("--check")
        if diff:
            options.append("--diff")
        if tags:
            options += ["--tags", ",".join(tags)]
        if limit:
            options += ["--limit", ",".join(limit) if isinstance(limit, (list, tuple)) else limit]
        if extra_vars:
            options += ["-e", json.dumps(extra_vars)]  # JSON keeps lists, numbers and booleans as they are
        return options

    def env(self):
        """The MAAS connection of the playbooks (environment variables)."""
        return {"MAAS_URL": self.sim.url, "MAAS_API_KEY": self.sim.api_key, "ANSIBLE_PIPELINING": "true"}

    def run(self, playbook, inventory, check=False, diff=False, extra_vars=None, tags=None, limit=None, timeout=600):
        """Run ``playbooks/<playbook>`` (or a playbook at an absolute path) with ``inventory``; return a ``Run``.

        ``extra_vars`` (a dict) are passed as one JSON ``-e``, so they keep their types; ``tags`` (a list) as
        ``--tags``, to run only those parts of the roles; ``limit`` (a host or a list) as ``--limit``.
        """
        options = self.options(inventory, check=check, diff=diff, extra_vars=extra_vars, tags=tags, limit=limit)
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
        return Background(self.sim, command, environment, prefix, self.workdir)

    def up(self, inventory, **kwargs):
        """``playbooks/control_plane.yml``."""
        return self.run("control_plane.yml", inventory, **kwargs)

    def down(self, inventory, **kwargs):
        """``playbooks/teardown.yml``."""
        return self.run("teardown.yml", inventory, **kwargs)


class Background(object):
    """An ansible-playbook run started with ``Popen`` that the test can watch (request log) and kill."""

    def __init__(self, sim, command, environment, prefix, workdir):
        self.sim = sim
        self.prefix = prefix
        self.mark = sim.seq()
        self.killed = False
        with open(prefix + ".out", "wb") as out, open(prefix + ".err", "wb") as err:
            self.proc = subprocess.Popen(command, cwd=workdir, env=environment, stdout=out, stderr=err,  # pylint: disable=consider-using-with
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def running(self):
        """Whether ansible-playbook is still running."""
        return self.proc.poll() is None

    def until(self, matches, timeout=120, since=None):
        """Poll the simulator's request log (every 20 ms) until an entry of this run satisfies ``matches(entry)``.

        Only answered requests count (the log opens an entry when a request arrives, with ``status`` None until the
        answer is known). Returns the entry. Fails (AssertionError) when the run ends first or after ``timeout`` seconds.
        """
        seen = self.mark if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            ended = not self.running()
            for entry in self.sim.requests(seen):
                if entry["status"] is None:
                    break  # not answered yet: look at it again on the next poll
                seen = entry["seq"]
                if matches(entry):
                    return entry
            if ended:
                raise AssertionError("ansible-playbook ended (rc %s) before the awaited request:\n%s"
                                     % (self.proc.returncode, self.output()[-3000:]))
            if time.monotonic() > deadline:
                raise AssertionError("no awaited request within %s s" % timeout)
            time.sleep(0.02)

    def kill(self):
        """Kill the controller: SIGKILL ansible-playbook and every process it started, at once.

        Killing the process group is not enough: ansible-core's worker processes (one per fork) call ``setsid()``,
        so they lead their own sessions and would go on running their modules. The whole process tree (found
        through /proc) is stopped with SIGSTOP first, so that nothing forks or sends a request while it is being
        collected, then killed with SIGKILL.
        """
        self.killed = True
        stopped = set()
        while True:
            tree = set(process_tree(self.proc.pid)) | set(session_members(self.proc.pid))
            fresh = tree - stopped
            if not fresh:
                break
            for pid in fresh:
                _signal(pid, signal.SIGSTOP)
            stopped |= fresh
        for pid in stopped:
            _signal(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while [pid for pid in stopped if alive(pid)]:
            if time.monotonic() > deadline:
                raise AssertionError("processes of the killed run are still alive: %s" % [pid for pid in stopped if alive(pid)])
            time.sleep(0.02)

    def wait(self, timeout=300):
        """Wait for the end (bounded) and return the ``Run`` (no results after a kill: empty stats and tasks)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("ansible-playbook did not end within %s s:\n%s" % (timeout, self.output()[-3000:])) from None
        try:
            with open(self.prefix + ".json", encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            data = {}
        with open(self.prefix + ".out", encoding="utf-8", errors="replace") as out, \
                open(self.prefix + ".err", encoding="utf-8", errors="replace") as err:
            stdout, stderr = out.read(), err.read()
        try:
            requests = self.sim.requests(self.mark)
        except Exception:  # pylint: disable=broad-except
            requests = []  # the simulator is down (a test that kills it)
        return Run(self.proc.returncode, stdout, stderr, data, requests)

    def output(self):
        """What ansible-playbook printed so far."""
        with open(self.prefix + ".out", encoding="utf-8", errors="replace") as out:
            return out.read()


def _proc_stat(pid):
    """``(state, ppid, pgrp, session)`` of a process from /proc (None when it is gone)."""
    try:
        with open("/proc/%s/stat" % pid, encoding="utf-8", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def _all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def alive(pid):
    """Whether the process exists and is not a zombie."""
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def process_tree(pid):
    """``pid`` and all its living descendants (by parent pid, from /proc)."""
    children = {}
    for other in _all_pids():
        stat = _proc_stat(other)
        if stat is not None and stat[0] != "Z":
            children.setdefault(stat[1], []).append(other)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return [p for p in found if alive(p)]


def session_members(sid):
    """Living processes of session ``sid`` (a process started with ``start_new_session`` leads one)."""
    members = []
    for pid in _all_pids():
        stat = _proc_stat(pid)
        if stat is not None and stat[3] == sid and stat[0] != "Z":
            members.append(pid)
    return members


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
