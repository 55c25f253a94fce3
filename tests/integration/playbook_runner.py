"""Run ``ansible-playbook`` against maas-sim and read back what happened.

Used by the module, lookup and role integration tests and by the benchmarks::

    result = playbook.run([{"lxdcp.maas.maas_lxd_vm": {"hostname": "cp-1"}}])
    assert result.ok and result.results[0]["changed"]
    assert result.writes == []          # POST/PUT/DELETE the run sent (maas-sim request log)
    job = playbook.start(tasks)         # in the background (``Background``): job.until(...), job.kill(), job.wait()

The playbook runs on localhost with the project's virtualenv Python (or, when ``LXDCP_ANSIBLE_PYTHON``
names another virtualenv's interpreter, with that one's ansible-playbook and Python: ``make core-matrix``
runs tests on each supported ansible-core that way), the working tree as the
collection (``ANSIBLE_COLLECTIONS_PATH`` = ``collections/``), and ``module_defaults`` for
``group/lxdcp.maas.maas`` carrying the simulator's URL and API key (a task's own ``url``/``api_key``
win). Results come from the ``lxdcp_results`` callback (``callback_plugins/``), which writes every
task result to a JSON file: ansible-core 2.19 no longer ships a JSON stdout callback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
COLLECTIONS = os.path.join(ROOT, "collections")


def ansible_python():
    """The Python of the controller under test: ``LXDCP_ANSIBLE_PYTHON`` (a venv with another ansible-core) or ours."""
    return os.environ.get("LXDCP_ANSIBLE_PYTHON") or sys.executable


class PlaybookError(RuntimeError):
    """ansible-playbook wrote no results (it failed before running the play)."""


class PlaybookResult(object):
    """The outcome of one run: parsed callback output, exit code, and the simulator's request log."""

    def __init__(self, rc, stdout, stderr, data, requests, elapsed=None):
        self.rc = rc
        self.elapsed = elapsed  # wall seconds of the ansible-playbook process alone (not reading its results)
        self.stdout = stdout
        self.stderr = stderr
        self.data = data
        self.requests = requests  # None against a live MAAS (live.MaasTarget): it has no request log to read
        self.writes = None if requests is None else [entry for entry in requests if entry["write"]]
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
        if self.writes is None:
            return ["(no request log: a live MAAS)"]
        return ["%s %s%s" % (e["method"], e["path"], " op=%s" % e["op"] if e.get("op") else "") for e in self.writes]

    def __repr__(self):
        return "<PlaybookResult rc=%s stats=%s writes=%s>" % (self.rc, self.stats, "?" if self.writes is None else len(self.writes))


class Playbook(object):
    """Runs generated playbooks against one maas-sim (a ``simharness.SimServer``), or a live MAAS (``live.MaasTarget``:
    results then carry no request log, ``requests`` and ``writes`` are None)."""

    def __init__(self, sim, workdir, python=None):
        self.sim = sim
        self.workdir = str(workdir)
        self.python = python or ansible_python()
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
        return self.execute(path, self.options(check, diff, verbosity), env=env, timeout=timeout)

    @staticmethod
    def options(check=False, diff=False, verbosity=0):
        """The ansible-playbook options of a run on localhost."""
        options = ["-i", "localhost,", "-c", "local"]
        if check:
            options.append("--check")
        if diff:
            options.append("--diff")
        if verbosity:
            options.append("-" + "v" * verbosity)
        return options

    def start(self, tasks, check=False, diff=False, verbosity=0, auth=True, extra_vars=None, env=None):
        """Start ``tasks`` (see ``run``) in the background (its own session); return a ``Background`` whose ``wait()``
        gives the ``PlaybookResult`` and whose ``kill()`` kills the controller (SIGKILL, the whole process tree)."""
        if isinstance(tasks, dict):
            tasks = [tasks]
        path = self.write(tasks, auth=auth, extra_vars=extra_vars)
        self.count += 1
        environment = self.environment(env)
        prefix = os.path.join(self.workdir, "run-%d" % self.count)
        environment["LXDCP_RESULTS_FILE"] = prefix + ".json"
        command = [os.path.join(os.path.dirname(self.python), "ansible-playbook"), path] + self.options(check, diff, verbosity)
        return Background(self.sim, command, environment, prefix, self.workdir)

    def execute(self, playbook, options=(), env=None, timeout=600, result_class=PlaybookResult):
        """Run ``ansible-playbook <playbook> <options>``; return ``result_class`` with its results and requests."""
        self.count += 1
        environment = self.environment(env)
        environment["LXDCP_RESULTS_FILE"] = os.path.join(self.workdir, "results-%d.json" % self.count)
        command = [os.path.join(os.path.dirname(self.python), "ansible-playbook"), playbook] + list(options)
        mark = self.sim.seq()
        started = time.perf_counter()
        done = subprocess.run(command, cwd=self.workdir, env=environment, capture_output=True, text=True,
                              timeout=timeout, check=False)
        elapsed = time.perf_counter() - started
        requests = self.sim.requests(mark)
        try:
            with open(environment["LXDCP_RESULTS_FILE"], encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            raise PlaybookError("ansible-playbook (exit %d) wrote no results.\nstdout:\n%s\nstderr:\n%s"
                                % (done.returncode, done.stdout[-3000:], done.stderr[-3000:])) from None
        return result_class(done.returncode, done.stdout, done.stderr, data, requests, elapsed=elapsed)


# -- a run in the background, watched and killed --


class Background(object):
    """An ansible-playbook run started with ``Popen`` that the test can watch (request log) and kill.

    ``command`` runs in ``workdir`` with ``environment`` (whose ``LXDCP_RESULTS_FILE`` is ``<prefix>.json``); its
    output goes to ``<prefix>.out`` and ``<prefix>.err``; ``wait()`` returns a ``result_class``.
    """

    def __init__(self, sim, command, environment, prefix, workdir, result_class=PlaybookResult):
        self.sim = sim
        self.prefix = prefix
        self.result_class = result_class
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
        """Wait for the end (bounded) and return the ``result_class`` (no results after a kill: empty stats and tasks)."""
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
        return self.result_class(self.proc.returncode, stdout, stderr, data, requests)

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
