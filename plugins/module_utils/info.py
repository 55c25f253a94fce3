# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runners of the info modules: ``maas_vmhost_info`` and ``maas_machine_info`` (read only)."""

from __future__ import annotations

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import LxdcpError
from ansible_collections.lxdcp.maas.plugins.module_utils.machines import machine_addresses, machine_view, parse_provider_id
from ansible_collections.lxdcp.maas.plugins.module_utils.lxd_hosts import Connections, Defaults, host_entries, lxd_candidates, lxd_host_view, lxd_hosts
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasAuthError, MaasGone
from ansible_collections.lxdcp.maas.plugins.module_utils.maas.waiters import wait_for_machines
from ansible_collections.lxdcp.maas.plugins.module_utils.maas_view import backing_machines, check_places, cluster_members, vm_host_project
from ansible_collections.lxdcp.maas.plugins.module_utils.names import cluster_error, hostname_error, tag_error
from ansible_collections.lxdcp.maas.plugins.module_utils.ownership import ownership
from ansible_collections.lxdcp.maas.plugins.module_utils.vmhosts import vm_host_health, vm_host_view

# Filters of maas_machine_info that MAAS applies itself, in the order the log names them.
MACHINE_FILTERS = ("system_id", "hostname", "provider_id", "cluster", "tags", "zones", "pool", "status")


def vm_host_info(context):
    """``maas_vmhost_info``: the VM hosts passing the filters, with capacity, health and (opt-in) project; in direct mode
    (``lxd_via``; MAAS 4.0 answers 410 on VM hosts) the LXD hosts, read from LXD."""
    params = context.params
    client = context.client()
    check_places(client, params["zones"], params["pool"])
    if params["lxd_via"] == "direct":
        return _lxd_host_info(context, client)
    try:
        listed = client.list_vm_hosts()
    except MaasGone:
        if params["lxd_via"] == "vm-host":
            raise
        context.log("MAAS has no VM hosts (410): listing the LXD hosts of direct mode (lxd_via: auto)")
        return _lxd_host_info(context, client)
    vm_hosts = sorted((h for h in listed if _vm_host_matches(h, params)), key=lambda h: h.get("id") or 0)
    context.log("%d VM host(s) match the filters" % len(vm_hosts))
    machines = backing_machines(client, vm_hosts) if params["include_health"] and vm_hosts else {}
    result = []
    project_refused = False
    for vm_host in vm_hosts:
        if params["include_health"]:
            health = vm_host_health(vm_host, machines.get((vm_host.get("host") or {}).get("system_id")))
        else:
            health = {"healthy": True, "state": "unknown", "reason": "not checked (include_health: false)"}
        project = None
        if params["include_project"] and not project_refused:
            try:
                project = vm_host_project(client, vm_host)
            except MaasAuthError:
                project_refused = True
        result.append(vm_host_view(vm_host, health, project, params["include_project"]))
    if project_refused:
        context.warn("the LXD project of the VM hosts could not be read: op=parameters needs a MAAS admin key")
    return dict(changed=False, vm_hosts=result, via="vm-host")


def _lxd_host_info(context, client):
    """The LXD hosts passing the filters (judged before LXD is read), each read from LXD as placement reads it."""
    params = context.params
    hosts = lxd_hosts(client, host_entries(params["lxd_hosts"]), Defaults.from_options(params))
    matching = [host for host in hosts if _lxd_host_matches(host, params)]
    context.log("%d LXD host(s) match the filters" % len(matching))
    if params["type"] == "virsh":
        matching = []
    result = []
    if matching:
        candidates = lxd_candidates(client, matching, connect_host=Connections(logger=context.log, warn=context.warn))
        for host, placement_host in candidates.pairs:
            view = lxd_host_view(host, placement_host)
            if not params["include_health"]:
                view["health"] = {"healthy": True, "state": "unknown", "reason": "not checked (include_health: false)"}
            if params["include_project"]:
                view["project"] = host["project"]
            result.append(view)
    return dict(changed=False, vm_hosts=result, via="direct")


def _lxd_host_matches(host, params):
    names = params["name"]
    if names and host["name"] not in names:
        return False
    if params["zones"] and host["zone"] not in params["zones"]:
        return False
    if params["pool"] and host["pool"] != params["pool"]:
        return False
    return all(tag in host["tags"] for tag in params["host_tags"] or [])


def _vm_host_matches(vm_host, params):
    names = params["name"]
    if names and vm_host.get("name") not in names and str(vm_host.get("id")) not in names:
        return False
    if params["type"] != "any" and vm_host.get("type") != params["type"]:
        return False
    if params["zones"] and (vm_host.get("zone") or {}).get("name") not in params["zones"]:
        return False
    if params["pool"] and (vm_host.get("pool") or {}).get("name") != params["pool"]:
        return False
    tags = vm_host.get("tags") or []
    return all(tag in tags for tag in params["host_tags"] or [])


def machine_info(context):
    """``maas_machine_info``: the machines passing the filters (one filtered ``GET /machines/``), with ownership."""
    params = context.params
    problems = [hostname_error(name) for name in params["hostname"] or []]
    problems.append(cluster_error(params["cluster"]) if params["cluster"] is not None else None)
    problems.extend(tag_error(tag) for tag in params["tags"] or [])
    wanted_ids = {}
    for text in params["provider_id"] or []:
        try:
            wanted_ids[text] = parse_provider_id(text)["system_id"]
        except ValueError as exc:
            problems.append(str(exc))
    problems = [text for text in problems if text]
    if params["wait_for"] and not (params["system_id"] or params["hostname"] or params["provider_id"]):
        problems.append("wait_for needs the machines to wait for: system_id, hostname or provider_id")
    if problems:
        raise LxdcpError("; ".join(problems))
    client = context.client()
    ids = list(dict.fromkeys(list(params["system_id"] or []) + list(wanted_ids.values())))
    filters = dict(id=ids, hostname=params["hostname"], zone=params["zones"], pool=params["pool"], status=params["status"])
    filters = dict((key, value) for key, value in filters.items() if value)
    tags = params["tags"] or []
    if params["cluster"] is not None:
        machines = cluster_members(client, params["cluster"], tags, **filters)
    elif tags:
        machines = client.list_machines_tagged(tags, **filters)
    else:
        machines = client.list_machines(**filters)
    context.log("%d machine(s) match %s" % (len(machines), _describe_filters(params)))
    waits = None
    if params["wait_for"]:
        machines, waits = _wait(context, client, machines)
    scheme = params["vm_provider_id_scheme"]
    found = sorted((_machine_info(m, scheme) for m in machines), key=lambda m: (m["hostname"] or "", m["system_id"] or ""))
    result = dict(changed=False, machines=found)
    if params["hostname"] or wanted_ids:
        names = set(m["hostname"] for m in found)
        system_ids = set(m["system_id"] for m in found)
        result["missing"] = [name for name in dict.fromkeys(params["hostname"] or []) if name not in names]
        result["missing"].extend(text for text, system_id in wanted_ids.items() if system_id not in system_ids)
    if params["system_id"]:
        have = set(m["system_id"] for m in found)
        result["missing_ids"] = [value for value in dict.fromkeys(params["system_id"]) if value not in have]
    if waits is not None:
        result.update(waits)
        failed = [w["reason"] for w in waits["waits"] if not w["ok"]]
        if failed:
            raise LxdcpError(" ".join(failed), **result)
    return result


def _wait(context, client, machines):
    """``wait_for``: wait for the matching machines together (one request per interval for all); returns the machines
    as last read and ``{"waits": [...], "polls": N}``."""
    params = context.params
    known = dict((m["system_id"], m) for m in machines)
    outcomes, polls = wait_for_machines(client, list(known), params["wait_for"], params["wait_timeout"], known=known)
    waits = []
    for system_id, machine in known.items():
        outcome = outcomes[system_id]
        waits.append(dict(system_id=system_id, hostname=machine.get("hostname"), status=outcome["status"],
                          ok=outcome["ok"], timed_out=outcome["timed_out"], reason=outcome["reason"]))
    context.log("waited for %d machine(s) with %d request(s): %d reached %s" % (
        len(waits), polls, len([w for w in waits if w["ok"]]), " or ".join(params["wait_for"])))
    last = [outcomes[s]["machine"] or known[s] for s in known]
    return last, dict(waits=sorted(waits, key=lambda w: (w["hostname"] or "", w["system_id"])), polls=polls)


def _describe_filters(params):
    """``hostname=cp-1,cp-2 cluster=prod`` for the log; ``no filter`` without any."""
    parts = []
    for key in MACHINE_FILTERS:
        value = params[key]
        if value:
            parts.append("%s=%s" % (key, ",".join(value) if isinstance(value, list) else value))
    return " ".join(parts) or "no filter"


def _machine_info(machine, vm_provider_id_scheme):
    view = machine_view(machine, vm_provider_id_scheme=vm_provider_id_scheme)
    view["managed"], view["cluster"] = ownership(machine)
    view["addresses"] = machine_addresses(machine)
    return view
