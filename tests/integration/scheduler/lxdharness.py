"""Real LXD daemons (and a real redis-server) for the scheduler's integration tests.

The daemons are ``lxdprocs``'s (one ``LXD_DIR``, HTTPS port, ``dir`` pool and trusted client
certificate each, per pytest-xdist worker; stale ones of crashed runs cleaned). LXD cannot run VMs
for the scheduler's tests (``lxdvm.py`` has daemons that can hold them), so instances here are empty
containers (``lxc init --empty``) with ``limits.cpu``/``limits.memory``: LXD stores and reports them
exactly as for running instances.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

# tests/integration: pytest puts it on sys.path (its conftest), a benchmark may not have.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lxdprocs import (  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
    DaemonGroup,
    LxdDaemon,
    Unavailable,
    free_port,
    make_certificate,
    require,
    terminate,
)


class ContainerDaemon(LxdDaemon):
    """A daemon of the scheduler's tests: instances are empty containers with limits."""

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


class LxdCluster(DaemonGroup):
    """Several independent daemons of one pytest worker, and the client certificate they trust."""

    daemon_class = ContainerDaemon
    certificate_cn = "lxd-multi-scheduler-tests"

    def hosts(self, **extra) -> list[dict]:
        """``LXD_MULTI_HOSTS`` entries for the daemons (server certificates pinned); ``extra[name]`` adds keys."""
        return [
            {"host": d.url, "client_cert": self.client_cert, "client_key": self.client_key, "name": d.name,
             "server_cert": d.server_cert, **extra.get(d.name, {})}
            for d in self.daemons
        ]

    def shoes_hosts(self) -> list[dict]:
        """An unchanged shoes-lxd-multi ``LXD_MULTI_HOSTS`` list: ``host``, ``client_cert``, ``client_key`` only (no server certificate)."""
        return [{"host": d.url, "client_cert": self.client_cert, "client_key": self.client_key} for d in self.daemons]


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
