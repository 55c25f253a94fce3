# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MAAS VM hosts: health from the machine behind them, capacity, and the placement core's view of them.

Pure functions over MAAS's objects (no requests here; ``maas_view.py`` reads them).
"""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import DEPLOYED
from ansible_collections.lxdcp.maas.plugins.module_utils.placement.core import Host, free_cores, free_memory
from ansible_collections.lxdcp.maas.plugins.module_utils.units import to_gb

# Power states of a backing machine that make its VM host unusable.
_BAD_POWER_STATES = ("off", "error")


def vm_host_health(vm_host, machine):
    """Health of a VM host from its backing machine (``host.system_id``).

    A host not backed by a MAAS machine (added by address) or whose machine this user cannot
    see is reported healthy with ``state: unknown``: MAAS offers nothing else to judge it by.
    """
    system_id = (vm_host.get("host") or {}).get("system_id")
    if system_id is None:
        return dict(healthy=True, state="unknown", reason="not backed by a MAAS machine (added by address)",
                    system_id=None, machine_status=None, power_state=None)
    return machine_health(system_id, machine)


def machine_health(system_id, machine, what="backing machine"):
    """Health of the machine a host runs on: Deployed and not powered off or in error (``what`` names it in reasons)."""
    if machine is None:
        return dict(healthy=True, state="unknown", reason="%s %s is not visible to this user" % (what, system_id),
                    system_id=system_id, machine_status=None, power_state=None)
    status = machine.get("status_name")
    power = machine.get("power_state")
    health = dict(system_id=system_id, machine_status=status, power_state=power)
    if status != DEPLOYED:
        detail = machine.get("error_description") or machine.get("status_message") or ""
        reason = "%s %s is %s" % (what, machine.get("hostname", system_id), status)
        health.update(healthy=False, state="unhealthy", reason=reason + (": %s" % detail if detail else ""))
    elif power in _BAD_POWER_STATES:
        health.update(healthy=False, state="unhealthy",
                      reason="%s %s is powered %s" % (what, machine.get("hostname", system_id), power))
    else:
        health.update(healthy=True, state="healthy", reason="%s %s is Deployed" % (what, machine.get("hostname")))
    return health


def placement_host(vm_host, health=None, replicas=0):
    """The placement core's ``Host`` for a MAAS VM host (MiB and bytes as MAAS reports them)."""
    total = vm_host.get("total") or {}
    used = vm_host.get("used") or {}
    pools = vm_host.get("storage_pools")
    storage = None
    default_pool = None
    if pools:
        storage = dict((p["name"], max(0, int(p.get("available") or 0))) for p in pools)
        default_pool = next((p["name"] for p in pools if p.get("default")), None)
    health = health or {"healthy": True, "reason": ""}
    return Host(
        name=vm_host["name"],
        total_cores=int(total.get("cores") or 0),
        used_cores=max(0, used.get("cores") or 0),
        total_memory=int(total.get("memory") or 0),
        used_memory=max(0, used.get("memory") or 0),
        zone=(vm_host.get("zone") or {}).get("name", "default"),
        pool=(vm_host.get("pool") or {}).get("name", "default"),
        tags=tuple(vm_host.get("tags") or ()),
        cpu_over_commit=float(vm_host.get("cpu_over_commit_ratio") or 1.0),
        memory_over_commit=float(vm_host.get("memory_over_commit_ratio") or 1.0),
        storage=storage,
        default_storage_pool=default_pool,
        healthy=bool(health["healthy"]),
        health_reason=health.get("reason", ""),
        replicas=replicas,
        id=vm_host.get("id"),
    )


def vm_host_view(vm_host, health, project=None, include_project=False):
    """A VM host as modules return it: identity, placement attributes, capacity and health.

    ``free`` applies over-commit (``total * ratio - used``, the placement core's ``free_cores``
    and ``free_memory``); storage is reported per pool in bytes and decimal GB.
    """
    host = placement_host(vm_host, health)
    total = vm_host.get("total") or {}
    used = vm_host.get("used") or {}
    pools = [dict(name=pool.get("name"), id=pool.get("id"), type=pool.get("type"), path=pool.get("path"),
                  default=bool(pool.get("default")), total=pool.get("total"), used=pool.get("used"),
                  available=pool.get("available")) for pool in vm_host.get("storage_pools") or []]
    view = dict(
        id=vm_host.get("id"),
        name=vm_host.get("name"),
        type=vm_host.get("type"),
        version=vm_host.get("version"),
        zone=host.zone,
        pool=host.pool,
        tags=list(host.tags),
        architectures=vm_host.get("architectures") or [],
        capabilities=vm_host.get("capabilities") or [],
        host_system_id=(vm_host.get("host") or {}).get("system_id"),
        **capacity_view(host, dict(cores=used.get("cores") or 0, memory=used.get("memory") or 0),
                        total.get("local_storage") or 0, used.get("local_storage") or 0, pools, health)
    )
    if include_project:
        view["project"] = project
    return view


def capacity_view(host, used, local_total, local_used, pools, health):
    """The capacity fields of a host as the info module returns it, for a VM host or an LXD host alike.

    ``host`` is the placement core's ``Host`` (``free`` applies over-commit as placement does); ``used`` has the
    ``cores`` and ``memory`` (MiB) allocated; ``pools`` the storage pools with ``total``, ``used`` and ``available``
    in bytes (GB added here).
    """
    return dict(
        cpu_over_commit_ratio=host.cpu_over_commit,
        memory_over_commit_ratio=host.memory_over_commit,
        total=dict(cores=host.total_cores, memory=host.total_memory, local_storage=local_total),
        used=dict(cores=used["cores"], memory=used["memory"], local_storage=local_used),
        free=dict(
            cores=_whole(free_cores(host)),
            memory=_whole(free_memory(host)),
            local_storage=local_total - local_used,
            local_storage_gb=to_gb(local_total - local_used),
        ),
        storage_pools=[dict(pool, total_gb=to_gb(pool.get("total") or 0), used_gb=to_gb(pool.get("used") or 0),
                            available_gb=to_gb(pool.get("available") or 0)) for pool in pools],
        default_storage_pool=host.default_storage_pool,
        health=health,
    )


def _whole(value):
    """Capacities print as integers when they are whole (over-commit ratios can make fractions)."""
    return int(value) if float(value).is_integer() else round(value, 2)
