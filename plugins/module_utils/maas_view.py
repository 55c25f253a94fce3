# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MAAS view of placement: what the module and the lookup read of MAAS to decide where VMs go.

:func:`candidate_hosts` is the one read of the LXD VM hosts, their health and the cluster's
machines, used by ``maas_lxd_vm`` (composing) and the ``maas_placement`` lookup alike: one
``GET /vm-hosts/``, one filtered ``GET /machines/?id=...`` for the machines behind them and one
``GET /machines/?tags=lxdcp-cluster-<cluster>`` for the cluster.
"""

from __future__ import annotations

import dataclasses

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import is_vm
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import cluster_tag, left_untagged_vm
from ansible_collections.lxdcp.maas.plugins.module_utils.vmhosts import placement_host, vm_host_health


def check_places(client, zones=None, pool=None):
    """The id of resource pool ``pool`` (None without one); LxdcpError for zone or pool names MAAS does not know.

    A typo would otherwise match nothing and surface only as "no room".
    """
    if zones:
        known = sorted(z["name"] for z in client.list_zones())
        unknown = [z for z in zones if z not in known]
        if unknown:
            raise LxdcpError("unknown zone(s): %s (MAAS has: %s)" % (", ".join(unknown), ", ".join(known)))
    if not pool:
        return None
    pools = dict((p["name"], p["id"]) for p in client.list_resource_pools())
    if pool not in pools:
        raise LxdcpError("unknown resource pool %r (MAAS has: %s)" % (pool, ", ".join(sorted(pools))))
    return pools[pool]


def backing_machines(client, vm_hosts):
    """``{system_id: machine}`` of the machines the VM hosts run on, in one filtered request."""
    ids = sorted({h.get("host", {}).get("system_id") for h in vm_hosts} - {None})
    return {m["system_id"]: m for m in client.get_machines(ids)} if ids else {}


def vm_host_project(client, vm_host):
    """The LXD project of a VM host, from ``op=parameters`` (admin only; MaasAuthError otherwise).

    Only the project is taken: the parameters also hold the LXD password, key and certificate.
    None for a host without a project (virsh).
    """
    parameters = client.vm_host_parameters(vm_host["id"])
    return parameters.get("project") if isinstance(parameters, dict) else None


def cluster_members(client, cluster, tags=(), **filters):
    """The machines of ``cluster`` (those carrying its ownership tag and all of ``tags``), with one filtered request.

    ``filters`` are further ``GET /machines/`` filters (``hostname``, ``zone``, ``pool``, ``status``...).
    """
    return client.list_machines_tagged([cluster_tag(cluster)] + list(tags), **filters)


def cluster_vms(client, cluster, names=(), exclude=()):
    """``{hostname: machine}`` of the cluster (its tagged machines, and those of ``names`` an interrupted run left
    untagged, read with one more filtered request only when needed), but those named in ``exclude``; {} without a cluster."""
    if not cluster:
        return {}
    members = {m.get("hostname"): m for m in cluster_members(client, cluster)}
    untagged = [name for name in names if name not in members]
    if untagged:
        members.update((m.get("hostname"), m) for m in client.list_machines(hostname=untagged)
                       if m.get("hostname") in untagged and left_untagged_vm(m, cluster))
    return {name: machine for name, machine in members.items() if name not in exclude}


def replica_counts(members, vm_host_ids, vms=True):
    """How many of ``members`` (machines of one cluster) count as replicas, per VM host and per zone.

    Returns ``(per_vm_host, per_zone)``. With ``vms`` only composed VMs count, so that bare-metal
    workers of a mixed cluster do not shape the spread of its control plane: a VM on a VM host in
    ``vm_host_ids`` counts on that host, any other VM in its zone (``Request.existing_zones``).
    Without ``vms`` only bare-metal machines count, per zone.
    """
    per_host, per_zone = {}, {}
    for member in members:
        pod = (member.get("pod") or {}).get("id")
        if vms != is_vm(member):
            continue
        if pod is not None and pod in vm_host_ids:
            per_host[pod] = per_host.get(pod, 0) + 1
        else:
            zone = (member.get("zone") or {}).get("name") or "default"
            per_zone[zone] = per_zone.get(zone, 0) + 1
    return per_host, per_zone


class NoLxdVmHost(LxdcpError):
    """MAAS has no LXD VM host to compose on."""


@dataclasses.dataclass
class Candidates:
    """The LXD VM hosts of MAAS as the placement core sees them, and the cluster's machines.

    ``pairs`` holds ``(vm_host, Host)`` for every LXD VM host (MAAS's object and the placement
    core's view, with health and the cluster's replicas on it); ``not_lxd`` the rejections of the
    other VM hosts (code ``type``); ``members`` the cluster's machines by hostname;
    ``existing_zones`` the cluster's VMs that are on no LXD VM host, per zone; ``warnings`` what
    MAAS could not tell (a backing machine this user cannot see); ``hosted`` the host of each of the
    cluster's VMs when MAAS does not say it (direct mode: hostname -> LXD host).
    """

    pairs: list
    not_lxd: list
    members: dict
    existing_zones: dict
    warnings: list
    hosted: dict = dataclasses.field(default_factory=dict)
    via: str = "vm-host"  # how the VMs are made: composed on MAAS's VM hosts, or "direct" on LXD hosts

    @property
    def hosts(self):
        """The placement core's hosts."""
        return [host for _vm_host, host in self.pairs]

    def vm_host(self, name):
        """MAAS's VM host object of the host named ``name``."""
        return next(vm_host for vm_host, host in self.pairs if host.name == name)


def lxd_vm_hosts(client):
    """``(LXD VM hosts, rejections of the others)``: one ``GET /vm-hosts/``; VMs are composed on LXD hosts only."""
    vm_hosts, not_lxd = [], []
    for vm_host in client.list_vm_hosts():
        if vm_host.get("type") == "lxd":
            vm_hosts.append(vm_host)
            continue
        not_lxd.append({
            "host": vm_host.get("name"),
            "host_id": vm_host.get("id"),
            "zone": (vm_host.get("zone") or {}).get("name") or "default",
            "code": "type",
            "reason": "%s VM host, not LXD: maas_lxd_vm composes LXD VMs only" % (vm_host.get("type") or "untyped"),
        })
    if not vm_hosts:
        others = "; ".join("%s: %s" % (item["host"], item["reason"]) for item in not_lxd)
        raise NoLxdVmHost("MAAS has no LXD VM host%s; add one (MAAS UI > KVM > Add LXD host)" % (" (%s)" % others if others else ""))
    return vm_hosts, not_lxd


def candidate_hosts(client, cluster=None, exclude=(), overrides=None, vet=None, names=()):
    """The one read of placement candidates (see the module docstring); LxdcpError when MAAS has no LXD VM host.

    ``exclude`` are hostnames that do not count as the cluster's replicas (the VM being placed);
    ``overrides`` replaces fields of every placement host (``cpu_over_commit``, ``memory_over_commit``);
    ``vet(vm_hosts)`` runs right after the VM hosts are read, before the other reads, to fail early on
    what the caller can judge from them alone; ``names`` are hostnames of the cluster's VMs (the plan's):
    those that exist untagged are the cluster's too (``ownership.of_cluster``), read with one more
    filtered request only when some name is not among the tagged machines.
    """
    vm_hosts, not_lxd = lxd_vm_hosts(client)
    if vet is not None:
        vet(vm_hosts)
    machines = backing_machines(client, vm_hosts)
    members = cluster_vms(client, cluster, names, exclude)
    per_host, outside = replica_counts(members.values(), {vm_host.get("id") for vm_host in vm_hosts})
    pairs, warnings = [], []
    for vm_host in vm_hosts:
        system_id = (vm_host.get("host") or {}).get("system_id")
        health = vm_host_health(vm_host, machines.get(system_id))
        if system_id is not None and health["state"] == "unknown":
            warnings.append("VM host %s: %s; its health is not checked" % (vm_host.get("name"), health["reason"]))
        host = placement_host(vm_host, health, per_host.get(vm_host.get("id"), 0))
        pairs.append((vm_host, dataclasses.replace(host, **overrides) if overrides else host))
    return Candidates(pairs=pairs, not_lxd=not_lxd, members=members, existing_zones=outside, warnings=warnings)
