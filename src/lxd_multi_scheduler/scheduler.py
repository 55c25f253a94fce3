"""The scheduling decision: LXD states + reservations -> placement core -> answer.

The rule itself lives once, in the collection's placement core (``lxdcp_maas_core.placement``,
i.e. ``plugins/module_utils/placement.py``). This module only maps LXD servers to
``placement.Host`` (allocated = what LXD shows + active reservations), calls ``plan()`` inside the
reservation store's lock, and records the reservations of the answer.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from lxdcp_maas_core import placement

from .config import HostConfig, Settings
from .inventory import Inventory
from .logs import log
from .lxd import ServerState
from .reservations import Reservation, ReservationStore, StoreUnavailable, Totals, summarize

LOG = logging.getLogger("lxd_multi_scheduler.scheduler")

NO_FIT = "no suitable node found"


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


class NoSuitableHost(Exception):
    """No server can take the request; ``status`` is 409 (all full) or 503 (no server readable)."""

    def __init__(self, status: int, error: placement.PlacementError):
        super().__init__(error.message)
        self.status = status
        self.message = error.message
        self.reason = error.reason
        self.details = [rejection.as_dict() for rejection in error.rejected]

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

    @staticmethod
    def appeared(reservations: list[Reservation], states: list[ServerState]) -> list[str]:
        """Reservations whose instance a read of LXD made after the reservation shows on its host."""
        by_name = {state.name: state for state in states}
        done = []
        for item in reservations:
            state = by_name.get(item.host)
            if item.instance_name and state and state.ok and state.fetched_at > item.created and item.instance_name in state.instances:
                done.append(item.id)
        return done

    def hosts(self, states: list[ServerState], totals: Totals) -> list[placement.Host]:
        """Placement hosts for ``states`` with the reservations' per-host ``totals`` counted."""
        return [self.to_host(state, *totals.get(state.name, (0, 0))) for state in states]

    # --- operations ---------------------------------------------------------------------------

    def schedule(self, ask: Ask) -> dict[str, Any]:
        """Choose host(s) for ``ask`` and reserve the room; raise :class:`NoSuitableHost`."""
        states = self.inventory.snapshot()  # LXD reads happen before the lock: the lock only covers the decision
        strategy = ask.strategy or self.settings.strategy
        request = placement.Request(
            count=ask.count,
            cores=ask.cores,
            memory=ask.memory,
            zones=list(ask.zones) if ask.zones else None,
            pool=ask.pool,
            tags=tuple(ask.tags),
            strategy=strategy,
        )
        reserve = ask.reserve and self.settings.reservation_ttl > 0
        with self.store.locked() as view:
            view.release(self.appeared(view.named, states))
            try:
                plan = placement.plan(self.hosts(states, view.totals), request)
            except placement.PlacementError as exc:
                status = 503 if states and not any(state.ok for state in states) else 409
                error = NoSuitableHost(status, exc)
                log(LOG, logging.INFO, "no suitable host", event="schedule", result="no_fit", cores=ask.cores, memory_mib=ask.memory,
                    count=ask.count, strategy=strategy, reason=error.reason, details=error.details)
                raise error from None
            reservations = []
            if reserve:
                try:
                    for item in plan.placements:
                        reservation = Reservation.new(item.host, ask.cores, ask.memory, self.settings.reservation_ttl,
                                                      ask.instance_name if ask.count == 1 else None)
                        view.add(reservation)
                        reservations.append(reservation)
                except StoreUnavailable:
                    view.release([r.id for r in reservations])  # all or nothing
                    raise
        return self._answer(plan, reservations, ask, strategy)

    def _answer(self, plan, reservations: list[Reservation], ask: Ask, strategy: str) -> dict[str, Any]:
        by_host = {name: self._hosts[name].host for name in self._hosts}
        placements = []
        for index, item in enumerate(plan.placements):
            entry = {"host": item.host, "url": by_host[item.host], "reason": item.reason, "score": item.score}
            if reservations:
                entry["reservation_id"] = reservations[index].id
            placements.append(entry)
        plan_dict = plan.as_dict()
        answer: dict[str, Any] = {
            "host": placements[0]["host"],
            "url": placements[0]["url"],
            "explanation": placements[0]["reason"],
            "strategy": strategy,
            "placements": placements,
            "rejected": plan_dict.get("rejected", []),
            "warnings": plan_dict.get("warnings", []),
        }
        if reservations:
            answer["reservation_id"] = reservations[0].id
            answer["reservation_expires_in"] = self.settings.reservation_ttl
        log(LOG, logging.INFO, "scheduled", event="schedule", result="scheduled", hosts=[p["host"] for p in placements],
            cores=ask.cores, memory_mib=ask.memory, count=ask.count, strategy=strategy, instance_name=ask.instance_name,
            reservations=[r.id for r in reservations])
        return answer

    def report(self) -> dict[str, Any]:
        """Every server with capacity, allocation, reservations and room left (reads stale servers)."""
        states = self.inventory.snapshot()
        reservations = self.store.active()
        reserved, _named = summarize(reservations)
        rows = []
        for state in states:
            cores, memory = reserved.get(state.name, (0, 0))
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
            )
            rows.append(row)
        return {"hosts": rows, "reservations": [r.as_dict() for r in reservations], "store": self.store.kind}
