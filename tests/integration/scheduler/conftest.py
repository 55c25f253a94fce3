"""Fixtures of the scheduler's integration tests: real LXD daemons, redis-server, scheduler processes."""

from __future__ import annotations

import pytest

from lxdharness import LxdCluster, RedisServer, Unavailable
from lxdprocs import running_group
from schedharness import SchedulerProcess


@pytest.fixture(scope="session")
def lxd_cluster(request):
    """Two LXD daemons of this xdist worker (skips with the reason when LXD cannot run here)."""
    with running_group(LxdCluster, request.config, "no LXD") as cluster:
        yield cluster


@pytest.fixture
def lxd(lxd_cluster):
    """The two daemons, running and without instances."""
    lxd_cluster.reset()
    return lxd_cluster


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A private redis-server (skips with the reason when it cannot run here)."""
    try:
        server = RedisServer(str(tmp_path_factory.mktemp("redis")))
    except Unavailable as exc:
        pytest.skip(f"no redis-server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def start_scheduler(tmp_path):
    """``start_scheduler(hosts, config=None, env=None, name="sched")`` -> a running :class:`SchedulerProcess`."""
    started = []

    def start(hosts, config=None, env=None, name="sched"):
        process = SchedulerProcess(str(tmp_path), hosts, config, env, name)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
