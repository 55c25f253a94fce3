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

Usage: ``python scripts/demo.py [--port N] [--state-dir DIR]``, ``python scripts/demo.py --stop [--state-dir DIR]``.
``--serve [--scenario FILE] [--state-dir DIR]`` only starts a fresh maas-sim in the background and
prints its URL (the molecule scenarios use it with ``--stop --state-dir DIR``).

Every mode keeps the simulator's pid, URL and log in ``--state-dir`` (default: one directory per user
under the system's temporary directory) and only ever stops the maas-sim recorded there, so demos
with their own state directories run side by side.
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
PLAYBOOK = "playbooks/control_plane.yml"
TEARDOWN = "playbooks/teardown.yml"
API_KEY = "lxdcp:sim-token:sim-secret"  # the admin key of maas-sim's default scenario
STATE_DIR = os.path.join(tempfile.gettempdir(), "lxdcp-maas-demo-%d" % os.getuid())
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


class DemoError(RuntimeError):
    """Something the user has to act on; the message says what."""


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


def environment(url):
    """ansible-playbook's environment: this tree as the collection, the simulator's URL and key."""
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
    return env


def playbook_command(playbook):
    """The command line, relative to the repository, as the user would type it."""
    return [os.path.join(BIN, "ansible-playbook"), "-i", INVENTORY, playbook]


def run_playbook(url, capture):
    """Run the control-plane playbook; return ``(rc, output or None)``."""
    done = subprocess.run(playbook_command(PLAYBOOK), cwd=ROOT, env=environment(url), check=False,
                          capture_output=capture, text=True)
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


# -- the demo -------------------------------------------------------------------------------------


def stop_command(sim):
    """The command that stops ``sim`` (a ``Background``), relative to the repository, as the user would type it."""
    command = "%s scripts/demo.py --stop" % os.path.relpath(sys.executable, ROOT)
    if os.path.abspath(sim.state_dir) != os.path.abspath(STATE_DIR):
        command += " --state-dir %s" % sim.state_dir
    return command


def demo(port, sim):
    """Run the demo with the maas-sim ``sim`` (a ``Background``); return the process exit code."""
    started = time.monotonic()
    previous = sim.stop()
    if previous:
        say("Stopped the maas-sim of an earlier demo (pid %d): every demo starts from a fresh MAAS." % previous)
    if not port_is_free(port):
        say("Port %d is busy; maas-sim takes a free port instead." % port)
        port = 0
    url, pid = sim.start(port)
    heading("maas-sim %s (pid %d): default scenario, zones az1-az3, two LXD VM hosts each, subnet 10.10.0.0/24" % (url, pid))

    heading("1/2  ansible-playbook -i %s %s" % (INVENTORY, PLAYBOOK))
    first = time.monotonic()
    rc, _output = run_playbook(url, capture=False)
    if rc != 0:
        raise DemoError("the control-plane playbook failed (exit code %d); maas-sim's log: %s" % (rc, sim.log_file))
    first = time.monotonic() - first

    heading("2/2  the same playbook again: it must change nothing")
    _entries, mark = sim_requests(url, 2 ** 62)
    second = time.monotonic()
    rc, output = run_playbook(url, capture=True)
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
    if any(changed.values()) or writes:
        raise DemoError("the second run was not idempotent: changed=%s, writes=%s" % (changed, writes))

    env = "MAAS_URL=%s MAAS_API_KEY=%s ANSIBLE_COLLECTIONS_PATH=%s" % (url, API_KEY, os.path.relpath(COLLECTIONS, ROOT))
    heading("Done in %.0f s (first run %.0f s, second run %.0f s). maas-sim keeps running so that you can look around:"
            % (time.monotonic() - started, first, second))
    say("    curl -s %s/_sim/state | python3 -m json.tool | less      # the simulated MAAS" % url.rsplit("/MAAS", 1)[0])
    say("    %s %s -i %s %s      # tear the control plane down" % (
        env, os.path.relpath(playbook_command(TEARDOWN)[0], ROOT), INVENTORY, TEARDOWN))
    say("    %s      # stop maas-sim (log: %s)" % (stop_command(sim), sim.log_file))
    return 0


def main(argv=None):
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5240, help="port of maas-sim (default 5240, else a free one)")
    parser.add_argument("--stop", action="store_true", help="stop the background maas-sim and exit")
    parser.add_argument("--serve", action="store_true",
                        help="only start a fresh maas-sim in the background (stopping the previous one), print its URL and exit")
    parser.add_argument("--scenario", help="with --serve: maas-sim scenario file (default: the packaged default scenario)")
    parser.add_argument("--state-dir", default=STATE_DIR,
                        help="where the pid, URL and log files of maas-sim live, in every mode; only the maas-sim recorded there "
                             "is ever stopped (default %(default)s)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sim = Background(os.path.abspath(args.state_dir))
    if args.stop:
        pid = sim.stop()
        say("Stopped maas-sim (pid %d)." % pid if pid else "No maas-sim of %s is running." % args.state_dir)
        return 0
    try:
        if args.serve:
            sim.stop()
            url, _pid = sim.start(args.port if port_is_free(args.port) else 0, args.scenario)
            say(url)
            return 0
        return demo(args.port, sim)
    except DemoError as exc:
        say()
        say("demo failed: %s" % exc)
        if sim.running_pid():
            say("maas-sim is still running; stop it with: %s" % stop_command(sim))
        return 1
    except KeyboardInterrupt:
        say()
        say("Interrupted; maas-sim is still running. Stop it with: %s" % stop_command(sim))
        return 130


if __name__ == "__main__":
    sys.exit(main())
