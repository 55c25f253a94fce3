"""How LXD instance limits are counted as allocation."""

from __future__ import annotations

import pytest

from lxd_multi_scheduler.lxd import MIB, LimitError, instance_usage, parse_cpu_limit, parse_memory_limit

GIB = 1024 * MIB


@pytest.mark.parametrize("value, cores", [
    ("1", 1), ("4", 4), (" 8 ", 8),            # a count
    ("0-3", 4), ("0-3,6", 5), ("0,2", 2),      # a set of pinned CPUs
    ("2-2", 1), ("0-1,1-2", 3),                # overlapping ranges count each CPU once
])
def test_cpu_limit_counts_and_sets(value, cores):
    assert parse_cpu_limit(value) == cores


@pytest.mark.parametrize("value, message", [
    ("0", "not a positive count"),
    ("two", "neither a count nor a CPU set"),
    ("1.5", "neither a count nor a CPU set"),
    ("3-1", "reversed range '3-1'"),
    ("0-3,", "neither a count nor a CPU set"),
])
def test_cpu_limit_errors_name_the_value(value, message):
    with pytest.raises(LimitError, match=message):
        parse_cpu_limit(value)


@pytest.mark.parametrize("value, expected", [
    ("2GiB", 2 * GIB),
    ("512MiB", 512 * MIB),
    ("512MB", 512 * 1000**2),        # LXD: MB is decimal
    ("1GB", 1000**3),
    ("1024kB", 1024 * 1000),
    ("1073741824", GIB),             # bare number: bytes
    ("100B", 100),
    ("50%", 8 * GIB),                # of the host's 16 GiB
    ("12.5%", 2 * GIB),
])
def test_memory_limit_in_lxd_units(value, expected):
    assert parse_memory_limit(value, 16 * GIB) == expected


@pytest.mark.parametrize("value", ["lots", "-1GiB", "5%%", "GiB"])
def test_memory_limit_errors(value):
    with pytest.raises(LimitError, match="limits.memory"):
        parse_memory_limit(value, 16 * GIB)


def test_limited_container_counts_its_limits():
    usage = instance_usage({"type": "container", "expanded_config": {"limits.cpu": "0-1", "limits.memory": "1GiB"}}, 16 * GIB)
    assert (usage.cores, usage.memory, usage.limited) == (2, GIB, True)


def test_expanded_config_wins_over_local_config():
    """Limits set in a profile appear only in expanded_config."""
    instance = {"type": "container", "config": {}, "expanded_config": {"limits.cpu": "3"}}
    assert instance_usage(instance, 16 * GIB).cores == 3


def test_vm_without_limits_counts_lxd_defaults():
    usage = instance_usage({"type": "virtual-machine", "expanded_config": {}}, 16 * GIB)
    assert (usage.cores, usage.memory, usage.limited) == (1, GIB, False)


def test_container_without_limits_counts_the_configured_defaults():
    instance = {"type": "container", "expanded_config": {"limits.cpu": "2"}}
    assert instance_usage(instance, 16 * GIB) == instance_usage(instance, 16 * GIB, 0, 0)
    usage = instance_usage(instance, 16 * GIB, container_cores=1, container_memory=256 * MIB)
    assert (usage.cores, usage.memory, usage.limited) == (2, 256 * MIB, False)
    bare = instance_usage({"type": "container", "expanded_config": {}}, 16 * GIB, container_cores=1, container_memory=256 * MIB)
    assert (bare.cores, bare.memory) == (1, 256 * MIB)
