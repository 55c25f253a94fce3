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
