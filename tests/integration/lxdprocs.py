"""Real LXD daemons for integration tests: the parts every harness shares.

Each daemon gets its own ``LXD_DIR`` under ``/tmp/lxdms-<uid>/<group>/`` and an HTTPS address on
127.0.0.1 with a free port, a ``dir`` storage pool and the test client certificate trusted. Every
pytest-xdist worker has its own daemons, so workers never share one.

A crashed run leaves daemons behind: each group directory records the pytest process that owns
it, and :func:`clean_stale` stops the daemons of owners that are gone, unmounts what they left,
deletes the network links they created and removes the directories. Sessions running at the same
time (two people, one machine) keep theirs.

Harnesses: ``scheduler/lxdharness.py`` (containers, for lxd-multi-scheduler) and ``lxdvm.py``
(daemons that can hold ``virtual-machine`` instances).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

BASE = os.path.join(tempfile.gettempdir(), f"lxdms-{os.getuid()}")
LINKS_FILE = "links"  # network links a group created, one a line, deleted with it


class Unavailable(Exception):
    """The machine cannot provide the tool; the message is the skip reason."""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def apt_install(*packages: str) -> None:
    """Install Debian packages (root with apt-get only; xdist workers install one at a time)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(f"{' '.join(packages)} not installed and cannot be installed here "
                          f"(needs root and apt-get: apt-get install -y {' '.join(packages)})")
    os.makedirs(BASE, exist_ok=True)
    with open(os.path.join(BASE, "apt.lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        steps = (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages])
        for step in steps:
            result = subprocess.run(step, env=env, capture_output=True, text=True, timeout=900, check=False)
            if result.returncode:
                raise Unavailable(f"'{' '.join(step)}' failed: {result.stderr.strip()[-500:]}")


def require(binary: str, package: str) -> str:
    """Path of ``binary``; install Debian's ``package`` first when missing and allowed (root with apt-get)."""
    found = shutil.which(binary)
    if found:
        return found
    apt_install(package)
    found = shutil.which(binary)
    if not found:
        raise Unavailable(f"{package} was installed but {binary} is still not on PATH")
    return found


def require_package(package: str, path: str) -> None:
    """Make sure the file ``path`` of Debian's ``package`` exists; install the package when missing and allowed."""
    if not os.path.exists(path):
        apt_install(package)
    if not os.path.exists(path):
        raise Unavailable(f"{package} was installed but {path} does not exist")


def make_certificate(directory: str, name: str, cn: str | None = None) -> tuple[str, str]:
    """A self-signed client certificate and key (PEM) in ``directory``; return their paths."""
    cert, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "7", "-subj", f"/CN={cn or name}"],
                   check=True, capture_output=True)
    return cert, key


def fingerprint(cert_path: str) -> str:
    """The SHA-256 fingerprint of a PEM certificate (hex, lower case), as LXD names trusted certificates."""
    der = subprocess.run(["openssl", "x509", "-in", cert_path, "-outform", "DER"], check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def terminate(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM a child process, SIGKILL it after ``grace`` seconds, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _unmount_under(path: str) -> None:
    """Lazily unmount everything LXD mounted below ``path`` (shmounts, devlxd, storage)."""
    with open("/proc/mounts", encoding="utf-8") as handle:
        points = [line.split()[1] for line in handle]
    for point in sorted((p for p in points if p == path or p.startswith(path + "/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _kill_group(pid: int, grace: float = 10.0) -> None:
    """SIGTERM then SIGKILL the process group led by ``pid`` (daemons are started in their own session)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _pid_alive(pid):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if not _pid_alive(pid):
            return


def add_link(root: str, name: str, *args: str) -> None:
    """Create the network link ``name`` (``ip link add <name> <args>``, up), recorded in ``root`` to be deleted with it."""
    with open(os.path.join(root, LINKS_FILE), "a", encoding="ascii") as handle:
        handle.write(name + "\n")  # first: a crash after ``ip link add`` still leaves a record
    for step in (["ip", "link", "add", name, *args], ["ip", "link", "set", name, "up"]):
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode:
            raise Unavailable(f"'{' '.join(step)}' failed: {result.stderr.strip()}")


def _delete_links(path: str) -> None:
    try:
        with open(os.path.join(path, LINKS_FILE), encoding="ascii") as handle:
            names = [line.strip() for line in handle if line.strip()]
    except OSError:
        return
    for name in names:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


def remove_tree(path: str) -> None:
    """Stop the daemons recorded below ``path``, unmount, delete its network links and the directory."""
    if not os.path.isdir(path):
        return
    for root, _dirs, files in os.walk(path):
        if "daemon.pid" in files:
            pid = _read_int(os.path.join(root, "daemon.pid"))
            if pid and _pid_alive(pid):
                _kill_group(pid)
    _unmount_under(path)
    _delete_links(path)
    shutil.rmtree(path, ignore_errors=True)


def clean_stale() -> None:
    """Remove the directories (and stop the daemons) of every owner process that no longer runs.

    Directories of live owners - another pytest session running at the same time - are left alone.
    Call it holding ``harness.lock`` (see :func:`claim_root`).
    """
    if not os.path.isdir(BASE):
        return
    for entry in os.listdir(BASE):
        path = os.path.join(BASE, entry)
        if not os.path.isdir(path):
            continue
        owner = _read_int(os.path.join(path, "owner.pid"))
        if owner is None or not _pid_alive(owner):
            remove_tree(path)


def claim_root(name: str) -> str:
    """A fresh directory ``BASE/<name>-<pid>`` owned by this process; stale ones of dead owners are removed first."""
    root = os.path.join(BASE, f"{name}-{os.getpid()}")
    os.makedirs(BASE, exist_ok=True)
    with open(os.path.join(BASE, "harness.lock"), "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a directory gets its owner before anyone looks for stale ones
        clean_stale()
        remove_tree(root)
        os.makedirs(root)
        with open(os.path.join(root, "owner.pid"), "w", encoding="ascii") as handle:
            handle.write(str(os.getpid()))
    return root


class LxdDaemon:
    """One LXD daemon with its own ``LXD_DIR`` and HTTPS port on 127.0.0.1."""

    def __init__(self, root: str, name: str, lxd: str, lxc: str):
        self.name = name
        self.root = os.path.join(root, name)
        self.lxd_dir = os.path.join(self.root, "lxd")
        self.lxd, self.lxc_bin = lxd, lxc
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.env = dict(os.environ, LXD_DIR=self.lxd_dir, LXD_CONF=os.path.join(self.root, "lxc-conf"))

    @property
    def url(self) -> str:
        """The HTTPS API endpoint."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def server_cert(self) -> str:
        """The daemon's TLS certificate (to pin it)."""
        return os.path.join(self.lxd_dir, "server.crt")

    @property
    def running(self) -> bool:
        """Whether the daemon process is alive."""
        return self.process is not None and self.process.poll() is None

    def lxc(self, *args: str, check: bool = True) -> str:
        """Run ``lxc`` against this daemon (over its unix socket); return stdout."""
        result = subprocess.run([self.lxc_bin, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode:
            raise RuntimeError(f"lxc {' '.join(args)} failed on {self.name}: {result.stderr.strip()}")
        return result.stdout

    def query(self, path: str):
        """``lxc query <path>``: the decoded metadata of a GET over the unix socket."""
        return json.loads(self.lxc("query", path) or "null")

    def command(self) -> list[str]:
        """The command line that runs the daemon (a subclass may wrap it)."""
        return [self.lxd, "--logfile", os.path.join(self.root, "lxd.log")]

    def start(self) -> None:
        """Start the daemon and wait until it answers."""
        os.makedirs(self.lxd_dir, exist_ok=True)
        log = open(os.path.join(self.root, "daemon.out"), "ab")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen(self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        with open(os.path.join(self.root, "daemon.pid"), "w", encoding="ascii") as handle:
            handle.write(str(self.process.pid))
        ready = subprocess.run([self.lxd, "waitready", "--timeout", "60"], env=self.env, capture_output=True, text=True, check=False)
        if ready.returncode or not self.running:
            self.kill()
            tail = ""
            for name in ("daemon.out", "lxd.log"):
                with contextlib.suppress(OSError), open(os.path.join(self.root, name), encoding="utf-8", errors="replace") as handle:
                    tail += handle.read()[-1500:]
            raise Unavailable(f"LXD daemon {self.name} did not start: {ready.stderr.strip()} {tail}")
        if self.port:  # a restart keeps the address stored in the daemon's database
            self.wait_https()

    def setup(self, trusted_cert: str) -> None:
        """First-time configuration: HTTPS address, storage pool, root disk, trusted client certificate."""
        for _attempt in range(5):
            self.port = free_port()
            try:
                self.lxc("config", "set", "core.https_address", f"127.0.0.1:{self.port}")
                break
            except RuntimeError:
                continue  # another worker took the port meanwhile
        else:
            raise Unavailable(f"LXD daemon {self.name} could not listen on any free port")
        self.lxc("storage", "create", "default", "dir")
        self.lxc("profile", "device", "add", "default", "root", "disk", "path=/", "pool=default")
        self.lxc("config", "trust", "add", trusted_cert)
        self.wait_https()

    def wait_https(self, timeout: float = 30.0) -> None:
        """Wait until the HTTPS port accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise Unavailable(f"LXD daemon {self.name} does not listen on {self.url}")

    def stop(self) -> None:
        """Shut the daemon down cleanly (instances are kept; :meth:`start` brings it back)."""
        if not self.running:
            return
        subprocess.run([self.lxd, "shutdown", "--timeout", "30"], env=self.env, capture_output=True, check=False, timeout=60)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Stop the daemon's whole process group now."""
        if self.process is not None:
            _kill_group(self.process.pid, grace=5)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)

    def resources(self) -> dict:
        """``GET /1.0/resources`` of this daemon."""
        return self.query("/1.0/resources")

    def delete(self, name: str, project: str | None = None) -> None:
        """Delete an instance."""
        self.lxc("delete", "--force", name, *(["--project", project] if project else []))

    def create_project(self, name: str) -> None:
        """A project that shares the default project's profiles (so instances get the root disk)."""
        self.lxc("project", "create", name, "-c", "features.profiles=false", "-c", "features.images=false")

    def instances(self) -> list[tuple[str, str]]:
        """``(project, name)`` of every instance."""
        lines = self.lxc("list", "--all-projects", "--format", "csv", "-c", "en").splitlines()
        return [tuple(line.split(",")[:2]) for line in lines if line.strip()]

    def clear(self) -> None:
        """Delete every instance and every project but ``default``."""
        self.clear_instances()
        self.clear_projects()

    def clear_instances(self) -> None:
        """Delete every instance (of every project)."""
        for project, name in self.instances():
            self.delete(name, project)

    def clear_projects(self) -> None:
        """Delete every project but ``default`` (they must be empty)."""
        for line in self.lxc("project", "list", "--format", "csv").splitlines():
            project = line.split(",")[0].split(" ")[0]
            if project and project != "default":
                self.lxc("project", "delete", project)


@contextlib.contextmanager
def running_group(group_class, config, what: str, **kwargs):
    """A :class:`DaemonGroup` of this pytest-xdist worker (``config.workerinput``) for a fixture; closed after.

    Skips the test with ``what`` and the reason when the machine cannot run the daemons.
    """
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    try:
        group = group_class(worker, **kwargs)
    except Unavailable as exc:
        pytest.skip(f"{what}: {exc}")
    try:
        yield group
    finally:
        group.close()


class DaemonGroup:
    """Several independent daemons of one pytest worker, and the client certificate they trust.

    ``root`` (a directory outside ``BASE``) holds the daemons of a process that leaves them running, such as
    ``scripts/demo.py --lxd``: no owner, so :func:`clean_stale` never stops them; :func:`remove_tree` does.
    """

    daemon_class = LxdDaemon
    prefix = ""  # of the group's directory below BASE (``<prefix><worker>-<pid>``)
    certificate_cn = "lxdcp-tests"

    def __init__(self, worker: str, count: int = 2, root: str | None = None):
        if os.geteuid() != 0:
            raise Unavailable("LXD daemons need root")
        self.lxd = require("lxd", "lxd")
        self.lxc = require("lxc", "lxd")
        self.prepare()
        if root:
            remove_tree(root)
            os.makedirs(root)
        self.root = root or claim_root(self.prefix + worker)
        self.client_cert, self.client_key = make_certificate(self.root, "client", self.certificate_cn)
        self.daemons = [self.daemon_class(self.root, f"lxd{index + 1}", self.lxd, self.lxc) for index in range(count)]
        try:
            for daemon in self.daemons:
                daemon.start()
                daemon.setup(self.client_cert)
        except BaseException:
            self.close()
            raise

    def prepare(self) -> None:
        """What the machine needs before a daemon starts (a subclass installs or creates it, or raises Unavailable)."""

    def reset(self) -> None:
        """Every daemon running and empty."""
        for daemon in self.daemons:
            if not daemon.running:
                daemon.start()
            daemon.clear()

    def close(self) -> None:
        """Stop the daemons and remove their directories (and network links)."""
        for daemon in self.daemons:
            daemon.stop()
            daemon.kill()
        remove_tree(self.root)
