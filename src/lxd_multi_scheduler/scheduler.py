"""The scheduling decision: LXD states + reservations -> placement core -> answer.

The rule itself lives once, in the collection's placement core (``lxdcp_maas_core.placement``,
i.e. ``plugins/module_utils/placement/``). This module only maps LXD servers to
``placement.Host`` (allocated = what LXD shows + the reservations LXD does not show yet), calls
``plan()`` inside the reservation store's lock, and records the reservations of the answer. A
request that reserves nothing (``reserve: false``) counts the reservations without the lock.
The answers word the core's decisions with ``explain.INSTANCE``: a request to the scheduler places
instances, which belong to no cluster it knows ("1 instance of this request", not "1 replica of
this cluster"), and a single instance's explanation leaves out the zone-spread clause.

A named reservation is never deleted because its instance appeared: whether it still counts is
decided per decision, from the LXD state that decision uses (:func:`reserved`). Another replica,
or this one answering from an older cached read, may decide from a state taken before the instance
existed, and for that state the reservation must keep counting until it expires.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from lxdcp_maas_core.placement import core as placement
from lxdcp_maas_core.placement import explain

from .config import HostConfig, Settings, normalize_address
from .inventory import Inventory
from .logs import log
from .lxd import ServerState
from .reservations import Reservation, ReservationStore, StoreUnavailable, Totals, summarize

LOG = logging.getLogger("lxd_multi_scheduler.scheduler")

NO_FIT = "no suitable node found"


def reserved(totals: Totals, named: list[Reservation], states: list[ServerState]) -> Totals:
    """Per-host cores and MiB of the active reservations that a decision over ``states`` must count.

    ``totals`` sums every active reservation per host; ``named`` are those that name their instance.
    A named reservation does not count for a host whose state shows its instance in a read begun
    after the reservation was made: LXD counts the instance there. For any other state of that host
    (a read taken before the instance existed, cached by this replica or by another) it counts, so
    the room is counted once whichever state a decision uses, and nobody has to delete it.
    """
    counted = dict(totals)
    by_name = {state.name: state for state in states}
    for item in named:
        state = by_name.get(item.host)
        if state is not None and state.ok and state.fetched_at > item.created and item.instance_name in state.instances:
            cores, memory = counted[item.host]
            counted[item.host] = (cores - item.cores, memory - item.memory)
    return counted


@dataclasses.dataclass(frozen=True)
class Ask:
    """One scheduling request, validated."""

    cores: int
    memory: int  # MiB
    count: int = 1
    strategy: str | None = None
    instance_name: str | None = None
    reserve: bool = True
    zones: tuple[str, ...] | None = None
    pool: str | None = None
    tags: tuple[str, ...] = ()
    hosts: tuple[str, ...] | None = None  # allow-list of server names; None: every server
    max_skew: int = 1
    hosts_field: str = "hosts"  # the request field the allow-list came from (``target_hosts`` of the flat body)


class UnknownHosts(ValueError):
    """Every name of the request's allow-list is unknown to this service (a 400: the request can never be met)."""

    def __init__(self, unknown: list[str], known: list[str], field: str = "hosts"):
        super().__init__(f"none of {', '.join(unknown)} is a host of this scheduler (its hosts: {', '.join(known) or 'none'})")
        self.field = field


class NoSuitableHost(Exception):
    """No server can take the request; ``status`` is 409 (all full) or 503 (no server readable).

    ``left_out`` are the rejections of the servers the request's allow-list leaves out or names
    without knowing them (see :meth:`Scheduler.allowed`); they are listed after the placement core's.
    """

    def __init__(self, status: int, error: placement.PlacementError, left_out: list[dict[str, Any]] = ()):
        self.message = explain.error_message(error, explain.INSTANCE)
        super().__init__(self.message)
        self.status = status
        self.reason = explain.error_reason(error)
        self.details = [explain.rejection_dict(rejection) for rejection in error.rejected] + list(left_out)

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``details`` has one entry per rejected host (``host``, ``code``, ``reason``)."""
        return {"error": NO_FIT, "reason": self.reason, "message": self.message, "details": self.details}


class Scheduler:
    """Ties the inventory, the reservation store and the placement core together."""

    def __init__(self, settings: Settings, inventory: Inventory, store: ReservationStore):
        self.settings = settings
        self.inventory = inventory
        self.store = store
        self._hosts: dict[str, HostConfig] = {host.label: host for host in settings.hosts}

    # --- mapping ----------------------------------------------------------------------------

    def to_host(self, state: ServerState, reserved_cores: int = 0, reserved_memory: int = 0) -> placement.Host:
        """One LXD server as the placement core sees it (reservations count as allocated)."""
        config = self._hosts[state.name]
        return placement.Host(
            name=state.name,
            total_cores=state.total_cores,
            used_cores=state.used_cores + reserved_cores,
            total_memory=state.total_memory,
            used_memory=state.used_memory + reserved_memory,
            zone=config.zone,
            pool=config.pool,
            tags=tuple(config.tags),
            cpu_over_commit=config.cpu_over_commit or self.settings.cpu_over_commit,
            memory_over_commit=config.memory_over_commit or self.settings.memory_over_commit,
            healthy=state.ok,
            health_reason=state.error if not state.ok else "",
            id=state.url,
        )

    def hosts(self, states: list[ServerState], totals: Totals) -> list[placement.Host]:
        """Placement hosts for ``states`` with the reservations' per-host ``totals`` counted."""
        return [self.to_host(state, *totals.get(state.name, (0, 0))) for state in states]

    def by_address(self, addresses: list[str]) -> dict[str, str]:
        """Server name -> the caller's spelling, for each of ``addresses`` that is a server's ``host``.

        Addresses are compared without surrounding blanks and trailing slash (``config.normalize_address``).
        """
        names = {normalize_address(config.host): name for name, config in self._hosts.items()}
        found: dict[str, str] = {}
        for address in addresses:
            name = names.get(normalize_address(address))
            if name is not None:
                found.setdefault(name, address)
        return found

    def address(self, name: str) -> str:
        """The ``host`` of server ``name`` as configured (``name`` itself for a server no longer configured)."""
        config = self._hosts.get(name)
        return config.host if config else name

    def allowed(self, names: tuple[str, ...] | None, field: str = "hosts") -> tuple[list[str] | None, list[dict[str, Any]]]:
        """The servers an allow-list admits (None: all), and the rejections of the others (as answered).

        A configured server the list leaves out is rejected with code ``hosts``; a listed name that
        is no server of this service with code ``unknown`` (reported, never silently dropped). A list
        of unknown names only raises :class:`UnknownHosts`.
        """
        if names is None:
            return None, []
        known = [name for name in self._hosts if name in names]
        unknown = [name for name in names if name not in self._hosts]
        if not known:
            raise UnknownHosts(unknown, list(self._hosts), field)
        rejected = [{"host": name, "host_id": config.url, "zone": config.zone, "code": "hosts", "reason": f"not in the request's {field}"}
                    for name, config in sorted(self._hosts.items()) if name not in names]
        rejected += [{"host": name, "host_id": None, "zone": None, "code": "unknown",
                      "reason": "not a host of this scheduler (GET /hosts lists them)"} for name in unknown]
        return known, rejected

    # --- operations ---------------------------------------------------------------------------

    def schedule(self, ask: Ask) -> dict[str, Any]:
        """Choose host(s) for ``ask`` and reserve the room; raise :class:`NoSuitableHost` or :class:`UnknownHosts`."""
        names, left_out = self.allowed(ask.hosts, ask.hosts_field)
        states = self.inventory.snapshot(names)  # LXD reads happen before the lock: the lock only covers the decision
        strategy = ask.strategy or self.settings.strategy
        request = placement.Request(
            count=ask.count,
            cores=ask.cores,
            memory=ask.memory,
            zones=list(ask.zones) if ask.zones else None,
            pool=ask.pool,
            tags=tuple(ask.tags),
            strategy=strategy,
            max_skew=ask.max_skew,
        )
        reserve = ask.reserve and self.settings.reservation_ttl > 0
        if not reserve:
            # Promises no room, so it only counts the reservations, without the lock (which, with
            # Redis, would queue it behind the reserving decisions of every replica).
            plan = self._plan(states, *self.store.summary(), request, ask, strategy, left_out)
            return self._answer(plan, [], ask, strategy, left_out)
        with self.store.locked() as view:
            plan = self._plan(states, view.totals, view.named, request, ask, strategy, left_out)
            reservations = []
            try:
                for item in plan.placements:
                    reservation = Reservation.new(item.host, ask.cores, ask.memory, self.settings.reservation_ttl,
                                                  ask.instance_name if ask.count == 1 else None)
                    view.add(reservation)
                    reservations.append(reservation)
            except StoreUnavailable:
                view.release([r.id for r in reservations])  # all or nothing
                raise
        return self._answer(plan, reservations, ask, strategy, left_out)

    def _plan(self, states: list[ServerState], totals: Totals, named: list[Reservation], request: placement.Request,
              ask: Ask, strategy: str, left_out: list[dict[str, Any]]) -> placement.Plan:
        """The placement core's plan over ``states`` with the reservations counted; raise :class:`NoSuitableHost`."""
        try:
            return placement.plan(self.hosts(states, reserved(totals, named, states)), request)
        except placement.PlacementError as exc:
            status = 503 if states and not any(state.ok for state in states) else 409
            error = NoSuitableHost(status, exc, left_out=left_out)
            log(LOG, logging.INFO, "no suitable host", event="schedule", result="no_fit", cores=ask.cores, memory_mib=ask.memory,
                count=ask.count, strategy=strategy, max_skew=ask.max_skew, allowed=ask.hosts, reason=error.reason, details=error.details)
            raise error from None

    def _answer(self, plan: placement.Plan, reservations: list[Reservation], ask: Ask, strategy: str,
                left_out: list[dict[str, Any]]) -> dict[str, Any]:
        placements = []
        single = ask.count == 1
        for index, item in enumerate(plan.placements):
            entry = {"host": item.host, "url": self._hosts[item.host].url, "reason": explain.placement_reason(item, explain.INSTANCE, single),
                     "score": item.score}
            if reservations:
                entry["reservation_id"] = reservations[index].id
            placements.append(entry)
        answer: dict[str, Any] = {
            "host": placements[0]["host"],
            "url": placements[0]["url"],
            "explanation": placements[0]["reason"],
            "strategy": strategy,
            "placements": placements,
            "rejected": [explain.rejection_dict(rejection) for rejection in plan.rejected] + list(left_out),
            "warnings": [explain.warning_text(warning, explain.INSTANCE) for warning in plan.warnings],
        }
        if reservations:
            answer["reservation_id"] = reservations[0].id
            answer["reservation_expires_in"] = self.settings.reservation_ttl
        log(LOG, logging.INFO, "scheduled", event="schedule", result="scheduled", hosts=[p["host"] for p in placements],
            cores=ask.cores, memory_mib=ask.memory, count=ask.count, strategy=strategy, max_skew=ask.max_skew,
            allowed=ask.hosts, instance_name=ask.instance_name,
            reservations=[r.id for r in reservations])
        return answer

    def report(self) -> dict[str, Any]:
        """Every server with capacity, allocation, reservations and room left (reads stale servers)."""
        states = self.inventory.snapshot()
        reservations = self.store.active()
        counted = reserved(*summarize(reservations), states)
        unverified = set(self.settings.unverified_hosts())
        rows = []
        for state in states:
            cores, memory = counted.get(state.name, (0, 0))
            host = self.to_host(state, cores, memory)
            row = state.as_dict()
            row.update(
                reserved_cores=cores,
                reserved_memory=memory,
                cpu_over_commit=host.cpu_over_commit,
                memory_over_commit=host.memory_over_commit,
                free_cores=placement.free_cores(host) if state.ok else 0,
                free_memory=placement.free_memory(host) if state.ok else 0,
                zone=host.zone,
                pool=host.pool,
                tags=list(host.tags),
                age=round(time.time() - state.fetched_at, 3),
                address=self.address(state.name),
                tls_verified=state.name not in unverified,
            )
            rows.append(row)
        return {"hosts": rows, "reservations": [r.as_dict() for r in reservations], "store": self.store.kind}
