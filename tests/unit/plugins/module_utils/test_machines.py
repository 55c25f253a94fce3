"""machines.preferred_address: the one rule for the address a machine is reached at (inventory and deploy role)."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils.machines import machine_view, preferred_address
from ansible_collections.lxdcp.maas.tests.unit.plugins.maasdata import interface, link, machine, subnet

OTHER_NET = subnet("10.20.0.0/24", subnet_id=2, gateway="10.20.0.1")


def three_links():
    """A machine with an auto address and a static one in 10.10.0.0/24 and an auto one in 10.20.0.0/24."""
    links = [link(11, "auto", "10.10.0.50"), link(12, "static", "10.10.0.101"), link(13, "auto", "10.20.0.7", OTHER_NET)]
    return machine("a1", "cp-1", interfaces=[interface(1, system_id="a1", links=links)])


# Each case holds for a MAAS machine object and for the machine as the modules return it (machine_view).
CASES = [
    # (preferred_subnets, planned, expected)
    ((), None, "10.10.0.101"),  # the static (sticky) one before the first
    (["10.20.0.0/24"], None, "10.20.0.7"),
    (["192.168.0.0/24", "10.10.0.0/24"], None, "10.10.0.50"),  # the first link on the first subnet it has one on
    (["192.168.0.0/24"], None, "10.10.0.101"),
    ((), "10.10.0.50", "10.10.0.50"),  # planned and the machine has it: before the static one
    (["10.20.0.0/24"], "10.10.0.50", "10.20.0.7"),  # a preferred subnet before planned
    ((), "10.10.0.99", "10.10.0.101"),  # planned but not the machine's: not chosen
    ((), "", "10.10.0.101"),
]


@pytest.mark.parametrize("shape", ["maas", "view"])
@pytest.mark.parametrize("subnets, planned, expected", CASES)
def test_the_order(shape, subnets, planned, expected):
    data = three_links() if shape == "maas" else machine_view(three_links())
    assert preferred_address(data, subnets, planned) == expected


@pytest.mark.parametrize("shape", ["maas", "view"])
def test_without_a_static_address_the_first_one(shape):
    data = machine("a2", "cp-2", interfaces=[interface(1, system_id="a2", links=[
        link(11, "auto", "10.10.0.9"), link(12, "auto", "10.20.0.9", OTHER_NET)])])
    data = data if shape == "maas" else machine_view(data)
    assert preferred_address(data) == "10.10.0.9"
    assert preferred_address(data, ["10.30.0.0/24"], planned="10.10.0.77") == "10.10.0.9"


def test_links_without_an_address_are_passed_over():
    data = machine("a3", "cp-3", interfaces=[interface(1, system_id="a3", links=[
        link(11, "static", None, OTHER_NET), link(12, "auto", "10.10.0.12")])])
    assert preferred_address(data, ["10.20.0.0/24"]) == "10.10.0.12"
    assert preferred_address(machine_view(data), ["10.20.0.0/24"]) == "10.10.0.12"


def test_no_address():
    bare = machine("a4", "cp-4", interfaces=[])
    assert preferred_address(bare) is None
    assert preferred_address(machine_view(bare), ["10.10.0.0/24"]) is None
    # A machine that exists without the planned address does not get it.
    assert preferred_address(bare, planned="10.10.0.4") is None


@pytest.mark.parametrize("nothing", [None, {}])
def test_no_machine_yet_gets_the_planned_address(nothing):
    """Check mode predicting a machine still to be created: what the real run gives it."""
    assert preferred_address(nothing, ["10.20.0.0/24"], planned="10.10.0.4") == "10.10.0.4"
    assert preferred_address(nothing) is None
    assert preferred_address(nothing, planned="") is None


def test_ip_addresses_order_the_fallback():
    """The first address is the first of MAAS's ip_addresses when it lists them (links otherwise)."""
    data = machine("a5", "cp-5", interfaces=[interface(1, system_id="a5", links=[link(11, "auto", "10.10.0.5")]),
                                             interface(2, name="eth1", system_id="a5",
                                                       links=[link(21, "auto", "10.20.0.5", OTHER_NET)])])
    data["ip_addresses"] = ["10.20.0.5", "10.10.0.5"]
    assert preferred_address(data) == "10.20.0.5"
    assert preferred_address(machine_view(data)) == "10.20.0.5"
    del data["ip_addresses"]
    assert preferred_address(data) == "10.10.0.5"
