# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement core: choose LXD hosts for the VMs of one cluster.

Pure Python (standard library only, no Ansible imports). The ``maas_lxd_vm`` module, the
``maas_placement`` lookup and ``lxd-multi-scheduler`` (as ``lxdcp_maas_core.placement.core``) all call
:func:`plan`. ``docs/placement.md`` describes the rules; in short:

1. Filters, in this order: resource pool, tags, zones, health of the backing machine, then room
   (cores and memory with over-commit, and the storage pool when the host reports storage).
   A host that fails one is *rejected* with a code and the numbers behind it (:class:`Problem`).
2. The N VMs are placed one at a time, reserving what each takes. Each VM goes to the zone with the
   fewest replicas of the cluster (existing ones count) - more exactly, to a zone where it keeps the
   zone spread within ``max_skew`` - and, inside that, preferably to a host without a replica
   (anti-affinity). The strategy orders the remaining ties; the host name breaks the last ones.
3. The result, a :class:`Plan`, records every decision with its codes and numbers; an impossible
   request raises :class:`PlacementError` with the tightest constraint's code and counts.

This module decides and writes no English: :mod:`.explain` words the records with a vocabulary.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import math

__all__ = [
    "Host",
    "Request",
    "Placement",
    "Problem",
    "Rejection",
    "HostTally",
    "ZoneShortfall",
    "SharedHostWarning",
    "SpreadWarning",
    "Plan",
    "PlacementError",
    "STRATEGIES",
    "REJECTION_CODES",
    "plan",
    "zone_spread",
    "free_cores",
    "free_memory",
    "free_storage",
    "storage_pool_for",
    "register_strategy",
    "json_safe",
]

#: Rejection codes, in the order the filters run.
REJECTION_CODES = ("pool", "tags", "zone", "unhealthy", "cpu", "memory", "storage")

# Capacities are rounded so that e.g. 100 cores x 0.29 is 29, not 28.999999999999996.
_CAPACITY_DIGITS = 6
# Strategy scores are rounded so that hosts that are equal on paper tie (and the next key decides).
_SCORE_DIGITS = 9


# --------------------------------------------------------------------------- input types


@dataclasses.dataclass
class Host:
    """One candidate LXD host (a MAAS VM host, or an LXD server of the scheduler).

    ``total_memory``/``used_memory`` are MiB; ``storage`` maps storage pool name to available
    bytes (``None``: storage is not tracked and not checked); ``replicas`` counts the VMs of the
    cluster being placed that already run on this host.
    """

    name: str
    total_cores: int
    used_cores: int
    total_memory: int
    used_memory: int
    zone: str = "default"
    pool: str = "default"
    tags: tuple = ()
    cpu_over_commit: float = 1.0
    memory_over_commit: float = 1.0
    storage: dict | None = None
    default_storage_pool: str | None = None
    healthy: bool = True
    health_reason: str = ""
    replicas: int = 0
    id: object = None

    @classmethod
    def from_dict(cls, data):
        """Build a host from a mapping (e.g. JSON input); unknown keys are a ``ValueError``."""
        return _from_mapping(cls, data)


@dataclasses.dataclass
class Request:
    """What to place: ``count`` VMs of ``cores`` cores, ``memory`` MiB and ``disk`` bytes each.

    ``disk`` is taken from ``storage_pool`` (else each host's default pool). ``zones=None`` means
    any zone. ``existing_zones`` counts replicas of the cluster on hosts that are not candidates
    (zone -> replicas). ``names`` optionally names the N VMs (reported in the placements).
    """

    count: int
    cores: int
    memory: int
    disk: int = 0
    storage_pool: str | None = None
    zones: list | None = None
    pool: str | None = None
    tags: tuple = ()
    strategy: str = "most-free"
    existing_zones: dict | None = None
    names: list | None = None
    max_skew: int = 1

    @classmethod
    def from_dict(cls, data):
        """Build a request from a mapping (e.g. JSON input); unknown keys are a ``ValueError``."""
        return _from_mapping(cls, data)


def _from_mapping(cls, data):
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a {cls.__name__} or a dict, got {type(data).__name__}")
    known = [field.name for field in dataclasses.fields(cls)]
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)} (known: {', '.join(known)})")
    missing = [field.name for field in dataclasses.fields(cls)
               if field.default is dataclasses.MISSING and field.name not in data]
    if missing:
        raise ValueError(f"{cls.__name__} is missing required field(s): {', '.join(missing)}")
    return cls(**data)


# --------------------------------------------------------------------------- result types


class _ReadableByKey:
    """Result records read as attributes (``p.host``) or keys (``p["host"]``)."""

    def __getitem__(self, key):
        if key not in {field.name for field in dataclasses.fields(self)}:
            raise KeyError(key)
        return getattr(self, key)


@dataclasses.dataclass
class Placement(_ReadableByKey):
    """Where VM number ``index`` (0-based, the position in ``Request.names``) goes, and the numbers behind why.

    ``score`` is the strategy's primary sort value for the chosen host (lower wins);
    ``runner_up``/``runner_up_score``/``runner_up_zone`` describe the host that would have been chosen next.
    ``shared_replicas`` is how many replicas of the cluster the host already had (0 normally).

    The zone: it had ``zone_replicas`` replicas of the cluster before this VM, the fewest in a zone the
    cluster spreads over was ``fewest``; ``fewer_full`` is set only when this VM took the zone above
    ``max_skew``: how many zones with fewer replicas there were (none had room).
    The strategy: ``figures`` are what its describe function returned (a dict of numbers for the built-in
    ones), ``None`` when it has none, and then ``key`` (its sort key) is what explains the score.
    The runner-up: ``runner_up_lost`` says why it lost when it was not on the strategy's score alone
    (``max_skew``: its zone would have pushed the spread above ``max_skew``; ``host_replicas``: its host
    already ran ``runner_up_replicas`` replicas; ``zone_replicas``: its zone had ``runner_up_replicas``).
    """

    index: int
    name: str | None
    host: str
    host_id: object
    zone: str
    score: float
    runner_up: str | None = None
    runner_up_score: float | None = None
    shared_replicas: int = 0
    strategy: str = ""
    zone_replicas: int = 0
    fewest: int = 0
    fewer_full: int | None = None
    figures: object = None
    key: object = None
    max_skew: int = 1
    runner_up_zone: str | None = None
    runner_up_lost: str | None = None
    runner_up_replicas: int | None = None


@dataclasses.dataclass
class Problem:
    """Why a host cannot take one VM of the request: a code of :data:`REJECTION_CODES` and what is behind it.

    ``needed``: cores (``cpu``), MiB (``memory``) or bytes (``storage``) one VM needs; the requested
    pool (``pool``), the requested tags the host lacks (``tags``), the requested zones (``zone``).
    ``found``: the host's pool (``pool``), zone (``zone``), health reason (``unhealthy``), or its storage
    pools, sorted (``storage``, when ``storage_pool`` is not one of them).
    ``cpu``/``memory``: ``free`` = ``total`` x ``ratio`` - ``used`` - ``planned`` (what this plan reserved).
    ``storage``: ``storage_pool`` is the pool the disk would use (``None``: the host reports no pool);
    ``free`` the bytes it has left after the plan's reservations, ``None`` when the pool is not on the host.
    """

    code: str
    needed: object = None
    found: object = None
    free: object = None
    total: object = None
    ratio: object = None
    used: object = None
    planned: object = 0
    storage_pool: str | None = None


@dataclasses.dataclass
class Rejection(_ReadableByKey):
    """A host that cannot take even one VM of the request.

    ``code`` is one of :data:`REJECTION_CODES`, the first of ``problems`` (:class:`Problem`): one for
    the pool, tags, zone and health filters; one per resource that lacks room for the others.
    """

    host: str
    host_id: object
    zone: str
    code: str
    problems: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class HostTally:
    """``hosts`` hosts fail the same constraint: ``code`` is ``unhealthy``, ``cpu``, ``memory`` or ``storage``.

    ``needed`` is what one VM needs (cores, MiB or bytes); ``storage_pool`` the requested storage pool
    (``None``: each host's default pool).
    """

    code: str
    hosts: int
    needed: int | None = None
    storage_pool: str | None = None


@dataclasses.dataclass
class ZoneShortfall:
    """Why ``zone`` could not take more replicas; ``code``:

    ``uneven`` (it still has room, but ``new``, the request's VMs, cannot even out the existing replicas),
    ``no_host``, ``no_matching_host`` (no host in the zone; none matching the request's pool and tags),
    ``unhealthy`` (every host in it is), ``no_room`` (it ran out of room after ``new`` VMs of this plan).
    ``hosts`` (:class:`HostTally`, in the order of :data:`REJECTION_CODES`) counts its hosts by their first problem.
    """

    zone: str
    code: str
    new: int = 0
    hosts: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class SharedHostWarning:
    """VM ``index`` (named ``name``) shares ``host`` with ``replicas`` other replicas: no host without one had room in ``zone``.

    ``unused_zones`` (sorted) had a host without one, left unused because using it would have made the
    zone spread ``spread``, above ``max_skew``.
    """

    index: int
    name: str | None
    host: str
    zone: str
    replicas: int
    unused_zones: tuple = ()
    spread: int | None = None
    max_skew: int = 1
    code: str = dataclasses.field(default="shared_host", init=False)


@dataclasses.dataclass
class SpreadWarning:
    """The zone spread is ``skew``, above ``max_skew``; ``zone_counts`` are the replicas of the zones the
    cluster spreads over (in their order); ``short`` (:class:`ZoneShortfall`) says why each zone too far
    below the fullest did not get more."""

    skew: int
    max_skew: int
    zone_counts: dict
    short: list
    code: str = dataclasses.field(default="spread", init=False)


@dataclasses.dataclass
class Plan:
    """The outcome of :func:`plan`.

    ``zone_counts`` maps zone -> replicas of the cluster after the plan (existing + new);
    ``skew`` is the achieved spread (max - min over the zones the cluster spreads over);
    ``warnings`` are :class:`SharedHostWarning` and :class:`SpreadWarning` records.
    """

    strategy: str
    placements: list
    rejected: list
    warnings: list
    zone_counts: dict
    skew: int
    max_skew: int
    considered: int = 0

    @property
    def hosts(self):
        """Chosen host names, in placement order."""
        return [placement.host for placement in self.placements]


class PlacementError(Exception):
    """The request cannot be placed; ``explain.error_message`` words it.

    ``code`` is the tightest constraint: ``hosts`` (no host at all), ``pool``, ``tags`` or ``zones`` (no
    host in the request's scope: none in the pool; of those, none with the tags; of those, none in the
    zones), else the constraint that rules out the most hosts in the scope: ``unhealthy``, ``cpu``,
    ``memory`` or ``storage``. ``hosts`` counts the hosts it was measured over (``tags``: those in the pool;
    ``zones``: those in the pool with the tags; the others: the hosts in the scope); ``tally`` holds the
    :class:`HostTally` of every failing constraint, tightest first; ``names`` the pools (``pool``) or the
    zones (``zones``) the hosts are in. ``request`` is the (validated) request, ``with_room`` how many hosts
    still had room, ``rejected`` the hosts rejected up front (:class:`Rejection`), ``placements`` the VMs
    that did fit before room ran out.
    """

    def __init__(self, code, request, rejected=(), placements=(), with_room=0, hosts=0, tally=(), names=()):
        super().__init__(f"cannot place the request; tightest constraint: {code}")
        self.code = code
        self.request = request
        self.rejected = list(rejected)
        self.placements = list(placements)
        self.with_room = with_room
        self.hosts = hosts
        self.tally = list(tally)
        self.names = list(names)


# --------------------------------------------------------------------------- capacity maths


def _capacity(total, ratio):
    return round(total * ratio, _CAPACITY_DIGITS)


def free_cores(host):
    """Cores still free with over-commit: ``total_cores * cpu_over_commit - used_cores``."""
    return _capacity(host.total_cores, host.cpu_over_commit) - host.used_cores


def free_memory(host):
    """MiB still free with over-commit: ``total_memory * memory_over_commit - used_memory``."""
    return _capacity(host.total_memory, host.memory_over_commit) - host.used_memory


def storage_pool_for(host, request):
    """Name of the storage pool the request's disk would use on ``host``.

    The requested pool, else the host's default pool, else the pool with the most room
    (name order breaks ties). ``None`` when the host does not track storage or has no pools.
    """
    if host.storage is None:
        return None
    if request.storage_pool:
        return request.storage_pool
    if host.default_storage_pool:
        return host.default_storage_pool
    if not host.storage:
        return None
    return min(host.storage, key=lambda pool: (-host.storage[pool], pool))


def free_storage(host, request):
    """Bytes available in :func:`storage_pool_for` on ``host``; ``None`` when not tracked."""
    pool = storage_pool_for(host, request)
    if pool is None:
        return None
    return host.storage.get(pool, 0)


def _room_problems(host, request, planned_cores=0, planned_memory=0, planned_disk=0):
    """The :class:`Problem` of each resource that lacks room for one more VM of ``request``."""
    problems = []
    cores = free_cores(host) - planned_cores
    if cores < request.cores:
        problems.append(Problem("cpu", needed=request.cores, free=cores, total=host.total_cores, ratio=host.cpu_over_commit,
                                used=host.used_cores, planned=planned_cores))
    memory = free_memory(host) - planned_memory
    if memory < request.memory:
        problems.append(Problem("memory", needed=request.memory, free=memory, total=host.total_memory,
                                ratio=host.memory_over_commit, used=host.used_memory, planned=planned_memory))
    if request.disk and host.storage is not None:
        pool = storage_pool_for(host, request)
        if pool is None or pool not in host.storage:
            problems.append(Problem("storage", needed=request.disk, found=sorted(host.storage), storage_pool=pool))
        else:
            available = host.storage[pool] - planned_disk
            if available < request.disk:
                problems.append(Problem("storage", needed=request.disk, free=available, storage_pool=pool))
    return problems


def _static_problem(host, request, zones):
    """The :class:`Problem` of the first non-capacity filter ``host`` fails, else ``None``."""
    if request.pool is not None and host.pool != request.pool:
        return Problem("pool", needed=request.pool, found=host.pool)
    if request.tags:
        missing = [tag for tag in request.tags if tag not in host.tags]
        if missing:
            return Problem("tags", needed=missing)
    if zones is not None and host.zone not in zones:
        return Problem("zone", needed=request.zones, found=host.zone)
    if not host.healthy:
        return Problem("unhealthy", found=host.health_reason)
    return None


# --------------------------------------------------------------------------- strategies


def _least_allocated_cpu(host, request):  # pylint: disable=unused-argument
    return (host.used_cores, -free_memory(host))


def _figures_least_allocated_cpu(host, request):  # pylint: disable=unused-argument
    return {"used_cores": host.used_cores, "free_memory": free_memory(host)}


def _free_ratio(host, request):
    return round(free_cores(host) / request.cores + free_memory(host) / request.memory, _SCORE_DIGITS)


def _most_free(host, request):
    return (-_free_ratio(host, request), -free_memory(host))


def _figures_most_free(host, request):
    return {"free_ratio": _free_ratio(host, request), "free_cores": free_cores(host), "cores": request.cores,
            "free_memory": free_memory(host), "memory": request.memory}


def _use_after(host, request):
    """CPU and memory use fractions of the host's over-committed capacity once the VM is on it."""
    cpu = (host.used_cores + request.cores) / _capacity(host.total_cores, host.cpu_over_commit)
    memory = (host.used_memory + request.memory) / _capacity(host.total_memory, host.memory_over_commit)
    return cpu, memory


def _balanced(host, request):
    cpu, memory = _use_after(host, request)
    return (round(abs(cpu - memory), _SCORE_DIGITS), round((cpu + memory) / 2, _SCORE_DIGITS), -free_memory(host))


def _figures_balanced(host, request):
    cpu, memory = _use_after(host, request)
    return {"cpu": cpu, "memory": memory}


#: Strategy name -> ``callable(host, request) -> sort key`` (lower wins). The host passed in has
#: ``used_cores``/``used_memory``/``storage``/``replicas`` that include the VMs planned so far.
STRATEGIES = {
    "least-allocated-cpu": _least_allocated_cpu,
    "most-free": _most_free,
    "balanced": _balanced,
}

# Strategy name -> ``callable(host, request)`` returning the figures behind the score (Placement.figures).
_FIGURES = {
    "least-allocated-cpu": _figures_least_allocated_cpu,
    "most-free": _figures_most_free,
    "balanced": _figures_balanced,
}


def register_strategy(name, func, describe=None, replace=False):
    """Add a strategy: ``func(host, request)`` returns a sort key, lower wins.

    ``describe(host, request)`` optionally returns what explains the score in placements' reasons
    (a sentence; :attr:`Placement.figures` holds it). Re-registering a name needs ``replace=True``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"strategy name must be a non-empty string, got {name!r}")
    if not callable(func):
        raise ValueError(f"strategy {name!r} must be callable(host, request), got {type(func).__name__}")
    if describe is not None and not callable(describe):
        raise ValueError(f"describe for strategy {name!r} must be callable(host, request) or None")
    if name in STRATEGIES and not replace:
        raise ValueError(f"strategy {name!r} is already registered; pass replace=True to replace it")
    STRATEGIES[name] = func
    if describe is None:
        _FIGURES.pop(name, None)
    else:
        _FIGURES[name] = describe


def _primary(key):
    """First element of a sort key, as a JSON-safe number when possible."""
    value = key[0] if isinstance(key, tuple) and key else key
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else json_safe(value)


# --------------------------------------------------------------------------- validation


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(value, what, minimum):
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")


def _check_number(value, what, minimum, strict=False):
    if not _is_number(value) or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"{what} must be a number {bound}, got {value!r}")


def _check_str(value, what, optional=False):
    if optional and value is None:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")


def _str_tuple(value, what):
    """``value`` as a tuple of non-empty strings (the same object when it already is one)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} must be a list of strings, got {value!r}")
    for item in value:
        _check_str(item, f"{what} entries")
    return value if isinstance(value, tuple) else tuple(value)


def _validated_request(request):
    """Check every field; return a normalised copy (tuples, de-duplicated zones)."""
    request = Request.from_dict(request)
    _check_int(request.count, "Request.count", 1)
    _check_int(request.cores, "Request.cores", 1)
    _check_int(request.memory, "Request.memory (MiB)", 1)
    _check_int(request.disk, "Request.disk (bytes)", 0)
    _check_int(request.max_skew, "Request.max_skew", 1)
    _check_str(request.storage_pool, "Request.storage_pool", optional=True)
    _check_str(request.pool, "Request.pool", optional=True)
    tags = _str_tuple(request.tags, "Request.tags")
    zones = None
    if request.zones is not None:
        zones = _str_tuple(request.zones, "Request.zones")
        if not zones:
            raise ValueError("Request.zones must not be empty; use None for any zone")
        zones = list(dict.fromkeys(zones))
    if request.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {request.strategy!r}; known strategies: {', '.join(sorted(STRATEGIES))}")
    existing = {}
    if request.existing_zones is not None:
        if not isinstance(request.existing_zones, dict):
            raise ValueError(f"Request.existing_zones must be a dict zone -> replicas, got {request.existing_zones!r}")
        for zone, replicas in request.existing_zones.items():
            _check_str(zone, "Request.existing_zones keys")
            _check_int(replicas, f"Request.existing_zones[{zone!r}]", 0)
        existing = dict(request.existing_zones)
    names = None
    if request.names is not None:
        names = list(_str_tuple(request.names, "Request.names"))
        if len(names) != request.count:
            raise ValueError(f"Request.names has {len(names)} names for count {request.count}; give one name per VM")
        duplicates = _repeated(names)
        if duplicates:
            raise ValueError(f"Request.names must be unique; repeated: {', '.join(duplicates)}")
    return dataclasses.replace(request, tags=tags, zones=zones, existing_zones=existing, names=names)


# Host fields checked for every host: (field, label, integer only, lowest allowed, lowest excluded).
_HOST_NUMBERS = (
    ("total_cores", "total_cores", True, 0, False),
    ("used_cores", "used_cores", False, 0, False),
    ("total_memory", "total_memory (MiB)", True, 0, False),
    ("used_memory", "used_memory (MiB)", False, 0, False),
    ("cpu_over_commit", "cpu_over_commit", False, 0, True),
    ("memory_over_commit", "memory_over_commit", False, 0, True),
    ("replicas", "replicas", True, 0, False),
)


def _validated_host(host):
    """Check every field; return the host, or a normalised copy when its tags are not a tuple."""
    host = Host.from_dict(host)
    _check_str(host.name, "Host.name")
    what = f"host {host.name!r}:"
    for field, label, whole, minimum, strict in _HOST_NUMBERS:
        value = getattr(host, field)
        if whole:
            _check_int(value, f"{what} {label}", minimum)
        else:
            _check_number(value, f"{what} {label}", minimum, strict)
    _check_str(host.zone, f"{what} zone")
    _check_str(host.pool, f"{what} pool")
    _check_str(host.default_storage_pool, f"{what} default_storage_pool", optional=True)
    if not isinstance(host.healthy, bool):
        raise ValueError(f"{what} healthy must be true or false, got {host.healthy!r}")
    if not isinstance(host.health_reason, str):
        raise ValueError(f"{what} health_reason must be a string, got {host.health_reason!r}")
    if host.storage is not None:
        if not isinstance(host.storage, dict):
            raise ValueError(f"{what} storage must be a dict pool -> available bytes, or None; got {host.storage!r}")
        for pool, available in host.storage.items():
            _check_str(pool, f"{what} storage pool names")
            _check_int(available, f"{what} storage[{pool!r}] (available bytes)", 0)
    tags = _str_tuple(host.tags, f"{what} tags")
    return host if tags is host.tags else dataclasses.replace(host, tags=tags)


# --------------------------------------------------------------------------- planning


class _Candidate:
    """A host that passed every filter, with what this plan has reserved on it so far."""

    __slots__ = ("host", "view", "cores", "memory", "disk", "placed")

    def __init__(self, host):
        self.host = host
        self.view = host  # the host as the strategy sees it: used/storage/replicas include the plan
        self.cores = 0
        self.memory = 0
        self.disk = 0
        self.placed = 0

    def reserve(self, request):
        self.cores += request.cores
        self.memory += request.memory
        self.placed += 1
        host = self.host
        storage = host.storage
        pool = storage_pool_for(host, request) if request.disk else None
        if pool is not None and pool in host.storage:
            self.disk += request.disk
            storage = dict(host.storage)
            storage[pool] -= self.disk
        self.view = dataclasses.replace(
            host,
            used_cores=host.used_cores + self.cores,
            used_memory=host.used_memory + self.memory,
            storage=storage,
            replicas=host.replicas + self.placed,
        )

    def problems(self, request):
        return _room_problems(self.host, request, self.cores, self.memory, self.disk)


class _ZoneIndex:
    """The best candidate of every zone, grouped by the zone's replica count.

    For each count there is a heap of ``(best host entry of the zone, zone, version)``. When a zone
    changes (a host taken, its count raised) it gets a new version and a new entry; old entries are
    dropped when they reach the top (lazy deletion). Choosing a host therefore looks at one entry per
    distinct count - a handful - instead of at every zone.
    """

    def __init__(self, host_heaps, counts):
        self.host_heaps = host_heaps
        self.counts = counts
        self.buckets = {}
        self.version = {}
        for zone in host_heaps:
            self.refresh(zone)

    def refresh(self, zone):
        """Re-index ``zone`` after its host heap or its count changed."""
        version = self.version.get(zone, 0) + 1
        self.version[zone] = version
        heap = self.host_heaps[zone]
        if heap:
            heapq.heappush(self.buckets.setdefault(self.counts[zone], []), (heap[0], zone, version))

    def _valid(self, item):
        return item[2] == self.version[item[1]]

    def tops(self):
        """``(count, host entry, zone)`` of the best zone for each replica count."""
        for count in list(self.buckets):
            bucket = self.buckets[count]
            while bucket and not self._valid(bucket[0]):
                heapq.heappop(bucket)
            if not bucket:
                del self.buckets[count]
                continue
            entry, zone, _version = bucket[0]
            yield count, entry, zone

    def zones_with_free_host(self, count):
        """Zones with ``count`` replicas whose best host runs no replica of the cluster."""
        return sorted(zone for entry, zone, version in self.buckets.get(count, ())
                      if entry[0] == 0 and version == self.version[zone])


class _Planner:
    """One run of :func:`plan`: filters once, then places VM after VM.

    Each zone keeps a heap of its candidates keyed by ``(replicas on host, strategy key, name)``, and
    :class:`_ZoneIndex` keeps the zones' best candidates by zone count. Only the chosen host's key
    changes after a placement, so a step costs O(distinct zone counts x log hosts).
    """

    def __init__(self, hosts, request):
        self.request = request
        self.strategy = STRATEGIES[request.strategy]
        self.hosts = sorted(hosts, key=lambda host: host.name)
        self.rejected = []
        self.static_codes = {}  # host name -> static rejection code (pool/tags/zone/unhealthy)
        self.zone_hosts = {}  # zone -> hosts in the request's scope (passed pool, tags and zone)
        self.counts = dict(request.existing_zones)
        self.heaps = {}
        self.candidates = {}
        self.placements = []
        self.warnings = []
        self._filter()
        self.spread_zones = self._spread_zones()
        for zone in self.spread_zones:
            self.counts.setdefault(zone, 0)
        # How many spread zones have each replica count, and the lowest count.
        self.histogram = collections.Counter(self.counts[zone] for zone in self.spread_zones)
        self.low = min(self.histogram) if self.histogram else 0
        self.index = _ZoneIndex(self.heaps, self.counts)

    def _filter(self):
        request = self.request
        zones = set(request.zones) if request.zones is not None else None
        for host in self.hosts:
            if host.replicas:
                self.counts[host.zone] = self.counts.get(host.zone, 0) + host.replicas
            static = _static_problem(host, request, zones)
            if static is None or static.code == "unhealthy":
                self.zone_hosts.setdefault(host.zone, []).append(host)
            if static is not None:
                self.static_codes[host.name] = static.code
                self._reject(host, [static])
                continue
            problems = _room_problems(host, request)
            if problems:
                self._reject(host, problems)
                continue
            candidate = _Candidate(host)
            self.candidates[host.name] = candidate
            self.heaps.setdefault(host.zone, []).append(self._entry(candidate))
        for heap in self.heaps.values():
            heapq.heapify(heap)

    def _reject(self, host, problems):
        self.rejected.append(Rejection(host=host.name, host_id=host.id, zone=host.zone, code=problems[0].code, problems=problems))

    def _spread_zones(self):
        return _spread_zones(self.request, self.zone_hosts, self.counts)

    def _entry(self, candidate):
        key = self.strategy(candidate.view, self.request)
        return (candidate.view.replicas, key, candidate.host.name)

    def _excess(self, count):
        """How far above ``max_skew`` the spread would be after one more replica in a zone with ``count``."""
        return max(0, count + 1 - self.low - self.request.max_skew)

    def _best(self):
        """``(key, zone)`` of the best candidate: skew excess, replicas on host, zone count, strategy key, name."""
        best = None
        for count, entry, zone in self.index.tops():
            key = (self._excess(count), entry[0], count, entry[1], entry[2])
            if best is None or key < best[0]:
                best = (key, zone)
        return best

    def run(self):
        request = self.request
        for index in range(request.count):
            best = self._best()
            if best is None:
                raise self._error()
            key, zone = best
            heap = self.heaps[zone]
            candidate = self.candidates[heapq.heappop(heap)[2]]
            self.index.refresh(zone)
            runner = self._best()  # the choice had this host not been there
            self._place(index, candidate, key, runner)
            candidate.reserve(request)
            if not candidate.problems(request):
                heapq.heappush(heap, self._entry(candidate))
            self.index.refresh(zone)
        self._spread_warning()
        return Plan(
            strategy=request.strategy,
            placements=self.placements,
            rejected=self.rejected,
            warnings=self.warnings,
            zone_counts=dict(sorted(self.counts.items())),
            skew=self._skew(),
            max_skew=request.max_skew,
            considered=len(self.hosts),
        )

    def _count_replica(self, zone):
        count = self.counts[zone]
        self.counts[zone] = count + 1
        self.histogram[count] -= 1
        self.histogram[count + 1] += 1
        if not self.histogram[count]:
            del self.histogram[count]
            if count == self.low:
                self.low = count + 1

    def _place(self, index, candidate, key, runner):
        request = self.request
        host = candidate.view
        excess, shared, count, strategy_key = key[0], key[1], key[2], key[3]
        name = request.names[index] if request.names else None
        fewer_full = sum(number for other, number in self.histogram.items() if other < count) if excess else None
        if shared:
            self.warnings.append(self._shared_warning(index, name, host, shared))
        figures = _FIGURES.get(request.strategy)
        placement = Placement(
            index=index, name=name, host=host.name, host_id=host.id, zone=host.zone, score=_primary(strategy_key),
            shared_replicas=shared, strategy=request.strategy, zone_replicas=count, fewest=self.low, fewer_full=fewer_full,
            figures=figures(host, request) if figures else None, key=strategy_key, max_skew=request.max_skew,
        )
        if runner is not None:
            runner_key, placement.runner_up_zone = runner
            placement.runner_up, placement.runner_up_score = runner_key[4], _primary(runner_key[3])
            placement.runner_up_lost, placement.runner_up_replicas = self._lost_because(key, runner_key)
        self.placements.append(placement)
        self._count_replica(host.zone)

    @staticmethod
    def _lost_because(key, runner_key):
        """Why the runner-up lost when it was not on the strategy's score alone: ``(code, replicas)`` (see :class:`Placement`)."""
        if runner_key[0] > key[0]:
            return "max_skew", None
        if runner_key[1] > key[1]:
            return "host_replicas", runner_key[1]
        if runner_key[2] > key[2]:
            return "zone_replicas", runner_key[2]
        return None, None

    def _shared_warning(self, index, name, host, shared):
        warning = SharedHostWarning(index=index, name=name, host=host.name, zone=host.zone, replicas=shared,
                                    max_skew=self.request.max_skew)
        blocked = sorted(count for count in self.index.buckets if self._excess(count))
        for count in blocked:
            zones = self.index.zones_with_free_host(count)
            if zones:
                warning.unused_zones, warning.spread = tuple(zones), count + 1 - self.low
                break
        return warning

    def _skew(self):
        return max(self.histogram) - self.low if self.histogram else 0

    def _spread_warning(self):
        skew = self._skew()
        max_skew = self.request.max_skew
        if skew <= max_skew:
            return
        top = max(self.histogram)
        short = [zone for zone in self.spread_zones if self.counts[zone] < top - max_skew]
        self.warnings.append(SpreadWarning(skew=skew, max_skew=max_skew, zone_counts={zone: self.counts[zone] for zone in self.spread_zones},
                                           short=[self._zone_shortfall(zone) for zone in short]))

    def _zone_shortfall(self, zone):
        """Why ``zone`` could not take more replicas."""
        if self.heaps.get(zone):
            return ZoneShortfall(zone, "uneven", new=self.request.count)
        hosts = self.zone_hosts.get(zone, [])
        if not hosts:
            return ZoneShortfall(zone, "no_host" if self.request.zones is None else "no_matching_host")
        tally = collections.Counter(self._first_problem(host) for host in hosts)
        counts = [self._tally(code, tally[code]) for code in REJECTION_CODES if code in tally]
        if set(tally) == {"unhealthy"}:
            return ZoneShortfall(zone, "unhealthy", hosts=counts)
        placed = sum(self.candidates[host.name].placed for host in hosts if host.name in self.candidates)
        return ZoneShortfall(zone, "no_room", new=placed, hosts=counts)

    def _problems_now(self, host):
        """Room problems of a host in scope, counting what this plan reserved on it."""
        candidate = self.candidates.get(host.name)
        return candidate.problems(self.request) if candidate else _room_problems(host, self.request)

    def _first_problem(self, host):
        if self.static_codes.get(host.name) == "unhealthy":
            return "unhealthy"
        return self._problems_now(host)[0].code

    def _tally(self, code, number):
        """The :class:`HostTally` of ``number`` hosts failing ``code``, with what one VM of the request needs."""
        request = self.request
        needed = {"cpu": request.cores, "memory": request.memory, "storage": request.disk}.get(code)
        return HostTally(code, number, needed=needed, storage_pool=request.storage_pool if code == "storage" else None)

    def _error(self):
        """The :class:`PlacementError` for a request that ran out of hosts, with the tightest constraint."""
        return PlacementError(request=self.request, rejected=self.rejected, placements=self.placements,
                              with_room=len(self.candidates), **self._tightest())

    def _tightest(self):
        """The constraint that rules out the most hosts in the request's scope: ``code``, ``hosts``, ``tally``, ``names``."""
        if not self.hosts:
            return {"code": "hosts"}
        scope = [host for hosts in self.zone_hosts.values() for host in hosts]
        if not scope:
            return self._empty_scope()
        failing = collections.Counter()
        for host in scope:
            if self.static_codes.get(host.name) == "unhealthy":
                failing["unhealthy"] += 1
            failing.update({problem.code for problem in self._problems_now(host)})
        order = ("unhealthy", "cpu", "memory", "storage")
        ranked = sorted((code for code in order if failing[code]), key=lambda code: -failing[code])
        return {"code": ranked[0], "hosts": len(scope), "tally": [self._tally(code, failing[code]) for code in ranked]}

    def _empty_scope(self):
        """Which of pool, tags and zones left no host at all (see :class:`PlacementError`)."""
        request = self.request
        hosts = self.hosts
        if request.pool is not None:
            in_pool = [host for host in hosts if host.pool == request.pool]
            if not in_pool:
                return {"code": "pool", "hosts": len(hosts), "names": sorted({host.pool for host in hosts})}
            hosts = in_pool
        if request.tags:
            tagged = [host for host in hosts if all(tag in host.tags for tag in request.tags)]
            if not tagged:
                return {"code": "tags", "hosts": len(hosts)}
            hosts = tagged
        return {"code": "zones", "hosts": len(hosts), "names": sorted({host.zone for host in hosts})}


def _spread_zones(request, scope_zones, counts):
    """Zones the cluster spreads over: the requested ones, else every zone with a host in scope or a replica."""
    if request.zones is not None:
        return list(request.zones)
    return sorted(set(scope_zones) | {zone for zone, count in counts.items() if count})


def zone_spread(hosts, request, placed_zones=()):
    """``(zone_counts, skew)`` of the cluster with one more replica in each of ``placed_zones``, as :func:`plan` reports them.

    Replicas already there are ``host.replicas`` and ``request.existing_zones``; the skew is measured over the
    zones the cluster spreads over (the requested ones, else those with a host in the request's scope or a
    replica). For plans made elsewhere (a scheduler) or when no VM is placed.
    """
    request = _validated_request(request)
    checked = [_validated_host(host) for host in hosts]
    zones = set(request.zones) if request.zones is not None else None
    counts = dict(request.existing_zones)
    scope = set()
    for host in checked:
        if host.replicas:
            counts[host.zone] = counts.get(host.zone, 0) + host.replicas
        static = _static_problem(host, request, zones)
        if static is None or static.code == "unhealthy":
            scope.add(host.zone)
    for zone in placed_zones:
        counts[zone] = counts.get(zone, 0) + 1
    spread = _spread_zones(request, scope, counts)
    for zone in spread:
        counts.setdefault(zone, 0)
    values = [counts[zone] for zone in spread]
    return dict(sorted(counts.items())), (max(values) - min(values) if values else 0)


def plan(hosts, request):
    """Place ``request.count`` VMs on ``hosts``; return a :class:`Plan` or raise :class:`PlacementError`.

    ``hosts`` is an iterable of :class:`Host` (or dicts with its fields); ``request`` a
    :class:`Request` (or a dict). Bad input raises ``ValueError`` before anything is planned.
    Neither argument is modified.
    """
    request = _validated_request(request)
    if isinstance(hosts, (str, bytes, dict)):
        raise ValueError("hosts must be a list of Host objects or dicts")
    checked = [_validated_host(host) for host in hosts]
    repeated = _repeated(host.name for host in checked)
    if repeated:
        raise ValueError(f"host names must be unique; repeated: {', '.join(repeated)}")
    return _Planner(checked, request).run()


# --------------------------------------------------------------------------- small helpers


def _repeated(items):
    return sorted(item for item, seen in collections.Counter(items).items() if seen > 1)


def json_safe(value):
    """``value`` with only JSON types: tuples become lists, dict keys strings, infinite floats and other objects strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    return str(value)
