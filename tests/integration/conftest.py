"""Fixtures for integration tests that talk to maas-sim over real HTTP.

* ``maas_sim`` (module scope): one ``SimServer`` per test module, running the
  default scenario with ``SimServer.FAST_TIMINGS`` (sub-second transitions).
  An autouse function fixture resets it (scenario reloaded, faults cleared)
  before every test that uses ``maas_sim``, so tests do not see each other's
  changes; the request log is kept, use ``maas_sim.seq()`` to mark a point.
* ``maas_sim40`` (module scope): the same for MAAS 4.0 mode (no VM hosts; the
  packaged ``maas40.yml`` scenario with LXD host machines tagged ``lxd-host``).
* ``sim_factory`` (function scope): ``sim_factory(scenario=..., state=...,
  api_key=..., timings=..., extra_args=...)`` starts more servers; all are
  stopped at the end of the test.
* ``lxd_vm_cluster`` (session): three real LXD daemons per xdist worker that can
  hold ``virtual-machine`` instances (``lxdvm.py``); ``lxd_vms`` is the same
  cluster with every daemon emptied before the test. Both skip, with the
  reason, where the machine cannot run them (not root and packages missing).
* ``direct_site`` (module) / ``direct`` (reset before the test): maas-sim 4.0
  whose LXD-host machines are those daemons (``directsite.py``), for direct mode.
* ``maas_target`` (function; ``live_target`` per session): the MAAS of the tests marked ``live``
  (``live.py``): a live MAAS named by the environment under ``make integration-live``, else a
  maas-sim of their own. Everything a test names with ``maas_target.name(...)`` is removed after
  it, passed or failed. Against a live MAAS the fixtures above skip (they need ``/_sim/``) and
  tests not marked ``live`` are deselected.

Each server picks a free port, so ``pytest -n N`` workers never collide.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from directsite import DirectSite  # noqa: E402  pylint: disable=wrong-import-position
from live import LiveRefused, LiveSettings, MaasTarget, live_mode, one_test, settings_from_env  # noqa: E402  pylint: disable=wrong-import-position
from lxdprocs import running_group  # noqa: E402  pylint: disable=wrong-import-position
from lxdvm import LxdVmCluster  # noqa: E402  pylint: disable=wrong-import-position
from simharness import SimServer  # noqa: E402  pylint: disable=wrong-import-position


LIVE = live_mode()


def pytest_configure(config):
    """Against a live MAAS: refuse to start unless the environment names and confirms the target."""
    config.addinivalue_line("markers", "live: runs against any MAAS, needs no /_sim/ control (make integration-live)")
    if LIVE:
        try:
            settings_from_env()
        except LiveRefused as exc:
            pytest.exit(str(exc), returncode=2)


def pytest_collection_modifyitems(config, items):
    """Against a live MAAS only the tests marked ``live`` run."""
    if not LIVE:
        return
    keep = [item for item in items if item.get_closest_marker("live")]
    dropped = [item for item in items if not item.get_closest_marker("live")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _needs_sim(what):
    """Skip: against a live MAAS there is no maas-sim to start or drive through /_sim/."""
    if LIVE:
        pytest.skip("%s needs maas-sim's /_sim/ admin API: not run against a live MAAS" % what)


@pytest.fixture(scope="session")
def live_target():
    """The live tests' MAAS for the session (``live.MaasTarget``): the environment's, or a maas-sim started here."""
    sim = None
    if LIVE:
        settings = settings_from_env()
    else:
        sim = SimServer(timings=SimServer.FAST_TIMINGS)
        settings = LiveSettings(sim.url, sim.api_key, zone="az1", pool="default")
    try:
        target = MaasTarget(settings, sim)
        yield target
        target.finish()
    finally:
        if sim is not None:
            sim.close()


@pytest.fixture
def maas_target(live_target):
    """``live_target`` with a fresh name prefix; what carries it is swept after the test, passed or failed."""
    with one_test(live_target) as target:
        yield target


@pytest.fixture(scope="module")
def maas_sim():
    """A maas-sim server (default scenario, fast timings) shared by one test module."""
    _needs_sim("maas_sim")
    server = SimServer(timings=SimServer.FAST_TIMINGS)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def maas_sim40():
    """A maas-sim server in MAAS 4.0 mode (no VM hosts; its packaged 4.0 scenario, fast timings) shared by one test module."""
    _needs_sim("maas_sim40")
    from maas_sim.scenario import DEFAULT_SCENARIO_40  # pylint: disable=import-outside-toplevel

    with SimServer(scenario=DEFAULT_SCENARIO_40, timings=SimServer.FAST_TIMINGS) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_maas_sim(request):
    """Reset the module's maas-sim (3.6 or 4.0) before each test that uses it."""
    for name in ("maas_sim", "maas_sim40"):
        if name in request.fixturenames:
            server = request.getfixturevalue(name)
            server.reset()
            server.clear_faults()


@pytest.fixture
def sim_factory():
    """Start extra maas-sim servers; they are stopped when the test ends."""
    _needs_sim("sim_factory")
    servers = []

    def start(scenario=None, state=None, api_key=None, extra_args=(), timings=None):
        server = SimServer(scenario=scenario, state=state, api_key=api_key, extra_args=extra_args, timings=timings)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.close()


@pytest.fixture(scope="session")
def lxd_vm_cluster(request):
    """Three VM-capable LXD daemons of this xdist worker (skips with the reason when they cannot run here)."""
    _needs_sim("lxd_vm_cluster")
    with running_group(LxdVmCluster, request.config, "no VM-capable LXD", count=3) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def direct_site(lxd_vm_cluster, tmp_path_factory):
    """maas-sim 4.0 whose LXD-host machines (one per zone) are the VM-capable daemons (``directsite.DirectSite``)."""
    site = DirectSite(lxd_vm_cluster, tmp_path_factory.mktemp("direct-site"))
    try:
        yield site
    finally:
        site.close()


@pytest.fixture
def direct(direct_site):
    """The direct-mode site, reset: empty daemons trusting only the test client, maas-sim back to its scenario."""
    direct_site.reset()
    return direct_site


@pytest.fixture
def lxd_vms(lxd_vm_cluster):
    """The VM-capable daemons, running and without instances, volumes, extra profiles or projects."""
    lxd_vm_cluster.reset()
    return lxd_vm_cluster
