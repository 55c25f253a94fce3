"""Unit-test fixtures of lxd-multi-scheduler: settings, scripted LXD states, an in-process HTTP server.

The LXD servers are replaced by :class:`ScriptedLxd`, which hands the inventory the
``ServerState`` each test sets (the real reads are covered by tests/integration/scheduler
against real LXD daemons). Everything above it - inventory, reservations, placement core,
FastAPI app, uvicorn - is the real code.
"""

from __future__ import annotations

import collections
import socket
import threading
import time

import pytest
import uvicorn

from lxd_multi_scheduler.api import create_app
from lxd_multi_scheduler.config import load_settings
from lxd_multi_scheduler.inventory import Inventory
from lxd_multi_scheduler.lxd import LxdError, ServerState
from lxd_multi_scheduler.reservations import MemoryStore


class ScriptedLxd:
    """Server states by name; counts reads; a name in ``down`` raises like an unreachable server."""

    def __init__(self):
        self.states: dict[str, dict] = {}
        self.down: dict[str, str] = {}
        self.reads = collections.Counter()

    def set(self, name, total_cores=8, total_memory=16384, used_cores=0, used_memory=0, instances=()):
        """Define what the next read of ``name`` returns."""
        self.states[name] = {"total_cores": total_cores, "total_memory": total_memory, "used_cores": used_cores,
                             "used_memory": used_memory, "instances": frozenset(instances)}

    def read(self, name):
        """What a read of ``name`` gives."""
        self.reads[name] += 1
        if name in self.down:
            raise LxdError(self.down[name])
        return ServerState(name=name, url=f"https://{name}.test:8443", ok=True, fetched_at=time.time(), **self.states[name])

    def inventory(self, settings):
        """An inventory whose readers are this script."""
        readers = {host.label: (host.host, lambda name=host.label: self.read(name)) for host in settings.hosts}
        return Inventory(readers, settings.cache_ttl)


@pytest.fixture
def lxd():
    """A :class:`ScriptedLxd` with ``lxd1`` and ``lxd2`` (8 cores, 16 GiB, nothing allocated)."""
    script = ScriptedLxd()
    script.set("lxd1")
    script.set("lxd2")
    return script


@pytest.fixture
def cert_files(tmp_path):
    """Paths of a client certificate and key (contents unused: nothing is read from LXD)."""
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_text("cert\n")
    key.write_text("key\n")
    return str(cert), str(key)


@pytest.fixture
def make_settings(cert_files):
    """``make_settings(names=("lxd1", "lxd2"), hosts_extra={name: {...}}, **settings)`` -> Settings."""

    def make(names=("lxd1", "lxd2"), hosts_extra=None, **overrides):
        cert, key = cert_files
        hosts = [{"host": f"https://{name}.test:8443", "client_cert": cert, "client_key": key, "name": name,
                  **(hosts_extra or {}).get(name, {})} for name in names]
        return load_settings(env={}, hosts=hosts, **overrides)

    return make


class Served:
    """An ASGI app served by uvicorn in a thread on a free loopback port."""

    def __init__(self, app, **config):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, **config))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self):
        """Shut the server down."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve():
    """``serve(app) -> base URL``; stopped after the test."""
    running = []

    def start(app, **config):
        served = Served(app, **config)
        running.append(served)
        return served.url

    yield start
    for served in running:
        served.stop()


@pytest.fixture
def start(lxd, make_settings, serve):
    """``start(**settings) -> base URL`` of a scheduler over the scripted servers."""

    def run(**overrides):
        settings = make_settings(**overrides)
        return serve(create_app(settings, lxd.inventory(settings), MemoryStore()))

    return run
