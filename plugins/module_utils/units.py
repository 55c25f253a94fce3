# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Size parsing for memory and disks.

One convention for the whole collection:

* a bare number uses the caller's default unit (MiB for memory, GiB for disks);
* ``K``, ``M``, ``G``, ``T``, ``P`` with or without ``i``/``iB`` are binary (``4G`` = ``4GiB`` = 4096 MiB);
* ``KB``, ``MB``, ``GB``, ``TB``, ``PB`` are decimal (``20GB`` = 20 * 1000**3 bytes, MAAS's compose unit);
* ``B`` is bytes.

Letters are case-insensitive; spaces between number and unit are allowed.
MAAS itself counts memory in MiB and compose storage in decimal GB, so the helpers
below also format sizes for MAAS.
"""

from __future__ import annotations

import decimal
import re

MIB = 1024 ** 2
GIB = 1024 ** 3
GB = 1000 ** 3

_PREFIXES = "KMGTP"
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(?:([KMGTP])(I?)(B?)|(B))?\s*$", re.IGNORECASE)


class SizeError(ValueError):
    """A size string that cannot be understood; the message names the value and the accepted forms."""


def parse_size(value, default_unit: int, what: str = "size") -> int:
    """Return ``value`` in bytes.

    ``default_unit`` is the byte multiplier applied to a bare number (for example ``MIB``).
    ``what`` names the option in error messages. Fractions are allowed (``1.5G``); the result
    is rounded down to a whole byte. Zero, negative and malformed values raise ``SizeError``.
    """
    if isinstance(value, bool) or value is None:
        raise SizeError("%s must be a size such as 4096, 4G or 4GiB, not %r" % (what, value))
    if isinstance(value, (int, float)):
        text = repr(value)
    else:
        text = str(value)
    match = _SIZE_RE.match(text)
    if not match:
        raise SizeError(
            "%s %r is not a size: use a number with an optional unit, for example 4096, 4096M, 4G, 4GiB or 20GB "
            "(K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000)" % (what, text.strip())
        )
    number_text, prefix, binary_i, byte_b, bare_b = match.groups()
    number = decimal.Decimal(number_text)
    if bare_b:
        multiplier = 1
    elif prefix:
        power = _PREFIXES.index(prefix.upper()) + 1
        decimal_unit = byte_b and not binary_i
        multiplier = (1000 if decimal_unit else 1024) ** power
    else:
        multiplier = default_unit
    size = int(number * multiplier)
    if size <= 0:
        raise SizeError("%s %r must be greater than zero" % (what, text.strip()))
    return size


def parse_memory_mib(value, what: str = "memory", minimum: int = 0) -> int:
    """Return a memory size in whole MiB (MAAS's memory unit); a bare number is MiB.

    ``minimum`` (MiB) is checked too, with an error that says where the minimum comes from.
    """
    size = parse_size(value, MIB, what)
    if size % MIB:
        raise SizeError(
            "%s %r is not a whole number of MiB (%d bytes); MAAS counts memory in MiB, "
            "use for example %dM or %dM" % (what, str(value).strip(), size, size // MIB, size // MIB + 1)
        )
    mib = size // MIB
    if mib < minimum:
        raise SizeError("%s %r is %d MiB, below the minimum of %d MiB" % (what, str(value).strip(), mib, minimum))
    return mib


def parse_disk_bytes(value, what: str = "disk size") -> int:
    """Return a disk size in bytes; a bare number is GiB."""
    return parse_size(value, GIB, what)


def maas_gb(size_bytes: int) -> str:
    """Format bytes as the decimal GB number of MAAS's ``storage`` constraints, exact to the byte.

    MAAS reads it as ``int(float(size) * 1000**3)``, which truncates: 30 GiB written as
    ``32.21225472`` comes back one byte short, so such sizes are written half a byte up
    (``32.2122547205``), which truncates to the exact size.
    """
    for text in ("%.9f" % (decimal.Decimal(size_bytes) / GB), "%.10f" % ((decimal.Decimal(size_bytes) + decimal.Decimal("0.5")) / GB)):
        text = text.rstrip("0").rstrip(".")
        if int(float(text) * GB) == size_bytes:
            return text
    raise SizeError("cannot write %d bytes exactly as decimal GB" % size_bytes)


def to_gb(size_bytes, digits: int = 2) -> float:
    """Bytes as decimal GB rounded for display."""
    return round(float(size_bytes) / GB, digits)


def same_size(actual: int, wanted: int, tolerance: float = 0.01) -> bool:
    """Whether two disk sizes match within ``tolerance`` (relative).

    Hypervisors and MAAS's commissioning round disk sizes (block size, storage driver
    allocation units), so an exact comparison would report drift on every run.
    """
    if wanted <= 0:
        return actual == wanted
    return abs(int(actual) - int(wanted)) <= wanted * tolerance
