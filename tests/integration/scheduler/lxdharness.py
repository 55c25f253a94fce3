"""Real LXD daemons (and a real redis-server) for the scheduler's integration tests.

Each daemon gets its own ``LXD_DIR`` under ``/tmp/lxdms-<uid>/<worker>-<pid>/`` and an HTTPS address on
127.0.0.1 with a free port, a ``dir`` storage pool and the test client certificate trusted. Every
pytest-xdist worker has its own daemons, so workers never share one.

A crashed run leaves daemons behind: each worker directory records the pytest process that owns
it, and :func:`clean_stale` stops the daemons of owners that are gone, unmounts what they left and
removes the directories. Sessions running at the same time (two people, one machine) keep theirs.

LXD cannot run VMs here (no KVM), so instances are empty containers (``lxc init --empty``) with
``limits.cpu``/``limits.memory``: LXD stores and reports them exactly as for running instances.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BASE = os.path.join(tempfile.gettempdir(), f"lxdms-{os.getuid()}")


class Unavailable(Exception):
    """The machine cannot provide the tool; the message is the skip reason."""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require(binary: str, package: str) -> str:
    """Path of ``binary``; install Debian's ``package`` first when missing and allowed (root with apt-get)."""
    found = shutil.which(binary)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(f"{binary} is not installed and cannot be installed here (needs root and apt-get: apt-get install -y {package})")
    os.makedirs(BASE, exist_ok=True)
    with open(os.path.join(BASE, "apt.lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers install one at a time
        if not shutil.which(binary):
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            steps = (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package])
            for step in steps:
                result = subprocess.run(step, env=env, capture_output=True, text=True, timeout=900, check=False)
                if result.returncode:
                    raise Unavailable(f"'{' '.join(step)}' failed: {result.stderr.strip()[-500:]}")
    found = shutil.which(binary)
    if not found:
        raise Unavailable(f"{package} was installed but {binary} is still not on PATH")
    return found


def make_certificate(directory: str, name: str, cn: str | None = None) -> tuple[str, str]:
    """A self-signed client certificate and key (PEM) in ``directory``; return their paths."""
    cert, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "7", "-subj", f"/CN={cn or name}"],
                   check=True, capture_output=True)
    return cert, key


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


def remove_tree(path: str) -> None:
    """Stop the daemons recorded below ``path``, unmount and delete it."""
    if not os.path.isdir(path):
        return
    for root, _dirs, files in os.walk(path):
        if "daemon.pid" in files:
            pid = _read_int(os.path.join(root, "daemon.pid"))
            if pid and _pid_alive(pid):
                _kill_group(pid)
    _unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


def clean_stale() -> None:
    """Remove the directories (and stop the daemons) of every owner process that no longer runs.

    Directories of live owners - another pytest session running at the same time - are left alone.
    Call it holding ``harness.lock`` (see :class:`LxdCluster`).
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

    def start(self) -> None:
        """Start the daemon and wait until it answers."""
        os.makedirs(self.lxd_dir, exist_ok=True)
        log = open(os.path.join(self.root, "daemon.out"), "ab")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen([self.lxd, "--logfile", os.path.join(self.root, "lxd.log")], env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        with open(os.path.join(self.root, "daemon.pid"), "w", encoding="ascii") as handle:
            handle.write(str(self.process.pid))
        ready = subprocess.run([self.lxd, "waitready", "--timeout", "60"], env=self.env, capture_output=True, text=True, check=False)
        if ready.returncode or not self.running:
            self.kill()
            with open(os.path.join(self.root, "lxd.log"), encoding="utf-8", errors="replace") as handle:
                tail = handle.read()[-1500:]
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
        return json.loads(self.lxc("query", "/1.0/resources"))

    def create(self, name: str, cpu: str | int | None = None, memory: str | None = None, project: str | None = None) -> None:
        """Create an empty container with the given limits."""
        args = ["init", "--empty", name]
        if project:
            args += ["--project", project]
        if cpu is not None:
            args += ["-c", f"limits.cpu={cpu}"]
        if memory is not None:
            args += ["-c", f"limits.memory={memory}"]
        self.lxc(*args)

    def delete(self, name: str, project: str | None = None) -> None:
        """Delete an instance."""
        self.lxc("delete", "--force", name, *(["--project", project] if project else []))

    def create_project(self, name: str) -> None:
        """A project that shares the default project's profiles (so instances get the root disk)."""
        self.lxc("project", "create", name, "-c", "features.profiles=false", "-c", "features.images=false")

    def clear(self) -> None:
        """Delete every instance and every project but ``default``."""
        for line in self.lxc("list", "--all-projects", "--format", "csv", "-c", "en").splitlines():
            if line.strip():
                project, name = line.split(",")[:2]
                self.delete(name, project)
        for line in self.lxc("project", "list", "--format", "csv").splitlines():
            project = line.split(",")[0].split(" ")[0]
            if project and project != "default":
                self.lxc("project", "delete", project)


class LxdCluster:
    """Several independent daemons of one pytest worker, and the client certificate they trust."""

    def __init__(self, worker: str, count: int = 2):
        self.lxd = require("lxd", "lxd")
        self.lxc = require("lxc", "lxd")
        if os.geteuid() != 0:
            raise Unavailable("LXD daemons need root")
        self.root = os.path.join(BASE, f"{worker}-{os.getpid()}")
        os.makedirs(BASE, exist_ok=True)
        with open(os.path.join(BASE, "harness.lock"), "w", encoding="ascii") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a directory gets its owner before anyone looks for stale ones
            clean_stale()
            remove_tree(self.root)
            os.makedirs(self.root)
            with open(os.path.join(self.root, "owner.pid"), "w", encoding="ascii") as handle:
                handle.write(str(os.getpid()))
        self.client_cert, self.client_key = make_certificate(self.root, "client", "lxd-multi-scheduler-tests")
        self.daemons = [LxdDaemon(self.root, f"lxd{index + 1}", self.lxd, self.lxc) for index in range(count)]
        try:
            for daemon in self.daemons:
                daemon.start()
                daemon.setup(self.client_cert)
        except BaseException:
            self.close()
            raise

    def hosts(self, **extra) -> list[dict]:
        """``LXD_MULTI_HOSTS`` entries for the daemons (server certificates pinned); ``extra[name]`` adds keys."""
        return [
            {"host": d.url, "client_cert": self.client_cert, "client_key": self.client_key, "name": d.name,
             "server_cert": d.server_cert, **extra.get(d.name, {})}
            for d in self.daemons
        ]

    def reset(self) -> None:
        """Every daemon running and empty."""
        for daemon in self.daemons:
            if not daemon.running:
                daemon.start()
            daemon.clear()

    def close(self) -> None:
        """Stop the daemons and remove their directories."""
        for daemon in self.daemons:
            daemon.stop()
            daemon.kill()
        remove_tree(self.root)


class RedisServer:
    """A private redis-server on a free loopback port, without persistence."""

    def __init__(self, directory: str):
        binary = require("redis-server", "redis-server")
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        for _attempt in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            if self._wait():
                return
            self.stop()
        raise Unavailable("redis-server did not start on a free port")

    @property
    def url(self) -> str:
        """``redis://`` URL of the server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Terminate the server."""
        terminate(self.process)
