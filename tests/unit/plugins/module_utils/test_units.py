"""Size parsing: one convention for memory and disks (plugins/module_utils/units.py)."""

from __future__ import annotations

import pytest

from ansible_collections.lxdcp.maas.plugins.module_utils import units


@pytest.mark.parametrize(
    "value, mib",
    [
        (4096, 4096),
        ("4096", 4096),
        ("4096M", 4096),
        ("4096MiB", 4096),
        ("4G", 4096),
        ("4g", 4096),
        ("4GiB", 4096),
        ("4Gi", 4096),
        (" 4 GiB ", 4096),
        ("1.5G", 1536),
        ("1T", 1024 * 1024),
        ("1048576K", 1024),
        ("1073741824B", 1024),
    ],
)
def test_memory_forms(value, mib):
    assert units.parse_memory_mib(value) == mib


@pytest.mark.parametrize(
    "value, message",
    [
        ("lots", "is not a size"),
        ("4X", "is not a size"),
        ("-1G", "is not a size"),
        ("4 G B", "is not a size"),
        ("", "is not a size"),
        (True, "must be a size"),
        (None, "must be a size"),
        ("0", "greater than zero"),
        ("4GB", "not a whole number of MiB"),
        ("1.1G", "not a whole number of MiB"),
    ],
)
def test_memory_errors_name_the_value_and_the_forms(value, message):
    with pytest.raises(units.SizeError, match=message):
        units.parse_memory_mib(value)


def test_memory_minimum_is_explained():
    with pytest.raises(units.SizeError, match=r"'512' is 512 MiB, below the minimum of 1024 MiB"):
        units.parse_memory_mib("512", minimum=1024)
    assert units.parse_memory_mib("1G", minimum=1024) == 1024


@pytest.mark.parametrize(
    "value, size",
    [
        (20, 20 * units.GIB),
        ("20", 20 * units.GIB),
        ("20G", 20 * units.GIB),
        ("20GiB", 20 * units.GIB),
        ("20GB", 20 * units.GB),
        ("512M", 512 * units.MIB),
        ("1.5T", int(1.5 * 1024 ** 4)),
        ("1TB", 1000 ** 4),
    ],
)
def test_disk_sizes(value, size):
    assert units.parse_disk_bytes(value) == size


@pytest.mark.parametrize(
    "size, text",
    [
        (20 * units.GB, "20"),
        (20 * units.GIB, "21.47483648"),
        (30 * units.GIB, "32.2122547205"),  # "32.21225472" would be read as one byte less
        (1, "0.000000001"),
        (1500 * units.GB // 1000, "1.5"),
    ],
)
def test_maas_gb_is_exact_to_the_byte(size, text):
    assert units.maas_gb(size) == text
    # MAAS parses storage sizes with int(float(size) * 1000**3) (node_constraint_filter_forms.py).
    assert int(float(text) * units.GB) == size


@pytest.mark.parametrize("gib", range(1, 2049, 7))
def test_maas_gb_round_trips_through_maas_parsing(gib):
    size = gib * units.GIB + gib * 4096
    assert int(float(units.maas_gb(size)) * units.GB) == size


def test_display_conversions():
    assert units.to_gb(21474836480) == 21.47


def test_same_size_tolerates_rounding_but_not_real_change():
    wanted = 20 * units.GIB
    assert units.same_size(wanted, wanted)
    assert units.same_size(wanted - 4 * units.MIB, wanted)
    assert not units.same_size(30 * units.GIB, wanted)
    assert not units.same_size(19 * units.GIB, wanted)
