# -*- coding: utf-8 -*-
# Copyright (c) lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement explanations: the decisions of :mod:`.core` in words.

The core records codes and numbers; this module words them with a :class:`Vocabulary`. :data:`VM`
speaks of the VMs of a cluster ("zone az1 had 1 replica of this cluster"): the ``maas_lxd_vm`` module
and the ``maas_placement`` lookup use it. :data:`INSTANCE` speaks of the instances of one request
("zone az1 had 1 instance of this request"): ``lxd-multi-scheduler`` uses it.

Reasons of rejections and the tightest constraint of an error speak of hosts only and need no vocabulary.
The ``*_dict`` functions give the JSON-safe shapes of the module's, the lookup's and the scheduler's results.
Standard library only.
"""

from __future__ import annotations

import dataclasses

from .core import json_safe

__all__ = [
    "Vocabulary",
    "VM",
    "INSTANCE",
    "placement_reason",
    "placement_dict",
    "rejection_reason",
    "rejection_dict",
    "warning_text",
    "plan_lines",
    "plan_dict",
    "error_reason",
    "error_message",
    "error_dict",
    "format_bytes",
    "request_summary",
]


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """The words an explanation uses for what is placed (plurals add an ``s``).

    ``unit`` is what is placed, counted and numbered ("VM 0", "3 VMs", "1 new VM"); ``replica`` one of
    the group placed together ("1 replica", "1 other replica"). After a count of replicas, ``of_group``
    names their group (" of this cluster"), ``of_group_again`` refers to it once named (" of it") and
    ``of_group_implied`` is what follows where the sentence implies it ("its host already runs 1 replica").
    ``runs`` is what a host does with replicas; ``existing`` names the replicas there before the plan.
    ``quiet_single_spread``: the reason of a one-unit request leaves out the zone and host clauses when
    they say nothing (no replica anywhere yet).
    """

    unit: str
    replica: str
    of_group: str
    of_group_again: str
    of_group_implied: str
    runs: str
    existing: str
    quiet_single_spread: bool = False


#: The collection's words: the VMs of a cluster.
VM = Vocabulary(unit="VM", replica="replica", of_group=" of this cluster", of_group_again=" of it", of_group_implied="",
                runs="runs", existing="the replicas that already exist")

#: lxd-multi-scheduler's words: the instances of one request, which belong to no cluster it knows. Its plans
#: have no replicas before the plan (``existing`` words them as the collection does).
INSTANCE = Vocabulary(unit="instance", replica="instance", of_group=" of this request", of_group_again=" of this request",
                      of_group_implied=" of this request", runs="gets", existing="the replicas that already exist",
                      quiet_single_spread=True)


# --------------------------------------------------------------------------- numbers and sizes


def format_bytes(size):
    """Readable size: exact binary or decimal units when they fit (``20 GiB``, ``20 GB``), else ``21.47 GB``."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    for unit, factor in (("TB", 10 ** 12), ("GB", 10 ** 9), ("MB", 10 ** 6)):
        if size >= factor:
            return f"{round(size / factor, 2):g} {unit}"
    return f"{size} bytes"


def request_summary(request):
    """``4 cores, 8192 MiB, 20 GB`` for a request (disk only when asked for)."""
    text = f"{request.cores} cores, {request.memory} MiB"
    if request.disk:
        text += f", {format_bytes(request.disk)}"
    return text


def _num(value):
    """Cores and ratios print as floats (``2.0``), rounded to two decimals."""
    return str(round(float(value), 2))


def _amount(value):
    """Whole amounts print as given (``14``), fractions rounded to two decimals."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else _num(value)


def _mib(value):
    """MiB amounts print without a useless ``.0``."""
    value = round(float(value), 2)
    return str(int(value)) if value == int(value) else str(value)


def _score_text(score):
    return f"{score:.4g}" if isinstance(score, float) else str(score)


def _plural(number, word):
    return f"{number} {_plural_word(number, word)}"


def _plural_word(number, word):
    return word if number == 1 else word + "s"


def _verb(number, singular, plural):
    return singular if number == 1 else plural


def _label(index, name, vocabulary):
    """``VM 2 (cp-3)``, ``instance 0``."""
    return f"{vocabulary.unit} {index}" + (f" ({name})" if name else "")


# --------------------------------------------------------------------------- rejections


def _maths(problem, fmt):
    text = f"{problem.total} x {_num(problem.ratio)} - {fmt(problem.used)} used"
    if problem.planned:
        text += f" - {fmt(problem.planned)} planned"
    return text


def _storage_text(problem):
    pool = problem.storage_pool
    if pool is None:
        return "no storage pool: the host reports none"
    if problem.free is None:
        return f"storage pool '{pool}' not on this host (has: {', '.join(problem.found) or 'none'})"
    return f"storage pool '{pool}': needs {format_bytes(problem.needed)}, has {format_bytes(max(problem.free, 0))}"


_PROBLEM_TEXTS = {
    "pool": lambda problem: f"wrong pool: in '{problem.found}', wants '{problem.needed}'",
    "tags": lambda problem: f"missing tags: {', '.join(problem.needed)}",
    "zone": lambda problem: f"zone {problem.found} not requested (wants {', '.join(problem.needed)})",
    "unhealthy": lambda problem: f"unhealthy: {problem.found or 'no reason given'}",
    "cpu": lambda problem: f"no room: needs {problem.needed} cores, has {_num(problem.free)} free ({_maths(problem, _amount)})",
    "memory": lambda problem: f"no room: needs {problem.needed} MiB, has {_mib(problem.free)} MiB free ({_maths(problem, _mib)})",
    "storage": _storage_text,
}


def rejection_reason(rejection):
    """Why a :class:`~.core.Rejection`'s host was rejected: ``no room: needs 4 cores, has 2.0 free (16 x 1.0 - 14 used)``."""
    return "; ".join(_PROBLEM_TEXTS[problem.code](problem) for problem in rejection.problems)


def rejection_dict(rejection):
    """JSON-safe ``host``, ``host_id``, ``zone``, ``code``, ``reason`` of a rejection."""
    return {
        "host": json_safe(rejection.host),
        "host_id": json_safe(rejection.host_id),
        "zone": json_safe(rejection.zone),
        "code": json_safe(rejection.code),
        "reason": rejection_reason(rejection),
    }


# --------------------------------------------------------------------------- placements


def _least_allocated_cpu_text(figures):
    return f"{_amount(figures['used_cores'])} cores allocated, {_mib(figures['free_memory'])} MiB free"


def _most_free_text(figures):
    return (f"free ratio {figures['free_ratio']:.2f} = {_num(figures['free_cores'])} free cores / {figures['cores']}"
            f" + {_mib(figures['free_memory'])} MiB free / {figures['memory']}")


def _balanced_text(figures):
    cpu, memory = figures["cpu"], figures["memory"]
    return f"after placement CPU {cpu:.0%} and memory {memory:.0%} used (gap {abs(cpu - memory):.2f})"


# Built-in strategy -> words for the figures its describe function returns (a dict).
_STRATEGY_TEXTS = {
    "least-allocated-cpu": _least_allocated_cpu_text,
    "most-free": _most_free_text,
    "balanced": _balanced_text,
}


def _strategy_text(placement):
    figures = placement.figures
    if figures is None:
        return f"key {json_safe(placement.key)}"
    words = _STRATEGY_TEXTS.get(placement.strategy)
    return words(figures) if words is not None and isinstance(figures, dict) else str(figures)


def _runner_up_text(placement, vocabulary):
    lost = ""
    if placement.runner_up_lost == "max_skew":
        lost = f"; zone {placement.runner_up_zone} would push the spread above max_skew {placement.max_skew}"
    elif placement.runner_up_lost == "host_replicas":
        lost = f"; its host already {vocabulary.runs} {_plural(placement.runner_up_replicas, vocabulary.replica)}{vocabulary.of_group_implied}"
    elif placement.runner_up_lost == "zone_replicas":
        lost = f"; zone {placement.runner_up_zone} had {_plural(placement.runner_up_replicas, vocabulary.replica)}{vocabulary.of_group_implied}"
    return f"runner-up {placement.runner_up} in {placement.runner_up_zone} (score {_score_text(placement.runner_up_score)}{lost})"


def placement_reason(placement, vocabulary, single=False):
    """Why a :class:`~.core.Placement` went where it did: zone, anti-affinity, strategy, runner-up.

    ``single``: the request places one unit (with :data:`INSTANCE`, the zone and host clauses are then
    left out when they say nothing).
    """
    replica = vocabulary.replica
    parts = []
    quiet = (single and vocabulary.quiet_single_spread and placement.fewer_full is None
             and placement.zone_replicas == 0 and placement.fewest == 0 and not placement.shared_replicas)
    if not quiet:
        had = f"zone {placement.zone} had {_plural(placement.zone_replicas, replica)}{vocabulary.of_group}"
        if placement.fewer_full is not None:
            parts.append(f"{had}; the {_plural(placement.fewer_full, 'zone')} with fewer had no room")
        else:
            parts.append(f"{had} (fewest: {placement.fewest})")
        if placement.shared_replicas:
            parts.append(f"host already {vocabulary.runs} {_plural(placement.shared_replicas, replica)}{vocabulary.of_group_again}")
        else:
            parts.append(f"no {replica}{vocabulary.of_group_again} on the host")
    parts.append(f"{placement.strategy}: {_strategy_text(placement)}")
    if placement.runner_up is not None:
        parts.append(_runner_up_text(placement, vocabulary))
    return "; ".join(parts)


def placement_dict(placement, vocabulary, single=False):
    """JSON-safe ``index``, ``name``, ``host``, ``host_id``, ``zone``, ``score``, ``reason``, ``runner_up``,
    ``runner_up_score``, ``shared_replicas`` of a placement."""
    return {
        "index": json_safe(placement.index),
        "name": json_safe(placement.name),
        "host": json_safe(placement.host),
        "host_id": json_safe(placement.host_id),
        "zone": json_safe(placement.zone),
        "score": json_safe(placement.score),
        "reason": placement_reason(placement, vocabulary, single),
        "runner_up": json_safe(placement.runner_up),
        "runner_up_score": json_safe(placement.runner_up_score),
        "shared_replicas": json_safe(placement.shared_replicas),
    }


# --------------------------------------------------------------------------- warnings


def _hosts_text(tally, of=None, where=""):
    """``2 hosts lack 4 cores free`` / ``5 of 6 hosts in pool 'x' lack 8192 MiB free`` / ``1 host is unhealthy``."""
    number = tally.hosts
    subject = f"{number} of {_plural(of, 'host')}" if of is not None else _plural(number, "host")
    if tally.code == "unhealthy":
        return f"{subject}{where} {_verb(number, 'is', 'are')} unhealthy"
    if tally.code == "storage":
        pool = f"storage pool '{tally.storage_pool}'" if tally.storage_pool else "the default storage pool"
        what = f"{format_bytes(tally.needed)} in {pool}"
    else:
        what = f"{tally.needed} cores free" if tally.code == "cpu" else f"{tally.needed} MiB free"
    return f"{subject}{where} {_verb(number, 'lacks', 'lack')} {what}"


def _zone_story(shortfall, vocabulary):
    """Why a zone could not take more replicas (a :class:`~.core.ZoneShortfall`)."""
    code = shortfall.code
    if code == "uneven":
        return f"still has room, but {vocabulary.existing} are too uneven for {_plural(shortfall.new, 'new ' + vocabulary.unit)} to even out"
    if code == "no_host":
        return "has no host"
    if code == "no_matching_host":
        return "has no host matching the request"
    pieces = ", ".join(_hosts_text(tally) for tally in shortfall.hosts)
    if code == "unhealthy":
        return f"has no healthy host: {pieces}"
    after = f" after {_plural(shortfall.new, 'new ' + vocabulary.unit)}" if shortfall.new else ""
    return f"ran out of room{after}: {pieces}"


def _shared_host_text(warning, vocabulary):
    text = (f"{_label(warning.index, warning.name, vocabulary)} shares host {warning.host} with "
            f"{_plural(warning.replicas, 'other ' + vocabulary.replica)}{vocabulary.of_group}: "
            f"no host without one had room in zone {warning.zone}")
    zones = warning.unused_zones
    if zones:
        listed = ", ".join(zones[:5]) + (f" and {len(zones) - 5} more" if len(zones) > 5 else "")
        text += (f"; hosts without one in {listed} were not used: that would make the zone spread "
                 f"{warning.spread}, above max_skew {warning.max_skew}")
    return text


def _spread_text(warning, vocabulary):
    counts = ", ".join(f"{zone}: {count}" for zone, count in warning.zone_counts.items())
    why = "; ".join(f"zone {shortfall.zone} {_zone_story(shortfall, vocabulary)}" for shortfall in warning.short)
    return f"zone spread is {warning.skew} ({counts}), asked for at most {warning.max_skew}: {why}"


def warning_text(warning, vocabulary):
    """A plan's warning (:class:`~.core.SharedHostWarning` or :class:`~.core.SpreadWarning`) in words."""
    if warning.code == "shared_host":
        return _shared_host_text(warning, vocabulary)
    return _spread_text(warning, vocabulary)


# --------------------------------------------------------------------------- plans


def plan_lines(plan, vocabulary):
    """Readable lines of a :class:`~.core.Plan`: one per placement, rejection and warning, then the zone counts."""
    single = len(plan.placements) == 1
    lines = [
        f"strategy {plan.strategy}: {_plural(len(plan.placements), vocabulary.unit)} placed; "
        f"{plan.considered} hosts considered, {len(plan.rejected)} rejected"
    ]
    for placement in plan.placements:
        lines.append(f"{_label(placement.index, placement.name, vocabulary)} -> {placement.host} in {placement.zone}: "
                     f"{placement_reason(placement, vocabulary, single)}")
    for rejection in plan.rejected:
        lines.append(f"rejected {rejection.host} ({rejection.zone}): {rejection_reason(rejection)}")
    for warning in plan.warnings:
        lines.append(f"warning: {warning_text(warning, vocabulary)}")
    counts = ", ".join(f"{zone}={count}" for zone, count in plan.zone_counts.items())
    lines.append(f"zones: {counts} (spread {plan.skew}, max_skew {plan.max_skew})")
    return lines


def plan_dict(plan, vocabulary):
    """JSON-safe, stable representation of a plan (key order and list order are deterministic)."""
    single = len(plan.placements) == 1
    return {
        "strategy": plan.strategy,
        "placements": [placement_dict(placement, vocabulary, single) for placement in plan.placements],
        "rejected": [rejection_dict(rejection) for rejection in plan.rejected],
        "warnings": [warning_text(warning, vocabulary) for warning in plan.warnings],
        "zone_counts": dict(plan.zone_counts),
        "skew": plan.skew,
        "max_skew": plan.max_skew,
        "considered": plan.considered,
    }


# --------------------------------------------------------------------------- errors


def _scope_text(request):
    text = ""
    if request.pool is not None:
        text += f" in pool '{request.pool}'"
    if request.zones is not None:
        text += f" in {_plural_word(len(request.zones), 'zone')} {', '.join(request.zones)}"
    if request.tags:
        text += f" with tags {', '.join(request.tags)}"
    return text


def error_reason(error):
    """The tightest constraint of a :class:`~.core.PlacementError`, as a sentence: ``cpu — 4 of 5 hosts lack 4 cores free``."""
    request = error.request
    code = error.code
    if code == "hosts":
        return "hosts — no hosts to choose from"
    if code == "pool":
        return f"pool — no host is in pool '{request.pool}' (pools: {', '.join(error.names)})"
    in_pool = f" in pool '{request.pool}'" if request.pool is not None else ""
    if code == "tags":
        return (f"tags — none of the {_plural(error.hosts, 'host')}{in_pool} "
                f"{_verb(error.hosts, 'has', 'have')} tags {', '.join(request.tags)}")
    if code == "zones":
        where = in_pool + (f" with tags {', '.join(request.tags)}" if request.tags else "")
        return (f"zones — none of the {_plural(error.hosts, 'host')}{where} is in "
                f"{_plural_word(len(request.zones), 'zone')} {', '.join(request.zones)} (their zones: {', '.join(error.names)})")
    tightest, *others = error.tally
    text = f"{code} — {_hosts_text(tightest, of=error.hosts, where=_scope_text(request))}"
    if others:
        text += f" (also {', '.join(f'{tally.code} {tally.hosts} of {error.hosts}' for tally in others)})"
    return text


def error_message(error, vocabulary):
    """What a :class:`~.core.PlacementError` means: what was asked, how far it got, the tightest constraint."""
    request = error.request
    placed = len(error.placements)
    unit = vocabulary.unit
    summary = f"{_plural(request.count, unit)} ({request_summary(request)})"
    if error.with_room:
        room = (f"only {_plural(error.with_room, 'host')} {_verb(error.with_room, 'has', 'have')} room, "
                f"for {placed} of the {request.count} {_plural_word(2, unit)}")
    else:
        room = "no host has room"
    after = f" (after placing {placed})" if placed else ""
    return f"cannot place {summary}: {room}; tightest constraint{after}: {error_reason(error)}"


def error_dict(error, vocabulary):
    """JSON-safe ``error`` (the message), ``reason`` (the tightest constraint), ``rejected``, ``placements`` (for API error bodies and module results)."""
    single = error.request.count == 1
    return {
        "error": error_message(error, vocabulary),
        "reason": error_reason(error),
        "rejected": [rejection_dict(rejection) for rejection in error.rejected],
        "placements": [placement_dict(placement, vocabulary, single) for placement in error.placements],
    }
