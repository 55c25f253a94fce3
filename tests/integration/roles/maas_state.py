"""Helpers of the role integration tests: maas-sim scenarios, and the outcome of a run read back from MAAS.

The readers use the collection's client (``MaasClient``); each is one filtered read.
"""

from __future__ import annotations

import copy

import yaml

from simharness import default_scenario_path  # pylint: disable=import-error

from ansible_collections.lxdcp.maas.plugins.module_utils.maas.errors import MaasValidationError


def scenario_with_metal(count=3):
    """maas-sim's default scenario plus ``count`` Ready bare-metal machines ``metal-1``... (16 cores, 64 GiB), zones az1-az3 in turn."""
    with open(default_scenario_path(), encoding="utf-8") as handle:
        scenario = copy.deepcopy(yaml.safe_load(handle))
    scenario["machines"] = list(scenario.get("machines") or []) + [
        {"hostname": "metal-%d" % i, "zone": "az%d" % ((i - 1) % 3 + 1), "cpu_count": 16, "memory": 65536, "disks": ["500G"],
         "status": "ready"}
        for i in range(1, count + 1)
    ]
    return scenario


def cluster_machines(maas, cluster):
    """The machines carrying the cluster's ownership tag ([] when the tag does not exist)."""
    try:
        return maas.list_machines(tags=["lxdcp-cluster-%s" % cluster])
    except MaasValidationError:
        return []


def machines_named(maas, names):
    """The machines with these hostnames."""
    return maas.list_machines(hostname=list(names))


def dns_record(maas, fqdn):
    """The DNS resource ``fqdn``, or None."""
    found = maas.get("dnsresources/", params={"fqdn": fqdn})
    return found[0] if found else None


def record_ips(maas, fqdn):
    """The addresses of the DNS resource ``fqdn``, sorted (None when there is no such record)."""
    record = dns_record(maas, fqdn)
    return None if record is None else sorted(ip["ip"] for ip in record["ip_addresses"])


def allocated(maas, ips):
    """The addresses of ``ips`` that MAAS has allocated in any way (machine, reservation, DNS), on the first subnet."""
    subnet = maas.list_subnets()[0]
    held = {entry["ip"] for entry in maas.get("subnets/%s/" % subnet["id"], op="ip_addresses")}
    return sorted(held & set(ips))


def used_capacity(maas):
    """``{VM host: (used cores, used memory)}``."""
    return {host["name"]: (host["used"]["cores"], host["used"]["memory"]) for host in maas.list_vm_hosts()}


def static_ips(machine):
    """The addresses of the machine's static (sticky) links."""
    return sorted(link.get("ip_address") for iface in machine["interface_set"] for link in iface["links"] if link.get("mode") == "static")


# -- failure and recovery checks (test_failure.py, test_recovery.py) ----------------------------------

#: MAAS's alloc_type of an address the API user reserved (IPADDRESS_TYPE.USER_RESERVED).
USER_RESERVED = 4


def tag_names(maas):
    """The names of every MAAS tag (``GET /tags/``)."""
    return sorted(tag["name"] for tag in maas.get("tags/"))


def cluster_tags(maas):
    """The ``lxdcp-cluster-*`` tags MAAS has."""
    return [name for name in tag_names(maas) if name.startswith("lxdcp-cluster-")]


def reservations(maas):
    """``{ip: [system_id, ...]}`` of every USER_RESERVED address (the interfaces using it; [] for none)."""
    return {address["ip"]: [iface.get("system_id") for iface in address.get("interface_set") or []]
            for address in maas.ip_addresses(all_users=True) if address.get("alloc_type") == USER_RESERVED}


def orphan_reservations(maas, baseline=()):
    """USER_RESERVED addresses no interface uses, except those in ``baseline`` (what the scenario starts with)."""
    return sorted(ip for ip, users in reservations(maas).items() if not users and ip not in baseline)


def vm_capacity(machines):
    """``{VM host: (cores, memory)}`` the VMs ``machines`` take."""
    taken = {}
    for machine in machines:
        cores, memory = taken.get(machine["pod"]["name"], (0, 0))
        taken[machine["pod"]["name"]] = (cores + machine["cpu_count"], memory + machine["memory"])
    return taken


def plus(capacity, *extra):
    """``used_capacity`` plus what VMs take (``vm_capacity``)."""
    total = dict(capacity)
    for taken in extra:
        for host, (cores, memory) in taken.items():
            have = total.get(host, (0, 0))
            total[host] = (have[0] + cores, have[1] + memory)
    return total


def problems_of_cluster(maas, cluster, nodes, baseline=(), kept=None):
    """What keeps ``cluster`` from being complete; [] when it is.

    Complete: each hostname of ``nodes`` (``{hostname: ip}``) is exactly one machine, carries the cluster's tags, is
    Deployed and holds its IP as a static link; the cluster has no other machine; the DNS record
    ``<cluster>-api.maas`` holds exactly the nodes' IPs; no USER_RESERVED address nobody uses (beyond ``baseline``).
    ``kept`` (``{hostname: system_id}``): machines that must still be the same ones.
    """
    found = []
    named = machines_named(maas, nodes)
    for name, ip in sorted(nodes.items()):
        mine = [m for m in named if m["hostname"] == name]
        if len(mine) != 1:
            found.append("%s: %d machines" % (name, len(mine)))
            continue
        machine = mine[0]
        if not {"lxdcp-managed", "lxdcp-cluster-%s" % cluster} <= set(machine["tag_names"]):
            found.append("%s: tags %s" % (name, machine["tag_names"]))
        if machine["status_name"] != "Deployed":
            found.append("%s: %s" % (name, machine["status_name"]))
        if ip and static_ips(machine) != [ip]:
            found.append("%s: static IPs %s, wanted %s" % (name, static_ips(machine), ip))
        if kept and name in kept and machine["system_id"] != kept[name]:
            found.append("%s: is %s, the run found %s and should have kept it" % (name, machine["system_id"], kept[name]))
    extra = sorted(m["hostname"] for m in cluster_machines(maas, cluster) if m["hostname"] not in nodes)
    if extra:
        found.append("machines of the cluster not in the inventory: %s" % extra)
    record = record_ips(maas, "%s-api.maas" % cluster)
    wanted = sorted(ip for ip in nodes.values() if ip)
    if record != wanted:
        found.append("DNS record %s-api.maas: %s, wanted %s" % (cluster, record, wanted))
    orphans = orphan_reservations(maas, baseline)
    if orphans:
        found.append("reservations nobody uses: %s" % orphans)
    return found


def problems_of_gone_cluster(maas, cluster, nodes, baseline=()):
    """What is left of ``cluster`` that should not be; [] when nothing is (no machine, reservation, DNS record, tag)."""
    found = []
    left = machines_named(maas, nodes) + [m for m in cluster_machines(maas, cluster) if m["hostname"] not in nodes]
    if left:
        found.append("machines left: %s" % sorted("%s (%s, %s)" % (m["hostname"], m["system_id"], m["status_name"]) for m in left))
    held = allocated(maas, [ip for ip in nodes.values() if ip])
    if held:
        found.append("addresses still allocated: %s" % held)
    orphans = orphan_reservations(maas, baseline)
    if orphans:
        found.append("reservations nobody uses: %s" % orphans)
    if dns_record(maas, "%s-api.maas" % cluster) is not None:
        found.append("DNS record %s-api.maas is left" % cluster)
    if "lxdcp-cluster-%s" % cluster in tag_names(maas):
        found.append("tag lxdcp-cluster-%s is left" % cluster)
    return found


def scenario_room_for_one_cluster(cores=4, memory=16384):
    """maas-sim's default scenario cut down to one VM host per zone (``lxd-az1-a``...), each with room for exactly one VM of
    ``cores`` and ``memory`` MiB (over-commit ratios 1.0), and no machine on them: one 3-node cluster fits, no more."""
    with open(default_scenario_path(), encoding="utf-8") as handle:
        scenario = copy.deepcopy(yaml.safe_load(handle))
    hosts = []
    for host in scenario["vm_hosts"]:
        if host["name"].endswith("-a"):
            host = dict(host, cores=cores, memory=memory, cpu_over_commit_ratio=1.0, memory_over_commit_ratio=1.0,
                        storage_pools=[{"name": "default", "type": "zfs", "size": "100G"}])
            host.pop("vms", None)
            hosts.append(host)
    scenario["vm_hosts"] = hosts
    scenario["machines"] = []
    return scenario
