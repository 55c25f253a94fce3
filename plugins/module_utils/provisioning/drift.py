# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift (an existing machine against the arguments) and the views ``--diff`` shows before and after."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.machines import machine_disks, machine_ips, machine_view
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.states import LINKABLE
from ansible_collections.lxdcp.maas.plugins.module_utils.provisioning.spec import DEFAULT_CORES, DEFAULT_MEMORY
from ansible_collections.lxdcp.maas.plugins.module_utils.units import same_size


def find_drift(machine, spec, vm_host=None):
    """Differences between an existing machine and the arguments: ``[{field, current, wanted}]``.

    Only what the task sets is compared. In bare-metal mode cores and memory are minimums. ``vm_host``: the host that
    holds the VM when MAAS does not say (``machine_view``). A machine MAAS reports without cores and memory has not been
    commissioned (a VM registered in direct mode): its size and addresses are not known yet, so they are not compared.
    """
    drift = []
    unknown = not machine.get("cpu_count") and not machine.get("memory")

    def add(field, current, wanted):
        drift.append(dict(field=field, current=current, wanted=wanted))

    if spec.cores is not None and not unknown:
        current = machine.get("cpu_count")
        if (current != spec.cores) if spec.lxd else (current or 0) < spec.cores:
            add("cores", current, spec.cores if spec.lxd else ">= %d" % spec.cores)
    if spec.memory is not None and not unknown:
        current = machine.get("memory")
        if (current != spec.memory) if spec.lxd else (current or 0) < spec.memory:
            add("memory", current, spec.memory if spec.lxd else ">= %d" % spec.memory)
    if spec.disks is not None and spec.lxd and not unknown:
        current = [d["size"] for d in machine_disks(machine)]
        wanted = [d["size"] for d in spec.disks]
        if len(current) != len(wanted) or not all(same_size(c, w) for c, w in zip(current, wanted)):
            add("disks", current, wanted)
    host = vm_host or machine.get("pod") or {}
    if spec.lxd and spec.vm_host and spec.vm_host not in (host.get("name"), str(host.get("id"))):
        add("vm_host", host.get("name"), spec.vm_host)
    zone = (machine.get("zone") or {}).get("name")
    if spec.zones and zone not in spec.zones:
        add("zone", zone, spec.zones)
    pool = (machine.get("pool") or {}).get("name")
    if spec.pool and pool != spec.pool:
        add("pool", pool, spec.pool)
    current_ips = machine_ips(machine)
    for interface in spec.interfaces:
        if interface["name"] not in current_ips:
            add("interfaces", sorted(current_ips), interface["name"])
        elif (interface["ip"] and interface["ip"] not in current_ips[interface["name"]] and machine.get("status_name") not in LINKABLE
              and not unknown):
            add("ip of %s" % interface["name"], current_ips[interface["name"]], interface["ip"])
    return drift


def diff_view(machine, state=None, vm_host=None):
    """The fields shown by --diff (``vm_host``: as for ``machine_view``)."""
    if machine is None:
        return {}
    view = machine_view(machine, vm_host)
    return dict(
        hostname=view["hostname"],
        status=state or view["status"],
        cores=view["cores"],
        memory=view["memory"],
        disks=[d["size"] for d in view["disks"]],
        vm_host=(view["vm_host"] or {}).get("name"),
        zone=view["zone"],
        pool=view["pool"],
        tags=sorted(view["tags"]),
        ip_addresses=sorted(ip for ips in machine_ips(machine).values() for ip in ips),
    )


def wanted_view(machine, drift, spec, vm_host=None):
    """What --diff shows as "after" for a machine with ``drift``: its fields with the wanted values in place."""
    after = diff_view(machine, vm_host=vm_host)
    for item in drift:
        field, wanted = item["field"], item["wanted"]
        if field == "zone" and len(wanted) == 1:
            wanted = wanted[0]
        if field in after:
            after[field] = wanted
    if any(item["field"] == "interfaces" or item["field"].startswith("ip of ") for item in drift):
        current = machine_ips(machine)
        named = set(i["name"] for i in spec.interfaces)
        ips = [ip for name, found in current.items() if name not in named for ip in found]
        for interface in spec.interfaces:
            ips.extend([interface["ip"]] if interface["ip"] else current.get(interface["name"], []))
        after["ip_addresses"] = sorted(set(ips))
    return after


def predicted_view(spec, state, placement, known=None):
    """What --diff shows as "after" for a machine that does not exist yet (``placement``: the chosen host, if any).

    ``known``: fields known before the machine exists (``Provisioner.predict_made``), in place of what the arguments
    say: the size and place of the bare-metal machine MAAS would allocate, the tags and pool a VM gets from its host.
    """
    chosen = (placement or {}).get("placements") or [{}]
    after = dict(
        hostname=spec.hostname,
        status=state,
        cores=spec.cores or DEFAULT_CORES,
        memory=spec.memory or DEFAULT_MEMORY,
        disks=[d["size"] for d in spec.compose_disks()],
        vm_host=chosen[0].get("host"),
        zone=chosen[0].get("zone"),
        pool=spec.pool,
        tags=[],
        ip_addresses=sorted(i["ip"] for i in spec.interfaces if i["ip"]),
    )
    after.update((key, value) for key, value in (known or {}).items() if key not in ("hostname", "status"))
    after["tags"] = sorted((set(after["tags"]) | set(spec.wanted_tags)) - set(spec.unwanted_tags))
    return after
