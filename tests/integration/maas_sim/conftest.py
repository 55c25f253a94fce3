"""Fixtures of the maas-sim tests: signed API clients for the admin and the non-admin user."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simapi import Api  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def api(maas_sim):
    """Client signed with the admin key."""
    return Api(maas_sim.url, maas_sim.api_key)


@pytest.fixture
def user_api(maas_sim):
    """Client signed with the non-admin user's key."""
    return Api(maas_sim.url, maas_sim.user_api_key)


@pytest.fixture
def anon(maas_sim):
    """Unsigned client."""
    return Api(maas_sim.url, None)


@pytest.fixture
def api40(maas_sim40):
    """Admin client of the 4.0 server."""
    return Api(maas_sim40.url, maas_sim40.api_key)


@pytest.fixture(scope="module")
def lxd_daemons(request):
    """One real LXD daemon of this xdist worker (``tests/integration/scheduler/lxdharness.py``), emptied per test.

    The cluster gets its own directory name so that it never meets the scheduler tests' daemons.
    """
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scheduler"))
    from lxdharness import LxdCluster, Unavailable  # pylint: disable=import-outside-toplevel

    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    try:
        cluster = LxdCluster(f"{worker}-maas-sim", count=1)
    except Unavailable as exc:
        pytest.skip(f"no LXD: {exc}")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def lxd(lxd_daemons):
    """The daemon, running and without instances."""
    lxd_daemons.reset()
    return lxd_daemons.daemons[0]
