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
