"""IP range bookkeeping with purposes, as MAAS's ``MAASIPSet`` does it.

MAAS builds a subnet's "in use" set from the gateway, DNS servers, assigned
addresses and IP ranges, condenses it (overlapping ranges merge and pool their
purposes, adjacent ranges with the same purposes join), and derives the unused
ranges from it, skipping the network and broadcast addresses of IPv4 networks
(``provisioningserver/utils/network.py``). The algorithms here follow that
behaviour so ``reserved_ip_ranges``, ``unreserved_ip_ranges``, ``statistics``
and address allocation give the answers MAAS gives.
"""

from __future__ import annotations

import dataclasses
import ipaddress


@dataclasses.dataclass(frozen=True)
class IPSpan:
    """An inclusive range of integer addresses with a set of purposes."""

    first: int
    last: int
    purposes: frozenset = frozenset()
    version: int = 4

    @property
    def size(self) -> int:
        """Number of addresses."""
        return self.last - self.first + 1

    def start(self) -> str:
        """First address as text."""
        return address_text(self.first, self.version)

    def end(self) -> str:
        """Last address as text."""
        return address_text(self.last, self.version)

    def __contains__(self, value: int) -> bool:
        return self.first <= value <= self.last

    def render(self, include_purpose: bool = True) -> dict:
        """MAAS ``MAASIPRange.render_json``."""
        data = {"start": self.start(), "end": self.end(), "num_addresses": self.size}
        if include_purpose:
            data["purpose"] = sorted(self.purposes)
        return data


def address_text(value: int, version: int) -> str:
    """Integer address to text."""
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def span(start, end=None, purpose: str | None = None) -> IPSpan:
    """Build a span from address text (``end`` defaults to ``start``)."""
    first = ipaddress.ip_address(start)
    last = ipaddress.ip_address(end) if end is not None else first
    return IPSpan(int(first), int(last), frozenset({purpose}) if purpose else frozenset(), first.version)


def condense(spans) -> list[IPSpan]:
    """Sort, merge overlapping spans (pooling purposes) and join adjacent spans with equal purposes."""
    ordered = sorted(spans, key=lambda item: (item.first, item.last))
    merged: list[IPSpan] = []
    for item in ordered:
        if merged:
            previous = merged[-1]
            if previous.first <= item.first <= previous.last or previous.first <= item.last <= previous.last:
                merged[-1] = IPSpan(
                    min(item.first, previous.first),
                    max(item.last, previous.last),
                    previous.purposes | item.purposes,
                    item.version,
                )
                continue
        merged.append(item)
    joined: list[IPSpan] = []
    for item in merged:
        if joined and item.first == joined[-1].last + 1 and item.purposes == joined[-1].purposes:
            joined[-1] = IPSpan(joined[-1].first, item.last, item.purposes, item.version)
        else:
            joined.append(item)
    return joined


def network_bounds(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    """Usable first/last address of a network (network and IPv4 broadcast excluded)."""
    first, last = int(network.network_address), int(network.broadcast_address)
    small = (network.version == 4 and network.prefixlen in (31, 32)) or (network.version == 6 and network.prefixlen in (127, 128))
    if not small:
        first += 1
        if network.version == 4:
            last -= 1
    return first, last


def unused(in_use: list[IPSpan], network, purpose: str = "unused") -> list[IPSpan]:
    """The gaps between ``in_use`` spans inside ``network`` (``MAASIPSet.get_unused_ranges``)."""
    start, end = network_bounds(network)
    gaps = []
    candidate = start
    for used in in_use:
        if used.first - 1 >= candidate:
            gaps.append(IPSpan(candidate, used.first - 1, frozenset({purpose}), network.version))
        candidate = max(candidate, used.last + 1)
    if end >= candidate:
        gaps.append(IPSpan(candidate, end, frozenset({purpose}), network.version))
    return gaps


def full_range(in_use: list[IPSpan], network) -> list[IPSpan]:
    """``in_use`` plus the unused gaps, condensed (``MAASIPSet.get_full_range``)."""
    return condense(list(in_use) + unused(in_use, network))


def statistics(full: list[IPSpan], include_ranges: bool = False, include_suggestions: bool = False) -> dict:
    """MAAS ``IPRangeStatistics.render_json`` for a full range."""
    available = sum(item.size for item in full if "unused" in item.purposes)
    unavailable = sum(item.size for item in full if "unused" not in item.purposes)
    largest = max((item.size for item in full if "unused" in item.purposes), default=0)
    total = available + unavailable
    version = full[-1].version if full else 4
    usage = float(unavailable) / float(total) if total else 0.0
    data = {
        "num_available": available,
        "largest_available": largest,
        "num_unavailable": unavailable,
        "total_addresses": total,
        "usage": usage,
        "usage_string": f"{usage:.0%}",
        "available_string": f"{(1.0 - usage) if total else 0.0:.0%}",
        "first_address": full[0].start() if full else None,
        "last_address": full[-1].end() if full else None,
        "ip_version": version,
    }
    if include_ranges:
        data["ranges"] = [item.render() for item in full]
    if include_suggestions:
        gateway = _suggested_gateway(full, version, total)
        data["suggested_gateway"] = gateway if not any("gateway-ip" in item.purposes for item in full) else None
        data["suggested_dynamic_range"] = (
            None if any("dynamic" in item.purposes for item in full) else _suggested_dynamic(full, data["suggested_gateway"], total, available)
        )
    return data


def _suggested_gateway(full: list[IPSpan], version: int, total: int):
    """``IPRangeStatistics.get_recommended_gateway``."""
    if not full or (version == 6 and total <= 2):
        return None
    first, last = full[0], full[-1]
    if version == 6:
        return str(ipaddress.IPv6Address(first.first - 1))
    if "unused" in first.purposes:
        return first.start()
    if "unused" in last.purposes:
        return last.end()
    for item in full:
        if "unused" in item.purposes:
            return item.start()
    return None


def _suggested_dynamic(full: list[IPSpan], gateway, total: int, available: int):
    """``IPRangeStatistics.get_recommended_dynamic_range``."""
    largest = None
    for item in full:
        if "unused" in item.purposes and (largest is None or item.size >= largest.size):
            largest = item
    if largest is None or (gateway is not None and largest.size == 1):
        return None
    first, last = largest.first, largest.last
    if gateway is not None:
        value = int(ipaddress.ip_address(gateway))
        if value == first:
            first += 1
        elif value == last:
            last -= 1
    size = last - first + 1
    quarter, half = total >> 2, available >> 1
    if size > quarter:
        first = last - quarter
    elif size >= half:
        first = last - half + 1
    if first >= last:
        return None
    return IPSpan(first, last, frozenset({"proposed-dynamic"}), largest.version).render()
