"""``make demo``: a 3-node Kubernetes control plane on LXD VMs, against a fresh maas-sim.

1. Starts ``maas-sim`` with its default scenario (three zones, two LXD VM hosts each, subnet
   10.10.0.0/24) and a fresh in-memory state, in the background (a demo started before is
   stopped first).
2. Runs ``playbooks/control_plane.yml`` with ``playbooks/inventory/demo.yml``: three VMs with
   static IPs, one per zone, deployed, and the API endpoint's DNS record; the play ends with the
   table of the control plane.
3. Runs it again and shows that nothing changed (``changed=0``) and that MAAS got no write.
4. Leaves maas-sim running, so that the VMs can be looked at and torn down, and prints the
   commands for both; ``python scripts/demo.py --stop`` stops it.

``--lxd`` (``make demo-lxd``, as root): the same job in direct mode, on MAAS 4.0 (no VM hosts). Three
real LXD daemons that can hold virtual-machine instances are started first (the integration tests'
harness, ``tests/integration/lxdvm.py``, with its directory in the state directory), maas-sim runs its
4.0 scenario with one LXD-host machine per daemon, and ``playbooks/inventory/demo-lxd.yml`` gets their
endpoints and credentials through ``LXD_MULTI_HOSTS`` (written to ``lxd-hosts.json``). The demo also
shows the instances on LXD and the requests the re-run sent to LXD. The daemons cannot boot the VMs on
a machine without vhost_vsock (maas-sim's lxd power driver simulates the boot); they keep running with
maas-sim, and ``--stop`` stops both and deletes their bridges.

Usage: ``python scripts/demo.py [--lxd] [--port N] [--state-dir DIR]``, ``python scripts/demo.py --stop [--state-dir DIR]``.
``--serve [--lxd] [--scenario FILE] [--state-dir DIR]`` only starts a fresh maas-sim (and with ``--lxd``
the LXD daemons) in the background and prints its URL (the molecule scenarios use it with ``--stop
--state-dir DIR``). Exit code 77: ``--lxd`` where LXD VMs cannot be had (not root, no /dev/kvm...).

Every mode keeps the simulator's pid, URL and log (and the daemons) in ``--state-dir`` (default: one
directory per user under the system's temporary directory) and only ever stops what is recorded
there, so demos with their own state directories run side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, "collections")
INVENTORY = "playbooks/inventory/demo.yml"
INVENTORY_LXD = "playbooks/inventory/demo-lxd.yml"
HARNESS = os.path.join(ROOT, "tests", "integration")  # lxdprocs.py, lxdvm.py, directsite.py: the LXD daemons of the tests
CANNOT = 77  # exit code: this machine cannot run LXD VMs
PLAYBOOK = "playbooks/control_plane.yml"
TEARDOWN = "playbooks/teardown.yml"
API_KEY = "lxdcp:sim-token:sim-secret"  # the admin key of maas-sim's default scenario
STATE_DIR = os.path.join(tempfile.gettempdir(), "lxdcp-maas-demo-%d" % os.getuid())
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


class DemoError(RuntimeError):
    """Something the user has to act on; the message says what."""


class CannotRun(DemoError):
    """This machine cannot run LXD VMs (the harness's ``Unavailable``)."""


def say(text=""):
    """Print a line of the demo's own output, flushed so that it interleaves with ansible's."""
    print(text, flush=True)


def heading(text):
    """A visible section title."""
    say()
    say("=== %s" % text)


# -- maas-sim in the background ---------------------------------------------------------------


class Background(object):
    """A maas-sim detached from this process, tracked by files in ``state_dir`` (pid, URL, log)."""

    def __init__(self, state_dir=STATE_DIR):
        self.state_dir = state_dir
        self.pid_file = os.path.join(state_dir, "maas-sim.pid")
        self.url_file = os.path.join(state_dir, "maas-sim.url")
        self.log_file = os.path.join(state_dir, "maas-sim.log")

    def running_pid(self):
        """The pid of this maas-sim when it is still running, else None."""
        try:
            with open(self.pid_file, encoding="utf-8") as handle:
                pid = int(handle.read().strip())
        except (OSError, ValueError):
            return None
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        return pid if "maas-sim" in command else None

    def stop(self):
        """Stop it (SIGTERM, then SIGKILL); return its pid, or None when none ran."""
        pid = self.running_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while self.running_pid() == pid and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.running_pid() == pid:
                os.kill(pid, signal.SIGKILL)
        for path in (self.pid_file, self.url_file):
            if os.path.exists(path):
                os.unlink(path)
        return pid

    def start(self, port, scenario=None):
        """Start maas-sim (in-memory state, so always fresh) and wait until it answers; return ``(url, pid)``."""
        os.makedirs(self.state_dir, exist_ok=True)
        ready = os.path.join(self.state_dir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        command = [os.path.join(BIN, "maas-sim"), "--host", "127.0.0.1", "--port", str(port), "--ready-file", ready]
        if scenario:
            command += ["--scenario", os.path.abspath(scenario)]
        with open(self.log_file, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                       start_new_session=True, cwd=ROOT)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if process.poll() is not None:
                with open(self.log_file, encoding="utf-8", errors="replace") as handle:
                    tail = "".join(handle.readlines()[-15:])
                raise DemoError("maas-sim stopped at start (exit code %s):\n%s" % (process.returncode, tail))
            if time.monotonic() > deadline:
                process.terminate()
                raise DemoError("maas-sim did not start within 30 s; see %s" % self.log_file)
            time.sleep(0.05)
        with open(ready, encoding="utf-8") as handle:
            url = handle.read().strip()
        with open(self.pid_file, "w", encoding="utf-8") as handle:
            handle.write(str(process.pid))
        with open(self.url_file, "w", encoding="utf-8") as handle:
            handle.write(url)
        return url, process.pid


class Daemons(object):
    """Three VM-capable LXD daemons in ``<state_dir>/lxd``, detached from this process (pid files, bridges recorded there)."""

    def __init__(self, state_dir=STATE_DIR):
        self.state_dir = state_dir
        self.root = os.path.join(state_dir, "lxd")
        self.hosts_file = os.path.join(state_dir, "lxd-hosts.json")

    @staticmethod
    def harness():
        """The tests' harness modules (imported here: ``make demo`` needs none of them)."""
        if HARNESS not in sys.path:
            sys.path.insert(0, HARNESS)
        import directsite  # pylint: disable=import-outside-toplevel,import-error
        import lxdprocs  # pylint: disable=import-outside-toplevel,import-error
        import lxdvm  # pylint: disable=import-outside-toplevel,import-error
        return directsite, lxdprocs, lxdvm

    def start(self):
        """Start them; return the ``directsite.LxdHosts`` (its ``scenario_path`` is maas-sim's scenario) and write
        ``lxd-hosts.json``: the ``LXD_MULTI_HOSTS`` entries of the collection."""
        directsite, lxdprocs, lxdvm = self.harness()
        try:
            cluster = lxdvm.LxdVmCluster("demo", count=3, root=self.root)
        except lxdprocs.Unavailable as exc:
            raise CannotRun("cannot run LXD virtual machines here: %s" % exc) from None
        hosts = directsite.LxdHosts(cluster, self.root)  # its scenario file goes with the daemons
        with open(self.hosts_file, "w", encoding="utf-8") as handle:
            json.dump([dict(entry, host=hosts.hosts[entry["name"]].url) for entry in hosts.entries], handle, indent=1)
        return hosts

    def stop(self):
        """Stop them, unmount, delete their bridges and files; return whether any were there."""
        if not os.path.isdir(self.root):
            return False
        self.harness()[1].remove_tree(self.root)
        if os.path.exists(self.hosts_file):
            os.unlink(self.hosts_file)
        return True


def stop_all(sim, daemons):
    """Stop ``sim`` (a ``Background``) and ``daemons`` (``Daemons``); return what was stopped, in words ("" for nothing)."""
    pid = sim.stop()
    stopped = ["maas-sim (pid %d)" % pid] if pid else []
    if daemons.stop():
        stopped.append("the LXD daemons (and their bridges)")
    return " and ".join(stopped)


def port_is_free(port):
    """Whether 127.0.0.1:port can be bound (maas-sim would fail on a busy port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def sim_requests(url, since):
    """maas-sim's request log after ``since``: ``(entries, next)``."""
    admin = url.rsplit("/MAAS", 1)[0] + "/_sim/requests?since=%d" % since
    try:
        with urllib.request.urlopen(admin, timeout=10) as response:
            data = json.loads(response.read())
    except (urllib.error.URLError, ValueError) as exc:
        raise DemoError("cannot read maas-sim's request log at %s: %s" % (admin, exc)) from None
    return data["requests"], data["next"]


# -- ansible-playbook ----------------------------------------------------------------------------


def environment(url, lxd_hosts_file=None):
    """ansible-playbook's environment: this tree as the collection, the simulator's URL and key (and ``LXD_MULTI_HOSTS``)."""
    env = dict(os.environ)
    env.update(
        MAAS_URL=url,
        MAAS_API_KEY=API_KEY,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_DISPLAY_SKIPPED_HOSTS="false",
        ANSIBLE_PIPELINING="true",  # every task runs on the controller (local connection): no temp files to copy
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    if lxd_hosts_file:
        with open(lxd_hosts_file, encoding="utf-8") as handle:
            env["LXD_MULTI_HOSTS"] = handle.read()
    return env


def playbook_command(playbook, inventory):
    """The command line, relative to the repository, as the user would type it."""
    return [os.path.join(BIN, "ansible-playbook"), "-i", inventory, playbook]


def run_playbook(inventory, env, capture):
    """Run the control-plane playbook; return ``(rc, output or None)``."""
    done = subprocess.run(playbook_command(PLAYBOOK, inventory), cwd=ROOT, env=env, check=False, capture_output=capture, text=True)
    return done.returncode, (done.stdout + done.stderr) if capture else None


def recap(output):
    """``{host: changed}`` from the PLAY RECAP; failed or unreachable hosts raise DemoError."""
    hosts = {}
    for line in output.splitlines():
        match = RECAP.match(line.strip())
        if match:
            host, changed, unreachable, failed = match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))
            if unreachable or failed:
                raise DemoError("%s failed in the second run:\n%s" % (host, output[-3000:]))
            hosts[host] = changed
    if not hosts:
        raise DemoError("the second run printed no PLAY RECAP:\n%s" % output[-3000:])
    return hosts


def table(output):
    """The control-plane table the deploy role printed (its debug lines), without JSON quoting."""
    rows = []
    for line in output.splitlines():
        text = line.strip().rstrip(",")
        if text.startswith('"') and text.endswith('"') and ("PROVIDER ID" in text or "maas-lxd://" in text or "API endpoint" in text):
            rows.append(json.loads(text))
    return rows


def instances(hosts):
    """The LXD instances of ``hosts`` (a ``directsite.LxdHosts``) as the daemons hold them, as table lines."""
    columns = "%-12s %-10s %-16s %-10s %-22s %s"
    rows = [columns % ("INSTANCE", "LXD HOST", "TYPE", "LIMITS.CPU", "LIMITS.MEMORY", "STATUS")]
    for host, names in sorted(hosts.instances().items()):
        for project, name in names:
            record = hosts.instance(host, name, project)
            config = record.get("config") or {}
            memory = config.get("limits.memory", "")
            memory += " (%g GiB)" % (int(memory) / 2 ** 30) if memory.isdigit() else ""
            rows.append(columns % (name, host, record.get("type"), config.get("limits.cpu"), memory, record.get("status")))
    return rows


# -- the demo -------------------------------------------------------------------------------------


def stop_command(sim):
    """The command that stops ``sim`` (a ``Background``), relative to the repository, as the user would type it."""
    command = "%s scripts/demo.py --stop" % os.path.relpath(sys.executable, ROOT)
    if os.path.abspath(sim.state_dir) != os.path.abspath(STATE_DIR):
        command += " --state-dir %s" % sim.state_dir
    return command


def start(port, sim, daemons, lxd=False, scenario=None):
    """Start the LXD daemons (``lxd``) and a fresh maas-sim on them (else on ``scenario``); return ``(url, pid, hosts)``
    (``hosts``: the daemons' ``directsite.LxdHosts``, or None)."""
    hosts = daemons.start() if lxd else None
    url, pid = sim.start(port, hosts.scenario_path if hosts else scenario)
    return url, pid, hosts


def describe(url, pid, hosts, daemons):
    """Say what runs: maas-sim, and the LXD daemons of ``hosts`` (a ``directsite.LxdHosts``) in direct mode."""
    if not hosts:
        heading("maas-sim %s (pid %d): default scenario, zones az1-az3, two LXD VM hosts each, subnet 10.10.0.0/24" % (url, pid))
        return
    heading("LXD daemons that can hold virtual machines (in %s):" % daemons.root)
    for name, daemon in hosts.hosts.items():
        say("    %-10s %s  bridge %-14s LXD_DIR=%s" % (name, daemon.url, daemon.bridge, daemon.lxd_dir))
    heading("maas-sim %s (pid %d): MAAS 4.0 (no VM hosts), zones az1-az3, the LXD-host machines lxd-az1-a, lxd-az2-a, "
            "lxd-az3-a on those daemons, subnet 10.10.0.0/24" % (url, pid))


def second_run(url, inventory, env, hosts):
    """Run the playbook again; show its table, what changed and its requests to MAAS (and to the LXD daemons of ``hosts``).
    DemoError unless nothing changed and nothing was written. Return how long it took."""
    _entries, mark = sim_requests(url, 2 ** 62)
    lxd_mark = hosts.mark() if hosts else None
    second = time.monotonic()
    rc, output = run_playbook(inventory, env, capture=True)
    second = time.monotonic() - second
    if rc != 0:
        raise DemoError("the second run failed (exit code %d):\n%s" % (rc, output[-3000:]))
    changed = recap(output)
    entries, _next = sim_requests(url, mark)
    writes = [entry for entry in entries if entry["write"]]
    for row in table(output):
        say("    " + row)
    say()
    for host, count in sorted(changed.items()):
        say("    %-12s changed=%d" % (host, count))
    say("    %d read requests to MAAS, %d writes" % (len(entries) - len(writes), len(writes)))
    if hosts:
        lxd_writes = hosts.lxd_writes(lxd_mark)
        say("    %d read requests to LXD, %d writes" % (len(hosts.lxd_requests(lxd_mark)) - len(lxd_writes), len(lxd_writes)))
        writes += lxd_writes
    if any(changed.values()) or writes:
        raise DemoError("the second run was not idempotent: changed=%s, writes=%s" % (changed, writes))
    return second


def demo(port, sim, daemons, lxd=False):
    """Run the demo with the maas-sim ``sim`` (a ``Background``), on LXD ``daemons`` with ``lxd``; return the exit code."""
    started = time.monotonic()
    previous = stop_all(sim, daemons)
    if previous:
        say("Stopped %s of an earlier demo: every demo starts from a fresh MAAS." % previous)
    if not port_is_free(port):
        say("Port %d is busy; maas-sim takes a free port instead." % port)
        port = 0
    url, pid, hosts = start(port, sim, daemons, lxd)
    describe(url, pid, hosts, daemons)
    inventory = INVENTORY_LXD if hosts else INVENTORY
    env = environment(url, daemons.hosts_file if hosts else None)

    heading("1/2  ansible-playbook -i %s %s" % (inventory, PLAYBOOK))
    first = time.monotonic()
    rc, _output = run_playbook(inventory, env, capture=False)
    if rc != 0:
        raise DemoError("the control-plane playbook failed (exit code %d); maas-sim's log: %s" % (rc, sim.log_file))
    first = time.monotonic() - first
    if hosts:
        heading("The instances on LXD (created stopped: maas-sim's lxd power driver simulated their boot)")
        for row in instances(hosts):
            say("    " + row)

    heading("2/2  the same playbook again: it must change nothing")
    second = second_run(url, inventory, env, hosts)

    env = "MAAS_URL=%s MAAS_API_KEY=%s ANSIBLE_COLLECTIONS_PATH=%s" % (url, API_KEY, os.path.relpath(COLLECTIONS, ROOT))
    heading("Done in %.0f s (first run %.0f s, second run %.0f s). maas-sim keeps running so that you can look around:"
            % (time.monotonic() - started, first, second))
    say("    curl -s %s/_sim/state | python3 -m json.tool | less      # the simulated MAAS" % url.rsplit("/MAAS", 1)[0])
    if hosts:
        env += ' LXD_MULTI_HOSTS="$(cat %s)"' % daemons.hosts_file
        say("    LXD_DIR=%s lxc list      # an LXD host's instances (lxd-az1-a; the others likewise)"
            % next(iter(hosts.hosts.values())).lxd_dir)
    say("    %s %s -i %s %s      # tear the control plane down" % (
        env, os.path.relpath(playbook_command(TEARDOWN, inventory)[0], ROOT), inventory, TEARDOWN))
    say("    %s      # stop maas-sim%s (log: %s)" % (stop_command(sim), " and the LXD daemons" if hosts else "", sim.log_file))
    return 0


def main(argv=None):
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5240, help="port of maas-sim (default 5240, else a free one)")
    parser.add_argument("--stop", action="store_true", help="stop the background maas-sim (and LXD daemons) and exit")
    parser.add_argument("--serve", action="store_true",
                        help="only start a fresh maas-sim in the background (stopping the previous one), print its URL and exit")
    parser.add_argument("--lxd", action="store_true",
                        help="direct mode on MAAS 4.0 with three real LXD daemons (root; started first, in the state directory)")
    parser.add_argument("--scenario", help="with --serve: maas-sim scenario file (default: the packaged default scenario)")
    parser.add_argument("--state-dir", default=STATE_DIR,
                        help="where the pid, URL and log files of maas-sim (and the LXD daemons) live, in every mode; only what is "
                             "recorded there is ever stopped (default %(default)s)")
    args = parser.parse_args(argv)
    if args.lxd and args.scenario:
        parser.error("--lxd brings its own scenario (maas-sim's 4.0 scenario on the daemons): no --scenario")
    os.chdir(ROOT)
    sim, daemons = Background(os.path.abspath(args.state_dir)), Daemons(os.path.abspath(args.state_dir))
    if args.stop:
        stopped = stop_all(sim, daemons)
        say("Stopped %s." % stopped if stopped else "No maas-sim of %s is running." % args.state_dir)
        return 0
    try:
        if args.serve:
            stop_all(sim, daemons)
            url, _pid, _hosts = start(args.port if port_is_free(args.port) else 0, sim, daemons, args.lxd, args.scenario)
            say(url)
            return 0
        return demo(args.port, sim, daemons, args.lxd)
    except (DemoError, KeyboardInterrupt) as exc:
        say()
        say("Interrupted." if isinstance(exc, KeyboardInterrupt) else str(exc) if isinstance(exc, CannotRun) else "demo failed: %s" % exc)
        if os.path.isdir(daemons.root):
            say("maas-sim and the LXD daemons are still running; stop them with: %s" % stop_command(sim))
        elif sim.running_pid():
            say("maas-sim is still running; stop it with: %s" % stop_command(sim))
        return 130 if isinstance(exc, KeyboardInterrupt) else CANNOT if isinstance(exc, CannotRun) else 1


if __name__ == "__main__":
    sys.exit(main())
